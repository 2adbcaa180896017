//! The journal and the bootloader under the faults of real parts: read
//! errors, ECC words left by torn writes, parts that erase to 0x00, and
//! parts that cannot be written at all.

use abboot::error::LayoutError;
use abboot::flash::Region;
use abboot::image::digest::DigestCheck;
use abboot::journal::{Content, Error as JournalError, Geometry, Journal};
use abboot::record::DecodeError;
use abboot::sim::device::test_image;
use abboot::sim::{CutMode, Device, ReadFault, SimError, SimFlash};
use abboot::state::{BootKind, BootState, ImageState, Slot};
use abboot::{Bootloader, Error, Layout, Policy, StageOptions, Version};
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

type Flash = SimFlash<1, 4, 4096>;

fn state(i: u32) -> BootState {
    BootState {
        primary: Some(if i % 2 == 0 { Slot::A } else { Slot::B }),
        failure_count: i as u16,
        ..BootState::default()
    }
}

fn journal<F: NorFlash>(flash: F) -> Journal<F> {
    Journal::new(flash, Geometry::contiguous(0, 4096)).expect("geometry")
}

/// Sector 0 full with states 0..=15, the newest state 16 alone at the start
/// of sector 1.
fn newest_in_second_sector() -> Flash {
    let mut j = journal(Flash::new(8192));
    for i in 0..=16 {
        j.append(&state(i)).unwrap();
    }
    let mut flash = j.into_inner();
    flash.reset_stats();
    flash
}

/// Issue 11, case 1: the sector that holds the newest record cannot be
/// read. The next write would have to erase it (the other sector is full):
/// it is neither erased nor overwritten, and once reads work again the
/// newest state is still there.
#[test]
fn an_unreadable_sector_that_may_hold_the_newest_is_never_erased() {
    let mut flash = newest_in_second_sector();
    flash.fail_reads(4096..8192, ReadFault::Permanent);
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(
        l.record.map(|r| r.state),
        Some(state(15)),
        "stale, and said so"
    );
    assert!(l.uncertain);
    assert!(l.findings.unreadable >= 1);
    for _ in 0..3 {
        assert_eq!(j.append(&state(99)), Err(JournalError::Unreadable));
    }
    let mut flash = j.into_inner();
    assert_eq!((flash.stats().writes, flash.stats().erases), (0, 0));

    flash.clear_read_faults();
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(16)));
    assert!(!l.uncertain);
    // And the journal goes on from there.
    j.append(&state(17)).unwrap();
    assert_eq!(
        journal(j.into_inner()).read().record.map(|r| r.seq),
        Some(17)
    );
}

/// A glitch that clears on a retry is no fault at all.
#[test]
fn a_transient_read_error_is_retried() {
    let mut flash = newest_in_second_sector();
    flash.fail_reads(4096..4096 + 256, ReadFault::Transient(2));
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(16)));
    assert!(!l.uncertain);
    assert_eq!(j.append(&state(17)), Ok(17));
}

/// Appends `next` on a copy of `flash`, and plants the record it wrote at
/// `hidden` in `flash`, unreadable: a newer record the scan cannot read.
/// Then: the journal reads `newest`, is uncertain, refuses to write, and
/// reads `next` once the reads work again.
fn hidden_record_blocks_writes(mut flash: Flash, hidden: usize, newest: u32, next: u32) {
    {
        let mut j = journal(flash.clone());
        j.append(&state(next)).unwrap();
        let written = j.into_inner();
        flash.set_contents(hidden, &written.contents()[hidden..hidden + 256]);
    }
    flash.fail_reads(hidden as u32..hidden as u32 + 256, ReadFault::Permanent);
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(newest)));
    assert!(l.uncertain);
    assert_eq!(j.append(&state(99)), Err(JournalError::Unreadable));
    let mut flash = j.into_inner();
    flash.clear_read_faults();
    assert_eq!(
        journal(flash).read().record.map(|r| r.state),
        Some(state(next))
    );
}

/// An unreadable position after the newest record of its sector may be a
/// newer record (a confirm): no record is written that would hide it.
#[test]
fn an_unreadable_position_after_the_newest_blocks_writes() {
    let mut j = journal(Flash::new(8192));
    for i in 0..5 {
        j.append(&state(i)).unwrap();
    }
    hidden_record_blocks_writes(j.into_inner(), 5 * 256, 4, 5);
}

/// The same in the second sector: the newest record there, its sector
/// not full, an unreadable position above it. (The scan keeps its
/// unreadable sectors as bits; a mutant that looked at sector 0's bit for
/// both sectors passed every other test.)
#[test]
fn an_unreadable_position_after_the_newest_blocks_writes_in_the_second_sector() {
    hidden_record_blocks_writes(newest_in_second_sector(), 4096 + 256, 16, 17);
}

/// Unreadable positions *below* the newest record are older: harmless.
#[test]
fn an_unreadable_older_record_does_not_block() {
    let mut j = journal(Flash::new(8192));
    for i in 0..6 {
        j.append(&state(i)).unwrap();
    }
    let mut flash = j.into_inner();
    flash.fail_reads(256..512, ReadFault::Permanent);
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(5)));
    assert!(!l.uncertain);
    assert_eq!(j.append(&state(6)), Ok(6));
}

