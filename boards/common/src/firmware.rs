//! The firmware's start, the same on every board: it takes the
//! bootloader's [hand-off](crate::handoff) (the slot it runs from), and
//! after its health check it confirms the image on trial, or rejects it.
//!
//! Confirming touches only the metadata, through [`Control`]: it needs no
//! slot access and no image check. Staging an update into the other slot
//! is [`abboot::Updater`], over the same flash, made by [`updater`]: told
//! the running slot from the hand-off, it never stages into it, even with
//! no state on flash.

use core::cell::RefCell;

use abboot::app::{Control, Updater};
use abboot::flash::Shared;
use abboot::handoff::{Handoff, HandoffError};
use abboot::image::signed::SignedCheck;
use abboot::status::Status;
use abboot::{Error, Slot};
use embedded_storage::nor_flash::NorFlash;

use crate::{handoff, XipBoard};

/// The firmware's reason code for a failed health check (`mark_bad`,
/// 0..=127; shown in the status record as `App(1)`).
pub const HEALTH_CHECK_FAILED: u8 = 1;

/// What the firmware learns at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// The bootloader's hand-off, or why there was none (then the running
    /// slot is unknown: staging is refused rather than guessed).
    pub handoff: Result<Handoff, HandoffError>,
    /// The status from the metadata.
    pub status: Status,
}

impl Boot {
    /// The slot the firmware runs from, as the bootloader said.
    pub fn running(&self) -> Option<Slot> {
        self.handoff.as_ref().ok().map(|h| h.slot)
    }
}

/// Takes the hand-off (it is cleared), then reads the status from board
/// `B`'s metadata pages of `flash`. If the image is on trial, runs
/// `healthy` on what it learnt, then confirms it, or marks it bad and
/// resets (back to the bootloader, which boots the previous image).
/// `flash` is only borrowed: the application keeps it, for an
/// [`Updater`] ([`updater`]) or a [`Control`] of its own.
///
/// Call it early: a trial boot runs under the board's watchdog, so feed
/// the watchdog before and after it.
///
/// # Errors
///
/// [`Control::new`]'s: the metadata pages do not fit `flash`.
pub fn start<B: XipBoard>(
    flash: &mut impl NorFlash,
    healthy: impl FnOnce(&Boot) -> bool,
) -> Result<Boot, Error> {
    let handoff = handoff::take();
    let mut control = Control::new(flash, B::LAYOUT.metadata)?;
    let boot = Boot {
        handoff,
        status: control.status(),
    };
    if boot.status.trial {
        if healthy(&boot) {
            // `Ok` only once the confirmed state has read back from flash;
            // on an error the image stays on trial and the next reset
            // counts another try, which is the safe outcome.
            let _ = control.confirm();
        } else {
            let _ = control.mark_bad(HEALTH_CHECK_FAILED);
            cortex_m::peripheral::SCB::sys_reset();
        }
    }
    Ok(boot)
}

/// The example health check: the bootloader says this image runs from the
/// slot it is linked for, and the metadata, if it names a running slot,
/// agrees. A product adds its own: peripherals answer, the radio joins,
/// the backend is reachable.
pub fn runs_from(boot: &Boot, linked_for: Slot) -> bool {
    boot.running() == Some(linked_for) && boot.status.running.is_none_or(|r| r == linked_for)
}

/// The updater the application stages with: over `flash` (metadata and
/// slots on the one device), with board `B`'s layout and image check, and
/// told the running slot when the hand-off gave one
/// ([`Updater::running`]). Without it and without state on flash,
/// `stage_begin` refuses with `RunningSlotUnknown`.
///
/// # Errors
///
/// [`Updater::new`]'s: the layout does not fit `flash`.
#[allow(clippy::type_complexity)] // the type is abboot's
pub fn updater<'a, B: XipBoard, F: NorFlash>(
    flash: &'a RefCell<F>,
    running: Option<Slot>,
) -> Result<Updater<Shared<'a, F>, Shared<'a, F>, SignedCheck<'static>>, Error> {
    let updater = Updater::new(Shared::new(flash), Shared::new(flash), B::LAYOUT, B::CHECK)?;
    Ok(match running {
        Some(slot) => updater.running(slot),
        None => updater,
    })
}
