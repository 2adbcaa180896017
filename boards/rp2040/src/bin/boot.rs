//! The bootloader (`link/boot/memory.x`, at `0x1000_0100`, after boot2).
//!
//! At every reset: [`Bootloader::select`] over the QSPI flash with the signed
//! image check, then a jump into the chosen slot's payload, executing in
//! place. With nothing verified to boot: recovery, the LED blinking fast,
//! and no jump.
#![no_std]
#![no_main]

use core::cell::RefCell;

use abboot::boot::{Bootloader, Policy, VerifyPolicy};
use abboot::flash::Shared;
use embassy_rp::gpio::{Level, Output};

/// Verify the image that boots at every boot (bit rot in the primary is
/// caught and the other slot takes over), at the cost of hashing it.
const POLICY: Policy = Policy {
    verify: VerifyPolicy::Always,
    fresh_tries: 3,
};

#[cortex_m_rt::entry]
fn main() -> ! {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);
    let flash = RefCell::new(board::Flash::new_blocking(p.FLASH));

    let decision = match Bootloader::new(
        Shared::new(&flash),
        Shared::new(&flash),
        board::LAYOUT,
        board::check(),
        POLICY,
    ) {
        Ok(mut bootloader) => bootloader.select(),
        // The layout constants do not fit the part: a build mistake.
        Err(_) => recovery(&mut led),
    };
    // `select` has verified the image of the slot it returns (signature,
    // payload digest, hardware id, load address, header length) and, for
    // a trial boot, counted the try on flash.
    let Some(slot) = decision.slot else {
        recovery(&mut led)
    };
    let Some(vector_table) = board::vector_table(&mut Shared::new(&flash), slot) else {
        recovery(&mut led)
    };
    led.set_low();
    // SAFETY: `vector_table` is the first byte of the payload `select`
    // just verified, linked to run exactly there (its signed load
    // address), and its first words are a stack pointer in RAM and a
    // Thumb reset handler inside the payload. No code of the bootloader
    // runs after the jump, so taking the core peripherals and resetting
    // MSP cannot break anything still in use; the interrupts the HAL may
    // have enabled are disabled and cleared first, so none reaches the
    // firmware before it sets up its own.
    unsafe {
        let core = cortex_m::Peripherals::steal();
        let nvic = core.NVIC.icer.iter().zip(&core.NVIC.icpr);
        for (icer, icpr) in nvic.take(board::NVIC_WORDS) {
            icer.write(u32::MAX);
            icpr.write(u32::MAX);
        }
        core.SCB.vtor.write(vector_table);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
        cortex_m::asm::bootload(vector_table as *const u32)
    }
}

/// Nothing verified to boot (or the layout is unusable): never jump. The LED
/// blinks fast until a reset; the board's recovery (serial, DFU, a
/// debugger writing a signed image into a slot) goes here.
fn recovery(led: &mut Output<'_>) -> ! {
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
