//! The firmware's face and the bootloader on simulated flash: refusals that
//! change nothing, status, data epochs, downgrade and security counter.

use abboot::image::digest::DigestCheck;
use abboot::image::header::ImageHeader;
use abboot::machine::Refusal;
use abboot::sim::device::{test_image, TestImage};
use abboot::sim::{Device, Harness, Stop};
use abboot::state::{BootKind, Reason, Slot, UpdateState};
use abboot::{Error, StageOptions, Version};

fn v(minor: u8) -> Version {
    Version::new(1, minor, 0, 0)
}

fn booted() -> Device<DigestCheck> {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(v(0), 3000, 1));
    assert_eq!(d.boot().unwrap().kind, BootKind::Fresh);
    d
}

fn refused(r: Result<impl core::fmt::Debug, Stop>) -> Refusal {
    match r {
        Err(Stop::Error(Error::Refused(x))) => x,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Every call in the wrong state is a typed refusal and writes nothing.
#[test]
fn wrong_state_calls_change_nothing_on_flash() {
    let mut d = booted();
    let before = d.flash().contents().to_vec();
    let ops = d.flash().mutating_ops();
    assert_eq!(refused(d.confirm()), Refusal::AlreadyConfirmed);
    assert_eq!(refused(d.mark_bad(1)), Refusal::NoTrial);
    assert_eq!(refused(d.abort()), Refusal::NothingToAbort);
    let zero = StageOptions {
        tries: 0,
        ..StageOptions::default()
    };
    assert_eq!(
        refused(d.stage(&test_image(v(1), 100, 2), &zero)),
        Refusal::InvalidTries
    );
    let long = StageOptions {
        tag: &[b'x'; 37],
        ..StageOptions::default()
    };
    assert_eq!(
        refused(d.stage(&test_image(v(1), 100, 2), &long)),
        Refusal::TagTooLong
    );
    assert_eq!(
        refused(d.stage(&vec![0u8; 20000], &StageOptions::default())),
        Refusal::OutOfSlot
    );

    // During a trial: no staging over the way back, no abort.
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    assert!(d.boot().unwrap().is_trial());
    let before_trial = d.flash().contents().to_vec();
    let ops_trial = d.flash().mutating_ops();
    assert_eq!(
        refused(d.stage(&test_image(v(2), 100, 3), &StageOptions::default())),
        Refusal::TrialInProgress
    );
    assert_eq!(refused(d.abort()), Refusal::TrialInProgress);
    assert_eq!(d.flash().contents(), &before_trial[..]);
    assert_eq!(d.flash().mutating_ops(), ops_trial);
    assert_ne!(before, before_trial);
    let _ = ops;
}

#[test]
fn known_bad_digest_is_refused_before_anything_is_erased() {
    let mut d = booted();
    let c = test_image(v(1), 3000, 2);
    let info = d
        .stage(
            &c,
            &StageOptions {
                tries: 1,
                ..StageOptions::default()
            },
        )
        .unwrap();
    d.boot().unwrap();
    d.mark_bad(5).unwrap();
    let ops = d.flash().mutating_ops();
    let opts = StageOptions {
        expected_digest: Some(info.digest),
        ..StageOptions::default()
    };
    assert_eq!(refused(d.stage(&c, &opts)), Refusal::KnownBad);
    assert_eq!(d.flash().mutating_ops(), ops, "nothing written or erased");
}

#[test]
fn downgrade_needs_force_and_security_counter_never_goes_back() {
    let mut d = Device::new(16384, DigestCheck);
    let mut a = TestImage::new(v(5), 2000, 1);
    a.header.security_counter = 3;
    d.factory(Slot::A, &a.build());
    d.boot().unwrap();
    let mut lower = TestImage::new(v(4), 2000, 2);
    lower.header.security_counter = 3;
    // Refused from its header, before anything is written or erased.
    let ops = d.flash().mutating_ops();
    assert_eq!(
        refused(d.stage(&lower.build(), &StageOptions::default())),
        Refusal::Downgrade
    );
    assert_eq!(d.flash().mutating_ops(), ops);
    // Forced, a lower version with the same security counter is fine...
    let force = StageOptions {
        force: true,
        ..StageOptions::default()
    };
    d.stage(&lower.build(), &force).unwrap();
    d.abort().unwrap();
    // ...but force never lowers the security counter floor.
    let mut insecure = TestImage::new(v(9), 2000, 3);
    insecure.header.security_counter = 2;
    assert_eq!(
        refused(d.stage(&insecure.build(), &force)),
        Refusal::SecurityCounter
    );
    assert_eq!(
        refused(d.stage(&a.build(), &force)),
        Refusal::AlreadyInstalled
    );
}

#[test]
fn rollback_past_a_data_migration_says_restore() {
    let mut d = booted();
    let mut b = TestImage::new(v(1), 3000, 2);
    b.header = ImageHeader {
        data_epoch: 2,
        ..b.header
    };
    d.stage(&b.build(), &StageOptions::default()).unwrap();
    let t = d.boot().unwrap();
    assert!(t.is_trial() && !t.data_restore_needed());
    d.mark_bad(1).unwrap();
    let back = d.boot().unwrap();
    assert_eq!(back.slot, Some(Slot::A));
    assert!(back.data_restore_needed(), "{back:?}");
    assert!(d.status().unwrap().data_restore_needed());
}

#[test]
fn status_record_and_json() {
    let mut d = booted();
    let tag = b"6f1e2d3c-aaaa-bbbb-cccc-000000000042";
    d.stage(
        &test_image(v(1), 3000, 2),
        &StageOptions {
            tag,
            tries: 2,
            ..StageOptions::default()
        },
    )
    .unwrap();
    let s = d.status().unwrap();
    assert_eq!(s.update, UpdateState::Staged);
    assert_eq!(s.target_version, Some(v(1)));
    assert_eq!(s.installed_version, Some(v(0)));
    assert_eq!(s.tries_left, 2);
    d.boot().unwrap();
    let s = d.status().unwrap();
    assert!(s.trial && s.update == UpdateState::Trial && s.running == Some(Slot::B));
    let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    assert_eq!(json["update"], "Trial");
    assert_eq!(
        json["update_tag"].as_str(),
        Some("6f1e2d3c-aaaa-bbbb-cccc-000000000042")
    );
    assert_eq!(
        json["installed_digest"].as_str().map(str::len),
        Some(64),
        "hex digest"
    );
    assert_eq!(
        json["events"].as_array().map(|a| a.len()),
        Some(2),
        "fresh, then trial"
    );
}

#[test]
fn normal_boots_never_write_or_move_toward_rollback() {
    let mut d = booted();
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    d.boot().unwrap();
    d.confirm().unwrap();
    let before = d.flash().stats();
    for _ in 0..100 {
        let r = d.boot().unwrap();
        assert_eq!((r.slot, r.kind), (Some(Slot::B), BootKind::Normal));
    }
    let w = d.flash().stats().since(&before);
    assert_eq!((w.writes, w.erases), (0, 0));
}

/// Eight update cycles fill both journal sectors, so the journal erases
/// one to move back; the harness cuts every operation of all of them.
#[test]
fn many_updates_across_the_journal_sector_switch() {
    let images: Vec<Vec<u8>> = (1..=8).map(|i| test_image(v(i), 1500, i)).collect();
    let mut d = Device::new(8192, DigestCheck);
    d.factory(Slot::A, &test_image(v(0), 1500, 0));
    let report = Harness::default()
        .run(&d, |d| {
            d.boot()?;
            for (i, img) in images.iter().enumerate() {
                d.stage(
                    img,
                    &StageOptions {
                        tries: 2,
                        ..StageOptions::default()
                    },
                )?;
                d.boot()?;
                if i % 2 == 0 {
                    d.confirm()?;
                } else {
                    d.boot()?;
                    d.boot()?;
                }
            }
            d.boot().map(|_| ())
        })
        .unwrap_or_else(|v| panic!("{v}"));
    println!("many updates: {report}");
    // 1 fresh + 4 confirmed cycles x 4 records + 4 rolled back x 5 = 37
    // records: more than two 16-record sectors.
    assert_eq!(
        report.erases,
        8 + 1,
        "8 slot erases and one journal sector erase"
    );
}

/// The metadata-only control a Linux tool uses: set tries, confirm,
/// mark bad, with the failed check's code in the status.
#[test]
fn control_without_slot_access() {
    use abboot::image::ImageError;
    use abboot::journal::Geometry;
    use abboot::Control;

    let mut d = booted();
    d.stage(&test_image(v(1), 3000, 2), &StageOptions::default())
        .unwrap();
    assert!(d.boot().unwrap().is_trial());
    let geometry = Geometry::contiguous(0, 4096);
    {
        let mut c = Control::new(d.flash_mut(), geometry).unwrap();
        assert_eq!(c.status().tries_left, 2);
        c.set_tries(5).unwrap();
        assert_eq!(c.status().tries_left, 5);
        assert_eq!(c.set_tries(0), Err(Error::Refused(Refusal::InvalidTries)));
        c.confirm().unwrap();
        assert_eq!(c.confirm(), Err(Error::Refused(Refusal::AlreadyConfirmed)));
        assert_eq!(c.set_tries(3), Err(Error::Refused(Refusal::NoTrial)));
    }
    assert_eq!(d.boot().unwrap().kind, BootKind::Normal);

    // A staged image rotted before its first boot: the status says which
    // check failed, not just "invalid".
    d.stage(&test_image(v(2), 3000, 3), &StageOptions::default())
        .unwrap();
    d.corrupt(Slot::A, 2000, 1);
    assert_eq!(d.boot().unwrap().reason, Reason::ImageInvalid);
    let s = Control::new(d.flash_mut(), geometry).unwrap().status();
    assert_eq!(s.last_check_error, Some(ImageError::DigestMismatch));
}

#[test]
fn image_error_codes_round_trip() {
    use abboot::image::ImageError;
    for e in ImageError::ALL {
        assert_eq!(ImageError::from_code(e.code()), Some(e));
    }
    assert_eq!(ImageError::from_code(0), None);
    assert_eq!(ImageError::from_code(14), Some(ImageError::BadEntry));
    assert_eq!(ImageError::from_code(15), None);
}

/// The decision carries what the bootloader needs to load the image, and a
/// first boot hashes each image once, not twice.
#[test]
fn decision_carries_the_checked_image_and_checks_once() {
    let mut d = Device::new(16384, DigestCheck);
    // Large enough that hashing it twice outweighs the journal's own reads
    // (a first append checks a whole 4 KiB sector is blank).
    d.factory(Slot::A, &test_image(v(0), 12000, 1));
    let before = d.flash().stats();
    let first = d.boot().unwrap();
    let read = d.flash().stats().since(&before).bytes_read;
    let img = first.image.expect("checked on this boot");
    assert_eq!(
        (img.header_len, img.payload_len, img.version),
        (256, 12000, v(0))
    );
    assert!(
        read < 12000 * 2,
        "read {read} bytes: the image was hashed twice"
    );
    assert!(read >= 12000, "read {read} bytes: the image was not hashed");
}

/// An image that can only be refused never costs the other slot its
/// content: after B is confirmed, A still holds the way back, and a
/// downgrade or a forged image offered for A leaves it there.
#[test]
fn refused_images_do_not_erase_the_rollback_slot() {
    use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKey, TrustedKeys};
    use abboot::image::ImageError;
    use abboot::sim::device::test_public_key;

    let keys: &'static [TrustedKey] = Box::leak(Box::new([TrustedKey::new(test_public_key())]));
    let check = SignedCheck::new(
        TrustedKeys::new(keys),
        BoardProfile {
            header_len: None,
            hardware_id: 0,
            load_address: [0, 0],
        },
    );
    let mut d = Device::new(16384, check);
    d.factory(Slot::A, &test_image(v(0), 3000, 1));
    d.boot().unwrap();
    d.stage(&test_image(v(2), 3000, 2), &StageOptions::default())
        .unwrap();
    d.boot().unwrap();
    d.confirm().unwrap();
    let slot_a = |d: &Device<SignedCheck<'static>>| {
        let r = d.layout().region(Slot::A);
        d.flash().contents()[r.offset as usize..(r.offset + r.len) as usize].to_vec()
    };
    let before = slot_a(&d);
    assert_eq!(
        refused(d.stage(&test_image(v(1), 3000, 3), &StageOptions::default())),
        Refusal::Downgrade
    );
    let mut forged = TestImage::new(v(3), 3000, 4);
    forged.key_seed = [0x66; 32];
    match d.stage(&forged.build(), &StageOptions::default()) {
        Err(Stop::Error(Error::Image(ImageError::UnknownKey))) => {}
        other => panic!("forged image: {other:?}"),
    }
    assert_eq!(slot_a(&d), before, "slot A still holds the rollback image");
    assert_eq!(d.status().unwrap().update, UpdateState::Confirmed);
}

