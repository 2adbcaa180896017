//! The firmware, linked once for each slot (`fw-a`, `fw-b`): after its
//! health check it confirms the image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]).
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same NVMC, with `Board::CHECK`; see the README.

use abboot::Slot;
use abboot_board_common::firmware::{runs_from, start};
use embassy_nrf::gpio::{Level, Output, OutputDrive};
use embassy_nrf::nvmc::Nvmc;

use crate::{blink_forever, Board};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_nrf::init(Default::default());
    let mut led = Output::new(p.P0_13, Level::High, OutputDrive::Standard);
    let mut flash = Nvmc::new(p.NVMC);
    let Ok(()) = start::<Board>(&mut flash, |status| runs_from(status, linked_for)) else {
        blink_forever(&mut led, 100, 900)
    };

    // The application: LED1 blinks slowly.
    blink_forever(&mut led, 500, 500)
}
