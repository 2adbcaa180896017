//! The metadata journal: [`Record`]s appended to two erase sectors.
//!
//! # How it stays atomic
//!
//! Each update appends one complete record after the newest one. A record
//! either reads back with a matching CRC — the state after the update — or
//! it does not, and the one before it is still the newest valid record —
//! the state before. There is no third outcome, so there is nothing to
//! repair after a power cut.
//!
//! * **Appending never erases.** A sector is erased only when the journal
//!   must move there because the current one is full, and the sector being
//!   erased never holds the newest valid record (that one is in the full
//!   sector). An erase interrupted half-way leaves garbage that is skipped.
//! * **Sequence numbers grow with position.** A record written at slot
//!   position `p` gets `newest.seq + (p - newest.position)`, counting
//!   positions across the two sectors. A torn record that later happens to
//!   read as valid (weak bits after a power cut) therefore always carries a
//!   smaller number than any record written after it, and can never
//!   override it. Numbers are compared as RFC 1982 serial numbers
//!   ([`seq_newer`]), so they wrap safely.
//! * **Every write is read back** and compared; a mismatch moves on to the
//!   next position and tries again, never trusting the damaged one. Then
//!   the journal is scanned as a boot would scan it, and the append
//!   succeeds only if that scan finds the new record as the newest (content
//!   the journal never writes itself, such as a valid record after a blank
//!   position, could otherwise hide it; the append then starts over in the
//!   other sector above the number that won).
//!
//! # Finding the newest record quickly
//!
//! Records are written in order from the start of a freshly erased sector,
//! so each sector is a used prefix and a blank suffix. A boot finds the end
//! of the prefix by binary search on a small probe of each position, then
//! decodes backwards from there until a record is valid: a normal boot
//! reads `O(log n)` probes and two records, whatever the sector size.
//! [`Journal::inspect`] reads every position for diagnostics.

use embedded_storage::nor_flash::NorFlash;

use crate::flash::Region;
use crate::record::{same_state, seq_newer, DecodeError, Record, RECORD_SIZE};
use crate::state::BootState;

/// Where the journal lives: two sectors of one flash device.
///
/// Each sector is a region aligned to `ERASE_SIZE`, a whole number of erase
/// blocks long, and able to hold at least one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Geometry {
    /// The two journal sectors.
    pub sectors: [Region; 2],
    /// The value every byte of the metadata part reads after an erase:
    /// `0xFF` for most NOR flash (the default), `0x00` for parts such as
    /// the STM32L0/L1 data EEPROM and some ECC modes. Blank detection
    /// compares against it; the record format does not change.
    pub erased: u8,
}

impl Geometry {
    /// Two sectors of `sector_size` bytes at `first` and `second`, on a
    /// part that erases to `0xFF`.
    pub const fn new(first: u32, second: u32, sector_size: u32) -> Self {
        Self {
            sectors: [
                Region::new(first, sector_size),
                Region::new(second, sector_size),
            ],
            erased: 0xFF,
        }
    }

    /// The same geometry on a part whose erased bytes read `value`
    /// (`0xFF` or `0x00`; see [`Geometry::erased`]).
    pub const fn erased_to(mut self, value: u8) -> Self {
        self.erased = value;
        self
    }

    /// Two adjacent sectors of `sector_size` bytes starting at `offset`.
    pub const fn contiguous(offset: u32, sector_size: u32) -> Self {
        Self::new(offset, offset.wrapping_add(sector_size), sector_size)
    }
}

/// Why a [`Geometry`] cannot be used with a flash device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GeometryError {
    /// The flash's `READ_SIZE` or `WRITE_SIZE` does not divide the record size.
    WordSize,
    /// A sector does not start on an erase boundary or is not a whole number
    /// of erase blocks.
    Misaligned,
    /// A sector cannot hold even one record.
    TooSmall,
    /// The two sectors share bytes.
    Overlap,
    /// A sector lies outside the device.
    OutOfBounds,
}

