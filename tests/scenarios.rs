//! The update scenarios of the lifecycle, each replayed by the power-cut
//! harness with a cut at every flash operation in every cut mode.

use abboot::image::digest::DigestCheck;
use abboot::machine::Refusal;
use abboot::sim::device::test_image;
use abboot::sim::{Device, Harness, Stop};
use abboot::state::{BootKind, Reason, Slot, UpdateState};
use abboot::{StageOptions, Version};

fn v(minor: u8) -> Version {
    Version::new(1, minor, 0, 0)
}

fn factory() -> Device<DigestCheck> {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(v(0), 3000, 1));
    d
}

fn opts(tries: u8) -> StageOptions<'static> {
    StageOptions {
        tries,
        tag: b"req-42",
        ..StageOptions::default()
    }
}

fn check(cond: bool, what: &str) -> Result<(), Stop> {
    if cond {
        Ok(())
    } else {
        Err(Stop::Unexpected(what.to_string()))
    }
}

/// Runs `scenario` under the harness and returns the report.
fn sweep(
    name: &str,
    device: Device<DigestCheck>,
    scenario: impl Fn(&mut Device<DigestCheck>) -> Result<(), Stop>,
) {
    // Each seed draws other torn bits, half-erased bits and weak-bit reads;
    // 4 seeds by default, 64 with `ABBOOT_EXHAUSTIVE=1`.
    let seeds = if std::env::var_os("ABBOOT_EXHAUSTIVE").is_some() {
        32
    } else {
        1
    };
    for seed in 0..seeds {
        let harness = Harness {
            seed: 0xAB_B007 ^ (seed << 32),
            ..Harness::default()
        };
        sweep_once(name, &harness, &device, &scenario);
    }
}

fn sweep_once(
    name: &str,
    harness: &Harness,
    device: &Device<DigestCheck>,
    scenario: &impl Fn(&mut Device<DigestCheck>) -> Result<(), Stop>,
) {
    match harness.run(device, scenario) {
        Ok(r) => {
            println!(
                "{name}: {} operations ({} writes, {} erases), {} cut runs {:?}, 0 violations",
                r.ops, r.writes, r.erases, r.runs, r.per_mode
            );
            assert!(r.runs >= r.ops, "{name}: every operation cut at least once");
        }
        Err(v) => panic!("{name}: {v}"),
    }
}

fn boot(d: &mut Device<DigestCheck>, kind: BootKind, slot: Slot) -> Result<(), Stop> {
    let got = d.boot()?;
    check(
        got.kind == kind && got.slot == Some(slot),
        &format!("expected {kind:?} of {slot}, got {got:?}"),
    )
}

#[test]
fn first_boot_from_blank_metadata() {
    sweep("first boot", factory(), |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        boot(d, BootKind::Normal, Slot::A)
    });
}

#[test]
fn update_and_confirm() {
    let b = test_image(v(1), 3000, 2);
    sweep("update and confirm", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        let s = d.status()?;
        check(
            s.update == UpdateState::Confirmed && s.update_tag.as_slice() == b"req-42",
            "status after confirm",
        )?;
        boot(d, BootKind::Normal, Slot::B)
    });
}

#[test]
fn update_that_never_confirms() {
    let b = test_image(v(1), 3000, 2);
    sweep("never confirms", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(2))?;
        boot(d, BootKind::Trial, Slot::B)?;
        boot(d, BootKind::Trial, Slot::B)?;
        let r = d.boot()?;
        check(
            r.kind == BootKind::Rollback
                && r.reason == Reason::TriesExhausted
                && r.slot == Some(Slot::A),
            "rollback",
        )?;
        let s = d.status()?;
        check(
            s.update == UpdateState::RolledBack && s.failure_count == 1,
            "status after rollback",
        )
    });
}

#[test]
fn update_that_marks_itself_bad() {
    let b = test_image(v(1), 3000, 2);
    sweep("marks itself bad", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.mark_bad(9)?;
        boot(d, BootKind::Normal, Slot::A)?;
        let s = d.status()?;
        check(
            s.last_reason == Reason::App(9) && s.rejected_digest.is_some(),
            "reason recorded",
        )
    });
}

#[test]
fn image_corrupted_after_staging() {
    let b = test_image(v(1), 3000, 2);
    sweep("bit rot after staging", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        d.corrupt(Slot::B, 1000, 3);
        let r = d.boot()?;
        check(
            r.kind == BootKind::Rollback
                && r.reason == Reason::ImageInvalid
                && r.slot == Some(Slot::A),
            "refused",
        )?;
        check(
            d.status()?.update == UpdateState::Failed,
            "failed before booting",
        )
    });
}

#[test]
fn staging_interrupted_by_a_reset() {
    let b = test_image(v(1), 3000, 2);
    sweep("staging interrupted", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage_partial(&b, 1500, &opts(3))?;
        boot(d, BootKind::Normal, Slot::A)?;
        check(d.status()?.update == UpdateState::Staged, "still staged")?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        boot(d, BootKind::Normal, Slot::B)
    });
}

#[test]
fn abort_a_staged_update() {
    let b = test_image(v(1), 3000, 2);
    sweep("abort", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        d.abort()?;
        boot(d, BootKind::Normal, Slot::A)?;
        let s = d.status()?;
        check(
            s.update == UpdateState::Failed && s.last_reason == Reason::Aborted,
            "aborted",
        )
    });
}

#[test]
fn rejected_image_is_refused_then_forced() {
    let c = test_image(v(2), 3000, 3);
    sweep("re-stage rejected", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&c, &opts(1))?;
        boot(d, BootKind::Trial, Slot::B)?;
        let r = d.boot()?;
        check(r.kind == BootKind::Rollback, "rolled back")?;
        let again = d.stage(&c, &opts(1));
        d.expect_refused(again, Refusal::KnownBad)?;
        boot(d, BootKind::Normal, Slot::A)?;
        d.stage(
            &c,
            &StageOptions {
                force: true,
                ..opts(2)
            },
        )?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        boot(d, BootKind::Normal, Slot::B)
    });
}

#[test]
fn two_updates_back_to_back() {
    let b = test_image(v(1), 3000, 2);
    let a2 = test_image(v(2), 2500, 4);
    sweep("two updates", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        d.stage(&a2, &opts(3))?;
        boot(d, BootKind::Trial, Slot::A)?;
        d.confirm()?;
        boot(d, BootKind::Normal, Slot::A)?;
        check(
            d.status()?.installed_version == Some(v(2)),
            "installed v1.2",
        )
    });
}

#[test]
fn primary_corrupted_while_a_trial_runs() {
    let b = test_image(v(1), 3000, 2);
    sweep("primary corrupted during trial", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.corrupt(Slot::A, 500, 0);
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        boot(d, BootKind::Normal, Slot::B)
    });
}

#[test]
fn confirmed_primary_corrupted_falls_back() {
    let b = test_image(v(1), 3000, 2);
    sweep("fallback", factory(), move |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        d.corrupt(Slot::B, 700, 5);
        let r = d.boot()?;
        check(
            r.kind == BootKind::Fallback && r.slot == Some(Slot::A),
            "fell back to A",
        )?;
        boot(d, BootKind::Normal, Slot::A)
    });
}
