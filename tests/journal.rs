//! The metadata journal on simulated flash: round trips, garbage, wraparound,
//! geometry errors, and no wear on reads.

use abboot::journal::{Content, Geometry, GeometryError, Journal};
use abboot::record::{Record, RECORD_SIZE};
use abboot::sim::SimFlash;
use abboot::state::{BootState, ImageState, Slot};
use abboot::Version;
use embedded_storage::nor_flash::NorFlash;
use proptest::prelude::*;

type Flash = SimFlash<1, 4, 4096>;

fn state(i: u32) -> BootState {
    let mut s = BootState {
        primary: Some(if i % 2 == 0 { Slot::A } else { Slot::B }),
        failure_count: i as u16,
        ..BootState::default()
    };
    s.slots[0].version = Version::new(1, 0, 0, i);
    s.slots[1].state = ImageState::Pending {
        tries: (i % 5) as u8,
    };
    s
}

fn journal(flash: Flash) -> Journal<Flash> {
    Journal::new(flash, Geometry::contiguous(0, 4096)).expect("geometry")
}

#[test]
fn factory_blank_is_a_defined_state() {
    let mut j = journal(Flash::new(8192));
    let l = j.read();
    assert!(l.blank());
    assert_eq!(l.record, None);
    assert_eq!(l.findings.invalid + l.findings.unreadable, 0);
}

#[test]
fn round_trips_across_many_sector_switches() {
    let mut j = journal(Flash::new(8192));
    for i in 0..200 {
        let seq = j.append(&state(i)).expect("append");
        assert_eq!(seq, i);
        // A fresh journal (a reboot) reads the same newest state.
        let mut flash = j.into_inner();
        let mut fresh = journal(flash.clone());
        assert_eq!(fresh.read().record.map(|r| r.state), Some(state(i)));
        flash = fresh.into_inner();
        j = journal(flash);
    }
}

/// A part that reads in units wider than the scan's 32-byte probe (some
/// ECC flash reads whole 64- or 128-byte lines): every probe is one read
/// unit, records round-trip across sector switches, and a boot's scan
/// still reads `O(log n)` probes and the newest record, not the sector.
fn wide_reads<const R: usize>() {
    type Wide<const R: usize> = SimFlash<R, 8, 4096>;
    let geometry = Geometry::contiguous(0, 4096);
    let mut j = Journal::new(Wide::<R>::new(8192), geometry).expect("geometry");
    for i in 0..40 {
        assert_eq!(j.append(&state(i)), Ok(i));
        let flash = j.into_inner();
        let before = flash.stats();
        let mut boot = Journal::new(flash, geometry).expect("geometry");
        let l = boot.read();
        assert_eq!(l.record.map(|r| (r.seq, r.state)), Some((i, state(i))));
        let flash = boot.into_inner();
        let read = flash.stats().since(&before);
        // Each read is a probe of one unit or a whole record: binary search
        // over 16 positions in each sector, at most 5 probes each, then the
        // newest record (and one older, at most, per sector).
        let (unit, record) = (R as u64, RECORD_SIZE as u64);
        let extra = read.bytes_read - unit * read.reads;
        assert_eq!(extra % (record - unit), 0, "R {R}, record {i}: {read:?}");
        let records = extra / (record - unit);
        let probes = read.reads - records;
        assert!((2..=10).contains(&probes), "R {R}, record {i}: {read:?}");
        assert!((1..=3).contains(&records), "R {R}, record {i}: {read:?}");
        j = Journal::new(flash, geometry).expect("geometry");
    }
}

#[test]
fn reads_in_units_wider_than_the_probe() {
    wide_reads::<64>();
    wide_reads::<128>();
}

#[test]
fn erases_only_when_moving_to_the_other_sector() {
    let mut j = journal(Flash::new(8192));
    let per = j.records_per_sector();
    assert_eq!(per, 16);
    for i in 0..1000 {
        j.append(&state(i)).expect("append");
    }
    let flash = j.into_inner();
    let stats = flash.stats();
    // 62 moves to the other sector; the first finds it factory-blank and
    // skips the erase, every later one erases exactly one sector.
    assert_eq!(stats.erases, (1000 - 1) / per as u64 - 1);
    assert_eq!(stats.writes, 1000);
    assert_eq!(stats.bytes_written, 1000 * RECORD_SIZE as u64);
    // Wear spreads over both sectors evenly.
    let e = flash.sector_erases();
    assert!(e[0].abs_diff(e[1]) <= 1, "{e:?}");
}

