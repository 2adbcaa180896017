//! The firmware's API misused: every call in any order, repeated, after an
//! error, interleaved with resets. Written by an adversarial review; the
//! tests of the blank-metadata staging, `stage_finish(0)`, `mark_bad(200)`
//! and a repeated `data_migrated` failed before their fixes.

use std::cell::RefCell;

use abboot::flash::{Region, Shared};
use abboot::image::digest::DigestCheck;
use abboot::journal::{Geometry, Journal};
use abboot::machine::Refusal;
use abboot::sim::device::TestImage;
use abboot::sim::SimFlash;
use abboot::state::{BootKind, BootState, ImageState, Slot, UpdateState};
use abboot::{Bootloader, Decision, Error, Layout, Policy, StageOptions, Updater, Version};

type Flash = SimFlash<1, 4, 4096>;
const SLOT: u32 = 16384;

fn layout() -> Layout {
    Layout::new(
        Geometry::contiguous(0, 4096),
        [Region::new(8192, SLOT), Region::new(8192 + SLOT, SLOT)],
    )
}

fn image(minor: u8, fill: u8) -> Vec<u8> {
    TestImage::new(Version::new(1, minor, 0, 0), 3000, fill).build()
}

fn device() -> RefCell<Flash> {
    RefCell::new(Flash::new((8192 + 2 * SLOT) as usize))
}

fn put(cell: &RefCell<Flash>, slot: Slot, img: &[u8]) {
    cell.borrow_mut()
        .set_contents(layout().region(slot).offset as usize, img);
}

fn boot(cell: &RefCell<Flash>) -> Decision {
    Bootloader::new(
        Shared::new(cell),
        Shared::new(cell),
        layout(),
        DigestCheck,
        Policy::default(),
    )
    .unwrap()
    .select()
}

fn updater(cell: &RefCell<Flash>) -> Updater<Shared<'_, Flash>, Shared<'_, Flash>, DigestCheck> {
    Updater::new(Shared::new(cell), Shared::new(cell), layout(), DigestCheck).unwrap()
}

fn state(cell: &RefCell<Flash>) -> Option<BootState> {
    Journal::new(Shared::new(cell), layout().metadata)
        .unwrap()
        .read()
        .record
        .map(|r| r.state)
}

fn meta_protect(cell: &RefCell<Flash>) {
    cell.borrow_mut().protect(0..8192);
}

/// Factory image in B only; the bootloader's first record could not be
/// written (metadata write-protected for that boot): the firmware runs
/// from B with no state on flash, and knows it from the hand-off.
fn running_b_blank() -> RefCell<Flash> {
    let cell = device();
    put(&cell, Slot::B, &image(0, 1));
    meta_protect(&cell);
    let d = boot(&cell);
    assert_eq!(d.slot, Some(Slot::B));
    assert!(d.fault.is_some(), "{d:?}");
    cell.borrow_mut().unprotect_all();
    assert!(state(&cell).is_none());
    cell
}

