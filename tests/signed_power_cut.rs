//! The signed update lifecycle under the fault harness: the same power cut
//! at every flash operation, sampled read faults and double cuts as
//! `tests/scenarios.rs`, with images checked by their Ed25519 signature
//! ([`SignedCheck`]) instead of their digest alone, on a part that erases
//! to `0xFF` and on a write-once part that erases to `0x00`.
//!
//! `./scripts/test` runs it once for each verifier a build can choose (the
//! default ed25519-compact, `--features ed25519-small-mul`, `--features
//! ed25519-salty`): issue 14's size-first builds change the arithmetic
//! behind every boot's decision, so each is held to the promise after
//! every cut, not only to the signature vectors. The harness checks
//! DESIGN.md's invariants after every cut; each scenario also checks what
//! the device ends in.

use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKey, TrustedKeys};
use abboot::image::ImageError;
use abboot::sim::device::{test_image, test_public_key, TestImage};
use abboot::sim::{Device, Harness, Rig, SimFlash, Stop};
use abboot::state::{BootKind, Reason, Slot, UpdateState};
use abboot::{Error, StageOptions, Version};

type Dev<R> = Device<SignedCheck<'static>, R>;

const SLOT: u32 = 16384;

/// Byte 10 of the header's signature (offset 0x50).
const SIGNATURE_BYTE: u32 = 0x50 + 10;

fn v(minor: u8) -> Version {
    Version::new(1, minor, 0, 0)
}

fn opts(tries: u8) -> StageOptions<'static> {
    StageOptions {
        tries,
        ..StageOptions::default()
    }
}

/// The check of a device that trusts the test key only.
fn signed_check() -> SignedCheck<'static> {
    let keys: &'static [TrustedKey] = Box::leak(Box::new([TrustedKey::new(test_public_key())]));
    SignedCheck::new(
        TrustedKeys::new(keys),
        BoardProfile {
            header_len: None,
            hardware_id: 0,
            load_address: [0, 0],
        },
    )
}

fn check(cond: bool, what: &str) -> Result<(), Stop> {
    if cond {
        Ok(())
    } else {
        Err(Stop::Unexpected(what.to_string()))
    }
}

fn boot<R: Rig>(d: &mut Dev<R>, kind: BootKind, slot: Slot) -> Result<(), Stop> {
    let got = d.boot()?;
    check(
        got.kind == kind && got.slot == Some(slot),
        &format!("expected {kind:?} of {slot}, got {got:?}"),
    )
}

/// Runs `scenario` under the harness on `device` (slot A given the
/// factory image first) and prints the report.
fn sweep<R: Rig>(
    name: &str,
    rig: &str,
    mut device: Dev<R>,
    scenario: impl Fn(&mut Dev<R>) -> Result<(), Stop>,
) {
    device.factory(Slot::A, &test_image(v(0), 3000, 1));
    let harness = Harness {
        seed: 0x5167_ED00,
        read_faults: 100,
        double_cuts: 8,
        ..Harness::default()
    };
    let report = harness
        .run(&device, &scenario)
        .unwrap_or_else(|v| panic!("{name} on rig {rig}: {v}"));
    assert!(
        report.runs >= report.ops,
        "{name}: every operation cut at least once"
    );
    println!(
        "{name} [{rig}]: {} cut runs ({} operations), {} read faults, {} double cuts, 0 violations",
        report.runs, report.ops, report.read_fault_runs, report.double_cut_runs
    );
}

/// Runs a scenario on the `0xFF` part and on the write-once `0x00` part.
macro_rules! on_both_parts {
    ($name:expr, |$d:ident| $body:expr) => {{
        sweep($name, "0xFF", Device::new(SLOT, signed_check()), |$d| $body);
        sweep(
            $name,
            "0x00 write-once",
            Device::one_part(
                SimFlash::<4, 8, 2048>::new(2 * 2048 + 2 * SLOT as usize)
                    .erased_to(0x00)
                    .write_once(true),
                SLOT,
                signed_check(),
            ),
            |$d| $body,
        );
    }};
}

#[test]
fn signed_update_and_confirm() {
    let b = test_image(v(1), 3000, 2);
    on_both_parts!("signed update and confirm", |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        boot(d, BootKind::Trial, Slot::B)?;
        d.confirm()?;
        check(
            d.status()?.update == UpdateState::Confirmed,
            "status after confirm",
        )?;
        boot(d, BootKind::Normal, Slot::B)
    });
}

/// An image signed by a key the device does not trust is refused before
/// anything is written; a signed update that then never confirms rolls
/// back to the factory image.
#[test]
fn foreign_key_refused_then_signed_update_rolls_back() {
    let mut forged = TestImage::new(v(2), 3000, 3);
    forged.key_seed = [0x66; 32];
    let forged = forged.build();
    let b = test_image(v(1), 3000, 2);
    on_both_parts!("foreign key, then rollback", |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        match d.stage(&forged, &opts(2)) {
            Err(Stop::Error(Error::Image(ImageError::UnknownKey))) => {}
            other => return Err(Stop::Unexpected(format!("forged image: {other:?}"))),
        }
        boot(d, BootKind::Normal, Slot::A)?;
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
        check(
            d.status()?.update == UpdateState::RolledBack,
            "status after rollback",
        )
    });
}

/// A staged image whose signature rots before its first boot (its payload
/// and digest intact: only the verifier can tell) is refused at boot, and
/// the factory image keeps booting.
#[test]
fn signature_rot_after_staging_is_refused_at_boot() {
    let b = test_image(v(1), 3000, 2);
    on_both_parts!("signature rot after staging", |d| {
        boot(d, BootKind::Fresh, Slot::A)?;
        d.stage(&b, &opts(3))?;
        d.corrupt(Slot::B, SIGNATURE_BYTE, 5);
        let r = d.boot()?;
        check(
            r.kind == BootKind::Rollback
                && r.reason == Reason::ImageInvalid
                && r.slot == Some(Slot::A),
            &format!("refused, got {r:?}"),
        )?;
        check(
            d.status()?.update == UpdateState::Failed,
            "failed before booting",
        )?;
        boot(d, BootKind::Normal, Slot::A)
    });
}
