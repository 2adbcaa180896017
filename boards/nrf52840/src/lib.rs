//! abboot on the nRF52840: what the bootloader and the firmware share on
//! this board. The flows themselves (boot, vector table check, jump,
//! confirm) are in `boards/common`, driven by [`Board`].
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
//! [`abboot::flash::Shared`]; the bootloader reads them through
//! [`abboot::flash::ReadsCannotFail`] ([`Board`]'s `READS_CANNOT_FAIL`). The NVMC driver ([`nvmc::Nvmc`]), the LED
//! ([`led::Led`]) and the watchdog ([`wdt`]) are this crate's own, on the
//! registers, with no HAL.
//!
//! # RAM
//!
//! The bootloader hands off to the firmware through the top 32 bytes of
//! the 256 KiB RAM, `0x2003_FFE0..0x2004_0000`, which every memory map
//! here (`link/*/memory.x`) leaves out of `RAM` (`boards/common`'s
//! `handoff`).
#![no_std]

use abboot::image::signed::TrustedKey;
use abboot_board_common::XipBoard;

pub mod counter;
pub mod firmware;
mod key;
pub mod led;
pub mod nvmc;
pub mod protect;
pub mod vectors;
pub mod wdt;

use led::Led;

/// This board, as `boards/common` sees it: the flash map (the table
/// above), the images and the jump. The bootloader's flow, its image check
/// and the firmware's confirm work from these constants.
pub struct Board;

impl XipBoard for Board {
    // Flash offsets are addresses: the flash is mapped at 0.
    const FLASH_BASE: u32 = 0;
    const FLASH_SIZE: u32 = 0x10_0000;
    const PAGE: u32 = 4096;
    const BOOT_LEN: u32 = 0xE000;
    const META_OFFSET: u32 = Self::BOOT_LEN;
    const SLOT_OFFSET: [u32; 2] = [0x0001_0000, 0x0001_0000 + Self::SLOT_LEN];
    const SLOT_LEN: u32 = 480 * 1024;
    // Keeps the payload's vector table aligned (VTOR needs 256 bytes for
    // its 64 entries).
    const HEADER_LEN: u32 = 0x200;
    const HARDWARE_ID: u32 = 0x5284_0001;
    // The public keys images may be signed with (see `src/key.rs`).
    const TRUSTED_KEYS: &'static [TrustedKey] = &[key::KEY];
    // RAM (256 KiB).
    const RAM_START: u32 = 0x2000_0000;
    const RAM_END: u32 = 0x2004_0000;
    // 48 interrupts.
    const NVIC_WORDS: usize = 2;
    // `nvmc::Nvmc::read` is a load of each byte from the mapped flash: its
    // one error is an argument out of bounds, and every region abboot
    // reads lies inside the flash (checked when the bootloader is made).
    // abboot's answers to read faults, dead code on this part, are left
    // out of the bootloader (issue 14).
    const READS_CANNOT_FAIL: bool = true;
}

/// Core clock after reset (HFINT), for delays.
pub const CORE_HZ: u32 = 64_000_000;

/// Blinks LED1 forever: `on_ms` on, `off_ms` off, feeding the watchdog
/// once a blink (it may be running: see [`wdt`]).
pub fn blink_forever(led: &mut Led, on_ms: u32, off_ms: u32) -> ! {
    loop {
        wdt::feed();
        led.on();
        cortex_m::asm::delay(on_ms * (CORE_HZ / 1000));
        led.off();
        cortex_m::asm::delay(off_ms * (CORE_HZ / 1000));
    }
}