/// Writes `img` into the slot stage_begin chose, chunk by chunk.
fn write_all(u: &mut Updater<Shared<'_, Flash>, Shared<'_, Flash>, DigestCheck>, img: &[u8]) {
    for (i, c) in img.chunks(256).enumerate() {
        let mut buf = [0xFFu8; 256];
        buf[..c.len()].copy_from_slice(c);
        let n = c.len().div_ceil(4) * 4;
        u.stage_write((i * 256) as u32, &buf[..n]).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Blank metadata + running from B + staging into A.

/// A download into A completes but the firmware resets before
/// `stage_finish` (power cut during the final check). The new image was
/// never recorded pending and never got a trial; it must not boot as the
/// confirmed primary.
#[test]
fn an_unfinished_stage_is_never_booted_as_confirmed() {
    let cell = running_b_blank();
    let new = image(1, 2);
    let mut u = updater(&cell).running(Slot::B);
    assert_eq!(u.stage_begin(&StageOptions::default()), Ok(Slot::A));
    write_all(&mut u, &new);
    // A reset before stage_finish: the updater is gone.
    let _ = u;
    let d = boot(&cell);
    assert!(
        d.slot != Some(Slot::A) || d.is_trial(),
        "the unfinished, never-trialled image in A boots as confirmed: {d:?}\nstate: {:?}",
        state(&cell)
    );
}

/// The same, and what it leads to: the old, running image B is no longer
/// known, and the next update (from A, now "confirmed") erases B.
#[test]
fn an_unfinished_stage_costs_the_way_back() {
    let cell = running_b_blank();
    let new = image(1, 2);
    let mut u = updater(&cell).running(Slot::B);
    u.stage_begin(&StageOptions::default()).unwrap();
    write_all(&mut u, &new);
    let _ = u; // a reset
    let d = boot(&cell);
    if d.slot == Some(Slot::A) {
        // The untested A now runs confirmed; staging erases B, the last
        // image that ever ran.
        let mut u = updater(&cell).running(Slot::A);
        let r = u.stage_begin(&StageOptions::default());
        assert!(
            r.is_err(),
            "B (the only image that ever ran) is erased while A was never confirmed: {r:?}"
        );
    }
}

/// The firmware aborts an update it staged (pending, never booted):
/// the aborted image must not boot.
#[test]
fn an_aborted_update_never_boots() {
    let cell = running_b_blank();
    let mut u = updater(&cell).running(Slot::B);
    u.stage(&image(1, 2), &StageOptions::default()).unwrap();
    u.abort().unwrap();
    let st = updater(&cell).status();
    assert_eq!(st.update, UpdateState::Failed);
    let d = boot(&cell);
    assert_eq!(
        d.slot,
        Some(Slot::B),
        "the aborted image in A boots: {d:?}; state {:?}",
        state(&cell)
    );
}

// ---------------------------------------------------------------------------
// Bounded trial.

/// `stage_finish(0)` is refused (InvalidTries); the documented "a refusal
/// changes nothing" should leave the staging open so the caller can fix
/// its argument.
#[test]
fn stage_finish_zero_is_a_refusal_that_changes_nothing() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    let mut u = updater(&cell).running(Slot::A);
    u.stage_begin(&StageOptions::default()).unwrap();
    write_all(&mut u, &image(1, 2));
    assert_eq!(
        u.stage_finish(0).map(|_| ()),
        Err(Error::Refused(Refusal::InvalidTries))
    );
    let r = u.stage_finish(3).map(|_| ());
    assert_eq!(r, Ok(()), "a refused stage_finish(0) dropped the staging");
}

/// `mark_bad` documents codes 0..=127; 200 is silently turned into 72.
#[test]
fn mark_bad_refuses_a_code_outside_its_range() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    updater(&cell)
        .running(Slot::A)
        .stage(&image(1, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    // 200 was recorded as App(72): the backend saw another reason.
    let ops = cell.borrow().mutating_ops();
    assert_eq!(
        updater(&cell).running(Slot::B).mark_bad(200),
        Err(Error::Refused(Refusal::InvalidReason))
    );
    assert_eq!(cell.borrow().mutating_ops(), ops);
    updater(&cell).running(Slot::B).mark_bad(127).unwrap();
    assert_eq!(
        updater(&cell).status().last_reason,
        abboot::state::Reason::App(127)
    );
}

#[test]
fn confirm_twice_across_a_reset() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    updater(&cell)
        .running(Slot::A)
        .stage(&image(1, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    updater(&cell).running(Slot::B).confirm().unwrap();
    let d = boot(&cell);
    assert_eq!((d.slot, d.kind), (Some(Slot::B), BootKind::Normal));
    assert_eq!(
        updater(&cell).running(Slot::B).confirm(),
        Err(Error::Refused(Refusal::AlreadyConfirmed))
    );
    let st = state(&cell).unwrap();
    assert_eq!(st.slot(Slot::A).state, ImageState::Confirmed);
    assert_eq!(st.rollback, Some(Slot::A));
}

/// The consequence of the adoption: the never-trialled image is booted as
/// confirmed at every reset, whatever it does. A firmware that crashes
/// before its health check (watchdog reset) is never rolled back to B.
#[test]
fn an_unfinished_stage_that_crashes_is_rolled_back() {
    let cell = running_b_blank();
    let mut u = updater(&cell).running(Slot::B);
    u.stage_begin(&StageOptions::default()).unwrap();
    write_all(&mut u, &image(1, 2)); // verifies, but crashes at start
    let _ = u; // a reset before stage_finish
    let mut boots_of_a = 0;
    for _ in 0..10 {
        let d = boot(&cell); // A crashes every time: no confirm, no mark_bad
        if d.slot == Some(Slot::A) {
            boots_of_a += 1;
        }
    }
    assert!(
        boots_of_a <= 3,
        "a never-confirmed image booted {boots_of_a} times in a row without a trial; B never again"
    );
}

#[test]
fn wrong_running_slot_is_refused() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    let ops = cell.borrow().mutating_ops();
    let mut u = updater(&cell).running(Slot::B);
    assert_eq!(
        u.stage(&image(1, 2), &StageOptions::default()).map(|_| ()),
        Err(Error::Refused(Refusal::TargetRunning))
    );
    assert_eq!(cell.borrow().mutating_ops(), ops);
    assert_eq!(boot(&cell).slot, Some(Slot::A));
}

#[test]
fn write_after_finish_and_double_begin() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    let mut u = updater(&cell).running(Slot::A);
    u.stage_begin(&StageOptions::default()).unwrap();
    write_all(&mut u, &image(2, 9));
    // second begin without finishing: erases again
    u.stage_begin(&StageOptions::default()).unwrap();
    write_all(&mut u, &image(1, 2));
    u.stage_finish(2).unwrap();
    assert_eq!(
        u.stage_write(0, &[0; 4]),
        Err(Error::Refused(Refusal::NotStaging))
    );
    let d = boot(&cell);
    assert!(d.is_trial() && d.version == Version::new(1, 1, 0, 0));
}

#[test]
fn interrupted_stage_restarted_after_reset() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    let img = image(1, 2);
    let mut u = updater(&cell).running(Slot::A);
    u.stage_begin(&StageOptions::default()).unwrap();
    u.stage_write(0, &img[..1024]).unwrap();
    let _ = u; // a reset
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    let mut u = updater(&cell).running(Slot::A);
    assert_eq!(
        u.stage_finish(3).map(|_| ()),
        Err(Error::Refused(Refusal::NotStaging))
    );
    u.stage(&img, &StageOptions::default()).unwrap();
    assert!(boot(&cell).is_trial());
}

