//! LED1 of the nRF52840-DK (P0.13, active low) through P0's registers
//! (nrf-pac's `nrf_pac::P0`, at `0x5000_0000`: `OUTSET` `+0x508`,
//! `OUTCLR` `+0x50C`, `DIRSET` `+0x518`), so that the bootloader calls no
//! HAL. The set and clear registers change P0.13 only: no
//! read-modify-write of the port.

use nrf_pac::gpio::regs::{Dirset, Outclr, Outset};

/// P0.13's bit in P0's registers.
const LED1: u32 = 1 << 13;

/// LED1 as an output.
#[derive(Debug)]
pub struct Led {
    _private: (),
}

impl Led {
    /// LED1 as an output, off: the pin high first, then its direction
    /// out. The rest of `PIN_CNF[13]` keeps its reset value (input buffer
    /// disconnected, no pull, standard drive).
    #[allow(clippy::new_without_default)] // it sets up a pin: not a default
    pub fn new() -> Self {
        nrf_pac::P0.outset().write_value(Outset(LED1));
        nrf_pac::P0.dirset().write_value(Dirset(LED1));
        Self { _private: () }
    }

    /// LED1 on (the pin low).
    pub fn on(&mut self) {
        nrf_pac::P0.outclr().write_value(Outclr(LED1));
    }

    /// LED1 off (the pin high).
    pub fn off(&mut self) {
        nrf_pac::P0.outset().write_value(Outset(LED1));
    }
}