/// Why a journal operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The flash driver returned an error (the operation may have been cut).
    Flash(E),
    /// What was written did not read back the same, on every try.
    Verify,
    /// An erased sector did not read back blank.
    Erase,
}

/// What a scan found besides the newest record, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct Findings {
    /// Positions examined that held a valid record.
    pub valid: u32,
    /// Positions examined that held torn, corrupt or foreign bytes.
    pub invalid: u32,
    /// Positions examined that the flash could not read.
    pub unreadable: u32,
}

/// The result of reading the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Loaded {
    /// The newest valid record, or `None` when there is none.
    pub record: Option<Record>,
    /// `true` when both sectors are blank (a factory device), as opposed to
    /// holding only invalid or unreadable bytes.
    pub blank: bool,
    /// What the scan skipped on its way.
    pub findings: Findings,
}

/// One position of the journal, as [`Journal::inspect`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Sector 0 or 1.
    pub sector: u8,
    /// Index of the position within its sector.
    pub index: u32,
    /// Absolute flash offset of the position.
    pub offset: u32,
    /// What the position holds.
    pub content: Content,
}

/// What one position of the journal holds.
#[derive(Clone, Debug, PartialEq, Eq)]
// Produced one at a time for tools; boxing the record would need a heap.
#[allow(clippy::large_enum_variant)]
pub enum Content {
    /// A record whose CRC and fields check out.
    Valid(Record),
    /// Bytes that are not a record (`Blank` for erased flash).
    Invalid(DecodeError),
    /// The flash returned an error when read.
    Unreadable,
}

/// The newest record's position and where the next one goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tail {
    /// `(sector, index, seq)` of the newest valid record.
    newest: Option<(usize, u32, u32)>,
    /// Number of used (non-blank) positions at the start of each sector.
    used: [u32; 2],
}

/// The record journal over two sectors of a `NorFlash`.
pub struct Journal<F> {
    flash: F,
    sectors: [Region; 2],
    per_sector: u32,
    /// What the last successful read or append learned, so that an append
    /// right after a read does not scan again. Dropped on any error.
    tail: Option<Tail>,
}

/// Appends that fail their read-back are retried at the next position this
/// many times in all; a part that keeps failing is worn out or broken.
const WRITE_ATTEMPTS: usize = 3;
/// Bytes read from the start of a position to tell blank from used.
const PROBE: usize = 32;

impl<F: NorFlash> Journal<F> {
    /// A journal on `flash` in the sectors of `geometry`, checked against
    /// the flash's word and erase sizes and capacity.
    pub fn new(flash: F, geometry: Geometry) -> Result<Self, GeometryError> {
        let record = RECORD_SIZE;
        if F::READ_SIZE == 0
            || F::WRITE_SIZE == 0
            || record % F::READ_SIZE != 0
            || record % F::WRITE_SIZE != 0
        {
            return Err(GeometryError::WordSize);
        }
        let erase = F::ERASE_SIZE as u32;
        let [a, b] = geometry.sectors;
        for s in [a, b] {
            if !s.fits(flash.capacity()) {
                return Err(GeometryError::OutOfBounds);
            }
            if erase == 0 || s.offset % erase != 0 || s.len % erase != 0 {
                return Err(GeometryError::Misaligned);
            }
        }
        if a.len != b.len || (a.len as usize) < record {
            return Err(GeometryError::TooSmall);
        }
        if a.overlaps(&b) {
            return Err(GeometryError::Overlap);
        }
        Ok(Self {
            flash,
            sectors: [a, b],
            per_sector: a.len / record as u32,
            tail: None,
        })
    }

    /// The flash device, for the layers that share it.
    pub fn flash(&mut self) -> &mut F {
        // Whoever writes through this may change what the cached tail says.
        self.tail = None;
        &mut self.flash
    }

    /// Gives the flash device back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// Records each sector holds.
    pub fn records_per_sector(&self) -> u32 {
        self.per_sector
    }

