//! The firmware, linked once for each slot (`fw-a`, `fw-b`): after its
//! health check it confirms the image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]).
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same NVMC, with `Board::CHECK`; see the README.

use abboot::Slot;
use abboot_board_common::firmware::{runs_from, start};

use crate::led::Led;
use crate::nvmc::Nvmc;
use crate::{blink_forever, Board};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_nrf::init(Default::default());
    // The bootloader's drivers, not embassy-nrf's: embassy's handles for
    // the NVMC and LED1 are held here, unused, so no embassy driver is made
    // for them.
    let _reserved = (p.NVMC, p.P0_13);
    let mut led = Led::new();
    // SAFETY: the one NVMC driver (embassy's handle is held above) and no
    // interrupt handler uses the NVMC. `start` writes only the metadata
    // pages, never this firmware's slot or the bootloader.
    let mut flash = unsafe { Nvmc::new() };
    let Ok(()) = start::<Board>(&mut flash, |status| runs_from(status, linked_for)) else {
        blink_forever(&mut led, 100, 900)
    };

    // The application: LED1 blinks slowly.
    blink_forever(&mut led, 500, 500)
}
