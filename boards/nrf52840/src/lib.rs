//! abboot on the nRF52840: what the bootloader and the firmware share.
//!
//! # Flash map (1 MiB internal flash, 4 KiB pages, 4-byte words)
//!
//! | address | size | what |
//! |---:|---:|---|
//! | `0x0000_0000` | 56 KiB | bootloader (`link/boot/memory.x`) |
//! | `0x0000_E000` | 2 × 4 KiB | metadata journal, two pages |
//! | `0x0001_0000` | 480 KiB | slot A: header (`0x200`), payload linked at `0x0001_0200` |
//! | `0x0008_8000` | 480 KiB | slot B: header (`0x200`), payload linked at `0x0008_8200` |
//!
//! Both slots execute in place: an image is linked for its slot
//! (`link/fw-a`, `link/fw-b`) and signed with that slot's load address.
//! Metadata and slots are on the one NVMC, shared through
//! [`abboot::flash::Shared`].
#![no_std]

use abboot::context::Layout;
use abboot::flash::Region;
use abboot::image::header::ImageHeader;
use abboot::image::signed::{verify_image, BoardProfile, SignedCheck, TrustedKeys};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::journal::Geometry;
use abboot::Slot;
use embedded_storage::nor_flash::ReadNorFlash;

pub mod firmware;
mod key;

/// Erase page of the NVMC.
pub const PAGE: u32 = 4096;
/// Size of the internal flash.
pub const FLASH_SIZE: u32 = 0x10_0000;
/// Bytes reserved for the bootloader at the start of flash.
pub const BOOT_LEN: u32 = 0xE000;
/// The two metadata pages.
pub const META_OFFSET: u32 = BOOT_LEN;
/// Bytes of each slot.
pub const SLOT_LEN: u32 = 480 * 1024;
/// Where slot A and slot B start (flash offsets; flash is mapped at 0).
pub const SLOT_OFFSET: [u32; 2] = [0x0001_0000, 0x0001_0000 + SLOT_LEN];
/// Header length the board's images are signed with: keeps the payload's
/// vector table aligned (VTOR needs 256 bytes for its 64 entries).
pub const HEADER_LEN: u32 = 0x200;
/// Where the payload of slot A and slot B is linked to run (execute in
/// place: slot address + header length).
pub const LOAD_ADDRESS: [u32; 2] = [SLOT_OFFSET[0] + HEADER_LEN, SLOT_OFFSET[1] + HEADER_LEN];
/// Hardware id this board's images carry (`abboot sign --hardware-id`).
pub const HARDWARE_ID: u32 = 0x5284_0001;
/// RAM (256 KiB), where an image's initial stack pointer must point.
pub const RAM_START: u32 = 0x2000_0000;
/// One past the last byte of RAM.
pub const RAM_END: u32 = 0x2004_0000;
/// Words of the NVIC's enable and pending bitmaps in use (48 interrupts).
pub const NVIC_WORDS: usize = 2;
/// Core clock after reset (HFINT), for delays.
pub const CORE_HZ: u32 = 64_000_000;

/// Metadata pages and slots, as flash offsets of the NVMC.
pub const LAYOUT: Layout = Layout {
    metadata: Geometry::contiguous(META_OFFSET, PAGE),
    slots: [
        Region::new(SLOT_OFFSET[0], SLOT_LEN),
        Region::new(SLOT_OFFSET[1], SLOT_LEN),
    ],
};

// The map holds together: pages aligned, nothing overlaps, all inside the
// flash. (The bootloader's own size is checked by the linker against
// `link/boot/memory.x`.)
const _: () = {
    assert!(BOOT_LEN % PAGE == 0 && META_OFFSET >= BOOT_LEN);
    assert!(SLOT_OFFSET[0] % PAGE == 0 && SLOT_OFFSET[1] % PAGE == 0 && SLOT_LEN % PAGE == 0);
    assert!(SLOT_OFFSET[0] >= META_OFFSET + 2 * PAGE);
    assert!(SLOT_OFFSET[1] >= SLOT_OFFSET[0] + SLOT_LEN);
    assert!(SLOT_OFFSET[1] + SLOT_LEN <= FLASH_SIZE);
};

/// What an image for this board must say.
pub const PROFILE: BoardProfile = BoardProfile {
    header_len: None,
    hardware_id: HARDWARE_ID,
    load_address: LOAD_ADDRESS,
};

/// The public keys images may be signed with (see `src/key.rs`).
pub const TRUSTED_KEYS: [[u8; 32]; 1] = [key::KEY];

/// The image check of this board: [`SignedCheck`], plus the header length
/// the bootloader jumps past.
///
/// `SignedCheck` checks that the signed load address is the slot's
/// address + [`HEADER_LEN`], but not that the payload starts there: an
/// image signed by a trusted key with another `--header-len` would put
/// the jump into the middle of the payload, or into the unsigned header
/// padding. This check refuses it, so `select` never chooses it (and
/// [`abboot::Updater`] refuses it before erasing anything).
pub struct XipCheck(pub SignedCheck<'static>);

/// The check the bootloader and the firmware use.
pub const fn check() -> XipCheck {
    XipCheck(SignedCheck::new(TrustedKeys::new(&TRUSTED_KEYS), PROFILE))
}

impl<F: ReadNorFlash> ImageCheck<F> for XipCheck {
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        let (header, info) = verify_image(flash, region, slot, &self.0.keys, &self.0.profile)?;
        header_len_ok(&header)?;
        Ok(info)
    }

    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let info = ImageCheck::<F>::precheck(&mut self.0, slot, region, header)?;
        header_len_ok(&ImageHeader::parse(header)?)?;
        Ok(info)
    }
}

/// The payload starts where the bootloader jumps.
fn header_len_ok(header: &ImageHeader) -> Result<(), ImageError> {
    if header.header_len == HEADER_LEN {
        Ok(())
    } else {
        Err(ImageError::BadHeaderLength)
    }
}

/// The verified payload of `slot` as a vector table: its address, if its
/// first two words are a stack pointer in RAM and a Thumb reset handler
/// inside the slot's payload.
///
/// The payload is signed, so this only catches an image linked for other
/// memory; it is read through the flash driver, with no `unsafe`.
pub fn vector_table<F: ReadNorFlash>(flash: &mut F, slot: Slot) -> Option<u32> {
    let i = slot.index();
    let mut words = [0u8; 8];
    flash.read(SLOT_OFFSET[i] + HEADER_LEN, &mut words).ok()?;
    let [s0, s1, s2, s3, r0, r1, r2, r3] = words;
    let sp = u32::from_le_bytes([s0, s1, s2, s3]);
    let reset = u32::from_le_bytes([r0, r1, r2, r3]);
    let slot_end = SLOT_OFFSET[i] + SLOT_LEN;
    let sp_ok = sp > RAM_START && sp <= RAM_END && sp % 8 == 0;
    let reset_ok = reset & 1 == 1 && reset > LOAD_ADDRESS[i] && reset < slot_end;
    (sp_ok && reset_ok).then_some(LOAD_ADDRESS[i])
}

/// Blinks the LED (LED1, P0.13, active low) forever: `on_ms` on,
/// `off_ms` off.
pub fn blink_forever(led: &mut embassy_nrf::gpio::Output<'_>, on_ms: u32, off_ms: u32) -> ! {
    loop {
        led.set_low();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_high();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}