#[test]
fn image_exactly_as_long_as_the_slot() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    let img = TestImage::new(Version::new(1, 1, 0, 0), SLOT as usize - 256, 3).build();
    assert_eq!(img.len(), SLOT as usize);
    updater(&cell)
        .running(Slot::A)
        .stage(&img, &StageOptions::default())
        .unwrap();
    let d = boot(&cell);
    assert!(d.is_trial(), "{d:?}");
    let img = TestImage::new(Version::new(1, 2, 0, 0), SLOT as usize - 255, 3).build();
    assert!(updater(&cell)
        .running(Slot::B)
        .stage(&img, &StageOptions::default())
        .is_err());
}

/// data_migrated to the epoch already recorded: nothing happens, so nothing
/// should be written (issue: every call appends a record).
#[test]
fn data_migrated_unchanged_writes_nothing() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    boot(&cell);
    updater(&cell).data_migrated(0).unwrap();
    let ops = cell.borrow().mutating_ops();
    for _ in 0..5 {
        updater(&cell).data_migrated(0).unwrap();
    }
    assert_eq!(
        cell.borrow().mutating_ops(),
        ops,
        "records appended for no change"
    );
}

/// Two failed updates offered in turn do not loop: after X and then Y are
/// rolled back, X is still refused unless forced (only the last rejected
/// digest was remembered; found by an adversarial review). A third
/// rejection forgets the first.
#[test]
fn the_image_rejected_before_the_last_is_refused_too() {
    let cell = device();
    put(&cell, Slot::A, &image(0, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    let (x, y, z) = (image(1, 2), image(2, 3), image(3, 4));
    for img in [&x, &y] {
        updater(&cell)
            .running(Slot::A)
            .stage(img, &StageOptions::default())
            .unwrap();
        assert!(boot(&cell).is_trial());
        updater(&cell).running(Slot::B).mark_bad(9).unwrap();
        assert_eq!(boot(&cell).slot, Some(Slot::A));
    }
    for img in [&x, &y] {
        assert_eq!(
            updater(&cell)
                .running(Slot::A)
                .stage(img, &StageOptions::default())
                .map(|_| ()),
            Err(Error::Refused(Refusal::KnownBad))
        );
    }
    // Forced, it stages.
    let forced = StageOptions {
        force: true,
        ..StageOptions::default()
    };
    updater(&cell).running(Slot::A).stage(&x, &forced).unwrap();
    updater(&cell).running(Slot::A).abort().unwrap();
    // A third rejection (Z) keeps Z and Y, and forgets X.
    updater(&cell)
        .running(Slot::A)
        .stage(&z, &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    updater(&cell).running(Slot::B).mark_bad(9).unwrap();
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    let st = state(&cell).unwrap();
    assert!(st.was_rejected(&st.slot(Slot::B).digest));
    assert!(updater(&cell)
        .running(Slot::A)
        .stage(&x, &StageOptions::default())
        .is_ok());
}