/// Firmware that finds no state on flash (programmed by a debugger) never
/// guesses the slot it runs from: without a hand-off it refuses before
/// anything is written; with one it stages into the other slot only.
#[test]
fn the_running_slot_is_known_never_guessed() {
    use abboot::flash::Shared;
    use abboot::{Handoff, Updater};
    use std::cell::RefCell;

    for running in Slot::ALL {
        let mut d = Device::new(16384, DigestCheck);
        let old = test_image(v(0), 3000, 1);
        d.factory(running, &old);
        let layout = d.layout();
        let cell = RefCell::new(d.flash().clone());
        let updater =
            || Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck).unwrap();
        let new = test_image(v(1), 3000, 2);
        let ops = cell.borrow().mutating_ops();
        assert_eq!(
            updater().stage(&new, &StageOptions::default()),
            Err(Error::Refused(Refusal::RunningSlotUnknown))
        );
        assert_eq!(
            updater().target(),
            Err(Error::Refused(Refusal::RunningSlotUnknown))
        );
        assert_eq!(
            cell.borrow().mutating_ops(),
            ops,
            "nothing written or erased"
        );

        // The firmware learns its slot from the bootloader's hand-off.
        let handoff = Handoff::decode(
            &Handoff {
                slot: running,
                kind: BootKind::Normal,
                reason: Reason::None,
                tries_left: 0,
                version: v(0),
                image_epoch: 0,
                data_epoch: 0,
            }
            .encode(),
        )
        .unwrap();
        let mut u = updater().running(handoff.slot);
        assert_eq!(u.target(), Ok(running.other()));
        u.stage(&new, &StageOptions::default()).unwrap();
        let at = layout.region(running).offset as usize;
        assert_eq!(&cell.borrow().contents()[at..at + old.len()], &old[..]);
        let st = u.status();
        assert_eq!(st.update, UpdateState::Staged);
    }
}

