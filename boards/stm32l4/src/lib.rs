//! abboot on the STM32L476RG: what the bootloader and the firmware share
//! on this board. The flows themselves (boot, vector table check, jump,
//! confirm) are in `boards/common`, driven by [`Board`].
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
//!
//! # RAM
//!
//! The bootloader hands off to the firmware through the top 32 bytes of
//! SRAM1, `0x2001_7FE0..0x2001_8000`, which every memory map here
//! (`link/*/memory.x`) leaves out of `RAM` (`boards/common`'s `handoff`).
#![no_std]

use core::sync::atomic::{AtomicBool, Ordering};

use abboot::image::signed::TrustedKey;
use abboot_board_common::XipBoard;
use embassy_stm32::gpio::Output;
use embassy_stm32::pac::iwdg::vals::{Key, Pr};
use embassy_stm32::peripherals::IWDG;
use embassy_stm32::Peri;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

pub mod counter;
pub mod firmware;
mod key;
pub mod protect;

/// This board, as `boards/common` sees it: the flash map (the table
/// above), the images and the jump. The bootloader's flow, its image check
/// and the firmware's confirm work from these constants.
pub struct Board;

impl XipBoard for Board {
    const FLASH_BASE: u32 = 0x0800_0000;
    const FLASH_SIZE: u32 = 0x10_0000;
    const PAGE: u32 = 2048;
    const BOOT_LEN: u32 = 0xF000;
    const META_OFFSET: u32 = Self::BOOT_LEN;
    // Slot A: the rest of bank 1. Slot B: bank 2.
    const SLOT_OFFSET: [u32; 2] = [0x0001_0000, 0x0008_0000];
    const SLOT_LEN: u32 = 448 * 1024;
    // Keeps the payload's vector table aligned (VTOR needs 512 bytes for
    // its 98 entries).
    const HEADER_LEN: u32 = 0x200;
    const HARDWARE_ID: u32 = 0x3247_6001;
    // The public keys images may be signed with (see `src/key.rs`).
    const TRUSTED_KEYS: &'static [TrustedKey] = &[key::KEY];
    // SRAM1 (96 KiB).
    const RAM_START: u32 = 0x2000_0000;
    const RAM_END: u32 = 0x2001_8000;
    // 82 interrupts.
    const NVIC_WORDS: usize = 3;
    // Not `READS_CANNOT_FAIL`: the bootloader reads through `EccFlash`,
    // whose reads fail on a two-bit ECC error (a double word torn by a
    // cut), and abboot's answers to that read error are what keep such a
    // word from being taken for a broken image or for room to write.
}

// `EccFlash` reports ECC errors as read errors; a declaration that reads
// cannot fail would turn each into damage (a fallback that forgets the
// primary, a journal position written over).
const _: () = assert!(!<Board as XipBoard>::READS_CANNOT_FAIL);

/// Core clock set by [`config`], for delays.
pub const CORE_HZ: u32 = 80_000_000;

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

/// Blinks the LED (LD2, PA5) forever: `on_ms` on, `off_ms` off, feeding
/// the watchdog once a blink (it may be running: see [`Watchdog`]).
pub fn blink_forever(led: &mut Output<'_>, wdg: &mut Watchdog, on_ms: u32, off_ms: u32) -> ! {
    loop {
        wdg.feed();
        led.set_high();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_low();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}

/// The independent watchdog (IWDG) on its registers (embassy-stm32's
/// `pac::IWDG`, at `0x4000_3000`: `KR` `+0x0`, `PR` `+0x4`, `RLR` `+0x8`,
/// `SR` `+0xC`), clocked by the ~32 kHz LSI, which it starts itself,
/// independent of the system clocks. Not embassy-stm32's
/// `IndependentWatchdog`: its `new` computes the prescaler at run time at
/// opt-level "z" and keeps two panic paths (a division by zero, an
/// `unwrap`).
///
/// The bootloader [`start`](Self::start)s it for a trial boot only, right
/// before the jump: a trial image that hangs is reset, and the reset
/// counts as its try (counted on flash before the jump). A confirmed
/// image is never started under it, so an image that does not feed it is
/// not reset forever.
///
/// Once started, the IWDG cannot be stopped, only by a reset: the
/// firmware [`feed`](Self::feed)s it from start and then at least every
/// [`WATCHDOG_TIMEOUT_MS`], for as long as it runs (after `confirm`
/// too). Keep the option bytes' `IWDG_SW` at its default (software
/// watchdog): in hardware mode it would run from every reset, for
/// confirmed images too. The bootloader feeds it at reset as well, in
/// case a reset left it running.
pub struct Watchdog {
    _iwdg: Peri<'static, IWDG>,
}

/// Time from the last feed to the reset, in milliseconds: prescaler 64
/// (2 ms a count at the LSI's nominal 32 kHz) and reload value
/// [`WATCHDOG_RELOAD`]. The LSI's spread (29.5 to 34 kHz) makes it 7.5 to
/// 8.7 s.
pub const WATCHDOG_TIMEOUT_MS: u32 = 8_000;
/// `IWDG_RLR`: counts of 2 ms, minus one.
const WATCHDOG_RELOAD: u16 = (WATCHDOG_TIMEOUT_MS / 2 - 1) as u16;

impl Watchdog {
    /// The IWDG, not started.
    pub fn new(iwdg: Peri<'static, IWDG>) -> Self {
        Self { _iwdg: iwdg }
    }

    /// Starts it with [`WATCHDOG_TIMEOUT_MS`] (it cannot be stopped) and
    /// feeds it, in the order of RM0351's configuration sequence: start,
    /// unlock, prescaler, reload value, wait until the LSI domain has
    /// taken both, refresh. The wait is a few LSI periods; should the LSI
    /// fail, the IWDG's reset configuration (512 ms) resets the chip.
    pub fn start(&mut self) {
        let iwdg = embassy_stm32::pac::IWDG;
        iwdg.kr().write(|w| w.set_key(Key::START));
        iwdg.kr().write(|w| w.set_key(Key::ENABLE));
        iwdg.pr().write(|w| w.set_pr(Pr::DIVIDE_BY64));
        iwdg.rlr().write(|w| w.set_rl(WATCHDOG_RELOAD));
        while iwdg.sr().read().0 != 0 {}
        self.feed();
    }

    /// Feeds it (`KR` = `0xAAAA`). Harmless when it is not running.
    pub fn feed(&mut self) {
        embassy_stm32::pac::IWDG
            .kr()
            .write(|w| w.set_key(Key::RESET));
    }
}

/// Set by [`on_nmi`] when a flash read hit a two-bit ECC error.
pub(crate) static ECC_ERROR: AtomicBool = AtomicBool::new(false);

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