/// Issue 11, case 5: on an ECC part (8-byte words, one program each) a
/// torn write left one word programmed further into the next position,
/// where a probe of the first bytes does not look. The position is not
/// free; the journal moves past it instead of failing there forever: to
/// the other sector, as a record behind a position whose probe reads
/// erased would lie past where a boot's search stops.
#[test]
fn a_word_programmed_further_in_is_moved_past_on_ecc_flash() {
    type Ecc = SimFlash<8, 8, 2048>;
    let geometry = Geometry::contiguous(0, 2048);
    let mut j = Journal::new(Ecc::new(4096).write_once(true), geometry).unwrap();
    j.append(&state(0)).unwrap();
    j.append(&state(1)).unwrap();
    let mut flash = j.into_inner();
    // A programmed word at byte 64 of position 2...
    flash.write(2 * 256 + 64, &[0; 8]).unwrap();
    // ...and a torn, ECC-bad word at byte 128 of position 3.
    flash.cut_at(flash.mutating_ops(), CutMode::Torn);
    assert_eq!(
        flash.write(3 * 256 + 128, &[0; 8]),
        Err(SimError::PowerLoss)
    );
    flash.power_on();
    let mut j = Journal::new(flash, geometry).unwrap();
    let l = j.read();
    assert!(
        !l.uncertain,
        "a partly readable position is damage, not a record"
    );
    // Both lie past the used prefix a boot's probes find: not even read.
    assert_eq!(
        (l.findings.valid, l.findings.invalid, l.findings.unreadable),
        (1, 0, 0)
    );
    assert_eq!(j.append(&state(2)), Ok(8));
    let mut j = Journal::new(j.into_inner(), geometry).unwrap();
    assert_eq!(
        j.read().record.map(|r| (r.seq, r.state)),
        Some((8, state(2)))
    );
    // Every later append works too.
    for i in 3..40 {
        j.append(&state(i)).unwrap();
    }
    assert_eq!(j.read().record.map(|r| r.state), Some(state(39)));

    // A torn first word is inside the prefix: read, counted, moved past.
    let mut j = Journal::new(Ecc::new(4096).write_once(true), geometry).unwrap();
    j.append(&state(0)).unwrap();
    let mut flash = j.into_inner();
    flash.cut_at(flash.mutating_ops(), CutMode::Torn);
    assert_eq!(flash.write(256, &[0; 16]), Err(SimError::PowerLoss));
    flash.power_on();
    let mut j = Journal::new(flash, geometry).unwrap();
    let l = j.read();
    assert!(!l.uncertain);
    assert_eq!(
        (l.findings.valid, l.findings.invalid, l.findings.unreadable),
        (1, 0, 1),
        "the record, and the torn word counted as unreadable"
    );
    assert_eq!(j.append(&state(1)), Ok(2));
}

/// An erase cut on an ECC part leaves the other sector unreadable. Because
/// the journal erases the other sector while its own still has room, that
/// can only happen to an older sector, and the next append erases it.
#[test]
fn a_half_erased_ecc_sector_before_the_move_is_erased_again() {
    type Ecc = SimFlash<8, 8, 2048>;
    let geometry = Geometry::contiguous(0, 2048);
    let mut j = Journal::new(Ecc::new(4096).write_once(true).seed(3), geometry).unwrap();
    // Sector 0 full (8 records), sector 1 up to its half: the next append
    // erases sector 0 first.
    for i in 0..12 {
        j.append(&state(i)).unwrap();
    }
    let mut flash = j.into_inner();
    flash.cut_at(flash.mutating_ops(), CutMode::HalfErase);
    let mut j = Journal::new(flash, geometry).unwrap();
    assert!(j.append(&state(12)).is_err());
    let mut flash = j.into_inner();
    flash.power_on();
    let mut j = Journal::new(flash, geometry).unwrap();
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(11)));
    assert!(!l.uncertain);
    j.append(&state(12)).unwrap();
    for i in 13..30 {
        j.append(&state(i)).unwrap();
    }
    assert_eq!(
        Journal::new(j.into_inner(), geometry)
            .unwrap()
            .read()
            .record
            .map(|r| r.state),
        Some(state(29))
    );
}

/// A part that erases to 0x00 works exactly as one that erases to 0xFF:
/// same operations, same answers, no erase at a reset.
#[test]
fn a_part_that_erases_to_zero_is_served_like_one_that_erases_to_ff() {
    let run = |erased: u8| {
        let geometry = Geometry::contiguous(0, 4096).erased_to(erased);
        let mut flash = Flash::new(8192).erased_to(erased);
        assert!(Journal::new(flash.clone(), geometry)
            .unwrap()
            .read()
            .blank());
        let mut answers = Vec::new();
        for i in 0..100 {
            let mut j = Journal::new(flash, geometry).unwrap();
            j.append(&state(i)).unwrap();
            flash = j.into_inner();
            let before = flash.stats();
            let mut j = Journal::new(flash, geometry).unwrap();
            answers.push(j.read().record.map(|r| (r.seq, r.state)));
            flash = j.into_inner();
            let after = flash.stats().since(&before);
            assert_eq!((after.writes, after.erases), (0, 0), "a read wears nothing");
        }
        let s = flash.stats();
        (answers, s.writes, s.erases)
    };
    let ff = run(0xFF);
    let zero = run(0x00);
    assert_eq!(ff, zero);
    assert_eq!(ff.0.last(), Some(&Some((99, state(99)))));
}

/// A part that fails every program half-way (a dead or worn-out part): the
/// journal writes after its failed attempts instead of erasing at every
/// reset. Erases per 1,000 boots are bounded and counted here.
struct HalfProgram(Flash);

impl ErrorType for HalfProgram {
    type Error = SimError;
}

