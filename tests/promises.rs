//! One test per promise that mutation testing found unguarded (issue 15):
//! each would pass with the decision code wrong in a way that breaks the
//! promise it is named for.

use abboot::image::digest::DigestCheck;
use abboot::image::ImageError;
use abboot::journal::Journal;
use abboot::machine::Refusal;
use abboot::record::{Record, RECORD_SIZE};
use abboot::sim::device::{test_image, TestImage};
use abboot::sim::{Device, Stop};
use abboot::state::{BootKind, BootState, ImageState, Reason, Slot, UpdateState};
use abboot::{Error, Policy, StageOptions, VerifyPolicy, Version};

fn v(minor: u8) -> Version {
    Version::new(1, minor, 0, 0)
}

fn device(policy: Policy) -> Device<DigestCheck> {
    let mut d = Device::new(16384, DigestCheck).with_policy(policy);
    d.factory(Slot::A, &test_image(v(0), 3000, 1));
    assert_eq!(d.boot().unwrap().kind, BootKind::Fresh);
    d
}

fn trial_only() -> Policy {
    Policy {
        verify: VerifyPolicy::TrialOnly,
        ..Policy::default()
    }
}

/// Writes `state` as the newest record, as a firmware bug or an attacker
/// with flash access could.
fn write_state(d: &mut Device<DigestCheck>, state: &BootState) {
    let geometry = d.layout().metadata;
    Journal::new(d.flash_mut(), geometry)
        .unwrap()
        .append(state)
        .unwrap();
}

fn refused<T: core::fmt::Debug>(r: Result<T, Stop>) -> Refusal {
    match r {
        Err(Stop::Error(Error::Refused(x))) => x,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Both confirmed images rotted: the bootloader does not fall back to the
/// other slot without checking it, and goes to recovery.
#[test]
fn verified_before_trusted_fallback_checks_the_other_slot() {
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    assert!(d.boot().unwrap().is_trial());
    d.confirm().unwrap();
    let st = d.read_state().unwrap();
    assert_eq!(st.slot(Slot::A).state, ImageState::Confirmed);
    d.corrupt(Slot::A, 1000, 3);
    d.corrupt(Slot::B, 1000, 3);
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (None, BootKind::Recovery));

    // With only the primary rotten, the other slot takes over.
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    d.boot().unwrap();
    d.confirm().unwrap();
    d.corrupt(Slot::B, 1000, 3);
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::A), BootKind::Fallback));
}

/// Under `TrialOnly`, an image that rotted after staging is still checked
/// before its first trial boot.
#[test]
fn verified_before_trusted_first_trial_under_trial_only() {
    let mut d = device(trial_only());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    d.corrupt(Slot::B, 2000, 0);
    let dec = d.boot().unwrap();
    assert_eq!(dec.slot, Some(Slot::A));
    assert_eq!(
        (dec.kind, dec.reason),
        (BootKind::Rollback, Reason::ImageInvalid)
    );
}

/// Under `Always`, every trial boot checks the image again; under
/// `TrialOnly` only the first does.
#[test]
fn verified_before_trusted_later_trials_under_always() {
    for (policy, rejected) in [(Policy::default(), true), (trial_only(), false)] {
        let mut d = device(policy);
        d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
            .unwrap();
        assert!(d.boot().unwrap().is_trial());
        d.corrupt(Slot::B, 2000, 0);
        let dec = d.boot().unwrap();
        if rejected {
            assert_eq!(
                (dec.slot, dec.reason),
                (Some(Slot::A), Reason::ImageInvalid)
            );
        } else {
            assert_eq!((dec.slot, dec.kind), (Some(Slot::B), BootKind::Trial));
        }
    }
}

