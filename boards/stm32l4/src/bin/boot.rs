//! The bootloader (`link/boot/memory.x`, at `0x0800_0000`).
//!
//! At every reset: `select` over the internal flash with the signed image
//! check, then a jump into the chosen slot's payload, executing in place;
//! both are in `boards/common` (`boot::select`, `Entry::jump`, which
//! writes the hand-off at `0x2001_7FE0` first). A trial boot runs under
//! the watchdog (`board::Watchdog`, 8 s). With nothing verified to boot:
//! recovery, LD2 blinking fast, and no jump.
#![no_std]
#![no_main]

use abboot_board_common::boot;
use board::{counter, protect, Board, EccFlash, Watchdog};
use embassy_stm32::flash::Flash;
use embassy_stm32::gpio::{Level, Output, Speed};

#[cortex_m_rt::entry]
fn main() -> ! {
    let p = embassy_stm32::init(board::config());
    // Fed in case a reset left it running, so that `select` gets a whole
    // period.
    let mut wdg = Watchdog::new(p.IWDG);
    wdg.feed();
    // The bootloader's pages write-protected (WRP in the option bytes):
    // a check at every boot; the first time, programming and an
    // option-byte load, which resets (before `select`, so no try is
    // counted twice). The watchdog was just fed: it cannot reset in the
    // middle of it.
    let _ = protect::ensure_wrp();
    let mut led = Output::new(p.PA5, Level::Low, Speed::Low);
    let flash = EccFlash(Flash::new_blocking(p.FLASH));
    // `select`, the vector table check and the jump: `boards/common`.
    // SAFETY: the counter programs OTP through the flash controller;
    // `select` uses it and the flash driver one call at a time.
    let counter = unsafe { counter::counter() };
    match boot::select::<Board>(flash, counter) {
        Some(entry) => {
            // Only a trial boot runs under the watchdog: a hang resets,
            // and the reset counts as the try (counted on flash already).
            if entry.is_trial() {
                wdg.start();
            }
            led.set_low();
            entry.jump()
        }
        None => recovery(&mut led, &mut wdg),
    }
}

/// Nothing verified to boot (or the layout is unusable): never jump. LD2
/// blinks fast until a reset; the board's recovery (serial, DFU, a
/// debugger writing a signed image into a slot) goes here.
fn recovery(led: &mut Output<'_>, wdg: &mut Watchdog) -> ! {
    board::blink_forever(led, wdg, 100, 100)
}

/// A flash read with a two-bit ECC error (a record torn by a power cut).
///
/// `unsafe fn` because an NMI preempts even critical sections: the
/// handler touches only `FLASH_ECCR`, which no driver uses, and an atomic.
#[cortex_m_rt::exception]
unsafe fn NonMaskableInt() {
    board::on_nmi();
}

/// With feature `prove-no-panic`: the proof that no panic path is left.
/// This handler calls a function that exists nowhere, so the bootloader
/// links only if the optimiser removed every call to the panic handler:
/// nothing in the bootloader, abboot's `select` and the image check
/// included, can panic.
#[cfg(feature = "prove-no-panic")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn abboot_panic_path_survived() -> !;
    }
    // SAFETY: never linked; if a call to it survives, the link fails.
    unsafe { abboot_panic_path_survived() }
}

/// Without `prove-no-panic`: a panic (a bug; none is expected) stops here,
/// at a breakpoint under a debugger, in the HardFault loop without one.
/// It never jumps anywhere.
#[cfg(not(feature = "prove-no-panic"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::bkpt();
    }
}