impl ReadNorFlash for HalfProgram {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.0.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl NorFlash for HalfProgram {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        self.0.erase(from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        let half = bytes.len() / 8 * 4;
        self.0.write(offset, &bytes[..half])?;
        Err(SimError::Protected)
    }
}

/// Erases of a metadata part that cannot be written, over 1,000 boots of
/// a bootloader with one image (each boot tries to write its fresh state).
fn erases_per_1000_boots(mut flash: Flash, wrap: bool, geometry: Geometry) -> (u64, u64) {
    let layout = Layout::new(
        geometry,
        [Region::new(8192, 16384), Region::new(8192 + 16384, 16384)],
    );
    let image = test_image(Version::new(1, 0, 0, 0), 3000, 1);
    let mut slots = Flash::new(8192 + 2 * 16384);
    slots.set_contents(8192, &image);
    let before = flash.stats().erases;
    let mut faults = 0;
    for _ in 0..1000 {
        let d = if wrap {
            let mut b = Bootloader::new(
                HalfProgram(flash),
                &mut slots,
                layout,
                DigestCheck,
                Policy::default(),
            )
            .unwrap();
            let d = b.select();
            flash = b.into_parts().0 .0;
            d
        } else {
            let mut b =
                Bootloader::new(flash, &mut slots, layout, DigestCheck, Policy::default()).unwrap();
            let d = b.select();
            flash = b.into_parts().0;
            d
        };
        assert_eq!(d.slot, Some(Slot::A), "the image still boots");
        faults += u64::from(d.fault.is_some());
    }
    (flash.stats().erases - before, faults)
}

#[test]
fn a_part_that_cannot_be_written_is_not_erased_at_every_reset() {
    let geometry = Geometry::contiguous(0, 4096);
    // Write-protected, holding garbage: every erase is refused by the part.
    let mut protected = Flash::new(8192);
    protected.set_contents(0, &[0x5A; 8192]);
    protected.protect(0..8192);
    let (erases, faults) = erases_per_1000_boots(protected, false, geometry);
    println!("write-protected metadata: {erases} erases per 1000 boots ({faults} boots reported the fault)");
    assert_eq!((erases, faults), (0, 1000));

    // A part that erases to 0x00, declared as erasing to 0xFF.
    let zero = Flash::new(8192).erased_to(0x00);
    let (erases, faults) = erases_per_1000_boots(zero, false, geometry);
    println!("0x00 part declared 0xFF: {erases} erases per 1000 boots ({faults} faults)");
    assert_eq!((erases, faults), (0, 1000));

    // Programs fail half-way: the journal writes after its failed attempts.
    let (erases, faults) = erases_per_1000_boots(Flash::new(8192), true, geometry);
    println!("programs fail half-way: {erases} erases per 1000 boots ({faults} faults)");
    assert_eq!(faults, 1000);
    // 16 positions per sector, 2 sectors, 3 attempts per boot.
    assert!(erases <= 1000 * 3 / 16, "{erases} erases");
}

/// The bootloader cannot count a trial boot while the journal is
/// uncertain: it boots the confirmed image, writes nothing, and says why.
#[test]
fn a_trial_that_cannot_be_counted_does_not_happen() {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    d.stage(
        &test_image(Version::new(1, 1, 0, 0), 3000, 2),
        &StageOptions::default(),
    )
    .unwrap();
    assert!(d.boot().unwrap().is_trial());
    // A position after the newest record that reads nothing at all.
    let geometry = d.layout().metadata;
    let mut last = 0;
    Journal::new(d.flash_mut(), geometry).unwrap().inspect(|p| {
        if matches!(p.content, abboot::journal::Content::Valid(_)) {
            last = p.offset;
        }
    });
    let hole = last + 256;
    d.flash_mut()
        .fail_reads(hole..hole + 256, ReadFault::Permanent);
    let ops = d.flash().mutating_ops();
    let dec = d.boot().unwrap();
    assert_eq!(dec.slot, Some(Slot::A));
    assert_eq!(dec.kind, BootKind::Normal);
    assert_eq!(dec.fault, Some(Error::MetadataUnreadable));
    assert_eq!(d.flash().mutating_ops(), ops, "nothing written");
    // Reads work again: the trial goes on where it was.
    d.flash_mut().clear_read_faults();
    let dec = d.boot().unwrap();
    assert!(dec.is_trial());
    assert_eq!(dec.tries_left, 1);
    assert_eq!(
        d.read_state().unwrap().slot(Slot::B).state,
        ImageState::Trial { tries: 1 }
    );
}

/// Metadata that overlaps a slot on the same part is a typed error at
/// construction; on separate parts the offsets may coincide.
#[test]
fn metadata_overlapping_a_slot_is_a_layout_error() {
    let slots = [Region::new(4096, 16384), Region::new(4096 + 16384, 16384)];
    let layout = Layout::new(Geometry::contiguous(0, 4096), slots);
    let mut flash = Flash::new(4096 + 2 * 16384);
    let r = Bootloader::new(
        &mut flash,
        Flash::new(4096 + 2 * 16384),
        layout,
        DigestCheck,
        Policy::default(),
    );
    assert!(matches!(
        r.err(),
        Some(Error::Layout(LayoutError::MetadataOverlapsSlot))
    ));
    let r = Bootloader::new(
        &mut flash,
        Flash::new(4096 + 2 * 16384),
        layout.on_separate_parts(),
        DigestCheck,
        Policy::default(),
    );
    assert!(r.is_ok());
}

fn updated_to_b() -> Device<DigestCheck> {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    d.stage(
        &test_image(Version::new(1, 1, 0, 0), 3000, 2),
        &StageOptions::default(),
    )
    .unwrap();
    assert!(d.boot().unwrap().is_trial());
    d.confirm().unwrap();
    assert_eq!(d.boot().unwrap().slot, Some(Slot::B));
    d
}

fn slot_range(d: &Device<DigestCheck>, slot: Slot) -> core::ops::Range<u32> {
    let r = d.layout().region(slot);
    r.offset..r.offset + r.len
}

/// A primary that cannot be read is not a corrupt primary: the other
/// confirmed image boots, but the primary is not forgotten, and once it
/// reads again it boots again.
#[test]
fn an_unreadable_primary_is_not_forgotten() {
    let mut d = updated_to_b();
    let before = d.read_state();
    let range = slot_range(&d, Slot::B);
    d.flash_mut().fail_reads(range, ReadFault::Permanent);
    let ops = d.flash().mutating_ops();
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::A), BootKind::Fallback));
    assert!(matches!(dec.fault, Some(Error::SlotFlash(_))));
    assert_eq!(d.flash().mutating_ops(), ops, "nothing written");
    assert_eq!(d.read_state(), before);
    d.flash_mut().clear_read_faults();
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::B), BootKind::Normal));
}

/// A read error while checking an update before its trial neither boots
/// it nor rejects it; a glitch that clears on a retry changes nothing.
#[test]
fn a_read_error_is_not_a_verdict_on_an_update() {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    d.stage(
        &test_image(Version::new(1, 1, 0, 0), 3000, 2),
        &StageOptions::default(),
    )
    .unwrap();
    let range = slot_range(&d, Slot::B);
    d.flash_mut()
        .fail_reads(range.clone(), ReadFault::Permanent);
    let ops = d.flash().mutating_ops();
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::A), BootKind::Normal));
    assert!(matches!(dec.fault, Some(Error::SlotFlash(_))));
    assert_eq!(d.flash().mutating_ops(), ops);
    assert_eq!(
        d.read_state().unwrap().slot(Slot::B).state,
        ImageState::Pending { tries: 3 }
    );
    d.flash_mut().clear_read_faults();
    d.flash_mut().fail_reads(range, ReadFault::Transient(2));
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::B), BootKind::Trial));
    assert_eq!(dec.fault, None);
}

