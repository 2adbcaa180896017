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
//!   ([`crate::record::seq_newer`]), so they wrap safely.
//! * **Every write is read back** and compared; a mismatch moves on to the
//!   next position and tries again, never trusting the damaged one. Then
//!   the journal is scanned as a boot would scan it, and the append
//!   succeeds only if that scan finds the new record as the newest (content
//!   the journal never writes itself, such as a valid record after a blank
//!   position, could otherwise hide it; the append then starts over in the
//!   other sector above the number that won).
//!
//! # When the flash fails
//!
//! Real parts fail reads (an SPI glitch; an ECC double error on a torn
//! word, which STM32L4/L5/U5/WB report as an NMI), refuse programs, and
//! some erase to `0x00`. The journal keeps its promise through all of it:
//!
//! * **Reads are retried** ([`READ_ATTEMPTS`] times). A position that still
//!   fails is read again word by word: if only some words fail, it is a
//!   torn or rotten word — damaged, never a record (an ECC part reads
//!   every complete word) — and is moved past like any other garbage. If
//!   every word fails, the position is *unreadable*: it may hold a record
//!   newer than any the scan found.
//! * **An unreadable position above a sector's newest record makes the
//!   journal uncertain** ([`Loaded::uncertain`]): the state it read may be
//!   stale. An uncertain journal writes and erases nothing
//!   ([`Error::Unreadable`]), so a sector that could not be read is never
//!   erased and never overwritten by a record that would hide what it
//!   holds; the bootloader then makes the decision that needs no write.
//!   The next boot reads again.
//! * **A position is free only when every byte of it reads erased**, not
//!   when its first bytes do: an ECC part refuses to program a word that a
//!   torn write left half-programmed further in. A write the flash refuses
//!   moves on to the next position, like one that reads back wrong. When
//!   the position after a sector's used prefix is not free but its probe
//!   reads erased (a torn write that programmed only words further in),
//!   no record is written behind it, where a boot's binary search (below)
//!   would stop short of it: the sector counts as full and the record
//!   moves to the other sector.
//! * **The erased value is declared** in the [`Geometry`] (`0xFF` or
//!   `0x00`) and every blank check compares against it.
//! * **Records carry their home** (the sector they were written into; see
//!   [`crate::record`]). A record found in another sector than its home
//!   was written under another geometry: the scan counts it in
//!   [`Findings::foreign`] and the journal refuses to write
//!   ([`Error::Foreign`]) rather than erase what it does not understand.
//!
//! # Bounded wear on a part that cannot be written
//!
//! A sector is erased only to make room: when the journal must write and
//! the sector it writes in has no free position left after its used
//! prefix.
//! A fresh start (no valid record anywhere) writes at the first free
//! position after whatever garbage it finds, with a sequence number above
//! any that garbage claims, instead of erasing first. So a part whose
//! programs fail fills its free positions with at most
//! `WRITE_ATTEMPTS` (3) failed attempts per boot before it is erased
//! again — one erase per `records per sector / 3` boots at most, not
//! one per reset; a part that refuses programs without changing anything
//! is never erased; a write-protected part refuses the erase itself. A
//! sector that reads uniformly as the *other* erased value (all `0x00` on
//! a part declared to erase to `0xFF`, or the reverse) is what a part
//! with a wrongly declared erase value looks like after an erase: erasing
//! it again could not help, so it is never erased ([`Error::EraseValue`]).
//! The figures are in `benches/README.md`.
//!
//! # Finding the newest record quickly
//!
//! Records are written in order from the start of a freshly erased sector,
//! so each sector is a used prefix and a blank suffix. A boot finds the end
//! of the prefix by binary search on a small probe of each position, then
//! decodes backwards from there until a record is valid: a normal boot
//! reads `O(log n)` probes and two records, whatever the sector size. A
//! probe that cannot be read counts as used (an ECC part fails a torn
//! word); the prefix then ends at the highest position that reads other
//! than blank when read whole, so that a read glitch that passes never
//! sends an append past a blank hole, where a clean boot's search would
//! not find it.
//! [`Journal::inspect`] reads every position for diagnostics.

use embedded_storage::nor_flash::NorFlash;

