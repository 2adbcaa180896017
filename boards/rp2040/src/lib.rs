//! abboot on the RP2040 (Raspberry Pi Pico): what the bootloader and the
//! firmware share.
//!
//! # Flash map (2 MiB QSPI flash at `0x1000_0000`, 4 KiB sectors)
//!
//! | address | size | what |
//! |---:|---:|---|
//! | `0x1000_0000` | 256 B | second-stage loader (`boot2`, W25Q080): sets up XIP |
//! | `0x1000_0100` | 64 KiB − 256 B | bootloader (`link/boot/memory.x`) |
//! | `0x1001_0000` | 2 × 4 KiB | metadata journal, two sectors |
//! | `0x1001_2000` | 988 KiB | slot A: header (`0x200`), payload linked at `0x1001_2200` |
//! | `0x1010_9000` | 988 KiB | slot B: header (`0x200`), payload linked at `0x1010_9200` |
//!
//! Both slots execute in place from the XIP window: an image is linked for
//! its slot (`link/fw-a`, `link/fw-b`) and signed with that slot's load
//! address. Metadata and slots are on the one flash, shared through
//! [`abboot::flash::Shared`]. The flash driver programs 256-byte pages and
//! erases 4 KiB sectors from RAM, with XIP off, as embassy-rp does for
//! every write.
#![no_std]

use abboot::context::Layout;
use abboot::flash::Region;
use abboot::image::header::ImageHeader;
use abboot::image::signed::{verify_image, BoardProfile, SignedCheck, TrustedKeys};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::journal::Geometry;
use abboot::Slot;
use embassy_rp::flash::Blocking;
use embassy_rp::gpio::Output;
use embassy_rp::peripherals::FLASH;
use embedded_storage::nor_flash::ReadNorFlash;

pub mod firmware;
mod key;

/// Where the flash is mapped (XIP); flash offsets count from here.
pub const FLASH_BASE: u32 = 0x1000_0000;
/// Size of the Pico's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// The flash driver of this board.
pub type Flash<'d> = embassy_rp::flash::Flash<'d, FLASH, Blocking, FLASH_SIZE>;
/// Erase sector.
pub const PAGE: u32 = 4096;
/// Bytes reserved for boot2 and the bootloader at the start of flash.
pub const BOOT_LEN: u32 = 0x1_0000;
/// Offset of the two metadata sectors.
pub const META_OFFSET: u32 = BOOT_LEN;
/// Bytes of each slot.
pub const SLOT_LEN: u32 = 988 * 1024;
/// Offsets of slot A and slot B.
pub const SLOT_OFFSET: [u32; 2] = [META_OFFSET + 2 * PAGE, META_OFFSET + 2 * PAGE + SLOT_LEN];
/// Header length the board's images are signed with: keeps the payload's
/// vector table aligned (VTOR needs 256 bytes for its 48 entries).
pub const HEADER_LEN: u32 = 0x200;
/// Where the payload of slot A and slot B is linked to run (execute in
/// place: slot address + header length).
pub const LOAD_ADDRESS: [u32; 2] = [
    FLASH_BASE + SLOT_OFFSET[0] + HEADER_LEN,
    FLASH_BASE + SLOT_OFFSET[1] + HEADER_LEN,
];
/// Hardware id this board's images carry (`abboot sign --hardware-id`).
pub const HARDWARE_ID: u32 = 0x2040_0001;
/// RAM (the 256 KiB striped banks), where an image's initial stack pointer must point.
pub const RAM_START: u32 = 0x2000_0000;
/// One past the last byte of RAM.
pub const RAM_END: u32 = 0x2004_0000;
/// Words of the NVIC's enable and pending bitmaps in use (26 interrupts).
pub const NVIC_WORDS: usize = 1;
/// Core clock set by `embassy_rp::init`, for delays.
pub const CORE_HZ: u32 = 125_000_000;

/// Metadata sectors and slots, as offsets of the flash driver.
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
    assert!(SLOT_OFFSET[1] + SLOT_LEN <= FLASH_SIZE as u32);
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
    let slot_end = FLASH_BASE + SLOT_OFFSET[i] + SLOT_LEN;
    let sp_ok = sp > RAM_START && sp <= RAM_END && sp % 8 == 0;
    let reset_ok = reset & 1 == 1 && reset > LOAD_ADDRESS[i] && reset < slot_end;
    (sp_ok && reset_ok).then_some(LOAD_ADDRESS[i])
}

/// Blinks the LED (GPIO 25) forever: `on_ms` on, `off_ms` off.
pub fn blink_forever(led: &mut Output<'_>, on_ms: u32, off_ms: u32) -> ! {
    loop {
        led.set_high();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_low();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}