/// The running slot from the firmware's own link address, and a caller
/// whose running slot disagrees with the state on flash is refused.
#[test]
fn the_running_slot_from_a_link_address_and_disagreement() {
    use abboot::flash::Shared;
    use abboot::Updater;
    use std::cell::RefCell;

    let mut d = booted();
    let layout = d.layout();
    let [a, b] = layout.slots;
    assert_eq!(layout.slot_containing(a.offset), Some(Slot::A));
    assert_eq!(layout.slot_containing(a.offset + a.len - 1), Some(Slot::A));
    assert_eq!(layout.slot_containing(b.offset), Some(Slot::B));
    assert_eq!(layout.slot_containing(b.offset + b.len - 1), Some(Slot::B));
    assert_eq!(layout.slot_containing(b.offset + b.len), None);
    assert_eq!(layout.slot_containing(0), None);

    // The state says A runs (primary); a caller claiming B is refused
    // before anything is erased: neither slot may be written.
    let cell = RefCell::new(d.flash_mut().clone());
    let mut u = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .running(Slot::B);
    let ops = cell.borrow().mutating_ops();
    assert_eq!(
        u.stage(&test_image(v(1), 3000, 2), &StageOptions::default()),
        Err(Error::Refused(Refusal::TargetRunning))
    );
    assert_eq!(cell.borrow().mutating_ops(), ops);
}