/// Blank metadata and a slot that cannot be read: the readable image
/// boots, and no fresh state that forgets the other is written.
#[test]
fn a_fresh_state_is_not_written_while_a_slot_cannot_be_read() {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.factory(Slot::B, &test_image(Version::new(1, 0, 0, 0), 3000, 2));
    let range = slot_range(&d, Slot::A);
    d.flash_mut().fail_reads(range, ReadFault::Permanent);
    let dec = d.boot().unwrap();
    assert_eq!((dec.slot, dec.kind), (Some(Slot::B), BootKind::Fresh));
    assert_eq!(d.read_state(), None);
    d.flash_mut().clear_read_faults();
    assert_eq!(d.boot().unwrap().slot, Some(Slot::A));
    let st = d.read_state().unwrap();
    assert_eq!(st.slot(Slot::B).state, ImageState::Confirmed);
}

/// A burst of failed reads that outlasts the retries and ends part-way
/// through the word-by-word reads does not make the newest record look
/// like a torn word: no older state is written over it.
#[test]
fn a_read_burst_never_makes_the_newest_record_look_torn() {
    let mut j = journal(Flash::new(8192));
    for i in 0..6 {
        j.append(&state(i)).unwrap();
    }
    let base = j.into_inner();
    // Find the reads of a boot's scan, then start a burst at each.
    let reads = {
        let mut f = base.clone();
        let start = f.reads_done();
        journal(&mut f).read();
        f.reads_done() - start
    };
    for at in 0..reads + 4 {
        for burst in [4u64, 8, 12] {
            let mut f = base.clone();
            let start = f.reads_done();
            for i in 0..burst {
                f.fail_read_at(start + at + i);
            }
            let mut j = journal(f);
            let l = j.read();
            let got = l.record.map(|r| r.state);
            if got != Some(state(5)) {
                // Only a scan that knows it may be stale may differ, and
                // then it writes nothing.
                assert!(l.uncertain, "burst {burst} at read {at}: {got:?}");
                assert_eq!(j.append(&state(99)), Err(JournalError::Unreadable));
            } else if j.append(&state(6)).is_ok() {
                let mut f = j.into_inner();
                f.clear_read_faults();
                assert_eq!(journal(f).read().record.map(|r| r.state), Some(state(6)));
            }
        }
    }
}

/// Records written under another geometry are counted as foreign, never
/// trusted, and the journal refuses to write over them; with the right
/// geometry both sectors' newest records are found.
#[test]
fn records_of_another_geometry_are_foreign() {
    type Small = SimFlash<1, 4, 1024>;
    let right = Geometry::contiguous(0, 4096);
    let mut j = Journal::new(Small::new(8192), right).unwrap();
    for i in 0..18 {
        j.append(&state(i)).unwrap();
    }
    let flash = j.into_inner();
    let l = Journal::new(flash.clone(), right).unwrap().read();
    assert_eq!(l.findings.valid, 2, "the newest of each sector");
    assert_eq!(l.findings.foreign, 0);
    assert_eq!(l.record.map(|r| r.state), Some(state(17)));

    let wrong = Geometry::contiguous(0, 2048);
    let mut j = Journal::new(flash.clone(), wrong).unwrap();
    let l = j.read();
    assert!(l.uncertain);
    assert!(l.findings.foreign >= 2, "{:?}", l.findings);
    assert_eq!(l.findings.valid, 0);
    assert_eq!(l.record, None);
    assert_eq!(j.append(&state(99)), Err(JournalError::Foreign));
    assert_eq!(j.into_inner().contents(), flash.contents());
}

/// A journal whose one record is foreign is not blank: `Loaded::blank`
/// counts every position the scan found, foreign ones too (a factory
/// device's blank metadata is the one thing it names).
#[test]
fn a_foreign_record_alone_is_not_a_blank_journal() {
    type Small = SimFlash<1, 4, 1024>;
    let mut j = Journal::new(Small::new(8192), Geometry::contiguous(0, 4096)).unwrap();
    j.append(&state(1)).unwrap();
    let flash = j.into_inner();
    let l = Journal::new(flash, Geometry::contiguous(0, 2048))
        .unwrap()
        .read();
    let only_foreign = abboot::journal::Findings {
        foreign: 1,
        ..Default::default()
    };
    assert_eq!(l.findings, only_foreign);
    assert!(!l.blank() && l.uncertain && l.record.is_none(), "{l:?}");
    assert!(
        Journal::new(Small::new(8192), Geometry::contiguous(0, 2048))
            .unwrap()
            .read()
            .blank()
    );
}

/// The newest record in a full second sector, the first sector unreadable:
/// the first may hold newer records (the journal moved back to it), so the
/// journal is uncertain; with no record at all, one unreadable sector is
/// enough to be uncertain.
#[test]
fn an_unreadable_first_sector_beside_a_full_second_is_uncertain() {
    let mut j = journal(Flash::new(8192));
    for i in 0..32 {
        j.append(&state(i)).unwrap();
    }
    let mut flash = j.into_inner();
    flash.fail_reads(0..4096, ReadFault::Permanent);
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record.map(|r| r.state), Some(state(31)));
    assert!(l.uncertain);
    assert_eq!(j.append(&state(32)), Err(JournalError::Unreadable));

    for sector in [0u32..4096, 4096..8192] {
        let mut blank = Flash::new(8192);
        blank.fail_reads(sector.clone(), ReadFault::Permanent);
        let mut j = journal(blank);
        let l = j.read();
        assert_eq!(l.record, None);
        assert!(l.uncertain, "{sector:?}");
        assert_eq!(j.append(&state(0)), Err(JournalError::Unreadable));
    }
}

