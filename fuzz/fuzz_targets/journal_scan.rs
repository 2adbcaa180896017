//! The journal over any flash content (two 1 KiB sectors, four records
//! each): `read` never panics and returns only a record that is really on
//! flash at a record position; `inspect` agrees with the record codec at
//! every position; an `append` of a fixed state then succeeds (after at
//! most a few refused read-backs on garbage) and `read` returns a record
//! that is on flash, from the cached tail and on a fresh boot.
//!
//! The record `read` returns after the append is the appended one, on every
//! content. That its sequence number is newer than the one read before is
//! checked when the content is one the journal's own writes (torn or not)
//! can leave ([`journal_shaped`]), and on every content with the `strict`
//! feature: on foreign content the append may restart above a foreign
//! number (see `fuzz/README.md`, "Known findings").

#![no_main]

use abboot::journal::{Content, Error, Journal, Position};
use abboot::record::{home, seq_newer, Record, RECORD_SIZE};
use abboot_fuzz::{canonical_record, fixed_state, JournalFlash, JOURNAL_GEOMETRY, JOURNAL_LEN};
use libfuzzer_sys::fuzz_target;

/// Record positions in the journal.
const POSITIONS: usize = JOURNAL_LEN / RECORD_SIZE;
/// Appends allowed to fail their read-back before one must succeed: each
/// failed append spends at most three positions, and once a sector is used
/// up the other is erased, so a whole journal of garbage is crossed well
/// within this.
const MAX_APPENDS: usize = POSITIONS;

fn position_bytes(image: &[u8], k: usize) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    b.copy_from_slice(&image[k * RECORD_SIZE..(k + 1) * RECORD_SIZE]);
    b
}

fn inspect(journal: &mut Journal<JournalFlash>) -> Vec<Position> {
    let mut positions = Vec::new();
    journal.inspect(|p| positions.push(p));
    positions
}

/// `inspect` reports every position, in flash order, as the codec reads it.
fn check_inspect(positions: &[Position], image: &[u8]) {
    assert_eq!(positions.len(), POSITIONS);
    for (k, p) in positions.iter().enumerate() {
        assert_eq!(usize::from(p.sector), k / (POSITIONS / 2));
        assert_eq!(p.index as usize, k % (POSITIONS / 2));
        assert_eq!(p.offset as usize, k * RECORD_SIZE);
        let bytes = position_bytes(image, k);
        let sector = JOURNAL_GEOMETRY.sectors[k / (POSITIONS / 2)];
        let expected = match Record::decode(&bytes) {
            // A record whose home is another sector was written under
            // another geometry.
            Ok(r) => match home(&bytes) {
                Some(h) if h != (sector.offset, sector.len) => Content::Foreign(r),
                _ => Content::Valid(r),
            },
            Err(e) => Content::Invalid(e),
        };
        assert_eq!(p.content, expected, "position {k}");
    }
}

/// `record` is on flash: some position decodes to it and holds its
/// encoding (up to the bytes the format ignores when read).
fn check_on_flash(record: &Record, image: &[u8]) {
    let encoded = record.encode();
    let found = (0..POSITIONS).any(|k| {
        let bytes = position_bytes(image, k);
        Record::decode(&bytes).as_ref() == Ok(record) && canonical_record(&bytes) == encoded
    });
    assert!(
        found,
        "read() returned a record that is not on flash: {record:?}"
    );
}

/// Bytes at the start of a position that the journal probes to tell a used
/// position from an erased one (its `PROBE`, for a flash with byte reads).
const PROBE: usize = 32;

