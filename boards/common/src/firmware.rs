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

use crate::check::BoardCheck;
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
    match check_in::<B, F, K>(flash, counter, handoff::take(), healthy)? {
        Some(boot) => Ok(boot),
        None => cortex_m::peripheral::SCB::sys_reset(),
    }
}

/// [`start`] after the hand-off is taken, and without its reset: `None`
/// when the image on trial failed `healthy` and is marked bad (the caller
/// resets). Apart so that the host tests run it: the hand-off's RAM and
/// the reset exist only on the boards.
fn check_in<B: XipBoard, F: NorFlash, K: SecurityCounter>(
    flash: &mut FirmwareFlash<F>,
    counter: &mut K,
    handoff: Result<Handoff, HandoffError>,
    healthy: impl FnOnce(&Boot) -> bool,
) -> Result<Option<Boot>, Error> {
    let mut control = Control::new(flash, B::LAYOUT.metadata)?;
    let mut boot = Boot {
        handoff,
        status: control.status(),
        counter_remaining: None,
    };
    // On trial only when the bootloader says it booted this image on trial
    // and the metadata has that slot on trial. When it could not count a
    // try (or read the trial's slot) it boots the primary while the
    // metadata still says trial: the primary's health says nothing about
    // the image on trial, so it is neither confirmed nor rejected here,
    // and its next try comes at a later reset. No hand-off: no trial.
    let trial = boot
        .handoff
        .as_ref()
        .is_ok_and(|h| h.is_trial() && boot.status.trial && boot.status.running == Some(h.slot));
    if trial {
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
            return Ok(None);
        }
    }
    boot.counter_remaining = counter.remaining();
    Ok(Some(boot))
}

/// The firmware's [`Updater`]: metadata and slots through one fenced
/// handle, with the board's image check ([`BoardCheck`]) and hardware counter
/// `K`.
pub type FirmwareUpdater<'a, B, F, K> =
    Updater<Shared<'a, FirmwareFlash<F>>, Shared<'a, FirmwareFlash<F>>, BoardCheck<B>, K>;

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
) -> Result<FirmwareUpdater<'a, B, F, K>, Error> {
    let check = BoardCheck::<B>::new();
    let updater = Updater::new(Shared::new(flash), Shared::new(flash), B::LAYOUT, check)?
        .with_counter(counter);
    Ok(match running {
        Some(slot) => updater.running(slot),
        None => updater,
    })
}