/// A fresh start after torn records numbers its record above every number
/// they claim, so one of them that later reads valid (weak bits) cannot
/// override it.
#[test]
fn a_fresh_start_is_numbered_above_what_torn_records_claim() {
    let mut flash = Flash::new(8192);
    let mut torn = abboot::record::Record {
        seq: 1000,
        state: state(7),
    }
    .encode();
    let healed = torn;
    torn[100] ^= 0x10; // CRC no longer matches
    flash.set_contents(0, &torn);
    let mut j = journal(flash);
    assert_eq!(j.read().record, None);
    // 1000 + 2 × 16 positions + 1, at position 1.
    assert_eq!(j.append(&state(1)), Ok(1034));
    let mut flash = j.into_inner();
    flash.set_contents(0, &healed);
    assert_eq!(
        journal(flash).read().record.map(|r| r.state),
        Some(state(1))
    );
}

/// Sectors of 640 bytes: two whole records and a 128-byte tail no record
/// uses.
type Odd = SimFlash<1, 4, 640>;
const ODD_TAIL: [std::ops::Range<usize>; 2] = [512..640, 1152..1280];

/// A part whose sectors are not a whole number of records: the tails are
/// erased with their sectors and checked like the rest, so junk left there
/// (another geometry's bytes) neither stops the journal nor looks like a
/// part that erases to the other value. Twenty appends move the journal
/// through both sectors several times.
#[test]
fn a_sector_that_is_not_a_whole_number_of_records_is_checked_to_its_end() {
    let geometry = Geometry::contiguous(0, 640);
    let mut flash = Odd::new(1280);
    for tail in ODD_TAIL {
        flash.set_contents(tail.start, &[0x00; 128]);
    }
    let mut j = Journal::new(flash, geometry).unwrap();
    assert_eq!(j.records_per_sector(), 2);
    for i in 0..20 {
        j.append(&state(i)).unwrap();
        assert_eq!(j.read().record.map(|r| r.state), Some(state(i)));
    }
    let flash = j.into_inner();
    assert!(flash.sector_erases().iter().all(|&e| e > 0));
    for tail in ODD_TAIL {
        assert!(
            flash.contents()[tail.clone()].iter().all(|&b| b == 0xFF),
            "{tail:?} erased with its sector"
        );
    }
}

/// The same geometry on a part that erases to 0x00, declared as 0xFF: the
/// tail reads as the other erased value too, so the journal says so and
/// erases nothing; a sector it had to erase (junk at its start) is erased
/// once, found to read as the other value, and never erased again.
#[test]
fn a_part_declared_with_the_wrong_erase_value_is_named_to_the_sector_end() {
    let geometry = Geometry::contiguous(0, 640);
    for junk in [false, true] {
        let mut flash = Odd::new(1280).erased_to(0x00);
        if junk {
            flash.set_contents(0, &[0xA5; 8]);
        }
        let mut j = Journal::new(flash, geometry).unwrap();
        for _ in 0..10 {
            assert_eq!(j.append(&state(1)), Err(JournalError::EraseValue));
        }
        let flash = j.into_inner();
        assert_eq!(flash.sector_erases(), &[u32::from(junk), 0][..]);
    }
}

/// A part with faults a test arms, even while a journal holds it: reads
/// of `dead` fail once `gate` is set; an erase leaves `stuck` programmed
/// (an erase that no longer takes everywhere); the next `corrupt` writes
/// store one bit flipped and report success; writes into `weak` program
/// half their bytes and fail until that range is erased (an erase cut so
/// late that the sector reads blank but does not hold programs).
struct Rigged<const E: usize> {
    flash: SimFlash<1, 4, E>,
    dead: std::ops::Range<u32>,
    gate: std::rc::Rc<std::cell::Cell<bool>>,
    stuck: std::ops::Range<usize>,
    corrupt: u32,
    weak: Option<std::ops::Range<u32>>,
    /// `weak` survives erases: a sector that never holds programs.
    weak_stays: bool,
}

impl<const E: usize> Rigged<E> {
    fn new(flash: SimFlash<1, 4, E>) -> Self {
        Self {
            flash,
            dead: 0..0,
            gate: Default::default(),
            stuck: 0..0,
            corrupt: 0,
            weak: None,
            weak_stays: false,
        }
    }
}

impl<const E: usize> ErrorType for Rigged<E> {
    type Error = SimError;
}

impl<const E: usize> ReadNorFlash for Rigged<E> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        let end = offset + bytes.len() as u32;
        if self.gate.get() && offset < self.dead.end && self.dead.start < end {
            return Err(SimError::ReadFault);
        }
        self.flash.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl<const E: usize> NorFlash for Rigged<E> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = E;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        self.flash.erase(from, to)?;
        if !self.weak_stays
            && self
                .weak
                .as_ref()
                .is_some_and(|w| from <= w.start && w.end <= to)
        {
            self.weak = None;
        }
        let stuck = vec![0x5A; self.stuck.len()];
        self.flash.set_contents(self.stuck.start, &stuck);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        if self.weak.as_ref().is_some_and(|w| w.contains(&offset)) {
            let half = bytes.len() / 8 * 4;
            self.flash.write(offset, &bytes[..half])?;
            return Err(SimError::Protected);
        }
        if self.corrupt > 0 {
            self.corrupt -= 1;
            let mut wrong = bytes.to_vec();
            wrong[40] ^= 0x04;
            return self.flash.write(offset, &wrong);
        }
        self.flash.write(offset, bytes)
    }
}

/// An erase that leaves bytes programmed, even past the last whole record,
/// is an erase that failed: the journal reports it and keeps the newest
/// state it has, rather than write into a sector it cannot trust.
#[test]
fn an_erase_that_does_not_take_to_the_sector_end_is_reported() {
    let geometry = Geometry::contiguous(0, 640);
    let mut quirky = Rigged::new(Odd::new(1280));
    quirky.stuck = ODD_TAIL[0].clone();
    let mut j = Journal::new(quirky, geometry).unwrap();
    // Sector 0 fills, the journal moves to sector 1, and its second
    // position needs sector 0 erased first.
    for i in 0..3 {
        j.append(&state(i)).unwrap();
    }
    assert_eq!(j.append(&state(3)), Err(JournalError::Erase));
    assert_eq!(j.read().record.map(|r| r.state), Some(state(2)));
    assert_eq!(j.into_inner().flash.sector_erases(), &[1, 0][..]);
}