use crate::flash::Region;
use crate::record::{
    all_are, decode_into, encode_into, encodes_same, home, seq_field, DecodeError, Record,
    RECORD_SIZE,
};
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
    /// The declared erased value is neither `0xFF` nor `0x00`.
    EraseValue,
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
    /// A position that may hold a newer record could not be read: nothing
    /// is written or erased until it reads ([`Loaded::uncertain`]).
    Unreadable,
    /// A record written under another geometry was found: the geometry
    /// given is wrong, and writing could destroy the real journal.
    Foreign,
    /// A sector reads uniformly as the other erased value: the part's
    /// erased value is declared wrong, and erasing again cannot help.
    EraseValue,
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
    /// Positions examined that the flash could not read (whole or in part).
    pub unreadable: u32,
    /// Valid records whose home is another sector: written under another
    /// geometry.
    pub foreign: u32,
}

/// The result of reading the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Loaded {
    /// The newest valid record, or `None` when there is none.
    pub record: Option<Record>,
    /// `true` when a position that could hold a newer record than
    /// [`record`](Self::record) could not be read, or a record of another
    /// geometry was found: the state may be stale, and the journal will
    /// not write until a scan is certain.
    pub uncertain: bool,
    /// What the scan skipped on its way.
    pub findings: Findings,
}

impl Loaded {
    /// Whether both sectors are blank (a factory device), as opposed to
    /// holding only invalid or unreadable bytes: the scan found nothing
    /// at all. Every position it reads that is not blank is counted in
    /// [`Loaded::findings`], and only blank ones are not, so this is
    /// derived from the counts rather than kept beside them (18 B of the
    /// nRF52840 bootloaders, which never ask).
    pub fn blank(&self) -> bool {
        self.findings == Findings::default()
    }
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
    /// A valid record whose home is another sector (another geometry).
    Foreign(Record),
    /// Some words of the position could not be read, others could: a torn
    /// or rotten word, never a record.
    Damaged,
    /// The flash returned an error for every read of the position.
    Unreadable,
}

/// What the last scan learned, so that an append right after a read does
/// not scan again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tail {
    /// `(sector, index, seq)` of the newest valid record.
    newest: Option<(usize, u32, u32)>,
    /// Number of used (non-blank) positions at the start of each sector;
    /// in the sector of the newest record, above its index.
    used: [u32; 2],
    /// Sequence number of a fresh start at position 0 (position `p` adds
    /// `p`): above every number that torn records on flash claim.
    fresh_seq: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// Not learned by a scan: the journal scans before it writes. A
    /// kind of block rather than an `Option` around the tail, so that the
    /// append tests once, after its scan, what it may do.
    ///
    /// First, so that it is 0: the append's test for it is a `cbnz`, and
    /// its refusal after the scan one compare for `None` and one choice
    /// of error, not a jump table over the four values.
    Stale,
    Unreadable,
    Foreign,
}

/// The record journal over two sectors of a `NorFlash`.
///
/// Laid out in declaration order, the fields read most often first: on
/// Thumb a byte field past offset 31, or a word past 124, takes a 4-byte
/// load instead of a 2-byte one.
#[repr(C)]
pub struct Journal<F> {
    erased: u8,
    /// Why nothing may be written, if so; [`Block::Stale`] when this
    /// says nothing (no scan yet, or one the flash may have outdated).
    /// Beside the erased value rather than in the tail: a byte within
    /// the 31-byte reach of Thumb's 2-byte `ldrb`/`strb` (in the tail it
    /// lay beyond it), so each of its uses is a 2-byte load or store.
    blocked: Option<Block>,
    per_sector: u32,
    flash: F,
    sectors: [Region; 2],
    /// What the last successful read or append learned; `blocked` says
    /// whether it still holds (stale on any error and whenever the flash
    /// is lent out).
    tail: Tail,
}

/// Appends that fail (a write error or a read-back mismatch) are retried at
/// the next position this many times in all; a part that keeps failing is
/// worn out or broken.
const WRITE_ATTEMPTS: usize = 3;
// A fourth attempt could follow a second failed move with a second erase:
// `try_append` would need its flag back.
const _: () = assert!(WRITE_ATTEMPTS <= 3);
/// Times a failed read is tried before the position is taken as
/// unreadable in this scan.
pub const READ_ATTEMPTS: usize = 3;
/// Bytes read from the start of a position to tell blank from used.
const PROBE: usize = 32;

