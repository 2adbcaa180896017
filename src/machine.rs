//! The pure state machine: `(state, event) -> next state`, no I/O.
//!
//! Both faces ([`crate::boot`] and [`crate::app`]) read the state from the
//! journal, check images, and then ask [`apply`] for the next state before
//! they persist it. Everything that decides *what* changes is here, so
//! every transition and every refusal is unit-tested without flash.
//!
//! ```text
//!            stage (app)                 select (bootloader)          confirm (app)
//! Confirmed A ──────────► B: Pending(n) ──────────────► B: Trial(n-1) ────────────► B Confirmed, primary=B
//!    ▲                     │ check fails                 │ tries exhausted            (A kept as rollback)
//!    │                     ▼                             ▼ or mark_bad
//!    └──────────────── B: Rejected (digest remembered) ◄─┘      primary stays A
//! ```

use crate::image::ImageInfo;
use crate::state::{
    BootEvent, BootKind, BootState, ImageState, Reason, Slot, SlotInfo, UpdateState, UpdateTag,
};

/// Something that changes the boot state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The bootloader boots the unconfirmed image in the slot on trial.
    TrialBoot(Slot),
    /// The bootloader refuses the unconfirmed image in the slot.
    Reject {
        /// The slot whose image is refused.
        slot: Slot,
        /// Why.
        reason: Reason,
        /// The failed image check's code when the image was invalid, else 0.
        check: u8,
    },
    /// The primary image is corrupt; the confirmed image in `to` takes over.
    Fallback {
        /// The slot that becomes primary.
        to: Slot,
    },
    /// The state names no slot that can boot, but the image in `slot`
    /// verifies: it becomes the confirmed primary, as it would from blank
    /// metadata ([`fresh`]). The bootloader checks the security floor and
    /// the rejected digest before it asks.
    Adopt {
        /// The slot whose image verified.
        slot: Slot,
        /// What the check learned about the image.
        info: ImageInfo,
    },
    /// Nothing can boot.
    Recovery,
    /// The firmware starts writing an update into `slot`.
    StageBegin {
        /// The slot to write.
        slot: Slot,
        /// Opaque tag the caller attaches to the update.
        tag: UpdateTag,
    },
    /// The image written into `slot` checked out; boot it up to `tries` times.
    StageDone {
        /// The staged slot.
        slot: Slot,
        /// What the check learned about the image.
        info: ImageInfo,
        /// Trial boots allowed.
        tries: u8,
    },
    /// Staging failed or was refused.
    StageFailed {
        /// Why.
        reason: Reason,
        /// Whether it counts in the failure count (a broken image does; a
        /// refusal by policy does not).
        counts: bool,
        /// The failed image check's code, else 0.
        check: u8,
    },
    /// Give the unconfirmed image this many trial boots from now.
    SetTries(u8),
    /// The image on trial passed its health checks.
    Confirm,
    /// The image on trial rejects itself with a firmware reason code.
    MarkBad(u8),
    /// Drop a staged update that has not booted.
    Abort,
    /// The firmware migrated (or restored) its data to this schema epoch.
    DataMigrated(u16),
}

