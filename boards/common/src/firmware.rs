//! The firmware's start, the same on every board: after its health check
//! it confirms the image on trial, or rejects it.
//!
//! Only the metadata is touched, through [`Control`]: confirming needs no
//! slot access and no image check. (Staging an update into the other slot
//! is [`abboot::Updater`], over the same flash, with
//! [`XipBoard::CHECK`].)

use abboot::app::Control;
use abboot::status::Status;
use abboot::{Error, Slot};
use embedded_storage::nor_flash::NorFlash;

use crate::XipBoard;

/// The firmware's reason code for a failed health check (`mark_bad`,
/// 0..=127; shown in the status record as `App(1)`).
pub const HEALTH_CHECK_FAILED: u8 = 1;

/// Reads the status from board `B`'s metadata pages of `flash`. If the
/// image is on trial, runs `healthy` on it, then confirms it, or marks it
/// bad and resets (back to the bootloader, which boots the previous
/// image). `flash` is only borrowed: the application keeps it, for an
/// [`abboot::Updater`] or a [`Control`] of its own.
///
/// # Errors
///
/// [`Control::new`]'s: the metadata pages do not fit `flash`.
pub fn start<B: XipBoard>(
    flash: &mut impl NorFlash,
    healthy: impl FnOnce(&Status) -> bool,
) -> Result<(), Error> {
    let mut control = Control::new(flash, B::LAYOUT.metadata)?;
    let status = control.status();
    if status.trial {
        if healthy(&status) {
            // `Ok` only once the confirmed state has read back from flash;
            // on an error the image stays on trial and the next reset
            // counts another try, which is the safe outcome.
            let _ = control.confirm();
        } else {
            let _ = control.mark_bad(HEALTH_CHECK_FAILED);
            cortex_m::peripheral::SCB::sys_reset();
        }
    }
    Ok(())
}

/// The example health check: the metadata agrees that this image runs
/// from the slot it is linked for. A product adds its own: peripherals
/// answer, the radio joins, the backend is reachable.
pub fn runs_from(status: &Status, linked_for: Slot) -> bool {
    status.running == Some(linked_for)
}