/// A firmware that stages with no state on flash (it knows its slot from
/// the hand-off) records the image it runs from as the confirmed primary in
/// the staging's first record: a failed update rolls back to it (before,
/// the state named nothing that boots and the image was adopted again).
/// Metadata that names no bootable slot while an image verifies (from
/// another device, say): that image boots instead of recovery, and the
/// rejected update is never adopted.
#[test]
fn an_unrecorded_image_that_verifies_is_adopted_not_recovery() {
    use abboot::flash::Shared;
    use abboot::journal::Journal;
    use abboot::state::BootState;
    use abboot::{Bootloader, Policy, Updater};
    use std::cell::RefCell;

    let mut d = Device::new(16384, DigestCheck);
    let old = test_image(v(0), 3000, 1);
    d.factory(Slot::A, &old);
    let layout = d.layout();
    let cell = RefCell::new(d.flash().clone());
    let new = test_image(v(1), 3000, 2);
    let staged = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .running(Slot::A)
        .stage(
            &new,
            &StageOptions {
                tries: 2,
                ..StageOptions::default()
            },
        )
        .unwrap();
    let boot = || {
        Bootloader::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout,
            DigestCheck,
            Policy::default(),
        )
        .unwrap()
        .select()
    };
    assert_eq!(boot().slot, Some(Slot::B));
    assert_eq!(boot().slot, Some(Slot::B));
    let d1 = boot();
    assert_eq!(
        (d1.slot, d1.kind, d1.reason),
        (Some(Slot::A), BootKind::Rollback, Reason::TriesExhausted)
    );
    assert_eq!(d1.fault, None);
    assert_eq!(d1.version, v(0));
    let d2 = boot();
    assert_eq!((d2.slot, d2.kind), (Some(Slot::A), BootKind::Normal));
    let st = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
        .unwrap()
        .status();
    assert_eq!(st.update, UpdateState::RolledBack);
    let journal = || Journal::new(Shared::new(&cell), layout.metadata).unwrap();
    let raw = journal().read().record.unwrap().state;
    assert_eq!(raw.primary, Some(Slot::A));
    assert_eq!(raw.rejected_digest, Some(staged.digest));

    // A state that names nothing that boots, the update rejected: A is
    // adopted, never the rejected B.
    let nothing = BootState {
        rejected_digest: Some(staged.digest),
        ..BootState::default()
    };
    journal().append(&nothing).unwrap();
    let d3 = boot();
    assert_eq!((d3.slot, d3.kind), (Some(Slot::A), BootKind::Fresh));
    assert_eq!(
        journal().read().record.unwrap().state.primary,
        Some(Slot::A)
    );

    // With slot A's image gone too, the rejected update is not adopted.
    journal().append(&nothing).unwrap();
    cell.borrow_mut()
        .set_contents(layout.slots[0].offset as usize, &[0u8; 256]);
    let d4 = boot();
    assert_eq!((d4.slot, d4.kind), (None, BootKind::Recovery));
}

