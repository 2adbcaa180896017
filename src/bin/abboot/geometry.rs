//! Geometry that cannot be wrong: before a command writes, the geometry it
//! was given (options or configuration file) is checked against what is on
//! flash, and a disagreement refuses the command before anything changes.
//!
//! The journal reads only its two sectors, so a wrong offset or sector size
//! looks to it like a journal with fewer records, or none, and an append
//! would then write (and erase) where the real journal lies. The scan here
//! reads the whole metadata file or device (up to [`SCAN_LIMIT`]; beyond
//! that, a window around the sectors) at every record position, and proves
//! the geometry wrong when
//!
//! * a valid record lies **outside** the two sectors ([`Mismatch::Outside`]):
//!   the journal was written at another offset or with a larger sector
//!   size than the one given;
//! * two valid records in one sector were **not written in one pass** of
//!   that sector ([`Mismatch::Order`]): the journal gives the record at
//!   position `p` of a freshly erased sector the sequence number
//!   `first + p`, so `seq - position` is one value per sector; two values
//!   mean the sector holds records of two sectors of a smaller size;
//! * no record position of the sectors reads as the declared erased value
//!   but some read as the **other** one ([`Mismatch::ErasedValue`]): a part
//!   that erases to `0x00` was declared as erasing to `0xFF`, or the
//!   reverse (a full journal has no blank position and proves nothing).
//!
//! * a valid record, anywhere in the file, says it was written into
//!   **another sector** than the two given ([`Mismatch::Home`]): records
//!   carry the offset and size of the sector they were written into
//!   ([`abboot::record::home`]), so this one names the right geometry.
//!
//! And the library's own scan must agree: a journal whose read counts
//! records of another geometry (`journal::Findings::foreign`) is refused
//! too ([`Mismatch::Foreign`]), whatever this scan found.
//!
//! What only the record homes can prove: a journal written with 4 KiB
//! sectors whose second sector was never used reads, position by
//! position, exactly like one written with 2 KiB sectors. Records written
//! by an older version carry no home (zeros) and are judged by position.

use std::fmt;

use abboot::journal::Geometry;
use abboot::record::{self, Record, RECORD_SIZE};
use embedded_storage::nor_flash::ReadNorFlash;

/// Files up to this size are scanned whole.
pub const SCAN_LIMIT: u32 = 64 << 20;
/// Bytes scanned on either side of the sectors in a larger file.
const WINDOW: u32 = 1 << 20;

/// Why the given geometry disagrees with what is on flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// A valid record lies outside the two sectors.
    Outside {
        /// Its offset.
        offset: u32,
        /// Its sequence number.
        seq: u32,
    },
    /// Two valid records of one sector were not written in one pass of it.
    Order {
        /// The sector's offset.
        sector: u32,
        /// Offset and sequence number of the first record.
        first: (u32, u32),
        /// Offset and sequence number of the record that contradicts it.
        other: (u32, u32),
    },
    /// Blank positions read as the other erased value only.
    ErasedValue {
        /// The first such position.
        sector: u32,
        /// The erased value declared.
        declared: u8,
        /// The value every byte of the sector holds.
        found: u8,
    },
    /// A valid record says it was written into another sector.
    Home {
        /// Its offset.
        offset: u32,
        /// The sector `(offset, size)` it names.
        home: (u32, u32),
    },
    /// The library's scan of the journal found records of another geometry.
    Foreign {
        /// How many.
        count: u32,
    },
    /// The file could not be read at this offset.
    Unreadable {
        /// Where.
        offset: u32,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mismatch::Outside { offset, seq } => write!(
                f,
                "geometry disagrees with the flash: a valid record (seq {seq}) lies at 0x{offset:x}, \
                 outside the two journal sectors; the journal was written with another offset or \
                 sector size"
            ),
            Mismatch::Order {
                sector,
                first,
                other,
            } => write!(
                f,
                "geometry disagrees with the flash: the records at 0x{:x} (seq {}) and 0x{:x} \
                 (seq {}) cannot both belong to the sector at 0x{sector:x}; the journal was written \
                 with a smaller sector size",
                first.0, first.1, other.0, other.1
            ),
            Mismatch::ErasedValue {
                sector,
                declared,
                found,
            } => write!(
                f,
                "erased value disagrees with the flash: the blank journal positions (the first at \
                 0x{sector:x}) read 0x{found:02x}, none reads 0x{declared:02x}, the value the part \
                 was declared to erase to"
            ),
            Mismatch::Home { offset, home } => write!(
                f,
                "geometry disagrees with the flash: the record at 0x{offset:x} was written into a \
                 journal sector of 0x{:x} bytes at 0x{:x}, which is not one of the two sectors \
                 given",
                home.1, home.0
            ),
            Mismatch::Foreign { count } => write!(
                f,
                "geometry disagrees with the flash: the journal holds {count} record(s) written \
                 under another geometry"
            ),
            Mismatch::Unreadable { offset } => {
                write!(f, "cannot read at 0x{offset:x} to check the geometry")
            }
        }
    }
}

