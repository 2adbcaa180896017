//! The firmware's flash handle reaches only the slots and the metadata: a
//! write or erase anywhere else (the bootloader, its keys) is refused and
//! changes nothing.

use std::cell::RefCell;

use abboot::fence::{FenceError, Fenced};
use abboot::flash::{Region, Shared};
use abboot::image::digest::DigestCheck;
use abboot::journal::Geometry;
use abboot::sim::device::test_image;
use abboot::sim::{SimError, SimFlash};
use abboot::state::Slot;
use abboot::{Bootloader, Layout, Policy, StageOptions, Updater, Version};
use embedded_storage::nor_flash::NorFlash;

type Flash = SimFlash<1, 4, 4096>;

/// Bootloader and keys at 0..8 KiB, metadata at 8..16 KiB, slots after.
fn layout() -> Layout {
    Layout::new(
        Geometry::contiguous(8192, 4096),
        [Region::new(16384, 24576), Region::new(40960, 24576)],
    )
}

#[test]
fn writes_outside_the_slots_and_metadata_are_refused() {
    let mut flash = Flash::new(65536);
    flash.set_contents(0, &[0x42; 8192]); // the bootloader
    let before = flash.contents().to_vec();
    let mut f = Fenced::for_layout(flash, &layout());
    assert_eq!(f.write(0, &[0; 4]), Err(FenceError::Outside));
    assert_eq!(
        f.write(8188, &[0; 8]),
        Err(FenceError::Outside),
        "straddles in"
    );
    assert_eq!(f.erase(0, 4096), Err(FenceError::Outside));
    assert_eq!(f.erase(4096, 12288), Err(FenceError::Outside));
    assert_eq!(f.erase(8192, 4096), Err(FenceError::Outside), "reversed");
    assert_eq!(f.write(u32::MAX - 3, &[0; 8]), Err(FenceError::Outside));
    let flash = f.into_inner();
    assert_eq!(flash.contents(), &before[..]);
    assert_eq!(flash.mutating_ops(), 0, "the part was never asked");

    // Inside: the part's own rules still apply.
    let mut f = Fenced::for_layout(flash, &layout());
    f.write(8192, &[0; 4]).unwrap();
    f.erase(16384, 20480).unwrap();
    // Misaligned: refused by the fence before the part is asked.
    assert_eq!(f.write(16385, &[0; 4]), Err(FenceError::NotAligned));
}

/// A driver that rounds an erase out to whole sectors instead of refusing
/// it (and erases the sector holding `from` when asked to erase nothing),
/// as some vendor drivers do.
struct Rounding(Flash);

impl embedded_storage::nor_flash::ErrorType for Rounding {
    type Error = SimError;
}

impl embedded_storage::nor_flash::ReadNorFlash for Rounding {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.0.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl NorFlash for Rounding {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        let to = to.max(from + 1).div_ceil(4096) * 4096;
        self.0.erase(from / 4096 * 4096, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        self.0.write(offset, bytes)
    }
}

/// Through a driver that rounds erases, the fence still keeps what lies
/// past a region: an erase of nothing at a region's end, or one that ends
/// inside a sector, would have erased the sector after it.
#[test]
fn a_rounding_driver_cannot_erase_past_a_region() {
    // Slot B ends at 56 KiB; the last 8 KiB of the part hold the product's
    // own data.
    let layout = Layout::new(
        Geometry::contiguous(8192, 4096),
        [Region::new(16384, 20480), Region::new(36864, 20480)],
    );
    let mut flash = Flash::new(65536);
    flash.set_contents(57344, &[0x5A; 8192]);
    let before = flash.contents().to_vec();
    let mut f = Fenced::for_layout(Rounding(flash), &layout);
    assert_eq!(f.erase(57344, 57344), Ok(()), "nothing to erase");
    assert_eq!(f.erase(53248, 57300), Err(FenceError::NotAligned));
    assert_eq!(f.erase(36864 + 100, 40960), Err(FenceError::NotAligned));
    assert_eq!(f.write(57340, &[0; 2]), Err(FenceError::NotAligned));
    let Rounding(flash) = f.into_inner();
    assert_eq!(flash.contents(), &before[..]);
    assert_eq!(flash.mutating_ops(), 0, "the part was never asked");
}

#[test]
fn the_firmware_updates_through_the_fence() {
    let mut flash = Flash::new(65536);
    flash.set_contents(0, &[0x42; 8192]);
    flash.set_contents(16384, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    let cell = RefCell::new(flash);
    let layout = layout();
    let boot = || {
        Bootloader::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout,
            DigestCheck,
            Policy::default(),
        )
        .unwrap()
        .select()
    };
    assert_eq!(boot().slot, Some(Slot::A));
    let fenced = || Fenced::for_layout(Shared::new(&cell), &layout);
    let mut u = Updater::new(fenced(), fenced(), layout, DigestCheck)
        .unwrap()
        .running(Slot::A);
    u.stage(
        &test_image(Version::new(1, 1, 0, 0), 3000, 2),
        &StageOptions::default(),
    )
    .unwrap();
    assert!(boot().is_trial());
    assert_eq!(&cell.borrow().contents()[..8192], &[0x42; 8192][..]);
}