/// The firmware's side on the host, over a simulated flash with the test
/// board's layout: the fence the board's layout draws, the updater told
/// its running slot, and the example health check.
#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::test_board::{bootable, Board};
    use abboot::counter::NoCounter;
    use abboot::handoff::HandoffError;
    use abboot::image::ImageError;
    use abboot::machine::Refusal;
    use abboot::sim::SimFlash;
    use abboot::state::{BootKind, Reason};
    use abboot::{StageOptions, Version};
    use embedded_storage::nor_flash::ReadNorFlash;

    type Flash = SimFlash<4, 4, 4096>;

    /// Slot A holds the factory image; the metadata is blank.
    fn device() -> Flash {
        let mut flash = Flash::new(Board::FLASH_SIZE as usize);
        let a = bootable(Slot::A, 0, 0);
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, &a);
        flash
    }

    /// Writes and erases reach the metadata pages and the slots, and
    /// nothing else: not the bootloader below them.
    #[test]
    fn the_fence_is_the_boards_layout() {
        let mut f = fence::<Board, _>(Flash::new(Board::FLASH_SIZE as usize));
        let page = Board::PAGE;
        assert!(f.erase(0, page).is_err());
        assert!(f.write(Board::BOOT_LEN - 4, &[0; 4]).is_err());
        for at in [Board::META_OFFSET, Board::META_OFFSET + page] {
            assert_eq!(f.erase(at, at + page), Ok(()));
        }
        for at in Board::SLOT_OFFSET {
            assert_eq!(f.write(at, &[1, 2, 3, 4]), Ok(()));
            assert_eq!(f.write(at + Board::SLOT_LEN - 4, &[1, 2, 3, 4]), Ok(()));
        }
        for end in Board::SLOT_OFFSET.map(|at| at + Board::SLOT_LEN) {
            assert!(f.write(end, &[0; 4]).is_err());
            assert!(f.erase(end, end + page).is_err());
        }
        let mut inner = f.into_inner();
        let mut boot = [0u8; 4];
        inner.read(Board::BOOT_LEN - 4, &mut boot).unwrap();
        assert_eq!(boot, [0xFF; 4], "the bootloader's flash is untouched");
    }

    /// Told it runs from A, the updater stages B's image into B and
    /// refuses one linked for A; told nothing, on a device with no state,
    /// it refuses to guess.
    #[test]
    fn the_updater_stages_into_the_other_slot_only() {
        let b = bootable(Slot::B, 1, 0);
        let a_new = bootable(Slot::A, 2, 0);
        let opts = StageOptions::default();

        let cell = RefCell::new(fence::<Board, _>(device()));
        let mut u = updater::<Board, _, _>(&cell, Some(Slot::A), NoCounter).unwrap();
        assert_eq!(u.target(), Ok(Slot::B));
        // Refused from its header, before anything is written: slot B
        // stays blank.
        assert_eq!(
            u.stage(&a_new, &opts).map(|_| ()),
            Err(Error::Image(ImageError::WrongLoadAddress))
        );
        let mut head = [0u8; 256];
        cell.borrow_mut()
            .read(Board::SLOT_OFFSET[1], &mut head)
            .unwrap();
        assert_eq!(head, [0xFF; 256], "slot B written before the refusal");
        let info = u.stage(&b, &opts).unwrap();
        assert_eq!(info.version, Version::new(1, 1, 0, 0));

        let cell = RefCell::new(fence::<Board, _>(device()));
        let mut u = updater::<Board, _, _>(&cell, None, NoCounter).unwrap();
        assert_eq!(
            u.stage(&b, &opts).map(|_| ()),
            Err(Error::Refused(Refusal::RunningSlotUnknown))
        );
    }

    /// A validly signed image that the bootloader would not start (its
    /// reset vector past its payload) is refused when it is staged, and A
    /// keeps booting.
    #[test]
    fn the_updater_refuses_an_image_the_bootloader_would_not_start() {
        let sp = Board::RAM_END - abboot::handoff::HANDOFF_LEN as u32;
        let b_entry = Board::LOAD_ADDRESS[1];
        let bad_b = crate::test_board::image_for(Slot::B, 1, sp, b_entry + 1024 + 1, 1024);
        let mut flash = device();
        let slot = |flash: &mut Flash| {
            crate::boot::select::<Board>(flash, NoCounter).map(|e| e.handoff().slot)
        };
        assert_eq!(slot(&mut flash), Some(Slot::A));
        {
            let cell = RefCell::new(fence::<Board, _>(&mut flash));
            let mut u = updater::<Board, _, _>(&cell, Some(Slot::A), NoCounter).unwrap();
            assert_eq!(
                u.stage(&bad_b, &StageOptions::default()).map(|_| ()),
                Err(Error::Image(ImageError::BadEntry))
            );
        }
        for _ in 0..4 {
            assert_eq!(slot(&mut flash), Some(Slot::A));
        }
    }

    /// A hardware counter that records what it is raised to.
    #[derive(Default)]
    struct Recorder {
        raised: Vec<u32>,
    }

    impl SecurityCounter for Recorder {
        fn read(&mut self) -> Result<u32, abboot::counter::CounterError> {
            Ok(self.raised.last().copied().unwrap_or(0))
        }
        fn raise(&mut self, value: u32) -> Result<(), abboot::counter::CounterError> {
            self.raised.push(value);
            Ok(())
        }
        fn remaining(&mut self) -> Option<u32> {
            Some(7)
        }
    }

    /// Slot A's factory image and, in slot B, an update with security
    /// counter 5, after the bootloader's first boot: B on trial. Its
    /// hand-off.
    fn on_trial() -> (Flash, Handoff) {
        let mut flash = device();
        let b = bootable(Slot::B, 1, 5);
        flash.set_contents(Board::SLOT_OFFSET[1] as usize, &b);
        let entry = crate::boot::select::<Board>(&mut flash, NoCounter).expect("boots");
        assert!(entry.is_trial());
        (flash, *entry.handoff())
    }

    fn status(flash: &mut Flash) -> Status {
        let mut fw = fence::<Board, _>(flash);
        Control::new(&mut fw, Board::LAYOUT.metadata)
            .unwrap()
            .status()
    }

    /// A healthy image on trial is confirmed, and only then is the
    /// counter raised, to the confirmed image's counter.
    #[test]
    fn a_healthy_trial_is_confirmed_then_the_counter_raised() {
        let (mut flash, handoff) = on_trial();
        let mut counter = Recorder::default();
        let mut seen = None;
        let mut fw = fence::<Board, _>(&mut flash);
        let boot = check_in::<Board, _, _>(&mut fw, &mut counter, Ok(handoff), |b| {
            seen = Some(b.clone());
            true
        })
        .unwrap()
        .expect("runs");
        // The health check saw the boot, before the counter was asked.
        let before = Boot {
            counter_remaining: None,
            ..boot.clone()
        };
        assert_eq!(seen, Some(before));
        assert!(boot.status.trial, "the status from before the confirm");
        assert_eq!(boot.running(), Some(Slot::B));
        assert_eq!(boot.counter_remaining, Some(7));
        assert_eq!(counter.raised, [5]);
        let after = status(&mut flash);
        assert!(!after.trial);
        assert_eq!(after.update, abboot::state::UpdateState::Confirmed);
    }

    /// An image that fails its health check is marked bad (the reason
    /// the board reports), the counter untouched, and `start` resets.
    #[test]
    fn a_failed_health_check_marks_the_image_bad_and_resets() {
        let (mut flash, handoff) = on_trial();
        let mut counter = Recorder::default();
        let mut fw = fence::<Board, _>(&mut flash);
        let got = check_in::<Board, _, _>(&mut fw, &mut counter, Ok(handoff), |_| false);
        assert_eq!(got, Ok(None));
        assert!(counter.raised.is_empty());
        assert_eq!(
            status(&mut flash).last_reason,
            Reason::App(HEALTH_CHECK_FAILED)
        );
    }

    /// A confirm that does not reach flash (the metadata write-protected
    /// here) leaves the image on trial and the counter where it was: the
    /// floor never rises ahead of the confirmation.
    #[test]
    fn a_confirm_that_fails_raises_nothing() {
        let (mut flash, handoff) = on_trial();
        let meta = Board::META_OFFSET..Board::META_OFFSET + 2 * Board::PAGE;
        flash.protect(meta);
        let mut counter = Recorder::default();
        let mut fw = fence::<Board, _>(&mut flash);
        let boot = check_in::<Board, _, _>(&mut fw, &mut counter, Ok(handoff), |_| true)
            .unwrap()
            .expect("runs");
        assert!(counter.raised.is_empty());
        assert_eq!(boot.counter_remaining, Some(7));
        flash.unprotect_all();
        assert!(status(&mut flash).trial, "still on trial");
    }

    /// The metadata says B is on trial, but the bootloader booted A (B's
    /// try could not be counted, or its slot not read), or said nothing:
    /// A's health check is not B's, so neither is confirmed or marked bad,
    /// and nothing is written or raised.
    #[test]
    fn the_primary_booted_beside_a_trial_vouches_for_nothing() {
        let (mut flash, trial) = on_trial();
        let primary = Handoff {
            slot: Slot::A,
            kind: BootKind::Normal,
            tries_left: 0,
            ..trial
        };
        // Hand-offs that disagree with the metadata's trial of B: B booted
        // but not as a trial, and a trial of A.
        let b_normal = Handoff {
            kind: BootKind::Normal,
            ..trial
        };
        let a_trial = Handoff {
            slot: Slot::A,
            ..trial
        };
        let ops = flash.mutating_ops();
        let handoffs = [
            Ok(primary),
            Ok(b_normal),
            Ok(a_trial),
            Err(HandoffError::Absent),
        ];
        for handoff in handoffs {
            for healthy in [true, false] {
                let mut counter = Recorder::default();
                let mut fw = fence::<Board, _>(&mut flash);
                let boot = check_in::<Board, _, _>(&mut fw, &mut counter, handoff, |_| healthy)
                    .unwrap()
                    .expect("runs");
                assert!(boot.status.trial);
                assert!(counter.raised.is_empty());
                assert_eq!(flash.mutating_ops(), ops, "{handoff:?} {healthy}");
            }
        }
        assert!(status(&mut flash).trial, "still on trial");
    }

    /// Not on trial: no health check, no write, no raise.
    #[test]
    fn a_normal_boot_writes_nothing() {
        let mut flash = device();
        let entry = crate::boot::select::<Board>(&mut flash, NoCounter).expect("boots");
        assert!(!entry.is_trial());
        let ops = flash.mutating_ops();
        let mut counter = Recorder::default();
        let mut fw = fence::<Board, _>(&mut flash);
        let boot =
            check_in::<Board, _, _>(&mut fw, &mut counter, Err(HandoffError::Absent), |_| {
                panic!("no health check on a normal boot")
            })
            .unwrap()
            .expect("runs");
        assert_eq!(boot.handoff, Err(HandoffError::Absent));
        assert!(!boot.status.trial);
        assert!(counter.raised.is_empty());
        assert_eq!(flash.mutating_ops(), ops);
    }

    #[test]
    fn runs_from_needs_the_handoff_and_the_metadata_to_agree() {
        let handoff = |slot| Handoff {
            slot,
            kind: BootKind::Normal,
            reason: Reason::None,
            tries_left: 0,
            version: Version::new(1, 0, 0, 0),
            image_epoch: 0,
            data_epoch: 0,
        };
        let boot = |h: Result<Handoff, HandoffError>, running: Option<Slot>| Boot {
            handoff: h,
            status: Status {
                running,
                ..Status::default()
            },
            counter_remaining: None,
        };
        assert!(runs_from(&boot(Ok(handoff(Slot::A)), None), Slot::A));
        assert!(runs_from(
            &boot(Ok(handoff(Slot::A)), Some(Slot::A)),
            Slot::A
        ));
        assert!(!runs_from(&boot(Ok(handoff(Slot::A)), None), Slot::B));
        assert!(!runs_from(
            &boot(Ok(handoff(Slot::A)), Some(Slot::B)),
            Slot::A
        ));
        assert!(!runs_from(
            &boot(Err(HandoffError::Absent), Some(Slot::A)),
            Slot::A
        ));
        assert_eq!(boot(Err(HandoffError::BadCrc), None).running(), None);
        assert_eq!(boot(Ok(handoff(Slot::B)), None).running(), Some(Slot::B));
    }
}