/// Checks `g` against the content of `flash`; see the [module
/// documentation](self). `erased_check` is off for `init`, which erases
/// the sectors anyway.
pub fn check<F: ReadNorFlash>(
    flash: &mut F,
    g: &Geometry,
    erased_check: bool,
) -> Result<(), Mismatch> {
    let capacity = u32::try_from(flash.capacity()).unwrap_or(u32::MAX);
    let rec = RECORD_SIZE as u32;
    let (start, end) = if capacity <= SCAN_LIMIT {
        (0, capacity)
    } else {
        let lo = g.sectors.iter().map(|s| s.offset).min().unwrap_or(0);
        let hi = g
            .sectors
            .iter()
            .map(|s| s.offset.saturating_add(s.len))
            .max()
            .unwrap_or(0);
        (
            lo.saturating_sub(WINDOW) / rec * rec,
            hi.saturating_add(WINDOW).min(capacity),
        )
    };
    // Per sector: the first valid record (offset, seq, seq - position).
    let mut first: [Option<(u32, u32, u32)>; 2] = [None, None];
    // Positions of the sectors that read the declared erased value, and the
    // first that reads the other one.
    let other = if g.erased == 0x00 { 0xFF } else { 0x00 };
    let mut declared_blank = 0u32;
    let mut other_blank: Option<u32> = None;
    let mut buf = [0u8; RECORD_SIZE];
    let mut at = start;
    while at.saturating_add(rec) <= end {
        flash
            .read(at, &mut buf)
            .map_err(|_| Mismatch::Unreadable { offset: at })?;
        let sector = g
            .sectors
            .iter()
            .position(|s| at >= s.offset && at - s.offset < s.len);
        if sector.is_some() {
            if buf.iter().all(|&b| b == g.erased) {
                declared_blank += 1;
            } else if buf.iter().all(|&b| b == other) {
                other_blank.get_or_insert(at);
            }
        }
        if let Ok(r) = Record::decode(&buf) {
            if let Some(home) = record::home(&buf) {
                let known = g.sectors.iter().any(|s| (s.offset, s.len) == home);
                if !known {
                    return Err(Mismatch::Home { offset: at, home });
                }
            }
            let Some(s) = sector else {
                return Err(Mismatch::Outside {
                    offset: at,
                    seq: r.seq,
                });
            };
            let position = (at - g.sectors[s].offset) / rec;
            let base = r.seq.wrapping_sub(position);
            match first[s] {
                None => first[s] = Some((at, r.seq, base)),
                Some((o, seq, b)) if b != base => {
                    return Err(Mismatch::Order {
                        sector: g.sectors[s].offset,
                        first: (o, seq),
                        other: (at, r.seq),
                    })
                }
                Some(_) => {}
            }
        }
        at += rec;
    }
    match other_blank {
        Some(at) if erased_check && declared_blank == 0 => Err(Mismatch::ErasedValue {
            sector: at,
            declared: g.erased,
            found: other,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::MemFlash;
    use abboot::journal::Journal;
    use abboot::sim::file::FileFlash;
    use abboot::state::{BootState, Slot};

    /// The bytes of a 16 KiB file holding a journal of `records` appends
    /// over two 4 KiB sectors at 0 and 0x1000, each record's home zeroed
    /// when `homeless` (as an older version wrote them).
    fn journal(records: u32, homeless: bool) -> Vec<u8> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("abboot-geometry-{}-{n}.bin", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let flash = FileFlash::<1, 4096>::create_blank(&path, 16384)
            .unwrap()
            .sync(false);
        let mut j = Journal::new(flash, Geometry::contiguous(0, 4096)).unwrap();
        let st = BootState {
            primary: Some(Slot::A),
            ..BootState::default()
        };
        for _ in 0..records {
            j.append(&st).unwrap();
        }
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        if homeless {
            for chunk in bytes.chunks_mut(RECORD_SIZE) {
                let b: &mut [u8; RECORD_SIZE] = chunk.try_into().unwrap();
                if Record::decode(b).is_ok() {
                    record::set_home(b, 0, 0);
                }
            }
        }
        bytes
    }

    fn check_on(bytes: &[u8], g: Geometry) -> Result<(), Mismatch> {
        check(&mut MemFlash::new(bytes, 0), &g, true)
    }

    #[test]
    fn the_right_geometry_passes() {
        for homeless in [false, true] {
            let b = journal(40, homeless);
            assert_eq!(check_on(&b, Geometry::contiguous(0, 4096)), Ok(()));
        }
    }

    #[test]
    fn records_outside_the_sectors() {
        let b = journal(20, true);
        let e = check_on(&b, Geometry::contiguous(0, 2048)).unwrap_err();
        assert!(
            matches!(e, Mismatch::Outside { offset, .. } if offset >= 0x1000),
            "{e:?}"
        );
        let e = check_on(&b, Geometry::contiguous(0x2000, 4096)).unwrap_err();
        assert!(
            matches!(e, Mismatch::Outside { offset: 0, seq: 0 }),
            "{e:?}"
        );
    }

    #[test]
    fn two_passes_in_one_sector() {
        // 40 appends: sector 0 was erased and rewritten (seq 32..) while
        // sector 1 holds seq 16..31; one 8 KiB sector cannot hold both.
        let b = journal(40, true);
        let e = check_on(&b, Geometry::contiguous(0, 8192)).unwrap_err();
        assert!(matches!(e, Mismatch::Order { sector: 0, .. }), "{e:?}");
        assert!(e.to_string().contains("smaller sector size"));
    }

    #[test]
    fn records_name_their_sector() {
        // One record: by position, 2 KiB sectors fit; its home does not.
        let b = journal(1, false);
        assert_eq!(
            check_on(&journal(1, true), Geometry::contiguous(0, 2048)),
            Ok(())
        );
        let e = check_on(&b, Geometry::contiguous(0, 2048)).unwrap_err();
        assert_eq!(
            e,
            Mismatch::Home {
                offset: 0,
                home: (0, 4096)
            }
        );
    }

    #[test]
    fn the_other_erased_value() {
        let b = journal(3, false);
        let e = check_on(&b, Geometry::contiguous(0, 4096).erased_to(0x00)).unwrap_err();
        assert!(
            matches!(
                e,
                Mismatch::ErasedValue {
                    declared: 0x00,
                    found: 0xFF,
                    ..
                }
            ),
            "{e:?}"
        );
        // A zero-filled partition declared 0xff.
        let zeros = vec![0u8; 8192];
        let e = check_on(&zeros, Geometry::contiguous(0, 4096)).unwrap_err();
        assert!(
            matches!(e, Mismatch::ErasedValue { found: 0x00, .. }),
            "{e:?}"
        );
        // init does not ask.
        let r = check(
            &mut MemFlash::new(&zeros, 0),
            &Geometry::contiguous(0, 4096),
            false,
        );
        assert_eq!(r, Ok(()));
    }
}
