//! The bootloader (`link/boot/memory.x`, at `0x0000_0000`).
//!
//! At every reset: `select` over the NVMC with the signed image check,
//! then a jump into the chosen slot's payload, executing in place; both
//! are in `boards/common` (`boot::select_with`, `Entry::jump`, which writes the
//! hand-off at `0x2003_FFE0` first). A trial boot runs under the
//! watchdog (`board::wdt`, 8 s). With nothing verified to boot: recovery,
//! LED1 blinking fast, and no jump.
#![no_std]
#![no_main]

use abboot_board_common::boot;
use board::led::Led;
use board::nvmc::Nvmc;
use board::{counter, protect, wdt, Board};

// One device vector: the bootloader enables no interrupt (src/vectors.rs).
board::interrupt_table!(1);

#[cortex_m_rt::entry]
fn main() -> ! {
    // No HAL: `embassy_nrf::init` is skipped on purpose. The NVMC and one
    // GPIO need no clock or power setup, the firmware finds the chip close
    // to its reset state, and `init`'s check against a second call is a
    // panic path (see `prove-no-panic` below).
    // A soft reset does not stop the watchdog: if one left it running, feed
    // it, so that `select` gets a whole period.
    wdt::feed();
    // Production (feature `approtect`): debug access off, once for good.
    // SAFETY: no NVMC driver exists yet.
    #[cfg(feature = "approtect")]
    unsafe {
        protect::enable_approtect()
    };
    let mut led = Led::new();
    // SAFETY: two handles to the NVMC, one for the metadata and one for
    // the slots, and no interrupt is enabled. `select_with` calls them one
    // at a time, never from inside a call of the other, and each call
    // leaves `CONFIG` read-only (`Nvmc::new`'s contract). It writes and
    // erases only the metadata pages and the slots (`Board`'s layout),
    // never the bootloader's own flash below `META_OFFSET`, which holds
    // all the code and data running here.
    let (meta, slots) = unsafe { (Nvmc::new(), Nvmc::new()) };
    // `select_with`, the vector table check and the jump: `boards/common`.
    // SAFETY: the counter programs UICR words through the NVMC; `select`
    // uses it and the flash handles one call at a time, never during a
    // write of another.
    let counter = unsafe { counter::counter() };
    match boot::select_with::<Board>(meta, slots, counter) {
        Some(entry) => {
            // Only a trial boot runs under the watchdog: a hang resets,
            // and the reset counts as the try (counted on flash already).
            if entry.is_trial() {
                wdt::start();
            }
            led.off();
            // Last before the jump: the bootloader's flash (code, keys)
            // becomes unwritable until the next reset (ACL).
            protect::lock_bootloader();
            entry.jump()
        }
        None => recovery(&mut led),
    }
}

/// Nothing verified to boot (or the layout is unusable): never jump. LED1
/// blinks fast until a reset; the board's recovery (serial, DFU, a
/// debugger writing a signed image into a slot) goes here.
// Inlined into its one call: a call of `blink_forever`, not a call of a
// function that only calls it.
#[inline(always)]
fn recovery(led: &mut Led) -> ! {
    board::blink_forever(led, 100, 100)
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
