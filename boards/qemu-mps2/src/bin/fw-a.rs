//! The firmware, linked for slot A (`link/slot-a/memory.x`).
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    board::firmware::run(abboot::Slot::A)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::sh::println("fw: PANIC");
    board::sh::exit(101)
}