    /// Finds the newest valid record in both sectors. Torn, corrupt and
    /// unreadable positions are skipped and counted, never trusted, so
    /// reading never fails: a device whose journal is all garbage reads as
    /// having no record.
    pub fn read(&mut self) -> Loaded {
        let mut findings = Findings::default();
        let mut newest: Option<(usize, u32, Record)> = None;
        let mut used = [0u32; 2];
        for (s, used) in used.iter_mut().enumerate() {
            *used = self.used_prefix(s);
            for i in (0..*used).rev() {
                match self.read_position(s, i) {
                    Content::Valid(r) => {
                        findings.valid += 1;
                        let newer = match &newest {
                            Some((_, _, n)) => seq_newer(r.seq, n.seq),
                            None => true,
                        };
                        if newer {
                            newest = Some((s, i, r));
                        }
                        // Sequence numbers grow with position inside a
                        // sector: the last valid record is the sector's newest.
                        break;
                    }
                    // A blank hole inside the used prefix is not damage.
                    Content::Invalid(DecodeError::Blank) => {}
                    Content::Invalid(_) => findings.invalid += 1,
                    Content::Unreadable => findings.unreadable += 1,
                }
            }
        }
        self.tail = Some(Tail {
            newest: newest.as_ref().map(|(s, i, r)| (*s, *i, r.seq)),
            used,
        });
        Loaded {
            blank: used == [0, 0],
            record: newest.map(|(_, _, r)| r),
            findings,
        }
    }

    /// Appends a record holding `state` and returns its sequence number once
    /// it reads back exactly as written.
    pub fn append(&mut self, state: &BootState) -> Result<u32, Error<F::Error>> {
        let result = self.try_append(state);
        if result.is_err() {
            self.tail = None;
        }
        result
    }

    fn try_append(&mut self, state: &BootState) -> Result<u32, Error<F::Error>> {
        // Where to start over when a scan after the write disagrees.
        let mut restart: Option<(usize, u32)> = None;
        for _ in 0..WRITE_ATTEMPTS {
            let (sector, index, seq) = match restart.take() {
                Some((s, seq)) => {
                    self.ensure_blank(s)?;
                    (s, 0, seq)
                }
                None => {
                    let mut tail = match self.tail {
                        Some(t) => t,
                        None => {
                            self.read();
                            self.tail.unwrap_or(Tail {
                                newest: None,
                                used: [self.per_sector; 2],
                            })
                        }
                    };
                    self.next_position(&mut tail)?
                }
            };
            let bytes = Record {
                seq,
                state: state.clone(),
            }
            .encode();
            let offset = self.offset(sector, index);
            self.flash.write(offset, &bytes).map_err(Error::Flash)?;
            let mut back = [0u8; RECORD_SIZE];
            self.flash.read(offset, &mut back).map_err(Error::Flash)?;
            self.tail = None;
            if back != bytes {
                // The position is damaged now; the next attempt scans again
                // and lands after it, with a larger sequence number.
                continue;
            }
            // The bytes are right; a boot must also *find* them as the
            // newest. Content this journal never writes (a record after a
            // blank hole, numbers 2^31 apart) can hide them: then start over
            // in the other sector with a number above the one that won.
            match self.read().record {
                // Our state is what a boot finds (possibly in the copy of an
                // earlier attempt): that is the guarantee.
                Some(r) if same_state(&r.state, state) => return Ok(r.seq),
                Some(r) => restart = Some((sector ^ 1, r.seq.wrapping_add(1))),
                None => {}
            }
        }
        Err(Error::Verify)
    }