/// A sector that stops reading between the scan and the write (a part
/// failing, a glitch that lasts) is not erased when the journal has to
/// start afresh: nothing says it holds only older records.
#[test]
fn a_sector_that_cannot_be_read_is_not_erased_for_a_fresh_start() {
    let geometry = Geometry::contiguous(0, 640);
    let mut flash = Odd::new(1280);
    // Junk in every position: no record, no room without an erase.
    for at in [0, 256, 640, 896] {
        flash.set_contents(at, &[0x00; 16]);
    }
    let mut quirky = Rigged::new(flash);
    quirky.dead = 0..640;
    let gate = quirky.gate.clone();
    let mut j = Journal::new(quirky, geometry).unwrap();
    let l = j.read();
    assert_eq!((l.record, l.uncertain), (None, false));
    gate.set(true);
    assert_eq!(j.append(&state(0)), Err(JournalError::Unreadable));
    assert_eq!(j.into_inner().flash.sector_erases(), &[0, 0][..]);
}

/// Sector 0 full with states 0..=15, sector 1 with 16..=19: the newest is
/// in sector 1, the older records fill sector 0.
fn wrapped() -> Rigged<4096> {
    let mut j = journal(Rigged::new(Flash::new(8192)));
    for i in 0..20 {
        j.append(&state(i)).unwrap();
    }
    let mut w = j.into_inner();
    w.flash.reset_stats();
    w
}

/// A write that fails inside the sector of the newest record is moved
/// past: the next free position takes the record, and no sector is erased
/// (erasing the sector of the newest record would put the state at the
/// mercy of the next power cut).
#[test]
fn a_failed_write_inside_a_sector_erases_nothing() {
    let mut w = wrapped();
    w.weak = Some(4096 + 4 * 256..4096 + 5 * 256);
    let mut j = journal(w);
    assert_eq!(j.append(&state(20)), Ok(21));
    let w = j.into_inner();
    assert_eq!(w.flash.sector_erases(), &[0, 0][..]);
    assert_eq!(journal(w).read().record.map(|r| r.state), Some(state(20)));
}

/// A record whose bytes read back wrong (and that a scan would not find)
/// is a failed write like any other: the journal writes at the next
/// position of the same sector. It does not take it for a hidden record
/// and start over in the other sector, erasing the older records there.
#[test]
fn a_record_that_reads_back_wrong_is_written_again_in_place() {
    let mut w = wrapped();
    w.corrupt = 1;
    let mut j = journal(w);
    assert_eq!(j.append(&state(20)), Ok(21));
    let mut w = j.into_inner();
    assert_eq!(w.flash.sector_erases(), &[0, 0][..]);
    let mut bad = [0u8; 256];
    w.flash.read(4096 + 4 * 256, &mut bad).unwrap();
    assert!(abboot::record::Record::decode(&bad).is_err());
    assert_eq!(journal(w).read().record.map(|r| r.state), Some(state(20)));
}

/// Sector 0 full with states 0..=15, and sector 1, where the next append
/// moves, holding no program until it is erased (or never, `stays`).
fn full_beside_a_weak_sector(stays: bool) -> Journal<Rigged<4096>> {
    let mut j = journal(Rigged::new(Flash::new(8192)));
    for i in 0..16 {
        j.append(&state(i)).unwrap();
    }
    let mut w = j.into_inner();
    w.weak = Some(4096..8192);
    w.weak_stays = stays;
    journal(w)
}

/// The move into a sector whose last erase did not take (every write
/// there fails) erases that sector again, once, and the move succeeds.
#[test]
fn a_move_into_a_sector_that_does_not_hold_programs_erases_it_again() {
    let mut j = full_beside_a_weak_sector(false);
    assert_eq!(j.append(&state(16)), Ok(16));
    let w = j.into_inner();
    assert_eq!(w.flash.sector_erases(), &[0, 1][..]);
    assert_eq!(journal(w).read().record.map(|r| r.state), Some(state(16)));
}

/// A sector that never holds programs is erased again once, not at every
/// failed attempt: the append gives up with the flash's error after its
/// three attempts, and the newest state is still the one before it. (The
/// journal keeps no flag for "erased again": its attempts are too few for
/// a second failed move to be retried; this holds it to that.)
#[test]
fn a_move_into_a_sector_that_never_holds_programs_erases_it_again_only_once() {
    let mut j = full_beside_a_weak_sector(true);
    assert_eq!(
        j.append(&state(16)),
        Err(JournalError::Flash(SimError::Protected))
    );
    let w = j.into_inner();
    assert_eq!(w.flash.sector_erases(), &[0, 1][..]);
    assert_eq!(journal(w).read().record.map(|r| r.state), Some(state(15)));
}

/// An append reads what it needs, not whole sectors: beside a sector that
/// the boot's scan found blank, the second half of a sector does not read
/// the other sector through at every append (4 KiB each time here).
#[test]
fn an_append_beside_a_blank_sector_does_not_read_it_through() {
    let mut j = journal(Flash::new(8192));
    // Sector 0 full, sector 1 past its half: sector 0 erased at position 8.
    for i in 0..25 {
        j.append(&state(i)).unwrap();
    }
    for i in 25..31 {
        let before = j.flash().stats();
        j.read();
        j.append(&state(i)).unwrap();
        let read = j.flash().stats().since(&before).bytes_read;
        assert!(read < 4096, "append {i} read {read} bytes");
    }
}