/// An unconfirmed image below the security floor never boots on trial,
/// even when the metadata says it is pending.
#[test]
fn no_silent_downgrade_floor_checked_at_the_trial_boot() {
    let mut a = TestImage::new(v(0), 3000, 1);
    a.header.security_counter = 5;
    let mut low = TestImage::new(v(1), 3000, 2);
    low.header.security_counter = 3;
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &a.build());
    d.boot().unwrap();
    d.factory(Slot::B, &low.build());
    let info = d.verify(Slot::B).unwrap();
    let mut st = d.read_state().unwrap();
    assert_eq!(st.min_security_counter, 5);
    let b = st.slot_mut(Slot::B);
    b.state = ImageState::Pending { tries: 3 };
    b.digest = info.digest;
    b.version = info.version;
    b.security_counter = 5; // the metadata lies; the image says 3
    st.update = UpdateState::Staged;
    write_state(&mut d, &st);
    let dec = d.boot().unwrap();
    assert_eq!(dec.slot, Some(Slot::A));
    assert_eq!(
        (dec.kind, dec.reason),
        (BootKind::Rollback, Reason::Downgrade)
    );
}

/// The fallback never takes a confirmed image below the floor, and no
/// adoption does either.
#[test]
fn no_silent_downgrade_no_fallback_below_the_floor() {
    let mut a = TestImage::new(v(0), 3000, 1);
    a.header.security_counter = 5;
    let mut old = TestImage::new(v(1), 3000, 2);
    old.header.security_counter = 3;
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &a.build());
    d.boot().unwrap();
    d.factory(Slot::B, &old.build());
    let info = d.verify(Slot::B).unwrap();
    let mut st = d.read_state().unwrap();
    let b = st.slot_mut(Slot::B);
    b.state = ImageState::Confirmed;
    b.digest = info.digest;
    b.version = info.version;
    b.security_counter = 3;
    write_state(&mut d, &st);
    d.corrupt(Slot::A, 1000, 1);
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (None, BootKind::Recovery));
}

/// Another build under the same version is refused as already installed
/// (the version says nothing new), unless forced.
#[test]
fn no_silent_downgrade_same_version_other_build_needs_force() {
    let mut d = device(Policy::default());
    let same = test_image(v(0), 3000, 9);
    let ops = d.flash().mutating_ops();
    assert_eq!(
        refused(d.stage(&same, &StageOptions::default())),
        Refusal::AlreadyInstalled
    );
    assert_eq!(d.flash().mutating_ops(), ops, "refused from the header");
    let forced = StageOptions {
        force: true,
        ..StageOptions::default()
    };
    d.stage(&same, &forced).unwrap();
    // The very same image is installed, forced or not.
    let mut d = device(Policy::default());
    assert_eq!(
        refused(d.stage(&test_image(v(0), 3000, 1), &forced)),
        Refusal::AlreadyInstalled
    );
}

/// A device stuck in recovery records it once, not at every reset.
#[test]
fn no_wear_recovery_is_written_once() {
    let mut d = Device::new(16384, DigestCheck);
    assert_eq!(d.boot().unwrap().kind, BootKind::Recovery);
    let ops = d.flash().mutating_ops();
    for _ in 0..5 {
        assert_eq!(d.boot().unwrap().kind, BootKind::Recovery);
    }
    assert_eq!(d.flash().mutating_ops(), ops);
}

/// Setting the tries of a pending image keeps it pending: it has not run.
#[test]
fn bounded_trial_set_tries_keeps_a_pending_image_pending() {
    use abboot::Control;
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    let geometry = d.layout().metadata;
    Control::new(d.flash_mut(), geometry)
        .unwrap()
        .set_tries(5)
        .unwrap();
    let st = d.read_state().unwrap();
    assert_eq!(st.slot(Slot::B).state, ImageState::Pending { tries: 5 });
    // Its first boot is verified and counted as a pending image's is.
    let dec = d.boot().unwrap();
    assert_eq!((dec.kind, dec.tries_left), (BootKind::Trial, 4));
}

/// With `fresh_tries = 0`, blank metadata over two versions keeps the newer
/// one as the way back; it is never rejected for a trial it never had.
#[test]
fn bounded_trial_fresh_tries_zero_blacklists_nothing() {
    let policy = Policy {
        fresh_tries: 0,
        ..Policy::default()
    };
    let mut d = Device::new(16384, DigestCheck).with_policy(policy);
    d.factory(Slot::A, &test_image(v(0), 3000, 1));
    d.factory(Slot::B, &test_image(v(1), 3000, 2));
    for _ in 0..4 {
        let dec = d.boot().unwrap();
        assert_eq!(dec.slot, Some(Slot::A));
        assert_ne!(dec.kind, BootKind::Rollback);
    }
    let st = d.read_state().unwrap();
    assert_eq!(st.rejected_digest, None);
    assert_eq!(st.slot(Slot::B).state, ImageState::Confirmed);
    assert_eq!(st.rollback, Some(Slot::B));
    assert_eq!(st.failure_count, 0);
}

