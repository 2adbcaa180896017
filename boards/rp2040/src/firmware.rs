//! The firmware, linked once for each slot (`fw-a`, `fw-b`): after its
//! health check it confirms the image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]).
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same flash, with `Board::CHECK`; see the README.

use abboot::Slot;
use abboot_board_common::firmware::{runs_from, start};
use embassy_rp::gpio::{Level, Output};

use crate::{blink_forever, Board, Flash};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);
    let mut flash = Flash::new_blocking(p.FLASH);
    let Ok(()) = start::<Board>(&mut flash, |status| runs_from(status, linked_for)) else {
        blink_forever(&mut led, 100, 900)
    };

    // The application: the LED blinks slowly.
    blink_forever(&mut led, 500, 500)
}
