//! A single transient read fault in the boards' `select`, at every read it
//! makes, is never recorded as a verdict on an image: no rejection of an
//! update, no fallback that forgets the primary. (The vector table check,
//! once inside the board's image check, turned a failed read into
//! `BadEntry`; found by a review of the change, both tests failed.)

extern crate std;
use std::cell::RefCell;
use std::vec::Vec;

use crate::boot::select;
use crate::firmware::{fence, updater};
use crate::test_board::{bootable, Board};
use crate::XipBoard;
use abboot::counter::NoCounter;
use abboot::journal::Journal;
use abboot::sim::SimFlash;
use abboot::state::{BootState, ImageState};
use abboot::{Slot, StageOptions};

type Flash = SimFlash<4, 4, 4096>;

fn state(flash: &mut Flash) -> BootState {
    Journal::new(&mut *flash, Board::LAYOUT.metadata)
        .unwrap()
        .read()
        .record
        .unwrap()
        .state
}

/// Runs a clean `select` on a copy of `flash` to count its reads, then for
/// every read index of it, a `select` with that one read failing once;
/// returns the states written by each faulted run.
fn faulted_runs(flash: &Flash) -> Vec<(u64, Option<Slot>, BootState)> {
    let mut dry = flash.clone();
    let start = dry.reads_done();
    let _ = select::<Board>(&mut dry, NoCounter);
    let n = dry.reads_done() - start;
    let mut out = Vec::new();
    for i in 0..n {
        let mut f = flash.clone();
        f.fail_read_at(start + i);
        let slot = select::<Board>(&mut f, NoCounter).map(|e| e.handoff().slot);
        f.clear_read_faults();
        out.push((i, slot, state(&mut f)));
    }
    out
}

/// A and B both confirmed (the same version from blank metadata: A
/// primary, B the way back). One read glitch must not make the bootloader
/// forget A and fall back to B.
#[test]
fn one_read_glitch_never_forgets_the_primary() {
    let mut flash = Flash::new(Board::FLASH_SIZE as usize);
    flash.set_contents(Board::SLOT_OFFSET[0] as usize, &bootable(Slot::A, 0, 0));
    flash.set_contents(Board::SLOT_OFFSET[1] as usize, &bootable(Slot::B, 0, 0));
    let e = select::<Board>(&mut flash, NoCounter).expect("boots");
    assert_eq!(e.handoff().slot, Slot::A);
    let before = state(&mut flash);
    assert_eq!(before.primary, Some(Slot::A));
    for (i, slot, after) in faulted_runs(&flash) {
        assert_eq!(
            after.primary,
            Some(Slot::A),
            "read {i} failing once: booted {slot:?}, the state forgot primary A: {after:?}"
        );
    }
}

/// A confirmed, B staged (pending). One read glitch must not reject B.
#[test]
fn one_read_glitch_never_rejects_a_staged_update() {
    let mut flash = Flash::new(Board::FLASH_SIZE as usize);
    flash.set_contents(Board::SLOT_OFFSET[0] as usize, &bootable(Slot::A, 0, 0));
    assert_eq!(
        select::<Board>(&mut flash, NoCounter).map(|e| e.handoff().slot),
        Some(Slot::A)
    );
    {
        let cell = RefCell::new(fence::<Board, _>(&mut flash));
        let mut u = updater::<Board, _, _>(&cell, Some(Slot::A), NoCounter).unwrap();
        u.stage(&bootable(Slot::B, 1, 0), &StageOptions::default())
            .unwrap();
    }
    assert!(matches!(
        state(&mut flash).slot(Slot::B).state,
        ImageState::Pending { .. }
    ));
    for (i, slot, after) in faulted_runs(&flash) {
        assert_ne!(
            after.slot(Slot::B).state,
            ImageState::Rejected,
            "read {i} failing once: booted {slot:?}, B rejected (check error {}): {after:?}",
            after.check_error
        );
    }
}
