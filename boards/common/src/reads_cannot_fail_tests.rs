//! A board that declares its reads cannot fail
//! ([`XipBoard::READS_CANNOT_FAIL`], as the nRF52840 does): its bootloader
//! reads through [`abboot::flash::ReadsCannotFail`], decides as the test
//! board's does and writes the same bytes while reads do not fail, and a
//! read that fails anyway (a misdeclared part) never boots an image that
//! fails its check.

extern crate std;
use std::cell::RefCell;
use std::vec::Vec;

use crate::boot::select;
use crate::firmware::{fence, updater};
use crate::test_board::{bootable, Board, TEST_KEY};
use crate::XipBoard;
use abboot::counter::NoCounter;
use abboot::handoff::Handoff;
use abboot::image::signed::TrustedKey;
use abboot::journal::Journal;
use abboot::sim::SimFlash;
use abboot::state::BootState;
use abboot::{Slot, StageOptions};

type Flash = SimFlash<4, 4, 4096>;

/// The test board, declaring that its reads cannot fail.
struct Declared;

impl XipBoard for Declared {
    const FLASH_BASE: u32 = Board::FLASH_BASE;
    const FLASH_SIZE: u32 = Board::FLASH_SIZE;
    const PAGE: u32 = Board::PAGE;
    const BOOT_LEN: u32 = Board::BOOT_LEN;
    const META_OFFSET: u32 = Board::META_OFFSET;
    const SLOT_OFFSET: [u32; 2] = Board::SLOT_OFFSET;
    const SLOT_LEN: u32 = Board::SLOT_LEN;
    const HEADER_LEN: u32 = Board::HEADER_LEN;
    const HARDWARE_ID: u32 = Board::HARDWARE_ID;
    const TRUSTED_KEYS: &'static [TrustedKey] = &[TEST_KEY];
    const RAM_START: u32 = Board::RAM_START;
    const RAM_END: u32 = Board::RAM_END;
    const NVIC_WORDS: usize = Board::NVIC_WORDS;
    const READS_CANNOT_FAIL: bool = true;
}

fn state(flash: &mut Flash) -> Option<BootState> {
    let record = Journal::new(&mut *flash, Board::LAYOUT.metadata)
        .ok()?
        .read()
        .record?;
    Some(record.state)
}

fn with_images(a: bool, b: bool) -> Flash {
    let mut flash = Flash::new(Board::FLASH_SIZE as usize);
    if a {
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, &bootable(Slot::A, 0, 0));
    }
    if b {
        flash.set_contents(Board::SLOT_OFFSET[1] as usize, &bootable(Slot::B, 0, 0));
    }
    flash
}

/// A booted once and confirmed by blank metadata, then B staged.
fn with_b_staged() -> Flash {
    let mut flash = with_images(true, false);
    assert!(select::<Board>(&mut flash, NoCounter).is_some());
    {
        let cell = RefCell::new(fence::<Board, _>(&mut flash));
        let mut u = updater::<Board, _, _>(&cell, Some(Slot::A), NoCounter).unwrap();
        u.stage(&bootable(Slot::B, 1, 0), &StageOptions::default())
            .unwrap();
    }
    flash
}

/// B staged, then a bit of its payload flipped: an update that rotted.
fn with_b_rotten() -> Flash {
    let mut flash = with_b_staged();
    let payload = Board::SLOT_OFFSET[1] + Board::HEADER_LEN + 100;
    flash.flip_bit(payload as usize, 3);
    flash
}

/// A and B confirmed, then a bit of A's payload flipped: the primary
/// rotted, B takes over.
fn with_a_rotten() -> Flash {
    let mut flash = with_images(true, true);
    assert!(select::<Board>(&mut flash, NoCounter).is_some());
    let payload = Board::SLOT_OFFSET[0] + Board::HEADER_LEN + 100;
    flash.flip_bit(payload as usize, 3);
    flash
}

fn scenarios() -> Vec<(&'static str, Flash)> {
    std::vec![
        ("blank", with_images(false, false)),
        ("A alone, blank metadata", with_images(true, false)),
        ("A and B, blank metadata", with_images(true, true)),
        ("B staged", with_b_staged()),
        ("B staged and rotten", with_b_rotten()),
        ("A confirmed and rotten", with_a_rotten()),
    ]
}

/// Four resets in a row on each scenario, once per board: the same
/// hand-off at each, and the same bytes on the whole flash after it (the
/// trial of a staged B counted down to its rollback included).
#[test]
fn a_declared_board_boots_and_writes_as_the_test_board_does() {
    for (name, flash) in scenarios() {
        let (mut plain, mut declared) = (flash.clone(), flash);
        for reset in 0..4 {
            let p: Option<Handoff> = select::<Board>(&mut plain, NoCounter).map(|e| *e.handoff());
            let d = select::<Declared>(&mut declared, NoCounter).map(|e| *e.handoff());
            assert_eq!(p, d, "{name}, reset {reset}: hand-off");
            assert!(
                plain.contents() == declared.contents(),
                "{name}, reset {reset}: the flash differs"
            );
        }
    }
}

/// Runs `select::<B>` on a copy of `flash` with read number `i` failing
/// once, for every read of a clean run; returns what each booted and the
/// state it left.
fn faulted_runs<B: XipBoard>(flash: &Flash) -> Vec<(u64, Option<Slot>, Option<BootState>)> {
    let mut dry = flash.clone();
    let start = dry.reads_done();
    let _ = select::<B>(&mut dry, NoCounter);
    let n = dry.reads_done() - start;
    (0..n)
        .map(|i| {
            let mut f = flash.clone();
            f.fail_read_at(start + i);
            let slot = select::<B>(&mut f, NoCounter).map(|e| e.handoff().slot);
            f.clear_read_faults();
            (i, slot, state(&mut f))
        })
        .collect()
}

/// What a misdeclared part keeps: with any one read failing, the rotten
/// update B never boots, and the journal still holds a valid record.
#[test]
fn a_failed_read_on_a_declared_board_never_boots_a_rotten_image() {
    let flash = with_b_rotten();
    let runs = faulted_runs::<Declared>(&flash);
    assert!(runs.len() > 10, "{} reads", runs.len());
    for (i, slot, after) in runs {
        assert_ne!(slot, Some(Slot::B), "read {i} failing once booted rotten B");
        assert!(after.is_some(), "read {i} failing once: no valid record");
    }
}

/// What the declaration gives up, and the proof that it takes effect: the
/// test board's bootloader never forgets a confirmed primary for one read
/// glitch (`read_glitch_tests`), the declared board's does, for a glitch
/// in the primary's image read as damage.
#[test]
fn a_declared_board_takes_a_failed_read_for_damage() {
    let mut flash = with_images(true, true);
    assert!(select::<Board>(&mut flash, NoCounter).is_some());
    let forgot = |runs: Vec<(u64, Option<Slot>, Option<BootState>)>| {
        runs.iter()
            .filter(|(_, _, s)| s.as_ref().map(|s| s.primary) != Some(Some(Slot::A)))
            .count()
    };
    assert_eq!(forgot(faulted_runs::<Board>(&flash)), 0);
    assert!(forgot(faulted_runs::<Declared>(&flash)) > 0);
}