/// Why a call is refused in the current state. A refusal changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum Refusal {
    /// `confirm` or `mark_bad` with no image on trial.
    NoTrial,
    /// `confirm` while the running image is already confirmed.
    AlreadyConfirmed,
    /// `confirm` or `mark_bad` from a firmware that runs from another slot
    /// than the image on trial (the bootloader booted the primary because
    /// the trial's try could not be counted or its slot could not be
    /// read): only the image on trial can vouch for itself.
    NotOnTrial,
    /// An update runs on trial: confirm or reject it first.
    TrialInProgress,
    /// The target is the slot the device runs from.
    TargetRunning,
    /// No state on flash names the running slot and the caller did not
    /// give it ([`crate::app::Updater::running`]): staging could erase the
    /// only image that boots.
    RunningSlotUnknown,
    /// `stage_write`/`stage_finish` without a `stage_begin`.
    NotStaging,
    /// `abort` with no staged update.
    NothingToAbort,
    /// Tries must be at least 1.
    InvalidTries,
    /// A firmware reason code for `mark_bad` outside 0..=127.
    InvalidReason,
    /// The update tag is longer than [`UPDATE_TAG_LEN`](crate::state::UPDATE_TAG_LEN) bytes.
    TagTooLong,
    /// The image was rejected before (its digest is remembered); force to retry.
    KnownBad,
    /// The image's version is lower than the running one; force to downgrade.
    Downgrade,
    /// The image's security counter is below the stored minimum.
    SecurityCounter,
    /// The image is the one already running.
    AlreadyInstalled,
    /// A write outside the slot.
    OutOfSlot,
    /// A write not aligned to the flash's write size.
    Misaligned,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::NoTrial => "no image is on trial",
            Refusal::AlreadyConfirmed => "the running image is already confirmed",
            Refusal::NotOnTrial => "the running image is not the one on trial",
            Refusal::InvalidReason => "a firmware reason code is 0..=127",
            Refusal::TrialInProgress => "an update is on trial; confirm or reject it first",
            Refusal::TargetRunning => "the target slot is the running slot",
            Refusal::RunningSlotUnknown => {
                "the running slot is unknown (no state on flash and no hand-off): give it to stage"
            }
            Refusal::NotStaging => "no staging in progress",
            Refusal::NothingToAbort => "no staged update to abort",
            Refusal::InvalidTries => "tries must be at least 1",
            Refusal::TagTooLong => "update tag longer than 36 bytes",
            Refusal::KnownBad => "image was rejected before (force to retry)",
            Refusal::Downgrade => "version lower than the running one (force to downgrade)",
            Refusal::SecurityCounter => "security counter below the stored minimum",
            Refusal::AlreadyInstalled => "image already installed",
            Refusal::OutOfSlot => "write outside the slot",
            Refusal::Misaligned => "write not aligned to the flash write size",
        })
    }
}

/// The slot whose image is unconfirmed and may still boot (pending or on
/// trial); there is at most one.
pub fn candidate(state: &BootState) -> Option<Slot> {
    // Each slot named rather than looped over: the loop's slot from its
    // counter was larger than a second test.
    let [a, b] = &state.slots;
    if candidate_state(a.state) {
        Some(Slot::A)
    } else if candidate_state(b.state) {
        Some(Slot::B)
    } else {
        None
    }
}

/// Whether an image in `state` is unconfirmed and may still boot.
fn candidate_state(state: ImageState) -> bool {
    matches!(state, ImageState::Pending { .. } | ImageState::Trial { .. })
}

/// The slot on trial, if an update has booted and is not yet confirmed.
pub fn trial_slot(state: &BootState) -> Option<Slot> {
    Slot::both().find(|&s| matches!(state.slot(s).state, ImageState::Trial { .. }))
}

/// The slot the device runs from: the one on trial, else the primary.
pub fn running_slot(state: &BootState) -> Option<Slot> {
    trial_slot(state).or(state.primary)
}

/// The next state after `event`, or why `event` is not allowed now.
pub fn apply(state: &BootState, event: Event) -> Result<BootState, Refusal> {
    let mut s = *state;
    apply_mut(&mut s, event)?;
    Ok(s)
}

