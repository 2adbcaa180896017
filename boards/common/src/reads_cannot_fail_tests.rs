//! A board that declares its reads cannot fail
//! ([`XipBoard::READS_CANNOT_FAIL`], as the nRF52840 does): its bootloader
//! reads through [`abboot::flash::ReadsCannotFail`], decides as the test
//! board's does and writes the same bytes while reads do not fail, and a
//! read that fails anyway (a misdeclared part) never boots an image that
//! fails its check.

extern crate std;
use std::cell::RefCell;
use std::vec::Vec;

use crate::boot::{select, select_with, Entry};
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
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

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

/// One of two handles to the one device, as the nRF52840's bootloader
/// has two of its NVMC (`boot::select_with`): no [`abboot::flash::Shared`]
/// between them. Each call borrows the device for itself, so a call made
/// from inside a call of the other handle, which two NVMC handles would
/// not survive, panics the test.
struct Handle<'a>(&'a RefCell<Flash>);

impl ErrorType for Handle<'_> {
    type Error = <Flash as ErrorType>::Error;
}

impl ReadNorFlash for Handle<'_> {
    const READ_SIZE: usize = Flash::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.0.borrow_mut().read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.borrow().capacity()
    }
}

impl NorFlash for Handle<'_> {
    const WRITE_SIZE: usize = Flash::WRITE_SIZE;
    const ERASE_SIZE: usize = Flash::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.borrow_mut().erase(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.borrow_mut().write(offset, bytes)
    }
}

/// `select::<B>` on `flash`, through one shared device or, `split`,
/// through `select_with` and two [`Handle`]s.
fn boot<B: XipBoard>(flash: &mut Flash, split: bool) -> Option<Entry> {
    if !split {
        return select::<B>(flash, NoCounter);
    }
    let cell = RefCell::new(core::mem::replace(flash, Flash::new(0)));
    let entry = select_with::<B>(Handle(&cell), Handle(&cell), NoCounter);
    *flash = cell.into_inner();
    entry
}

/// Four resets in a row on each scenario through two handles, as the
/// nRF52840's bootloader boots, on the test board and on the declared
/// one: the same hand-off at each as through one shared device, and the
/// same bytes on the whole flash after it.
#[test]
fn two_handles_boot_and_write_as_one_shared_device() {
    for (name, flash) in scenarios() {
        let (mut shared, mut plain, mut declared) = (flash.clone(), flash.clone(), flash);
        for reset in 0..4 {
            let s = boot::<Board>(&mut shared, false).map(|e| *e.handoff());
            let p = boot::<Board>(&mut plain, true).map(|e| *e.handoff());
            let d = boot::<Declared>(&mut declared, true).map(|e| *e.handoff());
            assert_eq!((&p, &d), (&s, &s), "{name}, reset {reset}: hand-off");
            assert!(
                plain.contents() == shared.contents() && declared.contents() == shared.contents(),
                "{name}, reset {reset}: the flash differs"
            );
        }
    }
}

/// Runs `select::<B>` (`split`: through two handles) on a copy of
/// `flash` with read number `i` failing once, for every read of a clean
/// run; returns what each booted and the state it left.
fn faulted_runs<B: XipBoard>(
    flash: &Flash,
    split: bool,
) -> Vec<(u64, Option<Slot>, Option<BootState>)> {
    let mut dry = flash.clone();
    let start = dry.reads_done();
    let _ = boot::<B>(&mut dry, split);
    let n = dry.reads_done() - start;
    (0..n)
        .map(|i| {
            let mut f = flash.clone();
            f.fail_read_at(start + i);
            let slot = boot::<B>(&mut f, split).map(|e| e.handoff().slot);
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
    for split in [false, true] {
        let runs = faulted_runs::<Declared>(&flash, split);
        assert!(runs.len() > 10, "{} reads", runs.len());
        for (i, slot, after) in runs {
            assert_ne!(slot, Some(Slot::B), "read {i} failing once booted rotten B");
            assert!(after.is_some(), "read {i} failing once: no valid record");
        }
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
    // Through two handles as through one: `select_with` reads through
    // `ReadsCannotFail` where the board declares it, and only there.
    for split in [false, true] {
        assert_eq!(forgot(faulted_runs::<Board>(&flash, split)), 0);
        assert!(forgot(faulted_runs::<Declared>(&flash, split)) > 0);
    }
}
