//! The firmware, linked for slot B (`link/slot-b/memory.x`).
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    board::firmware::run(abboot::Slot::B)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::sh::println("fw: PANIC");
    board::sh::exit(101)
}
