//! The bootloader (`link/boot/memory.x`, at `0x1000_0100`, after boot2).
//!
//! At every reset: `select` over the QSPI flash with the signed image
//! check, then a jump into the chosen slot's payload, executing in place;
//! both are in `boards/common` (`boot::select`, `Entry::jump`, which
//! writes the hand-off at `0x2003_FFE0` first). A trial boot runs under
//! the watchdog (`board::Watchdog`, 8 s). With nothing verified to boot:
//! recovery, the LED blinking fast, and no jump.
#![no_std]
#![no_main]

use abboot::counter::NoCounter;
use abboot_board_common::boot;
use board::{Board, Watchdog};
use embassy_rp::gpio::{Level, Output};

#[cortex_m_rt::entry]
fn main() -> ! {
    let p = embassy_rp::init(Default::default());
    // A soft reset, and the watchdog's own, leave it running: stopped
    // here, it runs again only for a trial boot.
    let mut wd = Watchdog::new(p.WATCHDOG);
    wd.stop();
    let mut led = Output::new(p.PIN_25, Level::Low);
    // `select`, the vector table check and the jump: `boards/common`.
    // No hardware security counter on the RP2040 (see the README).
    match boot::select::<Board>(board::Flash::new_blocking(p.FLASH), NoCounter) {
        Some(entry) => {
            // Only a trial boot runs under the watchdog: a hang resets,
            // and the reset counts as the try (counted on flash already).
            if entry.is_trial() {
                wd.start();
            }
            led.set_low();
            entry.jump()
        }
        None => recovery(&mut led, &mut wd),
    }
}

/// Nothing verified to boot (or the layout is unusable): never jump. The LED
/// blinks fast until a reset; the board's recovery (serial, DFU, a
/// debugger writing a signed image into a slot) goes here.
fn recovery(led: &mut Output<'_>, wd: &mut Watchdog) -> ! {
    board::blink_forever(led, wd, 100, 100)
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