/// An image whose header passes but whose payload does not: staging fails
/// after the write, and the status says which check failed.
#[test]
fn no_failure_loops_a_failed_stage_is_recorded_with_its_reason() {
    let mut d = device(Policy::default());
    let mut img = test_image(v(1), 3000, 2);
    img[1500] ^= 0x40;
    match d.stage(&img, &StageOptions::default()) {
        Err(Stop::Error(Error::Image(ImageError::DigestMismatch))) => {}
        other => panic!("{other:?}"),
    }
    let s = d.status().unwrap();
    assert_eq!(s.update, UpdateState::Failed);
    assert_eq!(s.last_reason, Reason::ImageInvalid);
    assert_eq!(s.last_check_error, Some(ImageError::DigestMismatch));
    assert_eq!(s.failure_count, 1);
    // A broken download is not a rejected image: the good one stages.
    assert_eq!(s.rejected_digest, None);
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    assert!(d.boot().unwrap().is_trial());
}

/// A downgrade refused at `stage_finish` (the header was not given up
/// front) is recorded as a policy failure that does not count.
#[test]
fn no_failure_loops_a_refusal_at_finish_does_not_count() {
    use abboot::flash::Shared;
    use abboot::Updater;
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(v(5), 3000, 1));
    d.boot().unwrap();
    let layout = d.layout();
    let cell = std::cell::RefCell::new(d.flash().clone());
    let mut u = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .running(Slot::A);
    let lower = test_image(v(4), 3000, 2);
    let slot = u.stage_begin(&StageOptions::default()).unwrap();
    assert_eq!(slot, Slot::B);
    let mut padded = lower.clone();
    padded.resize(lower.len().div_ceil(4) * 4, 0xFF);
    u.stage_write(0, &padded).unwrap();
    assert_eq!(
        u.stage_write(1, &padded[..4]),
        Err(Error::Refused(Refusal::Misaligned))
    );
    assert_eq!(u.stage_finish(3), Err(Error::Refused(Refusal::Downgrade)));
    let s = u.status();
    assert_eq!(s.update, UpdateState::Failed);
    assert_eq!(s.last_reason, Reason::Downgrade);
    assert_eq!(s.failure_count, 0, "a refusal by policy is not a failure");
    assert_eq!(s.rejected_digest, None);
    assert_eq!(u.stage_finish(3), Err(Error::Refused(Refusal::NotStaging)));
}

/// The data epoch the firmware migrated to is on flash, and a rollback past
/// it says the data must be restored.
#[test]
fn way_back_data_migration_is_recorded() {
    use abboot::flash::Shared;
    use abboot::Updater;
    let mut d = device(Policy::default());
    let layout = d.layout();
    let cell = std::cell::RefCell::new(d.flash().clone());
    Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .data_migrated(3)
        .unwrap();
    let s = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .status();
    assert_eq!(s.data_epoch, 3);
    *d.flash_mut() = cell.into_inner();
    let dec = d.boot().unwrap();
    assert_eq!(dec.data_epoch, 3);
    assert!(dec.data_restore_needed());
}

/// A staging cut off half-way and aborted: nothing pending, the running
/// image boots, the half-written slot is never booted.
#[test]
fn way_back_abort_of_a_half_written_staging() {
    let mut d = device(Policy::default());
    let img = test_image(v(1), 3000, 2);
    d.stage_partial(&img, 1024, &StageOptions::default())
        .unwrap();
    d.abort().unwrap();
    let s = d.status().unwrap();
    assert_eq!(s.update, UpdateState::Failed);
    assert_eq!(s.last_reason, Reason::Aborted);
    assert_eq!(
        d.read_state().unwrap().slot(Slot::B).state,
        ImageState::Empty
    );
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::A), BootKind::Normal));
    assert_eq!(refused(d.abort()), Refusal::NothingToAbort);
}