#[test]
fn reading_writes_and_erases_nothing() {
    let mut j = journal(Flash::new(8192));
    for i in 0..40 {
        j.append(&state(i)).unwrap();
    }
    let mut flash = j.into_inner();
    flash.reset_stats();
    let mut j = journal(flash);
    for _ in 0..10 {
        assert_eq!(j.read().record.map(|r| r.state), Some(state(39)));
    }
    let s = j.into_inner().stats();
    assert_eq!((s.writes, s.erases), (0, 0));
}

#[test]
fn garbage_sector_never_hides_a_valid_record() {
    for garbage_sector in [0usize, 1] {
        let mut j = journal(Flash::new(8192));
        // 20 records: sector 0 full (16), sector 1 holds 4.
        for i in 0..20 {
            j.append(&state(i)).unwrap();
        }
        let mut flash = j.into_inner();
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        flash.set_contents(garbage_sector * 4096, &noise);
        let mut j = journal(flash);
        let l = j.read();
        let want = if garbage_sector == 0 {
            state(19)
        } else {
            state(15)
        };
        assert_eq!(l.record.map(|r| r.state), Some(want));
        assert!(l.findings.invalid > 0);
        // And the journal keeps working from there.
        j.append(&state(100)).unwrap();
        assert_eq!(j.read().record.map(|r| r.state), Some(state(100)));
    }
}

#[test]
fn all_garbage_reads_as_no_record_and_recovers() {
    let mut flash = Flash::new(8192);
    flash.set_contents(0, &[0x5A; 8192]);
    let mut j = journal(flash);
    let l = j.read();
    assert_eq!(l.record, None);
    assert!(!l.blank());
    assert!(!l.uncertain);
    assert_eq!(l.findings.invalid, 32);
    j.append(&state(1)).unwrap();
    assert_eq!(j.read().record.map(|r| r.state), Some(state(1)));
}

/// A journal that reads all 0x00 on a part declared to erase to 0xFF is
/// what a zero-erasing part looks like after an erase: erasing it again
/// cannot help, so it is never erased — not at every reset either.
#[test]
fn a_sector_of_the_other_erased_value_is_never_erased() {
    let mut flash = Flash::new(8192);
    flash.set_contents(0, &[0x00; 8192]);
    let mut j = journal(flash);
    for _ in 0..10 {
        assert_eq!(j.read().record, None);
        assert_eq!(j.append(&state(1)), Err(abboot::journal::Error::EraseValue));
    }
    let stats = j.into_inner().stats();
    assert_eq!((stats.writes, stats.erases), (0, 0));

    // Declared right, the same bytes are a blank journal.
    let mut flash = Flash::new(8192);
    flash.set_contents(0, &[0x00; 8192]);
    let geometry = Geometry::contiguous(0, 4096).erased_to(0x00);
    let mut j = Journal::new(flash, geometry).unwrap();
    assert!(j.read().blank());
}

#[test]
fn sequence_numbers_order_across_wraparound() {
    // Sector 0 full of records up to u32::MAX, sector 1 continues at 0, 1.
    let mut flash = Flash::new(8192);
    for i in 0..16u32 {
        let r = Record {
            seq: u32::MAX - 15 + i,
            state: state(i),
        };
        flash.write(i * 256, &r.encode()).unwrap();
    }
    for i in 0..2u32 {
        let r = Record {
            seq: i,
            state: state(16 + i),
        };
        flash.write(4096 + i * 256, &r.encode()).unwrap();
    }
    let mut j = journal(flash);
    let r = j.read().record.unwrap();
    assert_eq!((r.seq, r.state), (1, state(17)));
    assert_eq!(j.append(&state(99)).unwrap(), 2);
}

