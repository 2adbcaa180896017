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
//! What a scan cannot prove: a journal written with 4 KiB sectors whose
//! second sector was never used reads exactly like one written with 2 KiB
//! sectors. Records that carry the geometry they were written under
//! (the record's reserved bytes, being added to the library as
//! `journal::Findings::foreign`) close that gap; this module is the one
//! place to switch to them.

use std::fmt;

use abboot::journal::Geometry;
use abboot::record::{Record, RECORD_SIZE};
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