/// A record with a valid CRC but a flag bit this format does not define
/// is not trusted.
#[test]
fn bad_input_unknown_flag_bits_are_refused() {
    let mut b = Record {
        seq: 1,
        state: BootState::default(),
    }
    .encode();
    b[0x18] |= 0x02;
    let crc = abboot::record::crc32(&b[..RECORD_SIZE - 4]);
    b[RECORD_SIZE - 4..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        Record::decode(&b),
        Err(abboot::record::DecodeError::BadField)
    );
}

/// An image exactly as large as its slot stages and boots; one byte more
/// is refused before anything is erased.
#[test]
fn bad_input_an_image_exactly_the_slot_size() {
    let mut d = device(Policy::default());
    let header = 256;
    let exact = test_image(v(1), 16384 - header, 2);
    assert_eq!(exact.len(), 16384);
    d.stage(&exact, &StageOptions::default()).unwrap();
    assert!(d.boot().unwrap().is_trial());
    d.confirm().unwrap();
    let over = test_image(v(2), 16384 - header + 1, 3);
    let ops = d.flash().mutating_ops();
    assert_eq!(
        refused(d.stage(&over, &StageOptions::default())),
        Refusal::OutOfSlot
    );
    assert_eq!(d.flash().mutating_ops(), ops);
}

/// The status of a trial boot says how many tries are left after it.
#[test]
fn bounded_trial_the_event_ring_counts_tries_down() {
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    for left in [2u8, 1, 0] {
        assert_eq!(d.boot().unwrap().tries_left, left);
        let e = d.status().unwrap().events.back().unwrap();
        assert_eq!((e.kind(), e.tries()), (Some(BootKind::Trial), left));
    }
}

/// Adoption never takes a rejected image: not the remembered digest, and
/// not a slot recorded as rejected when another digest is remembered.
#[test]
fn no_failure_loops_a_rejected_image_is_never_adopted() {
    use abboot::machine::{apply, Event};
    let mut d = device(Policy::default());
    d.factory(Slot::B, &test_image(v(1), 3000, 2));
    let info = d.verify(Slot::B).unwrap();
    let mut st = d.read_state().unwrap();
    st.rejected_digest = Some(info.digest);
    assert_eq!(
        apply(
            &st,
            Event::Adopt {
                slot: Slot::B,
                info
            }
        ),
        Err(Refusal::TrialInProgress)
    );
    st.rejected_digest = None;
    st.slot_mut(Slot::A).state = ImageState::Pending { tries: 1 };
    assert_eq!(
        apply(
            &st,
            Event::Adopt {
                slot: Slot::B,
                info
            }
        ),
        Err(Refusal::TrialInProgress),
        "not while an update is pending"
    );

    // On flash: A confirmed but rotten, B recorded as rejected while the
    // remembered digest is another image's. B is not adopted.
    let mut st = d.read_state().unwrap();
    let b = st.slot_mut(Slot::B);
    b.state = ImageState::Rejected;
    b.digest = info.digest;
    st.rejected_digest = Some([7; 32]);
    write_state(&mut d, &st);
    d.corrupt(Slot::A, 1000, 1);
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (None, BootKind::Recovery));
    // And recovery is on flash, once.
    let last = d.status().unwrap().events.back().unwrap();
    assert_eq!(last.kind(), Some(BootKind::Recovery));
}

/// Every refusal explains itself, each differently.
#[test]
fn bad_input_refusals_say_what_is_wrong() {
    let all = [
        Refusal::NoTrial,
        Refusal::AlreadyConfirmed,
        Refusal::TrialInProgress,
        Refusal::TargetRunning,
        Refusal::RunningSlotUnknown,
        Refusal::NotStaging,
        Refusal::NothingToAbort,
        Refusal::InvalidTries,
        Refusal::TagTooLong,
        Refusal::KnownBad,
        Refusal::Downgrade,
        Refusal::SecurityCounter,
        Refusal::AlreadyInstalled,
        Refusal::OutOfSlot,
        Refusal::Misaligned,
    ];
    let texts: Vec<String> = all.iter().map(|r| r.to_string()).collect();
    for (r, t) in all.iter().zip(&texts) {
        assert!(t.len() > 10, "{r:?}: {t:?}");
    }
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), texts.len());
}