/// [`apply`] in place: `s` becomes the next state after `event`. A refused
/// event leaves `s` as it was (every refusal is decided before the first
/// change). The bootloader changes its state in place too, through the
/// functions this one calls for its five events.
pub fn apply_mut(s: &mut BootState, event: Event) -> Result<(), Refusal> {
    // The bootloader's events have functions of their own, which it calls
    // directly: a bootloader then links only the transitions it makes, not
    // the firmware's (staging, confirm, abort...).
    match event {
        Event::TrialBoot(slot) => trial_boot(s, slot)?,
        Event::Reject {
            slot,
            reason,
            check,
        } => reject_candidate(s, slot, reason, check)?,
        Event::MarkBad(code) => {
            if code > 0x7F {
                return Err(Refusal::InvalidReason);
            }
            let slot = trial_slot(s).ok_or(Refusal::NoTrial)?;
            reject(s, slot, Reason::App(code), true);
        }
        Event::Fallback { to } => fallback(s, to)?,
        Event::Adopt { slot, info } => adopt(s, slot, &info)?,
        Event::Recovery => {
            recovery(s);
        }
        Event::StageBegin { slot, tag } => {
            if trial_slot(s).is_some() {
                return Err(Refusal::TrialInProgress);
            }
            if s.primary == Some(slot) {
                return Err(Refusal::TargetRunning);
            }
            *s.slot_mut(slot) = SlotInfo::default();
            if s.rollback == Some(slot) {
                s.rollback = None;
            }
            s.update = UpdateState::Staged;
            s.last_reason = Reason::None;
            s.check_error = 0;
            s.update_tag = tag;
        }
        Event::StageDone { slot, info, tries } => {
            if tries == 0 {
                return Err(Refusal::InvalidTries);
            }
            if s.update != UpdateState::Staged || s.slot(slot).state != ImageState::Empty {
                return Err(Refusal::NotStaging);
            }
            *s.slot_mut(slot) = slot_info(ImageState::Pending { tries }, &info);
        }
        Event::StageFailed {
            reason,
            counts,
            check,
        } => {
            if s.update != UpdateState::Staged {
                return Err(Refusal::NotStaging);
            }
            s.update = UpdateState::Failed;
            s.last_reason = reason;
            s.check_error = check;
            if counts {
                s.failure_count = s.failure_count.saturating_add(1);
            }
        }
        Event::Confirm => {
            let slot = match trial_slot(s) {
                Some(slot) => slot,
                None if s.primary.is_some() => return Err(Refusal::AlreadyConfirmed),
                None => return Err(Refusal::NoTrial),
            };
            let old = s.primary;
            let info = s.slot_mut(slot);
            info.state = ImageState::Confirmed;
            let (sec, epoch) = (info.security_counter, info.data_epoch);
            s.primary = Some(slot);
            s.rollback = old.filter(|&o| o != slot && s.slot(o).state == ImageState::Confirmed);
            // The anti-rollback floor rises only here, on confirmation.
            s.min_security_counter = s.min_security_counter.max(sec);
            s.data_epoch = s.data_epoch.max(epoch);
            s.update = UpdateState::Confirmed;
        }
        Event::Abort => {
            if trial_slot(s).is_some() {
                return Err(Refusal::TrialInProgress);
            }
            match candidate(s) {
                Some(slot) => *s.slot_mut(slot) = SlotInfo::default(),
                None if s.update == UpdateState::Staged => {}
                None => return Err(Refusal::NothingToAbort),
            }
            s.update = UpdateState::Failed;
            s.last_reason = Reason::Aborted;
        }
        Event::SetTries(tries) => {
            if tries == 0 {
                return Err(Refusal::InvalidTries);
            }
            let slot = candidate(s).ok_or(Refusal::NoTrial)?;
            let info = s.slot_mut(slot);
            info.state = match info.state {
                ImageState::Pending { .. } => ImageState::Pending { tries },
                _ => ImageState::Trial { tries },
            };
        }
        Event::DataMigrated(epoch) => s.data_epoch = epoch,
    }
    Ok(())
}

/// [`Event::TrialBoot`]: one try of the unconfirmed image in `slot` is
/// spent, and it boots on trial.
pub(crate) fn trial_boot(s: &mut BootState, slot: Slot) -> Result<(), Refusal> {
    match s.slot(slot).state {
        ImageState::Pending { tries } | ImageState::Trial { tries } if tries > 0 => {
            count_try(s, slot);
            Ok(())
        }
        _ => Err(Refusal::NoTrial),
    }
}

/// [`trial_boot`] of a slot its caller knows holds the candidate with
/// tries left (the bootloader, which has judged it): its state is not
/// tested again for a refusal.
pub(crate) fn count_try(s: &mut BootState, slot: Slot) {
    let left = s.slot(slot).state.tries().saturating_sub(1);
    // The event pushed first, then the fields: the push is a call, and
    // after it the fields' values were kept across it.
    s.push_event(BootEvent::new(
        BootKind::Trial,
        Some(slot),
        Reason::None,
        left,
    ));
    let epoch = s.slot(slot).data_epoch;
    let info = s.slot_mut(slot);
    info.state = ImageState::Trial { tries: left };
    info.attempts = info.attempts.saturating_add(1);
    s.update = UpdateState::Trial;
    // The trial image may migrate the data as soon as it runs.
    s.data_epoch = s.data_epoch.max(epoch);
}

