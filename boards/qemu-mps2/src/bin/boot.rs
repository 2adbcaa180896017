//! The bootloader (`link/boot/memory.x`): see `board::boot`.
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    board::boot::run()
}

/// With feature `prove-no-panic`: the proof that no panic path is left.
/// This handler calls a function that exists nowhere, so the bootloader
/// links only if the optimiser removed every call to it, i.e. if nothing
/// in the bootloader, abboot's `select` and the image verification
/// included, can panic. See the README for where it stands.
#[cfg(feature = "prove-no-panic")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn abboot_panic_path_survived() -> !;
    }
    // SAFETY: never linked; if a call to it survives, the link fails.
    unsafe { abboot_panic_path_survived() }
}

/// Without `prove-no-panic`: a panic (a bug; none is expected) ends the
/// run with status 101, as a reset would, and never jumps anywhere.
#[cfg(not(feature = "prove-no-panic"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::sh::println("boot: PANIC");
    board::sh::exit(101)
}

#[cfg(feature = "bench")]
#[cortex_m_rt::exception]
fn SysTick() {
    board::bench::tick();
}