/// Staging into the slot kept as the way back clears it as the way back:
/// nothing points at a slot being erased.
#[test]
fn way_back_staging_over_the_rollback_slot_clears_it() {
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    d.boot().unwrap();
    d.confirm().unwrap();
    assert_eq!(d.read_state().unwrap().rollback, Some(Slot::A));
    d.boot().unwrap();
    d.stage_partial(&test_image(v(2), 3000, 3), 512, &StageOptions::default())
        .unwrap();
    let st = d.read_state().unwrap();
    assert_eq!(st.rollback, None);
    assert_eq!(st.slot(Slot::A).state, ImageState::Empty);
    assert_eq!(st.primary, Some(Slot::B));
}

/// `confirm` says why it is refused: nothing confirmed yet and nothing on
/// trial is not "already confirmed"; and a confirm never keeps an old
/// primary that is not confirmed as the way back.
#[test]
fn bounded_trial_confirm_refusals_and_the_way_back() {
    use abboot::machine::{apply, Event};
    assert_eq!(
        apply(&BootState::default(), Event::Confirm),
        Err(Refusal::NoTrial)
    );
    let mut st = BootState {
        primary: Some(Slot::A),
        ..BootState::default()
    };
    assert_eq!(apply(&st, Event::Confirm), Err(Refusal::AlreadyConfirmed));
    // The primary's image was lost (Empty) while B ran on trial.
    st.slot_mut(Slot::B).state = ImageState::Trial { tries: 1 };
    let next = apply(&st, Event::Confirm).unwrap();
    assert_eq!(next.primary, Some(Slot::B));
    assert_eq!(next.rollback, None, "an empty slot is no way back");
    st.slot_mut(Slot::A).state = ImageState::Confirmed;
    assert_eq!(apply(&st, Event::Confirm).unwrap().rollback, Some(Slot::A));
}

/// Rejecting an image that the metadata also names as the way back (a
/// record that says both, CRC-valid) leaves no way back pointing at it.
#[test]
fn way_back_a_rejected_slot_is_no_way_back() {
    use abboot::machine::{apply, Event};
    let mut st = BootState {
        primary: Some(Slot::A),
        rollback: Some(Slot::B),
        ..BootState::default()
    };
    st.slot_mut(Slot::A).state = ImageState::Confirmed;
    st.slot_mut(Slot::B).state = ImageState::Pending { tries: 1 };
    let next = apply(
        &st,
        Event::Reject {
            slot: Slot::B,
            reason: Reason::TriesExhausted,
            check: 0,
        },
    )
    .unwrap();
    assert_eq!(next.rollback, None);
    assert_eq!(next.slot(Slot::B).state, ImageState::Rejected);
    assert_eq!(next.primary, Some(Slot::A));
}

/// Blank metadata over two images: the older is the primary whichever
/// slot it is in; on a tie, slot A.
#[test]
fn way_back_a_fresh_state_keeps_the_older_image_primary() {
    for (a, b, primary) in [(0, 1, Slot::A), (1, 0, Slot::B), (1, 1, Slot::A)] {
        let mut d = Device::new(16384, DigestCheck);
        d.factory(Slot::A, &test_image(v(a), 3000, 1));
        d.factory(Slot::B, &test_image(v(b), 3000, 2));
        let dec = d.boot().unwrap();
        let st = d.read_state().unwrap();
        assert_eq!(st.primary, Some(primary), "A v{a}, B v{b}");
        if a == b {
            assert_eq!((dec.slot, dec.kind), (Some(Slot::A), BootKind::Fresh));
        } else {
            assert_eq!(
                (dec.slot, dec.kind),
                (Some(primary.other()), BootKind::Trial)
            );
        }
    }
}