impl<F: NorFlash> Journal<F> {
    /// Whether every sector is a whole number of records, whatever the
    /// geometry: when the erase size is a multiple of the record size
    /// (sectors are whole erase blocks, `new` checks).
    const WHOLE_RECORDS: bool = F::ERASE_SIZE % RECORD_SIZE == 0;

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
        if geometry.erased != 0xFF && geometry.erased != 0x00 {
            return Err(GeometryError::EraseValue);
        }
        let erase = F::ERASE_SIZE as u32;
        let [a, b] = geometry.sectors;
        // Each sector named, not iterated: over a board's constant
        // geometry the checks then fold away at compile time (a loop over
        // the array stays a loop over a copy of it on the stack). Always
        // inlined, as `Region::fits` is: a closure was left out of line
        // (+88 B).
        let capacity = flash.capacity();
        #[inline(always)]
        fn sector(s: Region, capacity: usize, erase: u32) -> Result<(), GeometryError> {
            if !s.fits(capacity) {
                Err(GeometryError::OutOfBounds)
            } else if erase == 0 || s.offset % erase != 0 || s.len % erase != 0 {
                Err(GeometryError::Misaligned)
            } else {
                Ok(())
            }
        }
        sector(a, capacity, erase)?;
        sector(b, capacity, erase)?;
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
            erased: geometry.erased,
            blocked: Some(Block::Stale),
            tail: Tail {
                newest: None,
                used: [0, 0],
                fresh_seq: 0,
            },
        })
    }

    /// The flash device, for the layers that share it.
    pub fn flash(&mut self) -> &mut F {
        // Whoever writes through this may change what the cached tail says.
        self.blocked = Some(Block::Stale);
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
    /// having no record. Whether an unreadable position may hide a newer
    /// record is in [`Loaded::uncertain`].
    pub fn read(&mut self) -> Loaded {
        // Built where it is returned: the newest record is copied once,
        // into its place, not again on the way out.
        let mut loaded = Loaded {
            record: None,
            uncertain: false,
            findings: Findings::default(),
        };
        let findings = &mut loaded.findings;
        // The newest valid record's place and number kept in the tail
        // from the start, as the used counts are, not in a local stored
        // there at the end (8 B of the nRF52840 bootloaders, 8 B of the
        // scan's frame).
        self.tail.newest = None;
        // Where each position is decoded.
        let mut candidate = Record::default();
        // Bit `s` set: sector `s` has an unreadable position above its
        // newest record (or anywhere, when it has none).
        let mut unreadable = 0u8;
        // The newest number a torn record claims, in serial order.
        let mut claimed: Option<u32> = None;
        // The newest valid record's number, once `findings.valid` is not 0.
        let mut newest_seq = 0;
        for s in 0..2 {
            let mut top = 0;
            let probed = self.used_prefix(s);
            // The probes count a position whose read failed as used; read
            // whole, the positions at the top of the prefix may then be
            // blank (a glitch that passed). The used prefix ends at the
            // highest position that is not blank: an append after a blank
            // hole would be a record the binary search of a clean boot
            // cannot find.
            for i in (0..probed).rev() {
                // `read_into` taken apart: the read's blank answer taken
                // here, not as a `Kind` to test again, so that the top is
                // raised once, before the decode (after it, it was raised
                // in each of the decode's answers, 36 B more on the
                // nRF52840; once after this match, 8 B more).
                let mut buf = [0u8; RECORD_SIZE];
                let kind = match self.read_words(s, i, &mut buf) {
                    // A blank hole inside the used prefix is not damage.
                    Words::Blank => continue,
                    Words::All => {
                        // Positions come down from the top: the first one
                        // here is the highest.
                        top = top.max(i + 1);
                        self.decode_at(s, &buf, &mut candidate)
                    }
                    Words::Some => {
                        top = top.max(i + 1);
                        Kind::Damaged
                    }
                    Words::None => {
                        top = top.max(i + 1);
                        Kind::Unreadable
                    }
                };
                match kind {
                    Kind::Valid => {
                        findings.valid += 1;
                        // The first valid record is the newest so far;
                        // any later one is compared with the number kept
                        // beside the count: neither the tail's `Option`
                        // nor the loaded record's is tested (8 B of the
                        // nRF52840 bootloaders each).
                        let newer = findings.valid == 1 || seq_after(candidate.seq, newest_seq);
                        if newer {
                            newest_seq = candidate.seq;
                            self.tail.newest = Some((s, i, candidate.seq));
                            loaded.record = Some(candidate.clone());
                        }
                        // Sequence numbers grow with position inside a
                        // sector: the last valid record is the sector's newest.
                        break;
                    }
                    Kind::Invalid(e) => {
                        findings.invalid += 1;
                        // The number claimed by bytes that carry the record
                        // magic, read here from the bytes: every refusal but
                        // the magic's comes after the magic matched, so the
                        // refusal says it, and no `Option` of the number
                        // comes back through the kind, nor a second test of
                        // the magic (4 B digest-only, 12 B signed).
                        if e != DecodeError::BadMagic {
                            let seq = seq_field(&buf);
                            // With none claimed yet, taken without a
                            // compare: the branch on `None` jumps to the
                            // store (compared instead with the number just
                            // below its own, which it is newer than, was
                            // 8 B more on the nRF52840 once the compare
                            // became one signed test).
                            if claimed.map_or(true, |c| seq_after(seq, c)) {
                                claimed = Some(seq);
                            }
                        }
                    }
                    Kind::Damaged => findings.unreadable += 1,
                    Kind::Foreign => findings.foreign += 1,
                    Kind::Unreadable => {
                        findings.unreadable += 1;
                        unreadable |= 1 << (s & 1);
                    }
                }
            }
            // Into the tail where it is kept, not a local array: that was
            // one more pair of words in the scan's frame, stored there per
            // sector and copied over at the end. Nothing in the scan reads
            // the tail, and `blocked` is set below on every way out.
            self.tail.used[s & 1] = top;
        }
        // Which unreadable positions may hold something newer than the
        // newest record found. The journal moves to the other sector only
        // when its sector is full, and erases the other sector before it
        // fills its own (see `next_position`): so while the sector of the
        // newest record still has room, the other sector holds only older
        // records — readable or not. Past that, or above the newest record
        // in its own sector, or with no record at all, an unreadable
        // position may be the newest state.
        let hides_newer = match self.tail.newest {
            Some((s, _, _)) if self.tail.used[s & 1] < self.per_sector => {
                unreadable & (1 << (s & 1)) != 0
            }
            _ => unreadable != 0,
        };
        // Foreign when the scan counted a foreign record: derived from the
        // count, not a flag kept through the scan beside it.
        let mut blocked = (findings.foreign != 0).then_some(Block::Foreign);
        if hides_newer {
            blocked = blocked.or(Some(Block::Unreadable));
        }
        // Torn records of an earlier life sit at most two sectors' worth of
        // positions apart; a fresh start numbers its records above them all.
        let fresh_seq = claimed.map_or(0, |c| c.wrapping_add(2 * self.per_sector + 1));
        self.tail.fresh_seq = fresh_seq;
        self.blocked = blocked;
        // From the field just stored: the local was otherwise kept twice
        // through the scan, once for each use.
        loaded.uncertain = self.blocked.is_some();
        loaded
    }

    /// Appends a record holding `state` and returns its sequence number once
    /// it reads back exactly as written.
    pub fn append(&mut self, state: &BootState) -> Result<u32, Error<F::Error>> {
        let result = self.try_append(state);
        if result.is_err() {
            self.blocked = Some(Block::Stale);
        }
        result
    }

    fn try_append(&mut self, state: &BootState) -> Result<u32, Error<F::Error>> {
        // Where to start over when a scan after the write disagrees, and
        // whether that sector holds only older records and our attempts:
        // kept as the place itself (always `Place::Erased`), so that the
        // loop takes it as it is rather than building one from a tuple.
        let mut restart: Option<Place> = None;
        let mut last = Error::Verify;
        for _ in 0..WRITE_ATTEMPTS {
            let mut moving = false;
            // Also where the search for a place reads each position it
            // tests (the encoding overwrites every byte after): one zeroed
            // buffer per attempt instead of one per position read.
            let mut bytes = [0u8; RECORD_SIZE];
            let place = match restart.take() {
                Some(place) => place,
                None => {
                    if self.blocked == Some(Block::Stale) {
                        self.read();
                    }
                    // Taken apart, not copied whole: a copy of the tail
                    // beside the journal lent to `next_position` was a
                    // 28-byte memcpy onto the stack. The used counts are
                    // left in the tail (see `next_position`).
                    let Tail {
                        newest, fresh_seq, ..
                    } = self.tail;
                    match self.blocked {
                        // `read` never leaves a stale tail; were it stale,
                        // nothing could be known about the journal: write
                        // nothing.
                        Some(Block::Unreadable | Block::Stale) => return Err(Error::Unreadable),
                        Some(Block::Foreign) => return Err(Error::Foreign),
                        None => {}
                    }
                    let next;
                    (next, moving) = self.next_position(newest, fresh_seq, &mut bytes)?;
                    next
                }
            };
            // One erase for the restart and the moves that need one.
            let (sector, index, seq) = match place {
                Place::At(s, index, base) => (s, index, base.wrapping_add(index)),
                Place::Erased(s, seq, older) => {
                    self.ensure_blank(s, older)?;
                    (s, 0, seq)
                }
            };
            let home = self.sectors[sector & 1];
            encode_into(&mut bytes, seq, state, (home.offset, home.len));
            let offset = self.offset(sector, index);
            self.blocked = Some(Block::Stale);
            // A refused program (an ECC word a torn write left behind) is
            // moved past like a write that reads back wrong: the next
            // attempt scans again and the position is no longer free.
            //
            // A write that fails as the journal moves into the other sector
            // says the sector's last erase may not have taken (an erase cut
            // so late that every bit reads erased, but programs do not
            // hold): that sector holds only older records and this move's
            // attempts, so it is erased again, once, and the move retried.
            // Once without a flag: the retry is a restart, which does not
            // move, so a second failed move can come no earlier than the
            // third attempt, the last (see `WRITE_ATTEMPTS`).
            let verified = match self.flash.write(offset, &bytes) {
                Err(e) => Err(Error::Flash(e)),
                Ok(()) => self.read_back(offset, &bytes),
            };
            if let Err(e) = verified {
                last = e;
                if moving {
                    restart = Some(Place::Erased(sector, seq, true));
                }
                continue;
            }
            // The bytes are right; a boot must also *find* them as the
            // newest. Content this journal never writes (a record after a
            // blank hole, numbers 2^31 apart) can hide them: then start over
            // in the other sector with a number above the one that won.
            match self.read().record {
                // Our state is what a boot finds (possibly in the copy of an
                // earlier attempt): that is the guarantee.
                Some(r) if encodes_same(&bytes, &r.state) => return Ok(r.seq),
                Some(r) => restart = Some(Place::Erased(sector ^ 1, r.seq.wrapping_add(1), false)),
                None => {}
            }
            last = Error::Verify;
        }
        Err(last)
    }

    /// Reads a written record back twice: a cell left weak by an
    /// interrupted erase may read right once and wrong the next time.
    fn read_back(&mut self, offset: u32, bytes: &[u8; RECORD_SIZE]) -> Result<(), Error<F::Error>> {
        let mut back = [0u8; RECORD_SIZE];
        for _ in 0..2 {
            self.read_retry(offset, &mut back).map_err(Error::Flash)?;
            if back != *bytes {
                return Err(Error::Verify);
            }
        }
        Ok(())
    }

    /// Chooses where the next record goes and its sequence number: a free
    /// position, or the start of the other sector when the current one is
    /// full, which the caller erases first; and whether the record moves
    /// to the other sector than the newest record's, which is known here
    /// where the way is chosen (the stay in the newest record's sector is
    /// the one way that does not, and the fresh start has no newest
    /// record): the caller compared the place's sector with the newest
    /// record's on each way it was inlined (40 B of the nRF52840
    /// bootloaders).
    ///
    /// The used counts are read from `self.tail`, which nothing here
    /// changes: indexed by sector, a copy of them was an array stored on
    /// the stack to be indexed there, and each is read once.
    fn next_position(
        &mut self,
        newest: Option<(usize, u32, u32)>,
        fresh_seq: u32,
        buf: &mut [u8; RECORD_SIZE],
    ) -> Result<(Place, bool), Error<F::Error>> {
        let n = self.per_sector;
        // The sector to write after garbage in (or to erase), the end of
        // the sectors to try from it (a range of sectors, not a count
        // and an exclusive or: the loop steps the sector itself), and the
        // number of its position 0.
        let (to, end, base) = match newest {
            Some((s, i, seq)) => {
                let other = s ^ 1;
                // The number position 0 of this sector would carry.
                let base = seq.wrapping_sub(i);
                // The used prefix ends above the newest record (see
                // `Tail::used`), so `next > i`. Only the position right
                // after it, and only when it reads erased whole: behind a
                // position whose probe reads erased and whose rest does
                // not (a torn write), a record is past where a boot's
                // binary search stops, so the sector counts as full and
                // the record moves (found by `journal_scan`).
                let next = self.tail.used[s & 1];
                if next < n && self.position_blank(s, next, buf) {
                    // From the second half of a sector on, the other sector
                    // is erased before the write: so when this sector is
                    // full, the other is blank, and a scan that finds a
                    // sector full and the other unreadable knows the other
                    // may hold newer records (an erase cut on an ECC part
                    // leaves it unreadable *before* this sector is full).
                    if next >= n / 2 && self.tail.used[other & 1] != 0 {
                        self.ensure_blank(other, true)?;
                    }
                    return Ok((Place::At(s, next, base), false));
                }
                // The move to the other sector. It was erased in this
                // sector's second half, so what it holds now are earlier
                // attempts at this very move that failed (torn): write after
                // them, numbered by position, rather than erase — an erase
                // cut there on an ECC part would leave an unreadable sector
                // beside a full one, which no boot could tell from a newer
                // one. Erase only when no blank tail is left.
                // `& 1`: the end cannot overflow, whatever the tail says.
                (other, (other & 1) + 1, base.wrapping_add(n))
            }
            // No valid record anywhere (and nothing unreadable that could
            // be one): write after the garbage rather than erase it,
            // numbered above anything the garbage claims. Sector 0 first,
            // then 1; erase only when neither has room.
            None => (0, 2, fresh_seq),
        };
        // One search for both: the move's and the fresh start's.
        for t in to..end {
            if let Some(next) = self.blank_tail(t, buf) {
                return Ok((Place::At(t, next, base), newest.is_some()));
            }
        }
        Ok((Place::Erased(to, base, false), newest.is_some()))
    }

    /// Where a record can go in sector `s` without an erase: the end of
    /// the sector's used prefix, when every position from there to the end
    /// of the sector reads erased. A record written there is the last of
    /// its sector and where a boot's binary search looks, so it is found
    /// whatever lies before it.
    fn blank_tail(&mut self, s: usize, buf: &mut [u8; RECORD_SIZE]) -> Option<u32> {
        let mut start = self.used_prefix(s);
        // A probe whose read failed counted a blank position as used: step
        // down over positions that read blank whole, so that no record is
        // written after a blank hole (see `read`).
        while start > 0 && self.position_blank(s, start - 1, buf) {
            start -= 1;
        }
        let n = self.per_sector;
        // The scan first: over an empty range it reads nothing, and the
        // bound is then tested once, after the loop.
        ((start..n).all(|p| self.position_blank(s, p, buf)) && start < n).then_some(start)
    }

    /// Whether every byte of position `index` of sector `s` reads erased:
    /// free to write, unlike a position whose probe alone reads erased.
    /// Read into the append's `buf`, not a buffer of its own that was
    /// zeroed at every call.
    fn position_blank(&mut self, s: usize, index: u32, buf: &mut [u8; RECORD_SIZE]) -> bool {
        matches!(self.read_at(s, index, buf), Ok(true))
    }

    /// Erases sector `s` unless it already reads blank, and checks the
    /// result. An unreadable sector is erased only when `older` — the
    /// caller knows it holds nothing newer than the newest record.
    fn ensure_blank(&mut self, s: usize, older: bool) -> Result<(), Error<F::Error>> {
        // One look before the erase and one after, through the same match:
        // after it, a sector that is not blank is an erase that failed.
        let mut erased = false;
        loop {
            match self.sector_reads(s) {
                SectorReads::Read { blank: true, .. } => return Ok(()),
                SectorReads::Read { flipped: true, .. } => return Err(Error::EraseValue),
                _ if erased => return Err(Error::Erase),
                SectorReads::Unreadable if !older => return Err(Error::Unreadable),
                SectorReads::Unreadable | SectorReads::Read { .. } => {}
            }
            let r = self.sectors[s & 1];
            self.flash
                .erase(r.offset, r.offset + r.len)
                .map_err(Error::Flash)?;
            erased = true;
        }
    }

    /// What the whole of sector `s` reads as.
    fn sector_reads(&mut self, s: usize) -> SectorReads {
        let mut buf = [0u8; RECORD_SIZE];
        let r = self.sectors[s & 1];
        // Two questions: is every byte erased, and is every byte the other
        // erased value? The read answers the first (`Words::Blank`), so
        // only a position that is not blank is compared, once, with the
        // other value: each position compared with the sector's first
        // byte, and that byte with both values at the end, was 10 B more
        // on the nRF52840.
        let other = !self.erased;
        let (mut blank, mut flipped) = (true, true);
        for i in 0..self.per_sector {
            match self.read_words(s, i, &mut buf) {
                Words::Blank => flipped = false,
                // Asked of every position, even once the answer is no:
                // every position is read anyway, and a compare skipped
                // once the sector is known used was a branch and a second
                // way to the same place in a loop that runs only before
                // an erase (-16 B on the nRF52840).
                Words::All => {
                    blank = false;
                    flipped &= all_are(&buf, other);
                }
                // A torn word: used, but never a record.
                Words::Some => (blank, flipped) = (false, false),
                Words::None => return SectorReads::Unreadable,
            }
        }
        // The tail of a sector that is not a whole number of records (none
        // on most parts: the constant folds the code away).
        let used = self.per_sector * RECORD_SIZE as u32;
        let rest = r.len.saturating_sub(used) as usize;
        let piece = if Self::WHOLE_RECORDS {
            None
        } else {
            buf.get_mut(..rest).filter(|p| !p.is_empty())
        };
        if let Some(piece) = piece {
            if self.read_retry(r.offset + used, piece).is_err() {
                return SectorReads::Unreadable;
            }
            blank &= all_are(piece, !other);
            flipped &= all_are(piece, other);
        }
        // The two answers as they are, not one of three values: the
        // erase tests each itself, with no value built to test again
        // (-8 B on the nRF52840).
        SectorReads::Read { blank, flipped }
    }

    /// Number of used positions at the start of sector `s`, by binary search
    /// on the first bytes of each position.
    fn used_prefix(&mut self, s: usize) -> u32 {
        let (mut lo, mut hi) = (0, self.per_sector);
        // Read once: the probes are lent the journal.
        let base = self.offset(s, 0);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // `mid < per_sector`: see `offset`.
            if self.probe_used(base + mid * RECORD_SIZE as u32) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn probe_used(&mut self, offset: u32) -> bool {
        // A probe-sized buffer unless the flash reads in larger words: the
        // binary search makes a dozen probes per boot, and zeroing a whole
        // record's buffer for each cost more than the probe's read.
        // `READ_SIZE` is a constant: only one arm is compiled in.
        if F::READ_SIZE <= PROBE {
            let mut buf = [0u8; PROBE];
            self.probe_in(offset, &mut buf)
        } else {
            let mut buf = [0u8; RECORD_SIZE];
            match buf.get_mut(..F::READ_SIZE) {
                Some(probe) => self.probe_in(offset, probe),
                None => true,
            }
        }
    }

    fn probe_in(&mut self, offset: u32, probe: &mut [u8]) -> bool {
        match self.read_retry(offset, probe) {
            Ok(()) => !all_are(probe, self.erased),
            // An unreadable word was written (or torn): the position is used.
            Err(_) => true,
        }
    }

    /// Reads `buf.len()` bytes at `offset`, trying again on an error.
    fn read_retry(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), F::Error> {
        let mut result = self.flash.read(offset, buf);
        for _ in 1..READ_ATTEMPTS {
            if result.is_ok() {
                break;
            }
            result = self.flash.read(offset, buf);
        }
        result
    }

    /// Reads one position into `buf`, and tells a blank one apart; when the
    /// whole read keeps failing, reads it word by word, twice: an ECC part
    /// fails only its torn words, and fails them every time; a glitch or a
    /// dead bus fails them all, or stops failing.
    ///
    /// Always inlined, the word-by-word reads kept apart: on a part whose
    /// reads cannot fail, each caller is left with the one read, not a
    /// call to a function that only calls it.
    #[inline(always)]
    fn read_words(&mut self, s: usize, index: u32, buf: &mut [u8; RECORD_SIZE]) -> Words {
        match self.read_at(s, index, buf) {
            Ok(true) => Words::Blank,
            Ok(false) => Words::All,
            Err(_) => match self.read_each_word(self.offset(s, index), buf) {
                Words::All if all_are(buf, self.erased) => Words::Blank,
                words => words,
            },
        }
    }

    /// Position `index` of sector `s` read whole into `buf`, retried, and
    /// whether every byte of it is the erased value.
    ///
    /// The blank test made here, once, rather than after the call at
    /// each of its three callers, which all ask it (the sector check
    /// before an erase asks it of every position it reads, whatever the
    /// answer): -28 B on the nRF52840.
    ///
    /// Never inlined: the scan, the sector check before an erase and the
    /// blank test of a position each passed the flash, the offset and the
    /// length to the read themselves; each now passes the sector and the
    /// index, and the offset is computed here once.
    #[inline(never)]
    fn read_at(
        &mut self,
        s: usize,
        index: u32,
        buf: &mut [u8; RECORD_SIZE],
    ) -> Result<bool, F::Error> {
        self.read_retry(self.offset(s, index), buf)?;
        Ok(all_are(buf, self.erased))
    }

    /// [`Journal::read_words`] once the whole read has failed.
    fn read_each_word(&mut self, offset: u32, buf: &mut [u8; RECORD_SIZE]) -> Words {
        // Whole words: `new` checked that both word sizes divide the
        // record, so they are powers of two and so is the larger.
        let word = F::READ_SIZE.max(F::WRITE_SIZE);
        let mut bad = 0;
        // Two passes: a burst of failures that ends part-way through the
        // first would otherwise make a whole record look like one torn word.
        // A torn word fails in both; a burst does not come back for it.
        for _ in 0..2 {
            bad = 0;
            let mut at = offset;
            for chunk in buf.chunks_exact_mut(word) {
                bad += self.read_retry(at, chunk).is_err() as usize;
                at = at.wrapping_add(word as u32);
            }
            if bad == 0 {
                break;
            }
        }
        match bad {
            0 => Words::All,
            b if b == RECORD_SIZE / word => Words::None,
            _ => Words::Some,
        }
    }

    /// What position `index` of sector `s` holds.
    fn read_position(&mut self, s: usize, index: u32) -> Content {
        let mut r = Record::default();
        match self.read_into(s, index, &mut r) {
            Kind::Valid => Content::Valid(r),
            Kind::Foreign => Content::Foreign(r),
            Kind::Invalid(e) => Content::Invalid(e),
            Kind::Damaged => Content::Damaged,
            Kind::Unreadable => Content::Unreadable,
        }
    }

    /// [`Journal::read_position`] with the record decoded into `out` (valid
    /// only for [`Kind::Valid`] and [`Kind::Foreign`]): the boot's
    /// scan keeps one candidate and one newest record instead of moving
    /// each record it reads through return values.
    fn read_into(&mut self, s: usize, index: u32, out: &mut Record) -> Kind {
        let mut buf = [0u8; RECORD_SIZE];
        match self.read_words(s, index, &mut buf) {
            Words::All => {}
            Words::Blank => return Kind::Invalid(DecodeError::Blank),
            Words::Some => return Kind::Damaged,
            Words::None => return Kind::Unreadable,
        }
        self.decode_at(s, &buf, out)
    }

    /// What the bytes of a position of sector `s` that is not blank hold:
    /// [`Journal::read_into`] after its read, which the scan makes itself.
    fn decode_at(&self, s: usize, buf: &[u8; RECORD_SIZE], out: &mut Record) -> Kind {
        match decode_into(buf, out) {
            Ok(()) => {
                let sector = self.sectors[s & 1];
                match home(buf) {
                    Some(h) if h != (sector.offset, sector.len) => Kind::Foreign,
                    _ => Kind::Valid,
                }
            }
            // All 0xFF on a part that erases to 0x00 fails the magic:
            // programmed, not blank.
            Err(e) => Kind::Invalid(e),
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

/// [`crate::record::seq_newer`] as one signed test of the difference: a
/// difference in `1..2^31` is positive as an `i32`, 0 and `2^31..` are
/// not, so the separate test for equal numbers goes (8 B of each nRF52840
/// bootloader).
#[inline(always)]
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// What one position holds: [`Content`] without the record, which
/// [`Journal::read_into`] decodes into the caller's place.
#[derive(Clone, Copy)]
enum Kind {
    Valid,
    Foreign,
    /// Not a record.
    Invalid(DecodeError),
    Damaged,
    Unreadable,
}

/// Where [`Journal::next_position`] puts the next record.
enum Place {
    /// `(sector, index, base)`: a position that reads blank, numbered
    /// `base + index` (records are numbered by position: one addition, in
    /// the caller, for every kind of place).
    At(usize, u32, u32),
    /// `(sector, seq, older)`: position 0 of a sector that is erased first
    /// unless it reads blank ([`Journal::ensure_blank`] with `older`).
    Erased(usize, u32, bool),
}

/// How much of a position could be read.
enum Words {
    /// Every byte, each of them the erased value.
    Blank,
    /// Every byte, not all of them erased.
    All,
    /// Some words but not all: a torn or rotten word.
    Some,
    /// Not one word.
    None,
}

/// What a whole sector reads as.
enum SectorReads {
    /// Every byte read: whether each is the erased value (`blank`), and
    /// whether each is the other erased value (`flipped`). Neither:
    /// used.
    Read { blank: bool, flipped: bool },
    /// Some read failed.
    Unreadable,
}

#[cfg(test)]
mod tests {
    use super::seq_after;
    use crate::record::seq_newer;

    #[test]
    fn seq_after_is_seq_newer() {
        let edges: [u32; 7] = [0, 1, 2, 0x7FFF_FFFE, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001];
        for a in edges.iter().flat_map(|&e| [e, e.wrapping_neg(), !e]) {
            for b in edges.iter().flat_map(|&e| [e, e.wrapping_neg(), !e, a ^ e]) {
                assert_eq!(seq_after(a, b), seq_newer(a, b), "{a:#x} {b:#x}");
            }
        }
    }
}