#[test]
fn unusable_geometries_are_typed_errors() {
    let f = || Flash::new(8192);
    let e = |g| Journal::new(f(), g).err();
    assert_eq!(
        e(Geometry::new(0, 2048, 4096)),
        Some(GeometryError::Misaligned)
    );
    assert_eq!(e(Geometry::new(0, 0, 4096)), Some(GeometryError::Overlap));
    assert_eq!(
        e(Geometry::new(0, 8192, 4096)),
        Some(GeometryError::OutOfBounds)
    );
    assert_eq!(
        e(Geometry::contiguous(4096, 4096)),
        Some(GeometryError::OutOfBounds)
    );
    assert_eq!(
        e(Geometry::new(u32::MAX - 4095, 0, 4096)),
        Some(GeometryError::OutOfBounds)
    );
    // Sectors too small to hold a record (erase size below the record size).
    let tiny = Journal::new(
        SimFlash::<1, 4, 128>::new(1024),
        Geometry::contiguous(0, 128),
    )
    .err();
    assert_eq!(tiny, Some(GeometryError::TooSmall));
    // A word size that does not divide the record.
    let odd = Journal::new(
        SimFlash::<1, 12, 4104>::new(8208),
        Geometry::contiguous(0, 4104),
    )
    .err();
    assert_eq!(odd, Some(GeometryError::WordSize));
}

#[test]
fn inspect_reports_every_position() {
    let mut j = journal(Flash::new(8192));
    for i in 0..3 {
        j.append(&state(i)).unwrap();
    }
    j.flash().flip_bit(256 + 40, 3);
    let mut seen = Vec::new();
    j.inspect(|p| seen.push(p));
    assert_eq!(seen.len(), 32);
    assert!(matches!(seen[0].content, Content::Valid(_)));
    assert!(matches!(seen[1].content, Content::Invalid(_)));
    assert!(matches!(seen[2].content, Content::Valid(_)));
    assert!(seen[3..].iter().all(|p| matches!(
        p.content,
        Content::Invalid(abboot::record::DecodeError::Blank)
    )));
}

fn valid_encodings(flash: &Flash) -> Vec<[u8; RECORD_SIZE]> {
    flash
        .contents()
        .chunks(RECORD_SIZE)
        .filter_map(|c| {
            let b: [u8; RECORD_SIZE] = c.try_into().ok()?;
            Record::decode(&b).ok().map(|_| b)
        })
        .collect()
}

/// Whether `r` is what one of the stored encodings decodes to.
fn stored(encodings: &[[u8; RECORD_SIZE]], r: &Record) -> bool {
    encodings
        .iter()
        .any(|b| Record::decode(b).as_ref() == Ok(r))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes in both sectors: reading never panics, and whatever it
    /// returns is a record stored verbatim with a matching CRC.
    #[test]
    fn random_sectors_never_yield_an_unchecked_record(bytes in proptest::collection::vec(any::<u8>(), 8192)) {
        let mut flash = Flash::new(8192);
        flash.set_contents(0, &bytes);
        let mut j = journal(flash.clone());
        if let Some(r) = j.read().record {
            prop_assert!(stored(&valid_encodings(&flash), &r));
        }
        // Appending over random content works and reads back.
        j.append(&state(7)).unwrap();
        prop_assert_eq!(j.read().record.map(|r| r.state), Some(state(7)));
    }

    /// A real journal with random bytes mutated: the answer is one of the
    /// records that are still intact on flash, never a damaged one.
    #[test]
    fn mutated_journal_yields_only_intact_records(
        n in 1u32..40,
        mutations in proptest::collection::vec((0usize..8192, any::<u8>()), 1..64),
    ) {
        let mut j = journal(Flash::new(8192));
        for i in 0..n {
            j.append(&state(i)).unwrap();
        }
        let mut flash = j.into_inner();
        for (at, v) in mutations {
            flash.set_contents(at, &[v]);
        }
        let intact = valid_encodings(&flash);
        let mut j = journal(flash);
        match j.read().record {
            Some(r) => prop_assert!(stored(&intact, &r)),
            None => prop_assert!(intact.is_empty() || intact.iter().all(|b| b.iter().all(|&x| x == 0xFF))),
        }
    }
}

