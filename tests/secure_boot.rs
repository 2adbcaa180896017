//! Secure boot against an attacker who can write the metadata sectors and
//! the inactive slot (a compromised or buggy signed firmware does), but not
//! the bootloader or its keys: the journal is not a seal (its CRC is no
//! MAC), so nothing that decides what boots or how far the hardware
//! counter rises may rest on what a record claims alone.
//!
//! Found by an adversarial review (each test failed before its fix).

use std::cell::RefCell;

use abboot::counter::{CounterError, OtpWords, SecurityCounter, Thermometer};
use abboot::flash::{Region, Shared};
use abboot::image::digest::DigestCheck;
use abboot::journal::{Geometry, Journal};
use abboot::machine::Refusal;
use abboot::sim::device::TestImage;
use abboot::sim::SimFlash;
use abboot::state::{BootState, ImageState, Reason, Slot};
use abboot::{
    Bootloader, Decision, Error, Layout, Policy, StageOptions, Updater, VerifyPolicy, Version,
};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

type Flash = SimFlash<1, 4, 4096>;

const SLOT: u32 = 16384;
const OTP: u32 = 8192 + 2 * SLOT;

fn layout() -> Layout {
    Layout::new(
        Geometry::contiguous(0, 4096),
        [Region::new(8192, SLOT), Region::new(8192 + SLOT, SLOT)],
    )
}

struct Words<'a>(&'a RefCell<Flash>);

impl OtpWords for Words<'_> {
    fn is_erased(&mut self, i: usize) -> Result<bool, CounterError> {
        let mut w = [0u8; 4];
        self.0
            .borrow_mut()
            .read(OTP + 4 * i as u32, &mut w)
            .map_err(|_| CounterError::Unreadable)?;
        Ok(w == [0xFF; 4])
    }
    fn program(&mut self, i: usize) -> Result<(), CounterError> {
        self.0
            .borrow_mut()
            .write(OTP + 4 * i as u32, &[0; 4])
            .map_err(|_| CounterError::Write)
    }
}

type Counter<'a> = Thermometer<Words<'a>, 8>;

fn image(minor: u8, counter: u32, fill: u8) -> Vec<u8> {
    let mut t = TestImage::new(Version::new(1, minor, 0, 0), 3000, fill);
    t.header.security_counter = counter;
    t.build()
}

fn device(a: &[u8]) -> RefCell<Flash> {
    let mut f = Flash::new((OTP + 4096) as usize);
    f.set_contents(8192, a);
    RefCell::new(f)
}

fn boot(cell: &RefCell<Flash>) -> Decision {
    boot_with(cell, VerifyPolicy::Always)
}

fn boot_with(cell: &RefCell<Flash>, verify: VerifyPolicy) -> Decision {
    let policy = Policy {
        verify,
        ..Policy::default()
    };
    Bootloader::new(
        Shared::new(cell),
        Shared::new(cell),
        layout(),
        DigestCheck,
        policy,
    )
    .unwrap()
    .with_counter(Counter::new(Words(cell)))
    .select()
}

/// The firmware's updater, told it runs from `running`.
fn updater(
    cell: &RefCell<Flash>,
    running: Slot,
) -> Updater<Shared<'_, Flash>, Shared<'_, Flash>, DigestCheck, Counter<'_>> {
    Updater::new(Shared::new(cell), Shared::new(cell), layout(), DigestCheck)
        .unwrap()
        .running(running)
        .with_counter(Counter::new(Words(cell)))
}

fn hardware(cell: &RefCell<Flash>) -> u32 {
    Counter::new(Words(cell)).read().unwrap()
}

fn read_state(cell: &RefCell<Flash>) -> BootState {
    Journal::new(Shared::new(cell), layout().metadata)
        .unwrap()
        .read()
        .record
        .unwrap()
        .state
}

fn write_state(cell: &RefCell<Flash>, st: &BootState) {
    Journal::new(Shared::new(cell), layout().metadata)
        .unwrap()
        .append(st)
        .unwrap();
}