    /// Chooses where the next record goes and its sequence number, erasing
    /// the other sector first when the current one is full.
    fn next_position(&mut self, tail: &mut Tail) -> Result<(usize, u32, u32), Error<F::Error>> {
        let n = self.per_sector;
        match tail.newest {
            Some((s, i, seq)) => {
                let next = tail.used[s & 1];
                if next < n {
                    return Ok((s, next, seq.wrapping_add(next.saturating_sub(i))));
                }
                let other = s ^ 1;
                self.ensure_blank(other)?;
                tail.used[other & 1] = 0;
                Ok((other, 0, seq.wrapping_add(n.saturating_sub(i))))
            }
            None => {
                // No valid record anywhere: nothing to lose by erasing, and
                // stale garbage must not outlive the fresh start.
                for s in 0..2 {
                    if s == 0 || tail.used[s & 1] != 0 {
                        self.ensure_blank(s)?;
                        tail.used[s & 1] = 0;
                    }
                }
                Ok((0, 0, 0))
            }
        }
    }

    /// Erases sector `s` unless it already reads blank, and checks the result.
    fn ensure_blank(&mut self, s: usize) -> Result<(), Error<F::Error>> {
        if self.is_blank(s) {
            return Ok(());
        }
        let r = self.sectors[s & 1];
        self.flash
            .erase(r.offset, r.offset + r.len)
            .map_err(Error::Flash)?;
        if self.is_blank(s) {
            Ok(())
        } else {
            Err(Error::Erase)
        }
    }

    /// Whether every byte of sector `s` reads 0xFF. A word the flash cannot
    /// read (torn on ECC flash) is not blank.
    fn is_blank(&mut self, s: usize) -> bool {
        let mut buf = [0u8; RECORD_SIZE];
        let r = self.sectors[s & 1];
        (0..self.per_sector).all(|i| {
            let ok = self.flash.read(self.offset(s, i), &mut buf).is_ok();
            ok && buf.iter().all(|&b| b == 0xFF)
        }) && {
            // The tail of a sector that is not a whole number of records.
            let used = self.per_sector * RECORD_SIZE as u32;
            match buf.get_mut(..r.len.saturating_sub(used) as usize) {
                Some([]) => true,
                Some(rest) => {
                    self.flash.read(r.offset + used, rest).is_ok()
                        && rest.iter().all(|&b| b == 0xFF)
                }
                None => false,
            }
        }
    }

    /// Number of used positions at the start of sector `s`, by binary search
    /// on the first bytes of each position.
    fn used_prefix(&mut self, s: usize) -> u32 {
        let (mut lo, mut hi) = (0, self.per_sector);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.probe_used(s, mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn probe_used(&mut self, s: usize, index: u32) -> bool {
        let mut buf = [0u8; RECORD_SIZE];
        let len = PROBE.max(F::READ_SIZE).min(RECORD_SIZE);
        let probe = &mut buf[..len];
        match self.flash.read(self.offset(s, index), probe) {
            Ok(()) => probe.iter().any(|&b| b != 0xFF),
            // An unreadable word was written (or torn): the position is used.
            Err(_) => true,
        }
    }

    fn read_position(&mut self, s: usize, index: u32) -> Content {
        let mut buf = [0u8; RECORD_SIZE];
        match self.flash.read(self.offset(s, index), &mut buf) {
            Ok(()) => match Record::decode(&buf) {
                Ok(r) => Content::Valid(r),
                Err(e) => Content::Invalid(e),
            },
            Err(_) => Content::Unreadable,
        }
    }

    fn offset(&self, s: usize, index: u32) -> u32 {
        // `new` checked that every position of both sectors lies inside the
        // device, so this cannot overflow for `index < per_sector`.
        self.sectors[s & 1].offset + index * RECORD_SIZE as u32
    }

    /// Reads every position of both sectors, valid or not, in flash order,
    /// and hands each to `f`. For tools and diagnostics, not the boot path.
    pub fn inspect(&mut self, mut f: impl FnMut(Position)) {
        for s in 0..2 {
            for index in 0..self.per_sector {
                f(Position {
                    sector: s as u8,
                    index,
                    offset: self.offset(s, index),
                    content: self.read_position(s, index),
                });
            }
        }
    }
}
