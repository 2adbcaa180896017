//! The firmware's start, the same on every board: it takes the
//! bootloader's [hand-off](crate::handoff) (the slot it runs from), and
//! after its health check it confirms the image on trial, or rejects it.
//!
//! Confirming touches only the metadata, through [`Control`]: it needs no
//! slot access and no image check. Staging an update into the other slot
//! is [`abboot::Updater`], over the same flash, made by [`updater`]: told
//! the running slot from the hand-off, it never stages into it, even with
//! no state on flash.
//!
//! The firmware's flash handle is [`fence`]d first: an
//! [`abboot::fence::Fenced`] that writes and erases only the two metadata
//! pages and the two slots of the board's layout, and refuses
//! ([`FenceError::Outside`](abboot::fence::FenceError::Outside)) any write
//! or erase elsewhere — the bootloader and its keys included — without
//! touching the part. [`start`] and [`updater`] take only a fenced handle.
//! That stops a firmware *bug*; a compromised firmware can drive the flash
//! controller itself, which is what the board's own write protection
//! (nRF52840 ACL, STM32L4 WRP), set by the bootloader before the jump, is
//! for.

use core::cell::RefCell;

use abboot::app::{Control, Updater};
use abboot::counter::SecurityCounter;
use abboot::fence::Fenced;
use abboot::flash::Shared;
use abboot::handoff::{Handoff, HandoffError};
use abboot::status::Status;
use abboot::{Error, Slot};
use embedded_storage::nor_flash::NorFlash;

use crate::{handoff, Check, XipBoard};

/// The firmware's reason code for a failed health check (`mark_bad`,
/// 0..=127; shown in the status record as `App(1)`).
pub const HEALTH_CHECK_FAILED: u8 = 1;

/// What the firmware learns at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// The bootloader's hand-off, or why there was none (then the running
    /// slot is unknown: staging is refused rather than guessed).
    pub handoff: Result<Handoff, HandoffError>,
    /// The status from the metadata (before this start's confirm or
    /// `mark_bad`).
    pub status: Status,
    /// Steps the hardware security counter can still rise (`None`:
    /// unbounded, unreadable, or no counter). `Some(0)`: used up — the
    /// device still confirms updates, but the floor no longer rises in
    /// hardware; report it to the fleet backend.
    pub counter_remaining: Option<u32>,
}

impl Boot {
    /// The slot the firmware runs from, as the bootloader said.
    pub fn running(&self) -> Option<Slot> {
        self.handoff.as_ref().ok().map(|h| h.slot)
    }
}

/// The firmware's flash handle: the board's driver `F`, writable only in
/// the metadata pages and the slots of the board's layout ([`fence`]).
pub type FirmwareFlash<F> = Fenced<F, 4>;

/// Fences `flash` (the board's whole-flash driver) to board `B`'s metadata
/// pages and slots ([`Fenced::for_layout`] over [`XipBoard::LAYOUT`]). Do
/// it first, and keep only the fenced handle.
pub const fn fence<B: XipBoard, F>(flash: F) -> FirmwareFlash<F> {
    Fenced::for_layout(flash, &B::LAYOUT)
}

/// Takes the hand-off (it is cleared), then reads the status from board
/// `B`'s metadata pages of `flash`. If the image is on trial, runs
/// `healthy` on what it learnt, then confirms it and raises `counter` (the
/// board's hardware security counter) to the new floor, or marks it bad
/// and resets (back to the bootloader, which boots the previous image).
///
/// The raise comes after the confirmation is on flash, never before (as
/// [`Updater::confirm`]'s); a cut in between is caught up by the
/// bootloader at the next boot. A counter that is used up or fails does
/// not undo the confirmation.
///
/// `flash` is only borrowed: the application keeps it, for an
/// [`Updater`] ([`updater`]) or a [`Control`] of its own.
///
/// Call it early: a trial boot runs under the board's watchdog, so feed
/// the watchdog before and after it.
///
/// # Errors
///
/// [`Control::new`]'s: the metadata pages do not fit `flash`.
pub fn start<B: XipBoard, F: NorFlash, K: SecurityCounter>(
    flash: &mut FirmwareFlash<F>,
    counter: &mut K,
    healthy: impl FnOnce(&Boot) -> bool,
) -> Result<Boot, Error> {
    let handoff = handoff::take();
    let mut control = Control::new(flash, B::LAYOUT.metadata)?;
    let mut boot = Boot {
        handoff,
        status: control.status(),
        counter_remaining: None,
    };
    if boot.status.trial {
        if healthy(&boot) {
            // `Ok` only once the confirmed state has read back from flash;
            // on an error the image stays on trial and the next reset
            // counts another try, which is the safe outcome.
            if control.confirm().is_ok() {
                if let Some(st) = control.state() {
                    let _ = counter.raise(st.min_security_counter);
                }
            }
        } else {
            let _ = control.mark_bad(HEALTH_CHECK_FAILED);
            cortex_m::peripheral::SCB::sys_reset();
        }
    }
    boot.counter_remaining = counter.remaining();
    Ok(boot)
}

/// The firmware's [`Updater`]: metadata and slots through one fenced
/// handle, with the board's image check ([`Check`]) and hardware counter
/// `K`.
pub type FirmwareUpdater<'a, F, K> =
    Updater<Shared<'a, FirmwareFlash<F>>, Shared<'a, FirmwareFlash<F>>, Check, K>;

/// The example health check: the bootloader says this image runs from the
/// slot it is linked for, and the metadata, if it names a running slot,
/// agrees. A product adds its own: peripherals answer, the radio joins,
/// the backend is reachable.
pub fn runs_from(boot: &Boot, linked_for: Slot) -> bool {
    boot.running() == Some(linked_for) && boot.status.running.is_none_or(|r| r == linked_for)
}

/// The updater the application stages with: over `flash` (metadata and
/// slots on the one device, [`fence`]d to them, so a write anywhere else is
/// refused), with board `B`'s layout and image check and the board's
/// hardware security `counter` (staging refuses images below it; its
/// `confirm` raises it), and
/// told the running slot when the hand-off gave one
/// ([`Updater::running`]). Without it and without state on flash,
/// `stage_begin` refuses with `RunningSlotUnknown`.
///
/// # Errors
///
/// [`Updater::new`]'s: the layout does not fit `flash`.
pub fn updater<'a, B: XipBoard, F: NorFlash, K: SecurityCounter>(
    flash: &'a RefCell<FirmwareFlash<F>>,
    running: Option<Slot>,
    counter: K,
) -> Result<FirmwareUpdater<'a, F, K>, Error> {
    let updater = Updater::new(Shared::new(flash), Shared::new(flash), B::LAYOUT, B::CHECK)?
        .with_counter(counter);
    Ok(match running {
        Some(slot) => updater.running(slot),
        None => updater,
    })
}
