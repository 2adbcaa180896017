//! The firmware, linked once for each slot (`fw-a`, `fw-b`): it takes the
//! bootloader's hand-off, and after its health check it confirms the
//! image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]). It feeds the watchdog
//! ([`crate::Watchdog`]) from its start on: on a trial boot the
//! bootloader started it, and nothing stops it.
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same `EccFlash`, with `Board::CHECK`, told the running slot from the
//! hand-off ([`abboot_board_common::firmware::updater`]); see the README.

use core::cell::RefCell;

use abboot::Slot;
use abboot_board_common::firmware::{fence, runs_from, start, updater};
use embassy_stm32::flash::Flash;
use embassy_stm32::gpio::{Level, Output, Speed};

use crate::{blink_forever, config, counter, Board, EccFlash, Watchdog};

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_stm32::init(config());
    let mut wdg = Watchdog::new(p.IWDG);
    wdg.feed();
    let mut led = Output::new(p.PA5, Level::Low, Speed::Low);
    // Fenced: writable only in the metadata pages and the slots.
    let mut flash = fence::<Board, _>(EccFlash(Flash::new_blocking(p.FLASH)));
    // SAFETY: the counter programs OTP through the flash controller, never
    // while the flash driver is in the middle of an operation (both are
    // used from this thread only, one call at a time).
    let mut counter = unsafe { counter::counter() };
    let Ok(boot) =
        start::<Board, _, _>(&mut flash, &mut counter, |boot| runs_from(boot, linked_for))
    else {
        blink_forever(&mut led, &mut wdg, 100, 900)
    };
    wdg.feed();

    // The application stages updates (from its radio, its USB) with this
    // updater: it writes only the other slot than the hand-off's.
    let flash = RefCell::new(flash);
    let Ok(_updater) = updater::<Board, _, _>(&flash, boot.running(), counter) else {
        blink_forever(&mut led, &mut wdg, 100, 900)
    };

    // The application: LD2 blinks slowly.
    blink_forever(&mut led, &mut wdg, 500, 500)
}