/// Whether `image` has the shape the journal's own writes leave, as far as
/// "append, then read returns it" depends on it:
///
/// * in each sector, no valid record follows a position whose probe bytes
///   read erased: the journal finds the end of a sector's records by binary
///   search on those bytes, so a record after such a hole can be missed and
///   then found again after the hole is written;
/// * the sequence numbers of all valid records lie within 2^30 of each other:
///   they are compared as serial numbers, which is only defined within 2^31.
fn journal_shaped(image: &[u8]) -> bool {
    let per_sector = POSITIONS / 2;
    let mut seqs = Vec::new();
    for sector in 0..2 {
        let mut hole = false;
        for index in 0..per_sector {
            let bytes = position_bytes(image, sector * per_sector + index);
            if let Ok(r) = Record::decode(&bytes) {
                if hole {
                    return false;
                }
                seqs.push(r.seq);
            }
            hole |= bytes[..PROBE].iter().all(|&b| b == 0xFF);
        }
    }
    seqs.iter().all(|&a| {
        seqs.iter()
            .all(|&b| a.wrapping_sub(b) < 1 << 30 || b.wrapping_sub(a) < 1 << 30)
    })
}

fuzz_target!(init: abboot_fuzz::write_seeds(abboot_fuzz::journal_seeds), |data: &[u8]| {
    let mut image = vec![0xFF; JOURNAL_LEN];
    let n = data.len().min(JOURNAL_LEN);
    image[..n].copy_from_slice(&data[..n]);
    let mut flash = JournalFlash::new(JOURNAL_LEN);
    flash.set_contents(0, &image);
    let mut journal = Journal::new(flash, JOURNAL_GEOMETRY).expect("valid geometry");

    let loaded = journal.read();
    let f = loaded.findings;
    assert_eq!(f.unreadable, 0, "this flash has no unreadable words");
    assert!(f.valid + f.invalid <= POSITIONS as u32);
    if let Some(record) = &loaded.record {
        assert!(!loaded.blank());
        assert!(f.valid >= 1);
        check_on_flash(record, &image);
    }
    if image.iter().all(|&b| b == 0xFF) {
        assert!(loaded.blank() && loaded.record.is_none());
    }
    // Reading changes nothing.
    assert_eq!(journal.read(), loaded);
    check_inspect(&inspect(&mut journal), &image);

    let state = fixed_state();
    let mut refused = None;
    let seq = (0..MAX_APPENDS).find_map(|_| match journal.append(&state) {
        Ok(seq) => Some(seq),
        // Garbage where the record went: the next append moves on.
        Err(Error::Verify) => None,
        Err(e @ (Error::Foreign | Error::EraseValue)) => {
            refused = Some(e);
            None
        }
        Err(e) => panic!("append failed on a healthy flash: {e:?}"),
    });
    match refused {
        // Records of another geometry: the journal writes nothing at all.
        Some(Error::Foreign) => {
            assert!(f.foreign > 0 && loaded.uncertain);
            assert_eq!(journal.into_inner().contents(), &image[..]);
            return;
        }
        // A sector it had to erase reads all 0x00, the other erased value:
        // it is not erased.
        Some(_) => {
            let flash = journal.into_inner();
            let zero = flash
                .contents()
                .chunks(JOURNAL_LEN / 2)
                .any(|s| s.iter().all(|&b| b == 0));
            assert!(zero, "EraseValue without a sector of 0x00");
            return;
        }
        None => {}
    }
    let seq = seq.expect("append never succeeded");
    let cached = journal.read().record;
    let after = journal.into_inner().contents().to_vec();
    let mut flash = JournalFlash::new(JOURNAL_LEN);
    flash.set_contents(0, &after);
    let mut fresh = Journal::new(flash, JOURNAL_GEOMETRY).expect("valid geometry");
    let booted = fresh.read().record;
    check_inspect(&inspect(&mut fresh), &after);
    for record in [&cached, &booted] {
        let record = record.as_ref().expect("no record right after an append");
        check_on_flash(record, &after);
    }

    // On any content, what a boot reads after a successful append is the
    // appended state, under the number append returned.
    let expected = Some(Record { seq, state });
    assert_eq!(cached, expected, "read after append");
    assert_eq!(booted, expected, "read after append, fresh boot");
    // Numbers only grow on content the journal's own writes can leave; on
    // foreign content the append may restart above a foreign number.
    if cfg!(feature = "strict") || journal_shaped(&image) {
        if let Some(old) = &loaded.record {
            assert!(seq_newer(seq, old.seq), "seq {seq} not newer than {}", old.seq);
        }
    }
});