#[test]
fn a_write_that_does_not_read_back_moves_on() {
    let mut j = journal(Flash::new(8192));
    j.append(&state(0)).unwrap();
    // Damage the middle of the next position where a probe does not look:
    // the position is not free (not every byte reads erased), and a record
    // behind it would lie past where a boot's binary search stops (its
    // probe reads erased), so the journal moves to the other sector
    // without writing in this one again.
    j.flash().set_contents(256 + 56, &[0x00]);
    let seq = j.append(&state(1)).unwrap();
    assert_eq!(
        seq, 16,
        "the first position of the other sector, and its number"
    );
    let mut j = journal(j.into_inner());
    assert_eq!(
        j.read().record.map(|r| (r.seq, r.state)),
        Some((16, state(1)))
    );
    let flash = j.into_inner();
    assert_eq!(
        flash.stats().writes,
        2,
        "nothing written at the damaged position or behind it"
    );

    // Garbage at the start of the next position is moved past in place:
    // its probe reads it, so a boot's search runs past it.
    let mut j = journal(flash);
    j.flash().write(4096 + 256, &[0xA5; 4]).unwrap();
    assert_eq!(j.append(&state(2)), Ok(18));
    assert_eq!(j.read().record.map(|r| r.state), Some(state(2)));
}

/// Layouts the journal never writes itself, found by fuzzing: an append
/// must still end up as what the next boot reads.
#[test]
fn foreign_layouts_cannot_hide_an_append() {
    let geometry = Geometry::contiguous(0, 1024);
    let rec = |seq, i| {
        Record {
            seq,
            state: state(i),
        }
        .encode()
    };
    // A valid record after a blank hole, beyond where a boot's search stops.
    let mut flash = SimFlash::<1, 4, 1024>::new(2048);
    flash.set_contents(0, &rec(0, 0));
    flash.set_contents(256, &rec(1, 1));
    flash.set_contents(768, &rec(7, 7));
    // Sequence numbers 2^31 apart, where serial order is undefined.
    let mut far = SimFlash::<1, 4, 1024>::new(2048);
    far.set_contents(0, &rec(0, 0));
    far.set_contents(1024, &rec(0x7FFF_FFFF, 1));
    // The restart goes to the other sector than the hidden write, erasing
    // it only when it is not blank: sector 1 is blank in the first layout,
    // and holds the far record in the second (the write went to sector 1).
    for (flash, erases) in [(flash, [0, 0]), (far, [1, 0])] {
        let mut j = Journal::new(flash, geometry).unwrap();
        j.append(&state(42)).unwrap();
        let flash = j.into_inner();
        assert_eq!(flash.sector_erases(), &erases[..]);
        let mut again = Journal::new(flash, geometry).unwrap();
        assert_eq!(again.read().record.map(|r| r.state), Some(state(42)));
        again.append(&state(43)).unwrap();
        assert_eq!(again.read().record.map(|r| r.state), Some(state(43)));
    }
}

/// Found by fuzzing: the move to the other sector must land where a boot's
/// search looks. Junk there whose first bytes read erased would hide a
/// record written after it, and an append of the same state as the newest
/// would then report the old record's number as its own.
#[test]
fn a_move_never_writes_behind_junk_a_boot_cannot_see_past() {
    let geometry = Geometry::contiguous(0, 1024);
    let mut flash = SimFlash::<1, 4, 1024>::new(2048);
    let rec = |seq| {
        Record {
            seq,
            state: state(5),
        }
        .encode()
    };
    flash.set_contents(0, &rec(0));
    flash.set_contents(256, &[0x00; 8]);
    flash.set_contents(512, &rec(2));
    flash.set_contents(768, &[0x00; 8]);
    // Sector 1: junk after 64 erased bytes at positions 0 and 2.
    flash.set_contents(1024 + 64, &[0x00; 8]);
    flash.set_contents(1024 + 512 + 64, &[0x00; 8]);
    let mut j = Journal::new(flash, geometry).unwrap();
    assert_eq!(j.read().record.map(|r| r.seq), Some(2));
    let seq = j.append(&state(5)).unwrap();
    assert!(seq > 2, "the append reported {seq}");
    let mut j = Journal::new(j.into_inner(), geometry).unwrap();
    assert_eq!(
        j.read().record.map(|r| (r.seq, r.state)),
        Some((seq, state(5)))
    );
}
