//! The firmware, linked once for each slot (`fw-a`, `fw-b`): it takes the
//! bootloader's hand-off, and after its health check it confirms the
//! image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]). It feeds the watchdog
//! ([`crate::Watchdog`]) from its start on: on a trial boot the
//! bootloader started it.
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same flash, with `Board::CHECK`, told the running slot from the
//! hand-off ([`abboot_board_common::firmware::updater`]); see the README.

use core::cell::RefCell;

use abboot::counter::NoCounter;
use abboot::Slot;
use abboot_board_common::firmware::{fence, runs_from, start, updater};
use embassy_rp::gpio::{Level, Output};

use crate::{blink_forever, Board, Flash, Watchdog};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_rp::init(Default::default());
    let mut wd = Watchdog::new(p.WATCHDOG);
    wd.feed();
    let mut led = Output::new(p.PIN_25, Level::Low);
    // Fenced: writable only in the metadata sectors and the slots.
    let mut flash = fence::<Board, _>(Flash::new_blocking(p.FLASH));
    // No hardware counter on this part (see the README).
    let Ok(boot) = start::<Board, _, _>(&mut flash, &mut NoCounter, |boot| {
        runs_from(boot, linked_for)
    }) else {
        blink_forever(&mut led, &mut wd, 100, 900)
    };
    wd.feed();

    // The application stages updates (from its USB, its radio) with this
    // updater: it writes only the other slot than the hand-off's.
    let flash = RefCell::new(flash);
    let Ok(_updater) = updater::<Board, _, _>(&flash, boot.running(), NoCounter) else {
        blink_forever(&mut led, &mut wd, 100, 900)
    };

    // The application: the LED blinks slowly.
    blink_forever(&mut led, &mut wd, 500, 500)
}
