//! The device part of the vector table (cortex-m-rt's `__INTERRUPTS`),
//! sized per binary instead of taken from the PAC.
//!
//! With the PAC's `rt` feature every binary of this package gets its
//! 48-entry table (192 bytes), features being the package's and not the
//! binary's. The bootloader enables no interrupt (no HAL, no NVIC enable;
//! the jump points VTOR at the firmware's table first), so its table is
//! the one entry cortex-m-rt's link script insists on: 188 bytes less
//! (issue 14). The firmwares keep all 48, each `DefaultHandler`, as the
//! PAC's table is when no handler is bound.
//!
//! `link/device.x` stands in for the PAC's `device.x` (cortex-m-rt's
//! `device` feature includes one); it is empty, since no table here names
//! a handler.

/// Entries in the nRF52840's device interrupt table (its highest IRQ is
/// 47, `SPIM3`).
pub const DEVICE_INTERRUPTS: usize = 48;

/// Defines the binary's `__INTERRUPTS`: `$n` entries, each cortex-m-rt's
/// `DefaultHandler`. At least one: cortex-m-rt's link script refuses a
/// vector table with no device entry.
#[macro_export]
macro_rules! interrupt_table {
    ($n:expr) => {
        const _: () = assert!($n >= 1 && $n <= $crate::vectors::DEVICE_INTERRUPTS);
        extern "C" {
            fn DefaultHandler();
        }
        #[link_section = ".vector_table.interrupts"]
        #[no_mangle]
        #[used]
        static __INTERRUPTS: [unsafe extern "C" fn(); $n] = [DefaultHandler; $n];
    };
}
