//! abboot on the RP2040 (Raspberry Pi Pico): what the bootloader and the
//! firmware share on this board. The flows themselves (boot, vector table
//! check, jump, confirm) are in `boards/common`, driven by [`Board`].
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
//!
//! # RAM
//!
//! The bootloader hands off to the firmware through the top 32 bytes of
//! the 256 KiB striped SRAM, `0x2003_FFE0..0x2004_0000`, which every
//! memory map here (`link/*/memory.x`) leaves out of `RAM`
//! (`boards/common`'s `handoff`). The boot ROM and boot2 use SRAM4 and
//! SRAM5 (`0x2004_0000` up), not this.
#![no_std]

use abboot::image::signed::TrustedKey;
use abboot_board_common::XipBoard;
use embassy_rp::flash::Blocking;
use embassy_rp::gpio::Output;
use embassy_rp::peripherals::{FLASH, WATCHDOG};
use embassy_rp::Peri;
use embassy_time::Duration;

pub mod firmware;
mod key;

/// Size of the Pico's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// The flash driver of this board.
pub type Flash<'d> = embassy_rp::flash::Flash<'d, FLASH, Blocking, FLASH_SIZE>;

/// This board, as `boards/common` sees it: the flash map (the table
/// above), the images and the jump. The bootloader's flow, its image check
/// and the firmware's confirm work from these constants.
pub struct Board;

impl XipBoard for Board {
    // The XIP window; flash offsets count from here.
    const FLASH_BASE: u32 = 0x1000_0000;
    const FLASH_SIZE: u32 = FLASH_SIZE as u32;
    // Erase sector.
    const PAGE: u32 = 4096;
    // boot2 and the bootloader.
    const BOOT_LEN: u32 = 0x1_0000;
    const META_OFFSET: u32 = Self::BOOT_LEN;
    const SLOT_OFFSET: [u32; 2] = [
        Self::META_OFFSET + 2 * Self::PAGE,
        Self::META_OFFSET + 2 * Self::PAGE + Self::SLOT_LEN,
    ];
    const SLOT_LEN: u32 = 988 * 1024;
    // Keeps the payload's vector table aligned (VTOR needs 256 bytes for
    // its 48 entries).
    const HEADER_LEN: u32 = 0x200;
    const HARDWARE_ID: u32 = 0x2040_0001;
    // The public keys images may be signed with (see `src/key.rs`).
    const TRUSTED_KEYS: &'static [TrustedKey] = &[key::KEY];
    // RAM (the 256 KiB striped banks).
    const RAM_START: u32 = 0x2000_0000;
    const RAM_END: u32 = 0x2004_0000;
    // 26 interrupts.
    const NVIC_WORDS: usize = 1;
    // embassy-rp 0.10.0's `blocking_read` copies from the XIP window and
    // fails only on an argument out of bounds, which abboot never passes
    // (every region it reads is checked against the flash when the
    // bootloader is made). abboot's answers to read faults are left out
    // (issue 14).
    const READS_CANNOT_FAIL: bool = true;
}

/// Core clock set by `embassy_rp::init`, for delays.
pub const CORE_HZ: u32 = 125_000_000;

/// Blinks the LED (GPIO 25) forever: `on_ms` on, `off_ms` off, feeding
/// the watchdog once a blink (it may be running: see [`Watchdog`]).
pub fn blink_forever(led: &mut Output<'_>, wd: &mut Watchdog, on_ms: u32, off_ms: u32) -> ! {
    loop {
        wd.feed();
        led.set_high();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_low();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}

/// Time from the last feed to the reset, in milliseconds (the RP2040's
/// longest is 8.39 s: 24 bits of 1 µs ticks, counted twice per tick,
/// erratum RP2040-E1, which embassy-rp compensates for).
pub const WATCHDOG_TIMEOUT_MS: u32 = 8_000;
const WATCHDOG_TIMEOUT: Duration = Duration::from_millis(WATCHDOG_TIMEOUT_MS as u64);

/// The watchdog, through embassy-rp's `watchdog::Watchdog`, ticking at
/// 1 µs from `clk_ref` (the tick `embassy_rp::init` sets up). Its reset
/// resets everything but the oscillators (`PSM.WDSEL`), so the boot ROM,
/// boot2 and the bootloader run again.
///
/// The bootloader [`start`](Self::start)s it for a trial boot only, right
/// before the jump: a trial image that hangs is reset, and the reset
/// counts as its try (counted on flash before the jump). A confirmed
/// image is never started under it, so an image that does not feed it is
/// not reset forever.
///
/// Unlike the other boards' watchdogs, this one can be stopped, and it is
/// reset only by the RUN pin and power: a soft reset and its own reset
/// leave it as it was. So the bootloader [`stop`](Self::stop)s it at
/// reset and starts it again only for a trial boot. The firmware
/// [`feed`](Self::feed)s it from start and then at least every
/// [`WATCHDOG_TIMEOUT_MS`], for as long as it runs (after `confirm` too).
pub struct Watchdog(embassy_rp::watchdog::Watchdog);

impl Watchdog {
    /// The watchdog, as it is (running or not).
    pub fn new(watchdog: Peri<'static, WATCHDOG>) -> Self {
        Self(embassy_rp::watchdog::Watchdog::new(watchdog))
    }

    /// Starts it with [`WATCHDOG_TIMEOUT_MS`], resetting everything but
    /// the oscillators when it expires.
    pub fn start(&mut self) {
        self.0.start(WATCHDOG_TIMEOUT);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Feeds it: reloads the counter with [`WATCHDOG_TIMEOUT_MS`].
    /// Harmless when it is stopped.
    pub fn feed(&mut self) {
        self.0.feed(WATCHDOG_TIMEOUT);
    }
}