/// A fresh start writes after the garbage it finds, in the second sector
/// when the first has no room left: no erase, and the record is found.
#[test]
fn a_fresh_start_writes_after_garbage_in_either_sector() {
    let mut flash = Flash::new(8192);
    // Sector 0 junk to its end; sector 1 junk in its first three positions.
    for p in (0..16).chain(16..19) {
        flash.set_contents(p * 256 + 100, &[0x00; 4]);
        flash.set_contents(p * 256, &[0x12; 4]);
    }
    let mut j = journal(flash);
    assert_eq!(j.read().record, None);
    j.append(&state(5)).unwrap();
    let mut flash = j.into_inner();
    assert_eq!(flash.sector_erases(), &[0, 0][..]);
    let mut at = [0u8; 256];
    flash.read(4096 + 3 * 256, &mut at).unwrap();
    assert_eq!(
        abboot::record::Record::decode(&at).map(|r| r.state),
        Ok(state(5))
    );
    assert_eq!(
        journal(flash).read().record.map(|r| r.state),
        Some(state(5))
    );
}

/// The first byte of position `p` of sector 0: what the binary search's
/// probe of that position reads.
fn probe(p: u32) -> core::ops::Range<u32> {
    p * 256..p * 256 + 1
}

// A read glitch that outlasts the probe's three tries and then passes made
// the binary search count a blank position as used, and the next append
// went after a blank hole, where a clean boot's search cannot see it (found
// by an adversarial review; the three tests below failed before the fix:
// the scan and `blank_tail` end the used prefix at the highest position
// that reads other than blank).

/// A record an append put after a blank hole was lost to the next clean
/// boot, and came back, above newer ones, at the next glitch.
#[test]
fn a_probe_glitch_leaves_no_record_for_a_later_glitch_to_bring_back() {
    let mut j = journal(Flash::new(8192));
    for i in 0..4 {
        j.append(&state(i)).unwrap();
    }
    let mut f = j.into_inner();
    // Exactly the three tries of the probe of position 8.
    f.fail_reads(probe(8), ReadFault::Transient(3));
    let mut j = journal(f);
    j.append(&state(4)).unwrap();
    j.append(&state(5)).unwrap();
    let mut f = j.into_inner();
    assert_eq!(
        journal(&mut f).read().record.map(|r| r.state),
        Some(state(5))
    );
    // At a later boot, the same glitch.
    f.fail_reads(probe(8), ReadFault::Transient(3));
    let l = journal(&mut f).read();
    assert_eq!(l.record.map(|r| r.state), Some(state(5)));
    // Nothing was written after a blank position.
    let mut positions = Vec::new();
    journal(&mut f).inspect(|p| positions.push(p.content));
    let first_blank = positions
        .iter()
        .position(|c| *c == Content::Invalid(DecodeError::Blank))
        .unwrap();
    assert!(
        positions[first_blank..16]
            .iter()
            .all(|c| *c == Content::Invalid(DecodeError::Blank)),
        "a record after a blank hole in sector 0"
    );
}

/// The same glitch at the boot's scan and at the append's own check scan:
/// the append reported success for a record a clean boot did not find.
#[test]
fn an_append_after_a_probe_glitch_is_found_by_a_clean_boot() {
    let mut j = journal(Flash::new(8192));
    for i in 0..4 {
        j.append(&state(i)).unwrap();
    }
    let base = j.into_inner();
    let mut f = base.clone();
    let start = f.reads_done();
    for k in 0..3 {
        f.fail_read_at(start + k);
    }
    assert!(!journal(&mut f).read().uncertain);
    // The scan, then a free-position read and the write's two read-backs.
    let check = f.reads_done() + 3;
    let mut f = base.clone();
    for k in (0..3).chain(check - start..check - start + 3) {
        f.fail_read_at(start + k);
    }
    let mut j = journal(f);
    let l = j.read();
    assert!(!l.uncertain);
    assert_eq!(l.record.map(|r| r.state), Some(state(3)));
    assert!(j.append(&state(4)).is_ok());
    let mut f = j.into_inner();
    f.clear_read_faults();
    assert_eq!(
        journal(&mut f).read().record.map(|r| r.state),
        Some(state(4)),
        "a clean boot reads the state before a successful append"
    );
}

/// On a whole device: a glitch on one probe of the metadata at the trial
/// boot and another at a later boot rolled back an update the firmware had
/// confirmed.
#[test]
fn two_metadata_read_glitches_do_not_undo_a_confirm() {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    assert_eq!(d.boot().unwrap().kind, BootKind::Fresh);
    let opts = StageOptions {
        tries: 1,
        ..StageOptions::default()
    };
    d.stage(&test_image(Version::new(1, 1, 0, 0), 3000, 2), &opts)
        .unwrap();
    d.flash_mut().fail_reads(probe(8), ReadFault::Transient(3));
    let t = d.boot().unwrap();
    assert!(t.is_trial() && t.slot == Some(Slot::B), "{t:?}");
    d.confirm().unwrap();
    d.flash_mut().fail_reads(probe(8), ReadFault::Transient(3));
    let b = d.boot().unwrap();
    assert_eq!((b.slot, b.kind), (Some(Slot::B), BootKind::Normal), "{b:?}");
    let st = d.read_state().unwrap();
    assert_eq!(
        (st.primary, st.slot(Slot::B).state),
        (Some(Slot::B), ImageState::Confirmed)
    );
}

/// The same glitch where a fresh start looks for the end of the garbage it
/// writes after (`blank_tail`): the record goes right after the garbage,
/// not after a blank hole.
#[test]
fn a_fresh_start_after_a_probe_glitch_writes_right_after_the_garbage() {
    let mut base = Flash::new(8192);
    base.set_contents(0, &[0x5A; 3 * 256]);
    let mut dry = base.clone();
    journal(&mut dry).read();
    // The next read is `blank_tail`'s first probe, of position 8.
    let k = dry.reads_done();
    let mut f = base.clone();
    for n in 0..3 {
        f.fail_read_at(k + n);
    }
    let mut j = journal(f);
    assert!(j.read().record.is_none());
    j.append(&state(1)).unwrap();
    let mut f = j.into_inner();
    let mut positions = Vec::new();
    journal(&mut f).inspect(|p| positions.push(p.content));
    assert!(
        matches!(positions[3], Content::Valid(_)),
        "{:?}",
        &positions[..10]
    );
}