/// [`Event::Reject`]: the unconfirmed image in `slot` is refused.
pub(crate) fn reject_candidate(
    s: &mut BootState,
    slot: Slot,
    reason: Reason,
    check: u8,
) -> Result<(), Refusal> {
    let booted = match s.slot(slot).state {
        ImageState::Pending { .. } => false,
        ImageState::Trial { .. } => true,
        _ => return Err(Refusal::NoTrial),
    };
    reject_unconfirmed(s, slot, reason, check, booted);
    Ok(())
}

/// [`reject_candidate`] of a slot its caller knows holds the candidate
/// (the bootloader, which found it with [`candidate`] and has not changed
/// the state since): its state is not tested again for a refusal, and
/// whether it has booted (`booted`: on trial, not pending) is the caller's
/// reading of it.
pub(crate) fn reject_unconfirmed(
    s: &mut BootState,
    slot: Slot,
    reason: Reason,
    check: u8,
    booted: bool,
) {
    reject(s, slot, reason, booted);
    s.check_error = check;
}

/// [`Event::Fallback`]: the confirmed image in `to` takes over from a
/// corrupt primary.
pub(crate) fn fallback(s: &mut BootState, to: Slot) -> Result<(), Refusal> {
    if s.slot(to).state != ImageState::Confirmed {
        return Err(Refusal::NoTrial);
    }
    // The primary itself is kept, not cleared as corrupt.
    s.primary = s.primary.filter(|&p| p != to);
    fall_back(s, to);
    Ok(())
}

/// [`fallback`] to a slot its caller knows holds a confirmed image and is
/// not the primary (the bootloader, which has just found it so): neither
/// is tested again.
// Always inlined: left to the optimiser, the signed nRF52840 bootloader
// was 16 B larger.
#[inline(always)]
pub(crate) fn fall_back(s: &mut BootState, to: Slot) {
    if let Some(old) = s.primary {
        // Corrupt, not refused: a good copy may be staged again.
        *s.slot_mut(old) = SlotInfo::default();
    }
    s.primary = Some(to);
    s.rollback = None;
    s.last_reason = Reason::PrimaryCorrupt;
    note(s, BootKind::Fallback);
}

/// [`Event::Adopt`]: the verified image in `slot` becomes the confirmed
/// primary.
pub(crate) fn adopt(s: &mut BootState, slot: Slot, info: &ImageInfo) -> Result<(), Refusal> {
    // The rejected image's refusal before the floor's, as `adopt` has
    // always answered; `adopt_idle`, whose one other caller asks only
    // whether it may adopt, tests them the other way round.
    if candidate(s).is_some() || is_last_rejected(s, info) {
        return Err(Refusal::TrialInProgress);
    }
    adopt_idle(s, slot, info)
}

/// Whether `info` is the image rejected last: the one test of it for
/// [`adopt`] and [`adopt_idle`].
// By reference, compared as byte slices: a copy of the option (33 bytes)
// on the stack and the arrays' `==` each cost the signed bootloader more
// (`== Some(info.digest)` built the option too).
#[inline(always)]
fn is_last_rejected(s: &BootState, info: &ImageInfo) -> bool {
    s.rejected_digest
        .as_ref()
        .is_some_and(|d| *d.as_slice() == *info.digest.as_slice())
}