/// Adoption stays within the security floor.
#[test]
fn adoption_respects_the_security_floor() {
    use abboot::machine::{apply, Event};
    use abboot::state::BootState;

    let mut img = TestImage::new(v(0), 3000, 1);
    img.header.security_counter = 2;
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &img.build());
    let info = d.verify(Slot::A).unwrap();
    let floor = BootState {
        min_security_counter: 3,
        ..BootState::default()
    };
    assert_eq!(
        apply(
            &floor,
            Event::Adopt {
                slot: Slot::A,
                info
            }
        ),
        Err(Refusal::SecurityCounter)
    );
    let ok = apply(
        &BootState::default(),
        Event::Adopt {
            slot: Slot::A,
            info,
        },
    )
    .unwrap();
    assert_eq!(ok.primary, Some(Slot::A));
    assert_eq!(
        ok.min_security_counter, 2,
        "the adopted image sets the floor"
    );
    // Below the floor and the rejected image both: `adopt` names the
    // rejection, as it always has (the bootloader's own step tests the
    // floor first, and only asks whether it may adopt).
    let both = BootState {
        rejected_digest: Some(info.digest),
        ..floor
    };
    let adopt = Event::Adopt {
        slot: Slot::A,
        info,
    };
    assert_eq!(apply(&both, adopt), Err(Refusal::TrialInProgress));
}
