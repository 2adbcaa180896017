//! The interrupt part of the vector table, for cortex-m-rt's `device`
//! feature: the mps2-an385's 32 external interrupts (UARTs, timers, GPIO,
//! Ethernet...), all bound to `DefaultHandler`. Neither the bootloader nor
//! the firmware enables one; they use only the core's exceptions (SysTick
//! for the bench, the NMI for the watchdog). Without the feature,
//! cortex-m-rt reserves 240 entries, 832 bytes more in each program.

/// The an385's external interrupts (QEMU's `mps2-an385`: `num-irq` 32).
const INTERRUPTS: usize = 32;

extern "C" {
    fn DefaultHandler();
}

/// Placed after the 16 core entries by cortex-m-rt's linker script.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
pub static __INTERRUPTS: [unsafe extern "C" fn(); INTERRUPTS] = [DefaultHandler; INTERRUPTS];
