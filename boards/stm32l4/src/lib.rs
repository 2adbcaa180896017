//! abboot on the STM32L476RG: what the bootloader and the firmware share.
//!
//! # Flash map (1 MiB in two 512 KiB banks, 2 KiB pages, 8-byte words)
//!
//! | address | size | what |
//! |---:|---:|---|
//! | `0x0800_0000` | 60 KiB | bootloader (`link/boot/memory.x`) |
//! | `0x0800_F000` | 2 × 2 KiB | metadata journal, two pages |
//! | `0x0801_0000` | 448 KiB | slot A (rest of bank 1): header (`0x200`), payload at `0x0801_0200` |
//! | `0x0808_0000` | 448 KiB | slot B (bank 2): header (`0x200`), payload at `0x0808_0200` |
//! | `0x080F_0000` | 64 KiB | free (application data) |
//!
//! Both slots execute in place: an image is linked for its slot
//! (`link/fw-a`, `link/fw-b`) and signed with that slot's load address.
//! Each slot has a bank of its own, so the firmware running from one can
//! stage an update into the other without stalling on every write
//! (read-while-write between banks).
//!
//! # 8-byte words with ECC
//!
//! The L4 programs flash in 64-bit double words, each once between
//! erases, with 8 ECC bits. The journal writes whole 256-byte records
//! into erased space only, so it needs nothing more. But a double word
//! torn by a power cut can read with a two-bit ECC error, and the L4
//! raises an NMI for it, which without a handler would stop every boot
//! from then on. [`on_nmi`] clears the error and [`EccFlash`] turns it
//! into a read error, which abboot treats as a torn record (skipped) or
//! an unreadable image (not booted).
#![no_std]

use core::sync::atomic::{AtomicBool, Ordering};

use abboot::context::Layout;
use abboot::flash::Region;
use abboot::image::header::ImageHeader;
use abboot::image::signed::{verify_image, BoardProfile, SignedCheck, TrustedKeys};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::journal::Geometry;
use abboot::Slot;
use embassy_stm32::gpio::Output;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

pub mod firmware;
mod key;

/// Where the flash is mapped; flash offsets count from here.
pub const FLASH_BASE: u32 = 0x0800_0000;
/// Erase page.
pub const PAGE: u32 = 2048;
/// Size of the internal flash.
pub const FLASH_SIZE: u32 = 0x10_0000;
/// Bytes reserved for the bootloader at the start of flash.
pub const BOOT_LEN: u32 = 0xF000;
/// Offset of the two metadata pages.
pub const META_OFFSET: u32 = BOOT_LEN;
/// Bytes of each slot.
pub const SLOT_LEN: u32 = 448 * 1024;
/// Offsets of slot A (bank 1) and slot B (bank 2).
pub const SLOT_OFFSET: [u32; 2] = [0x0001_0000, 0x0008_0000];
/// Header length the board's images are signed with: keeps the payload's
/// vector table aligned (VTOR needs 512 bytes for its 98 entries).
pub const HEADER_LEN: u32 = 0x200;
/// Where the payload of slot A and slot B is linked to run (execute in
/// place: slot address + header length).
pub const LOAD_ADDRESS: [u32; 2] = [
    FLASH_BASE + SLOT_OFFSET[0] + HEADER_LEN,
    FLASH_BASE + SLOT_OFFSET[1] + HEADER_LEN,
];
/// Hardware id this board's images carry (`abboot sign --hardware-id`).
pub const HARDWARE_ID: u32 = 0x3247_6001;
/// SRAM1 (96 KiB), where an image's initial stack pointer must point.
pub const RAM_START: u32 = 0x2000_0000;
/// One past the last byte of SRAM1.
pub const RAM_END: u32 = 0x2001_8000;
/// Words of the NVIC's enable and pending bitmaps in use (82 interrupts).
pub const NVIC_WORDS: usize = 3;
/// Core clock set by [`config`], for delays.
pub const CORE_HZ: u32 = 80_000_000;

/// Metadata pages and slots, as offsets of the flash driver.
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

/// The clocks: 80 MHz from HSI16 through the PLL, so that hashing an image
/// takes tens of milliseconds rather than the seconds it takes at the
/// 4 MHz reset clock. The firmware's `embassy_stm32::init` switches back
/// to MSI before it sets its own clocks, so it starts from a known state.
pub fn config() -> embassy_stm32::Config {
    use embassy_stm32::rcc::{Pll, PllMul, PllPreDiv, PllRDiv, PllSource, Sysclk};
    let mut config = embassy_stm32::Config::default();
    config.rcc.hsi = true;
    config.rcc.pll = Some(Pll {
        source: PllSource::HSI,
        prediv: PllPreDiv::DIV1,
        mul: PllMul::MUL10,
        divp: None,
        divq: None,
        divr: Some(PllRDiv::DIV2), // 16 MHz × 10 / 2
    });
    config.rcc.sys = Sysclk::PLL1_R;
    config
}

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

/// Blinks the LED (LD2, PA5) forever: `on_ms` on, `off_ms` off.
pub fn blink_forever(led: &mut Output<'_>, on_ms: u32, off_ms: u32) -> ! {
    loop {
        led.set_high();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_low();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}

/// Set by [`on_nmi`] when a flash read hit a two-bit ECC error.
static ECC_ERROR: AtomicBool = AtomicBool::new(false);

/// The NMI handler's work; both binaries call it from `NonMaskableInt`.
///
/// A two-bit flash ECC error (`FLASH_ECCR.ECCD`): clear it, note it for
/// [`EccFlash`], and return; the read that caused it completes with
/// unreliable bytes, which `EccFlash` then reports as a read error. Any
/// other NMI (the clock security system) resets the chip.
pub fn on_nmi() {
    let flash = embassy_stm32::pac::FLASH;
    if flash.eccr().read().eccd() {
        // Write-1-to-clear: writing back what was read clears ECCD.
        flash.eccr().modify(|_| {});
        ECC_ERROR.store(true, Ordering::SeqCst);
    } else {
        cortex_m::peripheral::SCB::sys_reset();
    }
}

/// A flash whose reads fail on a two-bit ECC error instead of returning
/// the bytes that raised it (see [`on_nmi`]).
pub struct EccFlash<F>(pub F);

/// An error of [`EccFlash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EccError<E> {
    /// The bytes read hit a two-bit ECC error (torn or worn flash).
    Ecc,
    /// The driver's own error.
    Flash(E),
}

impl<E: NorFlashError> NorFlashError for EccError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            EccError::Ecc => NorFlashErrorKind::Other,
            EccError::Flash(e) => e.kind(),
        }
    }
}

impl<F: ErrorType> ErrorType for EccFlash<F> {
    type Error = EccError<F::Error>;
}

impl<F: ReadNorFlash> ReadNorFlash for EccFlash<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        ECC_ERROR.store(false, Ordering::SeqCst);
        self.0.read(offset, bytes).map_err(EccError::Flash)?;
        if ECC_ERROR.swap(false, Ordering::SeqCst) {
            return Err(EccError::Ecc);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: NorFlash> NorFlash for EccFlash<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to).map_err(EccError::Flash)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes).map_err(EccError::Flash)
    }
}
