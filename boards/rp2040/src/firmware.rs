//! The firmware, linked once for each slot (`fw-a`, `fw-b`): after its
//! health check it confirms the image on trial, or rejects it.
//!
//! Only the metadata is touched, through [`Control`]: confirming needs no
//! slot access and no image check. (Staging an update into the other slot
//! is [`abboot::Updater`], over the same flash; see the README.)

use abboot::app::Control;
use abboot::status::Status;
use abboot::Slot;
use embassy_rp::gpio::{Level, Output};

use crate::{blink_forever, Flash, LAYOUT};

/// The firmware's reason code for a failed health check (`mark_bad`,
/// 0..=127; shown in the status record as `App(1)`).
pub const HEALTH_CHECK_FAILED: u8 = 1;

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);
    let mut control = match Control::new(Flash::new_blocking(p.FLASH), LAYOUT.metadata) {
        Ok(c) => c,
        Err(_) => blink_forever(&mut led, 100, 900),
    };

    let status = control.status();
    if status.trial {
        if healthy(&status, linked_for) {
            // `Ok` only once the confirmed state has read back from flash;
            // on an error the image stays on trial and the next reset
            // counts another try, which is the safe outcome.
            let _ = control.confirm();
        } else {
            let _ = control.mark_bad(HEALTH_CHECK_FAILED);
            // Back to the bootloader, which boots the previous image.
            cortex_m::peripheral::SCB::sys_reset();
        }
    }

    // The application: the LED blinks slowly.
    blink_forever(&mut led, 500, 500)
}

/// The health check before confirming. Here: the metadata agrees that
/// this image runs from the slot it is linked for. A product adds its
/// own: peripherals answer, the radio joins, the backend is reachable.
fn healthy(status: &Status, linked_for: Slot) -> bool {
    status.running == Some(linked_for)
}