/// A slot read that keeps failing when the staged image is checked is no
/// verdict on the image (as at the bootloader): nothing is recorded, the
/// staging stays open, and once the slot reads, `stage_finish` records it.
/// A glitch that passes within the tries is not even seen.
#[test]
fn a_read_error_when_staging_ends_is_not_a_verdict() {
    use abboot::flash::Shared;
    use abboot::image::ImageError;
    use abboot::Updater;
    use std::cell::RefCell;

    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    let layout = d.layout();
    let b = slot_range(&d, Slot::B);
    let image = test_image(Version::new(1, 1, 0, 0), 3000, 2);
    let opts = StageOptions::default();
    {
        let cell = RefCell::new(d.flash_mut());
        let mut u = Updater::new(Shared::new(&cell), Shared::new(&cell), layout, DigestCheck)
            .unwrap()
            .running(Slot::A);
        cell.borrow_mut()
            .fail_reads(b.clone(), ReadFault::Permanent);
        assert_eq!(
            u.stage(&image, &opts).map(|_| ()),
            Err(Error::Image(ImageError::Flash))
        );
        cell.borrow_mut().clear_read_faults();
        assert!(u.stage_finish(3).is_ok());
    }
    let st = d.read_state().unwrap();
    assert_eq!((st.failure_count, st.check_error), (0, 0));
    assert!(d.boot().unwrap().is_trial());

    // Two failed reads, then the slot reads: staged as if nothing happened.
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    d.flash_mut().fail_reads(b, ReadFault::Transient(2));
    d.stage(&image, &opts).unwrap();
    assert_eq!(d.read_state().unwrap().failure_count, 0);
    assert!(d.boot().unwrap().is_trial());
}

/// A probe glitch on blank metadata: still blank, and the first record
/// goes to the first position.
#[test]
fn a_probe_glitch_on_blank_metadata_leaves_it_blank() {
    let mut f = Flash::new(8192);
    f.fail_reads(probe(8), ReadFault::Transient(3));
    let mut j = journal(f);
    let l = j.read();
    assert!(l.blank() && l.record.is_none() && !l.uncertain, "{l:?}");
    j.append(&state(1)).unwrap();
    let mut f = j.into_inner();
    let mut positions = Vec::new();
    journal(&mut f).inspect(|p| positions.push(p.content));
    assert!(
        matches!(positions[0], Content::Valid(_)),
        "{:?}",
        &positions[..10]
    );
}

/// A position that cannot be read at all is used, not blank, wherever it
/// lies: alone at the start of an otherwise blank journal, the journal is
/// not a factory-blank one, and it is uncertain (the position may hold a
/// record). The used prefix then ends above it: a scan that counted it
/// as the prefix's end would call the journal blank.
#[test]
fn an_unreadable_position_alone_is_not_a_blank_journal() {
    for sector in [0u32, 4096] {
        let mut flash = Flash::new(8192);
        flash.fail_reads(sector..sector + 256, ReadFault::Permanent);
        let mut j = journal(flash);
        let l = j.read();
        assert_eq!(l.record, None);
        assert!(
            !l.blank(),
            "sector at {sector}: an unreadable position is not blank"
        );
        assert!(l.uncertain, "sector at {sector}");
        assert_eq!(l.findings.unreadable, 1, "sector at {sector}");
        assert_eq!(j.append(&state(0)), Err(JournalError::Unreadable));
    }
}

/// Every valid record on `flash` with its number, in flash order.
fn records_on(flash: &mut impl ReadNorFlash, len: u32) -> Vec<(u32, BootState)> {
    (0..len / 256)
        .filter_map(|k| {
            let mut b = [0u8; 256];
            flash.read(k * 256, &mut b).ok()?;
            abboot::record::Record::decode(&b).ok()
        })
        .map(|r| (r.seq, r.state))
        .collect()
}

/// Found by `journal_scan` (the fuzzer): a torn write that left the next
/// position's probe erased but programmed a byte further in. The append
/// must not write after that position: a boot's binary search stops at
/// its erased probe and would never see a record behind it, and the
/// append, finding the state it wrote missing, wrote it again in the
/// other sector under a number *below* the hidden one (or, appending the
/// state the newest record already held, returned that record's number
/// with nothing newer written). Two records then carried one number, the
/// hidden one older in content: a later probe glitch that counted the
/// hole as used could bring it back as the newest. The append moves to
/// the other sector instead, and every valid record on flash is then
/// older than the one a boot finds.
#[test]
fn no_record_is_written_behind_a_position_whose_probe_reads_erased() {
    type Small = SimFlash<1, 4, 1024>;
    let geometry = Geometry::contiguous(0, 1024);
    for same_state in [false, true] {
        let mut j = Journal::new(Small::new(2048), geometry).unwrap();
        j.append(&state(0)).unwrap();
        let before = j.append(&state(1)).unwrap();
        let mut flash = j.into_inner();
        // One word programmed past the probe of position 2.
        flash
            .write(2 * 256 + 244, &[0x25, 0xFF, 0xFF, 0xFF])
            .unwrap();
        let mut j = Journal::new(flash, geometry).unwrap();
        assert_eq!(j.read().record.map(|r| r.seq), Some(before));
        let next = if same_state { state(1) } else { state(2) };
        let seq = j.append(&next).unwrap();
        assert!(
            abboot::record::seq_newer(seq, before),
            "same state {same_state}: append returned {seq}, the newest was {before}"
        );
        let mut flash = j.into_inner();
        let on_flash = records_on(&mut flash, 2048);
        let mut j = Journal::new(flash, geometry).unwrap();
        assert_eq!(
            j.read().record.map(|r| (r.seq, r.state)),
            Some((seq, next)),
            "same state {same_state}: a boot reads the appended record"
        );
        // Nothing on flash is as new: no hidden record, no shared number.
        let numbers: Vec<u32> = on_flash.iter().map(|(n, _)| *n).collect();
        for (n, s) in &on_flash {
            assert!(
                *n == seq && *s == next || abboot::record::seq_newer(seq, *n),
                "same state {same_state}: record {n} beside the newest {seq}: {numbers:?}"
            );
        }
        assert_eq!(
            on_flash.iter().filter(|(n, _)| *n == seq).count(),
            1,
            "same state {same_state}"
        );
    }
}
