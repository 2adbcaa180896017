//! The firmware, linked for slot A (`link/slot-a/memory.x`).
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    board::firmware::run(abboot::Slot::A)
}

/// The watchdog's first expiry without a feed (on this board nothing else
/// raises the NMI): see `board::firmware::watchdog_nmi`.
///
/// `unsafe fn` because an NMI preempts even critical sections: the
/// handler only prints (semihosting) and waits for the reset.
#[cortex_m_rt::exception]
unsafe fn NonMaskableInt() {
    board::firmware::watchdog_nmi()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::sh::println("fw: PANIC");
    board::sh::exit(101)
}
