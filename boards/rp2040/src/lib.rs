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
#![no_std]

use abboot_board_common::XipBoard;
use embassy_rp::flash::Blocking;
use embassy_rp::gpio::Output;
use embassy_rp::peripherals::FLASH;

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
    const TRUSTED_KEYS: &'static [[u8; 32]] = &[key::KEY];
    // RAM (the 256 KiB striped banks).
    const RAM_START: u32 = 0x2000_0000;
    const RAM_END: u32 = 0x2004_0000;
    // 26 interrupts.
    const NVIC_WORDS: usize = 1;
}

/// Core clock set by `embassy_rp::init`, for delays.
pub const CORE_HZ: u32 = 125_000_000;

/// Blinks the LED (GPIO 25) forever: `on_ms` on, `off_ms` off.
pub fn blink_forever(led: &mut Output<'_>, on_ms: u32, off_ms: u32) -> ! {
    loop {
        led.set_high();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.set_low();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}