/// A (counter 1) updated to B (counter 2), confirmed: hardware counter 2.
fn updated() -> RefCell<Flash> {
    let cell = device(&image(0, 1, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    updater(&cell, Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    updater(&cell, Slot::B).confirm().unwrap();
    assert_eq!(hardware(&cell), 2);
    cell
}

/// The bootloader used to compare the *journal's* claim of a confirmed slot's
/// security counter with the floor, not the counter in the image it just
/// verified. A crafted record that claims the old image (real counter 1)
/// has counter 2 makes it boot below the hardware counter (2).
#[test]
fn a_record_that_lies_about_an_images_counter_does_not_boot_it_below_the_floor() {
    let cell = updated();
    let mut st = read_state(&cell);
    st.primary = Some(Slot::A);
    st.slot_mut(Slot::A).state = ImageState::Confirmed;
    st.slot_mut(Slot::A).security_counter = 2; // the lie; the image says 1
    st.slot_mut(Slot::B).state = ImageState::Empty;
    write_state(&cell, &st);
    let d = boot(&cell);
    assert_ne!(
        d.slot,
        Some(Slot::A),
        "image with security counter 1 booted below hardware counter 2: {d:?}"
    );
}

/// The firmware (which holds the counter's word access, to raise it
/// at a confirm) programs one word past a gap. The thermometer then reads
/// as Unreadable, the bootloader drops the hardware floor, and rewritten
/// metadata boots the old image.
#[test]
fn a_stray_programmed_counter_word_does_not_drop_the_floor() {
    let cell = updated();
    // Program word 7 (only programming, never erasing: allowed on OTP).
    Words(&cell).program(7).unwrap();
    let mut st = read_state(&cell);
    st.primary = Some(Slot::A);
    st.min_security_counter = 0;
    st.slot_mut(Slot::A).state = ImageState::Confirmed;
    st.slot_mut(Slot::B).state = ImageState::Empty;
    write_state(&cell, &st);
    let d = boot(&cell);
    assert_ne!(
        d.slot,
        Some(Slot::A),
        "image with security counter 1 booted after hardware counter reached 2: {d:?}"
    );
}

// ---------------------------------------------------------------------------
// The same with the production check (SignedCheck), no hardware counter needed to
// show that the *journal's* claim decides: the real counter is in the signed
// header, and the bootloader ignores it for confirmed slots.

mod signed {
    use super::*;
    use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKey, TrustedKeys};
    use abboot::sim::device::test_public_key;

    pub(super) fn check() -> SignedCheck<'static> {
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

    pub(super) fn boot(cell: &RefCell<Flash>) -> Decision {
        Bootloader::new(
            Shared::new(cell),
            Shared::new(cell),
            layout(),
            check(),
            Policy::default(),
        )
        .unwrap()
        .with_counter(Counter::new(Words(cell)))
        .select()
    }

    fn updater(
        cell: &RefCell<Flash>,
        running: Slot,
    ) -> Updater<Shared<'_, Flash>, Shared<'_, Flash>, SignedCheck<'static>, Counter<'_>> {
        Updater::new(Shared::new(cell), Shared::new(cell), layout(), check())
            .unwrap()
            .running(running)
            .with_counter(Counter::new(Words(cell)))
    }

    #[test]
    fn a_signed_image_below_the_floor_does_not_boot_whatever_its_record_claims() {
        let cell = device(&image(0, 1, 1));
        assert_eq!(boot(&cell).slot, Some(Slot::A));
        updater(&cell, Slot::A)
            .stage(&image(1, 5, 2), &StageOptions::default())
            .unwrap();
        assert!(boot(&cell).is_trial());
        updater(&cell, Slot::B).confirm().unwrap();
        assert_eq!(hardware(&cell), 5);
        assert_eq!(boot(&cell).slot, Some(Slot::B));
        // Metadata-only attacker: one record, CRC recomputed by the encoder.
        let mut st = read_state(&cell);
        st.primary = Some(Slot::A);
        st.rollback = None;
        st.slot_mut(Slot::A).state = ImageState::Confirmed;
        st.slot_mut(Slot::A).security_counter = u32::MAX; // lie
        st.min_security_counter = 5;
        write_state(&cell, &st);
        let d = boot(&cell);
        assert_ne!(
            d.slot,
            Some(Slot::A),
            "signed image with counter 1 booted, hardware counter {}: {d:?}",
            hardware(&cell)
        );
    }
}

// ---------------------------------------------------------------------------
// The image that runs is not the one on trial (the bootloader booted the
// primary because the trial slot could not be read), and the running
// firmware's `confirm` — with `running(A)` given — confirms the *other*
// image, which never passed a health check in this boot, and raises the
// hardware counter to it.
#[test]
fn a_firmware_that_is_not_on_trial_cannot_confirm_the_trial_image() {
    let cell = device(&image(0, 1, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    updater(&cell, Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial()); // B on trial, tries 2 left; B crashes
                                     // Next reset: B's slot cannot be read; A (primary) boots, no write.
    cell.borrow_mut().fail_reads(
        8192 + SLOT..8192 + 2 * SLOT,
        abboot::sim::ReadFault::Permanent,
    );
    let d = boot(&cell);
    assert_eq!(d.slot, Some(Slot::A));
    assert!(!d.is_trial());
    cell.borrow_mut().clear_read_faults();
    // Firmware A (told it runs from A) runs its health check on itself and
    // calls confirm.
    let r = updater(&cell, Slot::A).confirm();
    assert!(
        r.is_err(),
        "firmware running from A confirmed B (primary now {:?}, hw counter {})",
        read_state(&cell).primary,
        hardware(&cell)
    );
}

// ---------------------------------------------------------------------------
// An updater without `running` takes the running slot from the state. After
// a fallback the bootloader could not persist (a transient metadata write
// failure), the state names B (corrupt) as running while A runs: staging
// erases A, the only image that boots.
#[test]
fn staging_after_an_unrecorded_fallback_never_erases_the_running_image() {
    let cell = device(&image(0, 1, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    updater(&cell, Slot::A)
        .stage(&image(1, 1, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    updater(&cell, Slot::B).confirm().unwrap();
    assert_eq!(boot(&cell).slot, Some(Slot::B));
    // Bit rot in B; the metadata cannot be written during this boot.
    cell.borrow_mut().flip_bit((8192 + SLOT + 300) as usize, 2);
    cell.borrow_mut().protect(0..8192);
    let d = boot(&cell);
    assert_eq!(d.slot, Some(Slot::A));
    assert!(d.fault.is_some());
    cell.borrow_mut().unprotect_all();
    // Firmware A, with no hand-off read (the documented fallback): no
    // `running`.
    let mut u = Updater::new(
        Shared::new(&cell),
        Shared::new(&cell),
        layout(),
        DigestCheck,
    )
    .unwrap();
    let staged = u.stage_begin(&StageOptions::default());
    // Either refused, or it must not have touched A (the running image, and
    // the only one that verifies).
    let a_ok = boot(&cell).slot == Some(Slot::A);
    assert!(
        a_ok,
        "stage_begin returned {staged:?} and erased the running slot A; next boot: {:?}",
        boot(&cell).kind
    );
}

/// A record that claims a floor far above every image (and the confirmed
/// image's counter along with it) used to make the bootloader raise the
/// one-time counter to the claim: burnt to its end, after which nothing
/// boots again. The counter rises at most to the counter of the confirmed
/// image that boots, as verified in that boot: under `Always` such a record
/// boots nothing (recovery, until the metadata is mended) and raises
/// nothing; under `TrialOnly`, which trusts the record to boot and verifies
/// nothing on a normal boot, nothing is raised either. A raise that a cut
/// kept from a confirm is caught up under `Always`; under `TrialOnly` the
/// firmware's confirm is the one raise.
#[test]
fn a_records_floor_cannot_burn_the_hardware_counter() {
    for verify in [VerifyPolicy::Always, VerifyPolicy::TrialOnly] {
        let cell = updated();
        let mut st = read_state(&cell);
        st.min_security_counter = u32::MAX;
        st.slot_mut(Slot::B).security_counter = u32::MAX; // lie; image says 2
        write_state(&cell, &st);
        let d = boot_with(&cell, verify);
        let booted = match verify {
            VerifyPolicy::Always => None,
            VerifyPolicy::TrialOnly => Some(Slot::B),
        };
        assert_eq!(d.slot, booted, "{verify:?}");
        assert_eq!(
            hardware(&cell),
            2,
            "{verify:?}: the counter followed the record"
        );
        let cell = raised_to_one_with_floor_two();
        assert_eq!(boot_with(&cell, verify).slot, Some(Slot::B), "{verify:?}");
        let caught_up = match verify {
            VerifyPolicy::Always => 2,
            VerifyPolicy::TrialOnly => 1,
        };
        assert_eq!(hardware(&cell), caught_up, "{verify:?}: the cut raise");
    }
}

/// A normal boot under `TrialOnly` verifies nothing, also when the
/// journal's floor is above the hardware counter (no counter at all, one at
/// the floor, one used up): the catch-up raise follows only an image this
/// boot verified.
#[test]
fn trial_only_verifies_nothing_on_a_normal_boot() {
    let trial_only = Policy {
        verify: VerifyPolicy::TrialOnly,
        ..Policy::default()
    };
    let cell = updated();
    let d = Bootloader::new(
        Shared::new(&cell),
        Shared::new(&cell),
        layout(),
        DigestCheck,
        trial_only,
    )
    .unwrap()
    .select();
    assert_eq!((d.slot, d.image), (Some(Slot::B), None), "no counter");
    // A counter at the floor already: nothing to raise, nothing checked.
    let d = boot_with(&cell, VerifyPolicy::TrialOnly);
    assert_eq!((d.slot, d.image), (Some(Slot::B), None), "at the floor");

    // B's counter 12 is past the 8 steps: the counter is used up at 8.
    let cell = device(&image(0, 1, 1));
    boot(&cell);
    updater(&cell, Slot::A)
        .stage(&image(1, 12, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    updater(&cell, Slot::B).confirm().unwrap();
    assert_eq!(hardware(&cell), 8);
    let d = boot_with(&cell, VerifyPolicy::TrialOnly);
    assert_eq!((d.slot, d.image), (Some(Slot::B), None), "used up");
}

/// Without `running`, the running slot comes from the state only as far
/// as its image bears it out: the image recorded there verifies, and
/// staging goes to the other slot; another image that verifies (not the
/// one recorded), or none, and the updater refuses to guess.
#[test]
fn an_updater_without_running_trusts_the_state_only_as_far_as_its_image() {
    let cell = device(&image(0, 1, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    let plain = || {
        Updater::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout(),
            DigestCheck,
        )
        .unwrap()
    };
    assert_eq!(plain().target(), Ok(Slot::B));
    let unknown = Err(Error::Refused(Refusal::RunningSlotUnknown));
    cell.borrow_mut().set_contents(8192, &image(0, 1, 9));
    assert_eq!(plain().target(), unknown, "another image in A");
    cell.borrow_mut().flip_bit(8192 + 700, 3);
    assert_eq!(plain().target(), unknown, "no image that verifies in A");
}

/// Under `TrialOnly` a trial boot after the first is not checked again: the
/// record's counter is held against the floor instead.
#[test]
fn trial_only_holds_a_later_trial_boot_to_the_floor_by_its_record() {
    let cell = device(&image(0, 1, 1));
    assert_eq!(
        boot_with(&cell, VerifyPolicy::TrialOnly).slot,
        Some(Slot::A)
    );
    updater(&cell, Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    for _ in 0..2 {
        assert!(boot_with(&cell, VerifyPolicy::TrialOnly).is_trial());
    }
    let mut st = read_state(&cell);
    st.slot_mut(Slot::B).security_counter = 0;
    write_state(&cell, &st);
    let d = boot_with(&cell, VerifyPolicy::TrialOnly);
    assert_eq!((d.slot, d.reason), (Some(Slot::A), Reason::Downgrade));
}

/// B (counter 2) confirmed with the floor 2 on flash, but the hardware
/// counter left at 1: the firmware's raise after the confirm was cut.
fn raised_to_one_with_floor_two() -> RefCell<Flash> {
    let cell = device(&image(0, 1, 1));
    // The fresh state's floor is A's counter, 1: caught up at once.
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    assert_eq!(hardware(&cell), 1);
    let plain = |running| {
        Updater::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout(),
            DigestCheck,
        )
        .unwrap()
        .running(running)
    };
    plain(Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    assert_eq!(hardware(&cell), 1, "never raised at a trial boot");
    // Confirmed without the counter: the raise after it never came.
    plain(Slot::B).confirm().unwrap();
    assert_eq!(hardware(&cell), 1);
    cell
}

// ---------------------------------------------------------------------------
// Checks expected to hold.

mod holds {
    use super::signed::{boot as sboot, check};
    use super::*;
    use abboot::image::ImageCheck;
    use abboot::state::UpdateState;

    fn real_info(cell: &RefCell<Flash>, slot: Slot) -> Option<abboot::image::ImageInfo> {
        let mut f = Shared::new(cell);
        check().check(&mut f, slot, layout().region(slot)).ok()
    }

    /// A state naming B confirmed/trial/pending with the digest of what B
    /// holds; B holds a forged, tampered, foreign-hardware or wrong-address
    /// image. Never boots.
    #[test]
    fn crafted_record_never_boots_an_unverified_image() {
        let mut forged = TestImage::new(Version::new(9, 0, 0, 0), 3000, 7);
        forged.key_seed = [0x66; 32];
        let mut hw = TestImage::new(Version::new(9, 0, 0, 0), 3000, 7);
        hw.header.hardware_id = 42;
        let mut la = TestImage::new(Version::new(9, 0, 0, 0), 3000, 7);
        la.header.load_address = 0x1000;
        let mut tampered = image(9, 9, 7);
        let n = tampered.len();
        tampered[n - 5] ^= 1;
        for (name, bytes) in [
            ("forged", forged.build()),
            ("hw", hw.build()),
            ("load", la.build()),
            ("tampered", tampered),
        ] {
            for state in [
                ImageState::Confirmed,
                ImageState::Trial { tries: 5 },
                ImageState::Pending { tries: 5 },
            ] {
                let cell = device(&image(0, 1, 1));
                assert_eq!(sboot(&cell).slot, Some(Slot::A));
                cell.borrow_mut()
                    .set_contents((8192 + SLOT) as usize, &bytes);
                let hdr = abboot::image::signed::read_header(
                    &mut Shared::new(&cell),
                    layout().region(Slot::B),
                )
                .unwrap();
                let mut st = read_state(&cell);
                st.slot_mut(Slot::B).state = state;
                st.slot_mut(Slot::B).digest = hdr.payload_digest;
                st.slot_mut(Slot::B).security_counter = 9;
                if state == ImageState::Confirmed {
                    st.primary = Some(Slot::B);
                }
                write_state(&cell, &st);
                let d = sboot(&cell);
                assert_ne!(d.slot, Some(Slot::B), "{name} {state:?}: {d:?}");
                assert_eq!(d.slot, Some(Slot::A), "{name} {state:?}");
            }
        }
    }

    /// A crafted Pending/Trial record for an image below the hardware
    /// floor is rejected (the candidate path checks the real counter).
    #[test]
    fn crafted_candidate_below_the_floor_never_boots() {
        let cell = updated(); // B confirmed (2), A holds counter 1, hw 2
        for state in [
            ImageState::Trial { tries: 5 },
            ImageState::Pending { tries: 5 },
        ] {
            let mut st = read_state(&cell);
            st.slot_mut(Slot::A).state = state;
            st.slot_mut(Slot::A).security_counter = 99;
            st.min_security_counter = 0;
            write_state(&cell, &st);
            let d = boot(&cell);
            assert_eq!(d.slot, Some(Slot::B), "{state:?}");
        }
    }

    /// The adopt path (state names nothing bootable) and the fresh path
    /// (blank / garbage metadata) keep the hardware floor.
    #[test]
    fn adopt_and_fresh_keep_the_hardware_floor() {
        let cell = updated();
        let mut st = read_state(&cell);
        st.primary = None;
        st.rollback = None;
        st.min_security_counter = 0;
        st.rejected_digest = None;
        for s in Slot::ALL {
            st.slot_mut(s).state = ImageState::Empty;
        }
        // Make B unbootable so only A could be adopted.
        cell.borrow_mut().flip_bit((8192 + SLOT + 400) as usize, 1);
        write_state(&cell, &st);
        assert_ne!(boot(&cell).slot, Some(Slot::A));
        // Garbage metadata.
        cell.borrow_mut().set_contents(0, &[0x5A; 8192]);
        assert_ne!(boot(&cell).slot, Some(Slot::A));
        cell.borrow_mut().set_contents(0, &[0xFF; 8192]);
        assert_ne!(boot(&cell).slot, Some(Slot::A));
    }

    /// The API never stages below the floor, into the running slot (with
    /// `running`), or during a trial; abort/mark_bad/confirm in every
    /// order never erase the confirmed image.
    #[test]
    fn api_call_orders_keep_the_confirmed_image() {
        let cell = device(&image(0, 1, 1));
        boot(&cell);
        let mut u = updater(&cell, Slot::A);
        assert!(u.confirm().is_err());
        assert!(u.mark_bad(1).is_err());
        assert!(u.abort().is_err());
        assert!(u.stage_write(0, &[0; 4]).is_err());
        assert!(u.stage_finish(3).is_err());
        u.stage(&image(1, 2, 2), &StageOptions::default()).unwrap();
        // Trial on B.
        assert!(boot(&cell).is_trial());
        let mut u = updater(&cell, Slot::A);
        assert!(u.stage(&image(2, 3, 3), &StageOptions::default()).is_err());
        assert!(u.abort().is_err());
        // Running B, told so: staging targets A only after B is confirmed.
        let mut ub = Updater::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout(),
            DigestCheck,
        )
        .unwrap()
        .running(Slot::B);
        assert!(ub.stage_begin(&StageOptions::default()).is_err());
        assert!(
            real_info(&cell, Slot::A).is_some(),
            "A still holds its image"
        );
        // Firmware told it runs from A while B is on trial: staging refused.
        let mut ua = updater(&cell, Slot::A);
        assert!(ua.stage_begin(&StageOptions::default()).is_err());
        assert_eq!(read_state(&cell).update, UpdateState::Trial);
    }

    /// Hostile metadata (random but decodable states) and hostile slot
    /// bytes never panic `select`; whatever boots verified in this boot
    /// (Decision::image) under the default policy, at or above the hardware
    /// counter; and the counter never rises above the image that boots.
    #[test]
    fn random_states_never_panic_and_keep_the_floor() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let imgs = [image(0, 1, 1), image(1, 2, 2), image(2, 3, 3)];
        for _ in 0..400 {
            let cell = device(&imgs[0]);
            cell.borrow_mut()
                .set_contents((8192 + SLOT) as usize, &imgs[(rnd() % 3) as usize]);
            if rnd() % 4 == 0 {
                let at = 8192 + (rnd() % (2 * SLOT as u64)) as usize;
                cell.borrow_mut().flip_bit(at, (rnd() % 8) as u8);
            }
            for i in 0..(rnd() % 9) as usize {
                Words(&cell).program(i).unwrap();
            }
            let digests: Vec<[u8; 32]> = [8192usize, (8192 + SLOT) as usize]
                .iter()
                .map(|&o| {
                    abboot::image::signed::read_header(
                        &mut Shared::new(&cell),
                        Region::new(o as u32, SLOT),
                    )
                    .map(|h| h.payload_digest)
                    .unwrap_or([0; 32])
                })
                .collect();
            let mut st = BootState::default();
            let pick = |r: u64| match r % 3 {
                0 => None,
                1 => Some(Slot::A),
                _ => Some(Slot::B),
            };
            st.primary = pick(rnd());
            st.rollback = pick(rnd());
            st.min_security_counter = (rnd() % 6) as u32;
            if rnd() % 2 == 0 {
                st.rejected_digest = Some(digests[(rnd() % 2) as usize]);
            }
            for s in Slot::ALL {
                let t = (rnd() % 4) as u8;
                let e = st.slot_mut(s);
                e.state = match rnd() % 5 {
                    0 => ImageState::Empty,
                    1 => ImageState::Pending { tries: t },
                    2 => ImageState::Trial { tries: t },
                    3 => ImageState::Confirmed,
                    _ => ImageState::Rejected,
                };
                e.digest = if rnd() % 4 == 0 {
                    [rnd() as u8; 32]
                } else {
                    digests[s.index()]
                };
                e.security_counter = (rnd() % 6) as u32;
            }
            write_state(&cell, &st);
            for _ in 0..3 {
                let floor = hardware(&cell);
                let d = boot(&cell);
                if d.slot.is_some() {
                    let image = d.image.expect("booted without a check");
                    assert!(
                        image.security_counter >= floor,
                        "booted counter {} below the hardware's {floor}: {d:?} from {st:?}",
                        image.security_counter
                    );
                }
                assert!(
                    hardware(&cell) <= d.image.map_or(floor, |i| i.security_counter.max(floor)),
                    "the counter rose above the image that boots: {d:?} from {st:?}"
                );
            }
        }
    }
}
