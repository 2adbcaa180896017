//! The firmware linked for slot B (`link/fw-b/memory.x`); see `board::firmware`.
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    board::firmware::run(abboot::Slot::B)
}

/// A flash read with a two-bit ECC error (a record torn by a power cut).
///
/// `unsafe fn` because an NMI preempts even critical sections: the
/// handler touches only `FLASH_ECCR`, which no driver uses, and an atomic.
#[cortex_m_rt::exception]
unsafe fn NonMaskableInt() {
    board::on_nmi();
}

/// A panic (a bug) resets: the bootloader counts the try and, after the
/// last one, rolls back to the previous image.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