/// A refusal by policy at `stage_finish` records its own reason: a known
/// bad image as `KnownBad`, an image already installed as no failure.
#[test]
fn no_failure_loops_refusals_at_finish_keep_their_reason() {
    use abboot::flash::Shared;
    use abboot::Updater;
    let finish = |d: &Device<DigestCheck>, image: &[u8]| {
        let layout = d.layout();
        let cell = std::cell::RefCell::new(d.flash().clone());
        let mut u = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
            .unwrap()
            .running(Slot::A);
        u.stage_begin(&StageOptions::default()).unwrap();
        let mut padded = image.to_vec();
        padded.resize(image.len().div_ceil(4) * 4, 0xFF);
        u.stage_write(0, &padded).unwrap();
        let r = u.stage_finish(3);
        (r.map(|_| ()), u.status())
    };
    // Known bad: it ran and was rejected before.
    let mut d = device(Policy::default());
    let bad = test_image(v(1), 3000, 2);
    d.stage(&bad, &StageOptions::default()).unwrap();
    for _ in 0..4 {
        d.boot().unwrap();
    }
    assert!(d.status().unwrap().rejected_digest.is_some());
    let (r, s) = finish(&d, &bad);
    assert_eq!(r, Err(Error::Refused(Refusal::KnownBad)));
    assert_eq!(
        (s.update, s.last_reason),
        (UpdateState::Failed, Reason::KnownBad)
    );
    // Already installed: the running image again.
    let d = device(Policy::default());
    let (r, s) = finish(&d, &test_image(v(0), 3000, 1));
    assert_eq!(r, Err(Error::Refused(Refusal::AlreadyInstalled)));
    assert_eq!(s.last_reason, Reason::None);
    assert_eq!(s.failure_count, 0);
}

/// A slot flash whose write size does not divide the staging chunk is
/// refused before anything is written.
#[test]
fn bad_input_a_write_size_that_does_not_divide_the_chunk() {
    use abboot::flash::Region;
    use abboot::journal::Geometry;
    use abboot::sim::SimFlash;
    use abboot::{Layout, Updater};
    let meta = SimFlash::<1, 4, 4096>::new(8192);
    let slots = SimFlash::<1, 3, 3072>::new(3072 * 12);
    let layout = Layout::new(
        Geometry::contiguous(0, 4096),
        [Region::new(0, 3072 * 6), Region::new(3072 * 6, 3072 * 6)],
    )
    .on_separate_parts();
    let mut u = Updater::new(meta, slots, layout, DigestCheck)
        .unwrap()
        .running(Slot::A);
    assert_eq!(
        u.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
            .map(|_| ()),
        Err(Error::Refused(Refusal::Misaligned))
    );
    let (meta, slots, _) = u.into_parts();
    assert_eq!(meta.mutating_ops() + slots.mutating_ops(), 0);
}

/// The metadata-only face (a Linux tool, a firmware without slot access)
/// changes the state it says it changes.
#[test]
fn control_changes_what_it_says() {
    use abboot::Control;
    let mut d = device(Policy::default());
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    let geometry = d.layout().metadata;
    let state =
        |d: &mut Device<DigestCheck>| Control::new(d.flash_mut(), geometry).unwrap().state();
    assert_eq!(state(&mut d), d.read_state());
    assert!(state(&mut d).is_some());
    Control::new(d.flash_mut(), geometry)
        .unwrap()
        .abort()
        .unwrap();
    let st = state(&mut d).unwrap();
    assert_eq!(
        (st.update, st.last_reason),
        (UpdateState::Failed, Reason::Aborted)
    );

    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    assert!(d.boot().unwrap().is_trial());
    Control::new(d.flash_mut(), geometry)
        .unwrap()
        .mark_bad(9)
        .unwrap();
    let st = state(&mut d).unwrap();
    assert_eq!(st.last_reason, Reason::App(9));
    assert_eq!(st.slot(Slot::B).state, ImageState::Rejected);

    Control::new(d.flash_mut(), geometry)
        .unwrap()
        .data_migrated(4)
        .unwrap();
    assert_eq!(state(&mut d).unwrap().data_epoch, 4);

    // Blank metadata: no state, not a default one.
    let mut blank = Device::new(16384, DigestCheck);
    assert_eq!(state(&mut blank), None);
}