/// [`adopt`] in a state with no candidate, which its caller has found
/// (the bootloader, before it checks the images it may adopt): the search
/// is not made again for each image.
pub(crate) fn adopt_idle(s: &mut BootState, slot: Slot, info: &ImageInfo) -> Result<(), Refusal> {
    // The floor first, one compare before the digest's 32 bytes (24 B of
    // the signed nRF52840 bootloader); `adopt` names the rejection first
    // itself.
    if info.security_counter < s.min_security_counter {
        return Err(Refusal::SecurityCounter);
    }
    if is_last_rejected(s, info) {
        return Err(Refusal::TrialInProgress);
    }
    s.primary = Some(slot);
    s.rollback = None;
    // As from blank metadata: the adopted image sets the floor.
    s.min_security_counter = s.min_security_counter.max(info.security_counter);
    s.data_epoch = s.data_epoch.max(info.data_epoch);
    // The entry written after the state's fields, not before: the image's
    // floor and epoch are then used before the call, not kept across it.
    confirm_in(s.slot_mut(slot), info);
    note(s, BootKind::Fresh);
    Ok(())
}

/// `slot` records the checked image `info` as confirmed: the one copy of
/// that entry for [`adopt_idle`] and [`fresh_in`].
// Never inlined: the bootloader inlines `adopt_idle` into `select`, and
// each caller had its own copy of the entry's stores (the digest's call
// and five fields).
#[inline(never)]
fn confirm_in(slot: &mut SlotInfo, info: &ImageInfo) {
    // Field by field, the digest last: its copy is then the tail call,
    // with nothing of the entry kept in registers across it.
    slot.state = ImageState::Confirmed;
    slot.version = info.version;
    slot.attempts = 0;
    slot.security_counter = info.security_counter;
    slot.data_epoch = info.data_epoch;
    slot.digest = info.digest;
}

/// What the state records about a checked image that enters it as `state`.
fn slot_info(state: ImageState, info: &ImageInfo) -> SlotInfo {
    SlotInfo {
        state,
        version: info.version,
        digest: info.digest,
        attempts: 0,
        security_counter: info.security_counter,
        data_epoch: info.data_epoch,
    }
}

/// [`Event::Recovery`]: nothing can boot. Returns whether the state
/// changed (the event was recorded).
pub(crate) fn recovery(s: &mut BootState) -> bool {
    // Record it once: a device stuck in recovery must not wear its
    // journal with one record per reset.
    let first = s.events.back().map(|e| e.kind()) != Some(Some(BootKind::Recovery));
    if first {
        note(s, BootKind::Recovery);
    }
    first
}

/// Records the event of a boot that changed the state, its tries left 0
/// (all but [`trial_boot`]'s, which pushes its own): the slot it names is
/// the primary, as each transition has just set it, or none for
/// [`BootKind::Recovery`]; the reason is the state's last reason, as each
/// transition has just set it (or found it, for recovery), or none for
/// [`BootKind::Fresh`] (an adopted image keeps the last reason as it was).
// One call for five transitions, its fields in registers: each built a
// `BootEvent` on its caller's stack for `Events::push`, five stores and
// an address. The slot and the reason read here rather than passed: each
// call then sets the kind alone, where the reason's two bytes were set or
// loaded at each.
#[inline(never)]
fn note(s: &mut BootState, kind: BootKind) {
    let slot = if kind == BootKind::Recovery {
        None
    } else {
        s.primary
    };
    let reason = if kind == BootKind::Fresh {
        Reason::None
    } else {
        s.last_reason
    };
    s.push_event(BootEvent::new(kind, slot, reason, 0));
}

fn reject(s: &mut BootState, slot: Slot, reason: Reason, booted: bool) {
    let digest = s.slot(slot).digest;
    // Remember images that ran and failed, so they are not staged in a
    // loop; an image that merely failed its check is not a failure loop.
    if matches!(reason, Reason::TriesExhausted | Reason::App(_)) {
        s.remember_rejected(digest);
    }
    if s.rollback == Some(slot) {
        s.rollback = None;
    }
    s.last_reason = reason;
    s.failure_count = s.failure_count.saturating_add(1);
    s.update = if booted {
        UpdateState::RolledBack
    } else {
        UpdateState::Failed
    };
    // Stored last, with the slot's address at hand for nothing else: the
    // bootloader inlines the rejection on two ways (tries exhausted, a
    // failed check), and stored first it was one store on each.
    s.slot_mut(slot).state = ImageState::Rejected;
    note(s, BootKind::Rollback);
}

