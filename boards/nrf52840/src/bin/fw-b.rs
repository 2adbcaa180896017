//! The firmware linked for slot B (`link/fw-b/memory.x`); see `board::firmware`.
#![no_std]
#![no_main]

board::interrupt_table!(board::vectors::DEVICE_INTERRUPTS);

#[cortex_m_rt::entry]
fn main() -> ! {
    board::firmware::run(abboot::Slot::B)
}

/// A panic (a bug) resets: the bootloader counts the try and, after the
/// last one, rolls back to the previous image.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
