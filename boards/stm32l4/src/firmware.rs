//! The firmware, linked once for each slot (`fw-a`, `fw-b`): after its
//! health check it confirms the image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]).
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same `EccFlash`, with `Board::CHECK`; see the README.

use abboot::Slot;
use abboot_board_common::firmware::{runs_from, start};
use embassy_stm32::flash::Flash;
use embassy_stm32::gpio::{Level, Output, Speed};

use crate::{blink_forever, config, Board, EccFlash};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_stm32::init(config());
    let mut led = Output::new(p.PA5, Level::Low, Speed::Low);
    let mut flash = EccFlash(Flash::new_blocking(p.FLASH));
    let Ok(()) = start::<Board>(&mut flash, |status| runs_from(status, linked_for)) else {
        blink_forever(&mut led, 100, 900)
    };

    // The application: LD2 blinks slowly.
    blink_forever(&mut led, 500, 500)
}