/// The state to start from when the journal holds no valid record: built
/// from the images that verify, never from an unverified one.
///
/// One valid image becomes the confirmed primary. Two with the same version
/// are both confirmed (A primary). Two with different versions: the lower is
/// the confirmed primary and the higher goes on trial with `tries` boots,
/// because nothing says it was ever confirmed; firmware that confirms on
/// every healthy boot confirms it again.
pub fn fresh(infos: [Option<ImageInfo>; 2], tries: u8) -> BootState {
    let mut s = BootState::default();
    fresh_in(&mut s, &[infos[0].as_ref(), infos[1].as_ref()], tries);
    s
}

/// [`fresh`] in place: `s`, a [`BootState::default`] its caller has just
/// made, becomes the fresh state. The bootloader builds it in the record
/// it inserts where its journal read found none, not in a state returned
/// by value and copied there.
// Never inlined: its locals would otherwise join `select`'s frame, which
// is on the stack under every image check.
//
// The images by reference: the bootloader's lie in its record of checks,
// and copies of them (60 bytes each) went through a temporary on
// `select`'s stack.
#[inline(never)]
pub(crate) fn fresh_in(s: &mut BootState, infos: &[Option<&ImageInfo>; 2], tries: u8) {
    // Each slot named rather than looped over: the loop kept a counter and
    // a moving slot address in registers for two iterations.
    if let [Some(a), _] = infos {
        confirm_in(s.slot_mut(Slot::A), a);
    }
    if let [_, Some(b)] = infos {
        confirm_in(s.slot_mut(Slot::B), b);
    }
    // The primary with its image, whose floor and epoch the state takes
    // from it as it lies rather than from the slot's entry, found again by
    // the primary's index. Two images: the older is the primary; on a tie,
    // A.
    let first = match *infos {
        [Some(a), Some(b)] => {
            let (first, hi) = if a.version > b.version {
                ((Slot::B, b), Slot::A)
            } else {
                ((Slot::A, a), Slot::B)
            };
            if a.version != b.version && tries > 0 {
                s.slot_mut(hi).state = ImageState::Pending { tries };
                s.update = UpdateState::Staged;
            } else {
                s.rollback = Some(hi);
            }
            Some(first)
        }
        [Some(a), None] => Some((Slot::A, a)),
        [None, Some(b)] => Some((Slot::B, b)),
        [None, None] => None,
    };
    // With no image, `s` keeps its default primary (none), floor and
    // epoch.
    if let Some((p, info)) = first {
        s.primary = Some(p);
        s.min_security_counter = info.security_counter;
        s.data_epoch = info.data_epoch;
    }
    note(s, BootKind::Fresh);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    fn info(minor: u8, fill: u8, sec: u32) -> ImageInfo {
        ImageInfo {
            version: Version::new(1, minor, 0, 0),
            digest: [fill; 32],
            security_counter: sec,
            data_epoch: minor as u16,
            ..ImageInfo::default()
        }
    }

    /// A confirmed A with B staged pending (3 tries).
    fn staged() -> BootState {
        let s = fresh([Some(info(0, 1, 1)), None], 3);
        let s = apply(
            &s,
            Event::StageBegin {
                slot: Slot::B,
                tag: UpdateTag::new(),
            },
        )
        .unwrap();
        apply(
            &s,
            Event::StageDone {
                slot: Slot::B,
                info: info(1, 2, 2),
                tries: 3,
            },
        )
        .unwrap()
    }

    #[test]
    fn apply_mut_is_apply_in_place_and_a_refusal_changes_nothing() {
        let trial = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        let exhausted = (0..3).fold(staged(), |s, _| {
            apply(&s, Event::TrialBoot(Slot::B)).unwrap()
        });
        let blank = BootState::default();
        let confirmed = fresh([Some(info(0, 1, 1)), Some(info(0, 1, 1))], 3);
        let events = || {
            [
                Event::TrialBoot(Slot::A),
                Event::TrialBoot(Slot::B),
                Event::Reject {
                    slot: Slot::B,
                    reason: Reason::TriesExhausted,
                    check: 0,
                },
                Event::Reject {
                    slot: Slot::A,
                    reason: Reason::ImageInvalid,
                    check: 3,
                },
                Event::MarkBad(5),
                Event::Fallback { to: Slot::A },
                Event::Fallback { to: Slot::B },
                Event::Adopt {
                    slot: Slot::A,
                    info: info(0, 1, 1),
                },
                Event::Adopt {
                    slot: Slot::B,
                    info: info(2, 9, 0),
                },
                Event::Recovery,
                Event::StageBegin {
                    slot: Slot::A,
                    tag: UpdateTag::new(),
                },
                Event::StageBegin {
                    slot: Slot::B,
                    tag: UpdateTag::new(),
                },
                Event::StageDone {
                    slot: Slot::B,
                    info: info(3, 4, 5),
                    tries: 2,
                },
                Event::StageDone {
                    slot: Slot::B,
                    info: info(3, 4, 5),
                    tries: 0,
                },
                Event::StageFailed {
                    reason: Reason::ImageInvalid,
                    counts: true,
                    check: 1,
                },
                Event::Confirm,
                Event::Abort,
                Event::SetTries(0),
                Event::SetTries(4),
                Event::DataMigrated(7),
            ]
        };
        for st in [blank, staged(), trial, exhausted, confirmed] {
            for e in events() {
                let mut m = st;
                match apply(&st, e.clone()) {
                    Ok(next) => {
                        assert_eq!(apply_mut(&mut m, e), Ok(()));
                        assert_eq!(m, next);
                    }
                    Err(r) => {
                        assert_eq!(apply_mut(&mut m, e), Err(r));
                        assert_eq!(m, st, "a refused event changed the state");
                    }
                }
            }
        }
    }

    #[test]
    fn trial_boots_count_down_then_reject() {
        let mut s = staged();
        for left in [2, 1, 0] {
            s = apply(&s, Event::TrialBoot(Slot::B)).unwrap();
            assert_eq!(s.slot(Slot::B).state, ImageState::Trial { tries: left });
        }
        assert_eq!(apply(&s, Event::TrialBoot(Slot::B)), Err(Refusal::NoTrial));
        let s = apply(
            &s,
            Event::Reject {
                slot: Slot::B,
                reason: Reason::TriesExhausted,
                check: 0,
            },
        )
        .unwrap();
        assert_eq!(s.slot(Slot::B).state, ImageState::Rejected);
        assert_eq!(s.rejected_digest, Some([2; 32]));
        assert_eq!(
            (s.update, s.failure_count, s.primary),
            (UpdateState::RolledBack, 1, Some(Slot::A))
        );
        assert_eq!(
            s.events.back().and_then(|e| e.kind()),
            Some(BootKind::Rollback)
        );
    }

    #[test]
    fn confirm_moves_primary_and_raises_the_floor() {
        let s = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        let s = apply(&s, Event::Confirm).unwrap();
        assert_eq!((s.primary, s.rollback), (Some(Slot::B), Some(Slot::A)));
        assert_eq!(s.min_security_counter, 2);
        assert_eq!(s.update, UpdateState::Confirmed);
        assert_eq!(apply(&s, Event::Confirm), Err(Refusal::AlreadyConfirmed));
        assert_eq!(apply(&s, Event::MarkBad(1)), Err(Refusal::NoTrial));
    }

    #[test]
    fn calls_in_the_wrong_state_are_refused() {
        let s = fresh([Some(info(0, 1, 1)), None], 3);
        assert_eq!(apply(&s, Event::Confirm), Err(Refusal::AlreadyConfirmed));
        assert_eq!(apply(&s, Event::MarkBad(3)), Err(Refusal::NoTrial));
        assert_eq!(apply(&s, Event::Abort), Err(Refusal::NothingToAbort));
        assert_eq!(
            apply(
                &s,
                Event::StageBegin {
                    slot: Slot::A,
                    tag: UpdateTag::new()
                }
            ),
            Err(Refusal::TargetRunning)
        );
        assert_eq!(
            apply(
                &s,
                Event::StageDone {
                    slot: Slot::B,
                    info: info(1, 2, 2),
                    tries: 3
                }
            ),
            Err(Refusal::NotStaging)
        );
        let t = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        assert_eq!(apply(&t, Event::Abort), Err(Refusal::TrialInProgress));
        assert_eq!(
            apply(
                &t,
                Event::StageBegin {
                    slot: Slot::A,
                    tag: UpdateTag::new()
                }
            ),
            Err(Refusal::TrialInProgress)
        );
        let b = apply(
            &s,
            Event::StageBegin {
                slot: Slot::B,
                tag: UpdateTag::new(),
            },
        )
        .unwrap();
        assert_eq!(
            apply(
                &b,
                Event::StageDone {
                    slot: Slot::B,
                    info: info(1, 2, 2),
                    tries: 0
                }
            ),
            Err(Refusal::InvalidTries)
        );
    }

    #[test]
    fn mark_bad_remembers_the_digest_and_app_reason() {
        let s = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        let s = apply(&s, Event::MarkBad(0x2A)).unwrap();
        assert_eq!(s.last_reason, Reason::App(0x2A));
        assert_eq!(s.rejected_digest, Some([2; 32]));
        assert_eq!(running_slot(&s), Some(Slot::A));
    }

    #[test]
    fn a_failed_check_is_not_a_failure_loop() {
        let s = apply(
            &staged(),
            Event::Reject {
                slot: Slot::B,
                reason: Reason::ImageInvalid,
                check: 10,
            },
        )
        .unwrap();
        assert_eq!(s.rejected_digest, None);
        assert_eq!(s.update, UpdateState::Failed);
        assert_eq!(s.check_error, 10);
    }

    #[test]
    fn abort_drops_the_pending_image() {
        let s = apply(&staged(), Event::Abort).unwrap();
        assert_eq!(s.slot(Slot::B).state, ImageState::Empty);
        assert_eq!(
            (s.update, s.last_reason, s.failure_count),
            (UpdateState::Failed, Reason::Aborted, 0)
        );
    }

    #[test]
    fn trial_raises_the_data_epoch_and_rollback_keeps_it() {
        let s = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        assert_eq!(s.data_epoch, 1);
        let s = apply(&s, Event::MarkBad(1)).unwrap();
        // Back on A (epoch 0) with data at epoch 1: the firmware must restore.
        assert!(s.data_epoch > s.slot(Slot::A).data_epoch);
        let s = apply(&s, Event::DataMigrated(0)).unwrap();
        assert_eq!(s.data_epoch, 0);
    }

    #[test]
    fn fallback_forgets_the_corrupt_primary() {
        let s = apply(&staged(), Event::TrialBoot(Slot::B)).unwrap();
        let s = apply(&s, Event::Confirm).unwrap();
        let s = apply(&s, Event::Fallback { to: Slot::A }).unwrap();
        assert_eq!(s.primary, Some(Slot::A));
        assert_eq!(s.slot(Slot::B).state, ImageState::Empty);
        assert_eq!(s.rejected_digest, None, "bit rot is not a rejection");
        assert_eq!(s.last_reason, Reason::PrimaryCorrupt);
    }

    #[test]
    fn recovery_is_recorded_once() {
        let s = fresh([None, None], 3);
        let r1 = apply(&s, Event::Recovery).unwrap();
        let r2 = apply(&r1, Event::Recovery).unwrap();
        assert_eq!(r1, r2);
    }

    #[test]
    fn fresh_state_from_the_images() {
        let one = fresh([None, Some(info(3, 9, 4))], 3);
        assert_eq!(one.primary, Some(Slot::B));
        assert_eq!(one.min_security_counter, 4);
        // Two versions: the older is the way back, the newer goes on trial.
        let two = fresh([Some(info(5, 1, 1)), Some(info(4, 2, 1))], 2);
        assert_eq!(two.primary, Some(Slot::B));
        assert_eq!(two.slot(Slot::A).state, ImageState::Pending { tries: 2 });
        let same = fresh([Some(info(5, 1, 1)), Some(info(5, 2, 1))], 2);
        assert_eq!(
            (same.primary, same.rollback),
            (Some(Slot::A), Some(Slot::B))
        );
        let none = fresh([None, None], 3);
        assert_eq!(none.primary, None);
    }
}
