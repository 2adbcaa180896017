//! A simulated NOR flash that behaves like a real part, faults included.
//!
//! [`SimFlash`] implements the `embedded-storage` [`ReadNorFlash`] and
//! [`NorFlash`] traits over a byte vector, enforces every rule a real part
//! enforces, counts every operation, and injects the faults a real part
//! shows: a power cut in the middle of a chosen write or erase (leaving the
//! array in the states a real cut leaves it in), sectors weakened by a cut
//! erase, reads that fail, and ranges that cannot be written.
//!
//! # What a real part does
//!
//! Every cell holds a bit at one of two levels: the *erased* level, which
//! an erase sets, and the *programmed* level, which a write sets.
//!
//! * **Erase** works on whole sectors of `ERASE` bytes and puts every bit
//!   at the erased level. Most parts erase to 1s (bytes read `0xFF`, the
//!   default); some erase to 0s ([`SimFlash::erased_to`]`(0x00)`, read by
//!   [`SimFlash::erased`]). No other erased value is physical.
//! * **Write** (program) works on words of `WRITE` bytes and can only move
//!   bits from the erased level to the programmed level. On a part that
//!   erases to `0xFF` the stored byte becomes `old & new` (writing a 1 over
//!   a 0 leaves the 0); on one that erases to `0x00` it becomes `old | new`
//!   (writing a 0 over a 1 leaves the 1).
//! * **Read** works on units of `READ` bytes.
//!
//! Offsets and lengths must be multiples of those sizes and lie inside the
//! device, or the call fails with [`SimError::NotAligned`] or
//! [`SimError::OutOfBounds`] and changes nothing.
//!
//! The whole model works on levels, so everything below holds for both
//! erase values: a part that erases to `0x00` behaves exactly as the
//! mirror image (every bit inverted) of one that erases to `0xFF`, random
//! draw for random draw. [`SimFlash::contents`], [`SimFlash::set_contents`]
//! and [`SimFlash::flip_bit`] see raw bytes on both.
//!
//! ## Write-once words and ECC
//!
//! Many parts let a word be programmed again to program more bits (the
//! `MultiwriteNorFlash` behaviour); that is the default here. Parts that
//! store ECC check bits next to each word (STM32L4, G4, H7, U5 and others)
//! do not: the check bits are programmed with the word, so a second program
//! since the last erase would corrupt them, and the controller refuses it.
//! [`SimFlash::write_once`] models those parts: a second write to a
//! `WRITE`-sized word since its last erase fails with
//! [`SimError::WriteTwice`], even one that would only program more bits,
//! and a word whose program or erase was cut has torn check bits, so every
//! read that overlaps it fails with [`SimError::Ecc`] until its sector is
//! erased. Because the mode is chosen at run time, `SimFlash` does not
//! implement `MultiwriteNorFlash`: code generic over `NorFlash` must not
//! count on rewriting a word, and tests should run it in both modes.
//!
//! # Power cuts
//!
//! Programming and erasing move charge in and out of floating gates over
//! microseconds to milliseconds; a cut stops that wherever it is.
//! [`SimFlash::cut_at`] arms a cut at the mutating operation (write or
//! erase) with a given index; when that operation runs, it is damaged as
//! the [`CutMode`] says, returns [`SimError::PowerLoss`], and the device is
//! off: every later call fails with `PowerLoss` and changes nothing until
//! [`SimFlash::power_on`], which stands for the next boot. What is on the
//! array survives the cut, as it does on a real part.
//!
//! * [`CutMode::Lost`]: the cut came before the operation reached the
//!   array; nothing changes.
//! * [`CutMode::Torn`] (writes): words are programmed in order, so a prefix
//!   of the words is complete, the next word has only some of the bits it
//!   was programming at the programmed level, and the rest is untouched. A
//!   cut never erases a bit and never programs a bit the write was not
//!   programming.
//! * [`CutMode::HalfErase`] (erases): an erase pulse acts on the whole
//!   sector at once, so every programmed bit may or may not have reached
//!   the erased level; bits already erased stay erased.
//! * [`CutMode::Unstable`]: the cut left cells with a charge near the read
//!   threshold. Such a *weak* bit reads at one level on one read and at the
//!   other on the next, so a value that passed a CRC check once can fail
//!   it at the next boot: code must not trust a read-back done before the
//!   cut. On a write, every bit the cut word was programming becomes weak;
//!   on an erase, every bit still programmed after the half erase becomes
//!   weak. A weak bit becomes stable when a write programs it (a full
//!   program pulse) or when its sector is erased; writing the erased level
//!   over it applies no pulse and leaves it weak.
//! * [`CutMode::BlankHalfErase`] (erases, opt-in, not in [`CutMode::ALL`]):
//!   the cut came so late that every bit already reads erased. The sector
//!   looks blank, and a check for blank passes, but it is weak (next
//!   section).
//!
//! An erase of several sectors is cut in one of them, as a driver erases
//! them one after the other: the sectors before it are erased (and sound),
//! that one is cut by the mode, and the ones after it are untouched. Which
//! sector the cut hits comes from the seed.
//!
//! A mode that does not fit the operation degrades to the one that does:
//! `Torn` on an erase acts as `HalfErase`, `HalfErase` and
//! `BlankHalfErase` on a write as `Torn` (see [`CutMode::effective`]). In
//! write-once mode a torn or unstable write leaves its cut word ECC-bad,
//! and a half erase leaves every word that is not all erased ECC-bad —
//! words left between erased and programmed, and words that still read as
//! they were, since their check bits took the pulse too. Weak bits in such
//! words never show, because reads of those words fail.
//!
//! # Weak sectors
//!
//! An erase that does not run to its end leaves the cells of its sectors
//! short of a full erase, even where every bit already reads erased: the
//! part never finished its erase-verify. Every erase cut by
//! [`CutMode::HalfErase`], [`CutMode::Unstable`] or
//! [`CutMode::BlankHalfErase`] (not [`CutMode::Lost`]) marks the sector it
//! hits *weak* ([`SimFlash::is_weak_sector`]) until the next complete
//! erase of that sector. A program into a weak sector may read back wrong:
//! each word a write completes there, if it programmed at least one bit
//! that was not stably programmed, has a 1 in 4 chance that a random
//! non-empty subset of those bits become weak bits, which read at a random
//! level on every read as above. In write-once mode the word is written and
//! readable (ECC correction of weak bits is not modelled). Code that writes
//! into a sector it found blank after a cut, without erasing it again, sees
//! records that pass their read-back and fail later.
//!
//! # Read faults
//!
//! Reads fail on real parts too: a bus error, a dead or unplugged part, a
//! controller that gives up. [`SimFlash::fail_reads`] arms a fault over a
//! byte range, [`ReadFault::Permanent`] (every overlapping read fails) or
//! [`ReadFault::Transient`]`(n)` (the next `n` overlapping reads fail, then
//! reads work again); several ranges may be armed at once, and
//! [`SimFlash::clear_read_faults`] drops them all. [`SimFlash::fail_read_at`]
//! fails exactly one read call by its index ([`SimFlash::reads_done`] before
//! it), so a harness can fail every read of a scenario in turn. A failed
//! read returns [`SimError::ReadFault`] and fills the caller's buffer with
//! seeded garbage, every byte different from the stored one, so code that
//! ignores the error is caught. Only reads that pass their power, bounds
//! and alignment checks are faulted; a read fault is reported before an ECC
//! error.
//!
//! # Write protection
//!
//! [`SimFlash::protect`] makes a range read-only, as protection bits or a
//! part that no longer programs do: every write or erase that overlaps it
//! fails with [`SimError::Protected`] and changes nothing;
//! [`SimFlash::unprotect_all`] lifts it. A refused call is not an
//! operation: it is not counted in [`SimFlash::stats`],
//! [`SimFlash::sector_erases`] or [`SimFlash::mutating_ops`], and cannot be
//! cut; [`SimFlash::protected_attempts`] counts the refusals instead, so a
//! test can check that code does not retry an erase at every reset.
//!
//! # Reproducibility
//!
//! All randomness comes from one ChaCha8 stream seeded by
//! [`SimFlash::seed`] (0 unless set). It is drawn only when a fault fires:
//! when a cut damages an operation, when a read covers weak bits, when a
//! read fault fails a read (the garbage), and when a write programs a word
//! into a weak sector. So a run reproduces exactly from its seed and its
//! sequence of calls, and arming a fault that never fires changes nothing
//! else. Cloning a `SimFlash` clones the stream too: a clone replays the
//! same future as the original, which is how a harness replays one device
//! state under different cuts.
//!
//! # Counting
//!
//! [`SimFlash::stats`] counts successful reads, writes, bytes and erased
//! sectors; [`SimFlash::sector_erases`] counts erases per sector for wear;
//! [`SimFlash::mutating_ops`] counts write and erase calls since creation
//! and is the index [`SimFlash::cut_at`] uses; [`SimFlash::reads_done`]
//! counts read calls since creation, failed ones included, and is the index
//! [`SimFlash::fail_read_at`] uses.
//!
//! # Examples
//!
//! ```
//! use abboot::sim::{CutMode, Sim4K, SimError};
//! use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
//!
//! let mut flash = Sim4K::new(2 * 4096).seed(7);
//! flash.write(0, &[0x12, 0x34, 0x56, 0x78]).unwrap();
//!
//! // Cut the power during the next write.
//! flash.cut_at(flash.mutating_ops(), CutMode::Torn);
//! assert_eq!(flash.write(4, &[0; 8]), Err(SimError::PowerLoss));
//! assert_eq!(flash.read(0, &mut [0; 4]), Err(SimError::PowerLoss));
//!
//! // Next boot: the completed write is still there.
//! flash.power_on();
//! let mut buf = [0; 4];
//! flash.read(0, &mut buf).unwrap();
//! assert_eq!(buf, [0x12, 0x34, 0x56, 0x78]);
//! ```
//!
//! A part that erases to `0x00`, a read that fails twice, and a sector
//! that cannot be erased:
//!
//! ```
//! use abboot::sim::{ReadFault, Sim4K, SimError};
//! use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
//!
//! let mut flash = Sim4K::new(2 * 4096).erased_to(0x00);
//! flash.write(0, &[0x01, 0x02, 0x04, 0x08]).unwrap();
//! flash.write(0, &[0x10; 4]).unwrap(); // programs more 1s
//!
//! flash.fail_reads(0..4, ReadFault::Transient(2));
//! let mut buf = [0; 4];
//! assert_eq!(flash.read(0, &mut buf), Err(SimError::ReadFault));
//! assert_eq!(flash.read(0, &mut buf), Err(SimError::ReadFault));
//! flash.read(0, &mut buf).unwrap();
//! assert_eq!(buf, [0x11, 0x12, 0x14, 0x18]);
//!
//! flash.protect(0..4096);
//! assert_eq!(flash.erase(0, 4096), Err(SimError::Protected));
//! flash.erase(4096, 8192).unwrap();
//! assert_eq!(flash.sector_erases(), &[0, 1]);
//! ```

use core::fmt;
use core::ops::Range;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Why a [`SimFlash`] operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimError {
    /// An offset or length is not a multiple of the operation's unit.
    NotAligned,
    /// The range does not lie inside the device, or an erase has
    /// `from > to`.
    OutOfBounds,
    /// The power was cut during this operation or before it; nothing works
    /// until [`SimFlash::power_on`].
    PowerLoss,
    /// Write-once mode: a word in the range was already written since its
    /// last erase. Nothing was written.
    WriteTwice,
    /// Write-once mode: the read overlaps a word whose ECC was torn by a
    /// power cut. It stays unreadable until its sector is erased.
    Ecc,
    /// The read failed (a fault armed by [`SimFlash::fail_reads`] or
    /// [`SimFlash::fail_read_at`]): a bus error, a dead part, a controller
    /// that gave up. The caller's buffer holds garbage.
    ReadFault,
    /// The write or erase overlaps a range made read-only by
    /// [`SimFlash::protect`]. Nothing was written or erased.
    Protected,
}

impl NorFlashError for SimError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimError::NotAligned => NorFlashErrorKind::NotAligned,
            SimError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            SimError::PowerLoss
            | SimError::WriteTwice
            | SimError::Ecc
            | SimError::ReadFault
            | SimError::Protected => NorFlashErrorKind::Other,
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SimError::NotAligned => "flash offset or length is not aligned",
            SimError::OutOfBounds => "flash range is out of bounds",
            SimError::PowerLoss => "flash has no power",
            SimError::WriteTwice => "flash word written twice since its last erase",
            SimError::Ecc => "flash word has an uncorrectable ECC error",
            SimError::ReadFault => "flash read failed",
            SimError::Protected => "flash range is write-protected",
        })
    }
}

impl std::error::Error for SimError {}

/// The kind of a mutating flash operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// A `write` (program) call.
    Write,
    /// An `erase` call.
    Erase,
}

/// What a power cut does to the operation it interrupts. The module
/// documentation describes the physics behind each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CutMode {
    /// The operation never reached the array: nothing changes.
    Lost,
    /// A write stopped partway: a prefix of the words is written, the next
    /// word has a random subset of the bits it was programming programmed,
    /// the rest is untouched. On an erase it acts as [`CutMode::HalfErase`].
    Torn,
    /// An erase stopped partway: a random subset of the programmed bits of
    /// the erased range reached the erased level (`old | random` on a part
    /// that erases to `0xFF`, `old & random` on one that erases to `0x00`),
    /// and the sectors are left weak. On a write it acts as
    /// [`CutMode::Torn`].
    HalfErase,
    /// Like `Torn` or `HalfErase`, and the bits the cut left in between
    /// read back as a fresh random value on every read until programmed
    /// or erased. An erase cut this way leaves its sectors weak.
    Unstable,
    /// An erase stopped just before its end: every bit already reads at
    /// the erased level, so the sectors look blank, but the erase never
    /// finished and they are left weak (see the module documentation). On
    /// a write it acts as [`CutMode::Torn`]. Not in [`CutMode::ALL`]: a
    /// harness opts in to it.
    BlankHalfErase,
}

impl CutMode {
    /// The four modes every power-cut sweep tries. The opt-in
    /// [`CutMode::BlankHalfErase`] is left out, so sweeps keep their runs
    /// and their reports (one count per mode of `ALL`); add it to a
    /// harness's modes to test weak sectors that look blank.
    pub const ALL: [CutMode; 4] = [
        CutMode::Lost,
        CutMode::Torn,
        CutMode::HalfErase,
        CutMode::Unstable,
    ];

    /// Whether the mode is meant for this kind of operation (writes: `Lost`,
    /// `Torn`, `Unstable`; erases: `Lost`, `HalfErase`, `Unstable`,
    /// `BlankHalfErase`). A mode
    /// that does not apply still works, as its [`effective`](Self::effective)
    /// mode, so a harness can skip the duplicates.
    pub const fn applies_to(self, op: OpKind) -> bool {
        !matches!(
            (self, op),
            (CutMode::Torn, OpKind::Erase)
                | (CutMode::HalfErase | CutMode::BlankHalfErase, OpKind::Write)
        )
    }

    /// The mode a cut of this kind really applies to `op`: `Torn` on an
    /// erase is a `HalfErase`, `HalfErase` and `BlankHalfErase` on a write
    /// are `Torn`.
    pub const fn effective(self, op: OpKind) -> CutMode {
        match (self, op) {
            (CutMode::Torn, OpKind::Erase) => CutMode::HalfErase,
            (CutMode::HalfErase | CutMode::BlankHalfErase, OpKind::Write) => CutMode::Torn,
            (mode, _) => mode,
        }
    }
}

/// A read fault armed over a range by [`SimFlash::fail_reads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadFault {
    /// Every read that overlaps the range fails, until
    /// [`SimFlash::clear_read_faults`]: a dead part or a sector the
    /// controller can no longer read.
    Permanent,
    /// The next `n` reads that overlap the range fail, then reads work
    /// again: a glitch on the bus, a marginal supply. `Transient(0)` arms
    /// nothing.
    Transient(u32),
}

/// Operation counters of a [`SimFlash`].
///
/// Only operations that passed their checks count: a call rejected for
/// alignment, bounds, a second write of a word, an ECC error, a read fault,
/// write protection or a lack of power leaves the counters alone (see
/// [`SimFlash::reads_done`] and [`SimFlash::protected_attempts`] for the
/// calls that failed). An operation cut by a power loss counts
/// in full, as the code under test did issue it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlashStats {
    /// Successful `read` calls.
    pub reads: u64,
    /// Bytes returned by those reads.
    pub bytes_read: u64,
    /// `write` calls, including one cut by a power loss.
    pub writes: u64,
    /// Bytes passed to those writes.
    pub bytes_written: u64,
    /// Sectors erased: an `erase` over `k` sectors counts `k`.
    pub erases: u64,
}

impl FlashStats {
    /// What happened between `earlier` and `self`, field by field.
    /// Saturates at 0 if `earlier` is in fact later (after a reset).
    pub fn since(&self, earlier: &FlashStats) -> FlashStats {
        FlashStats {
            reads: self.reads.saturating_sub(earlier.reads),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            writes: self.writes.saturating_sub(earlier.writes),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            erases: self.erases.saturating_sub(earlier.erases),
        }
    }
}

/// A word programmed into a weak sector gets weak bits with a chance of 1
/// in this many.
const WEAK_WORD_ONE_IN: u32 = 4;

/// A simulated NOR flash of `READ`-byte read units, `WRITE`-byte words and
/// `ERASE`-byte sectors. See the [module documentation](self) for the model.
#[derive(Clone)]
pub struct SimFlash<const READ: usize, const WRITE: usize, const ERASE: usize> {
    /// Raw stored bytes, as [`SimFlash::contents`] shows them.
    data: Vec<u8>,
    /// What an erase sets every byte to: `0xFF` or `0x00`.
    erased: u8,
    /// Per byte, the bits that read back randomly.
    weak: Vec<u8>,
    /// Per word, whether it was written since its last erase. Kept in both
    /// modes so the flags stay right whatever the mode.
    written: Vec<bool>,
    /// Per word, whether its ECC is torn (write-once mode only).
    ecc_bad: Vec<bool>,
    write_once: bool,
    /// Per sector, whether its last erase was cut (until a complete erase).
    weak_sector: Vec<bool>,
    /// Armed range read faults; a `Transient` holds the reads it still
    /// fails.
    read_faults: Vec<(Range<u32>, ReadFault)>,
    /// Indices of read calls armed to fail once.
    read_fault_at: Vec<u64>,
    /// Read calls that passed their checks since creation.
    reads: u64,
    /// Write-protected ranges.
    protected: Vec<Range<u32>>,
    /// Writes and erases refused by protection since the last stats reset.
    protected_attempts: u64,
    rng: ChaCha8Rng,
    stats: FlashStats,
    sector_erases: Vec<u32>,
    ops: u64,
    cut: Option<(u64, CutMode)>,
    cut_fired: bool,
    powered: bool,
    /// Kind of every mutating operation so far, when logging is on.
    op_log: Option<Vec<OpKind>>,
}

/// 4 KiB sectors, 4-byte words, byte reads: nRF52 internal flash, and a
/// stricter stand-in for most SPI NOR parts.
pub type Sim4K = SimFlash<1, 4, 4096>;

/// Byte-writable SPI NOR (W25Q, MX25, ...): 4 KiB sectors, 1-byte words.
pub type SimSpiNor = SimFlash<1, 1, 4096>;

/// STM32L4-like: 2 KiB pages, 8-byte ECC words, 8-byte reads. Use with
/// [`SimFlash::write_once`]`(true)` to match the part.
pub type SimL4 = SimFlash<8, 8, 2048>;

/// STM32H743-like: 128 KiB sectors, 32-byte ECC flash words, the largest
/// geometry abboot supports. Use with [`SimFlash::write_once`]`(true)` to
/// match the part.
pub type SimH7 = SimFlash<1, 32, 131072>;

impl<const READ: usize, const WRITE: usize, const ERASE: usize> SimFlash<READ, WRITE, ERASE> {
    /// A powered, fully erased device of `capacity` bytes that erases to
    /// `0xFF`, in multi-write mode, seed 0, no cut or fault armed.
    ///
    /// # Panics
    ///
    /// If a size parameter is 0, `ERASE` is not a multiple of `WRITE` (a
    /// word would straddle two sectors), `capacity` is not a multiple of
    /// `ERASE`, or `capacity` exceeds `u32::MAX` (offsets are `u32`).
    pub fn new(capacity: usize) -> Self {
        assert!(
            READ > 0 && WRITE > 0 && ERASE > 0,
            "SimFlash: READ ({READ}), WRITE ({WRITE}) and ERASE ({ERASE}) must be non-zero"
        );
        assert!(
            ERASE % WRITE == 0,
            "SimFlash: ERASE ({ERASE}) must be a multiple of WRITE ({WRITE})"
        );
        assert!(
            capacity % ERASE == 0,
            "SimFlash: capacity {capacity} is not a multiple of the erase size {ERASE}"
        );
        assert!(
            u32::try_from(capacity).is_ok(),
            "SimFlash: capacity {capacity} does not fit the u32 offsets of NorFlash"
        );
        Self {
            data: vec![0xFF; capacity],
            erased: 0xFF,
            weak: vec![0; capacity],
            written: vec![false; capacity / WRITE],
            ecc_bad: vec![false; capacity / WRITE],
            write_once: false,
            weak_sector: vec![false; capacity / ERASE],
            read_faults: Vec::new(),
            read_fault_at: Vec::new(),
            reads: 0,
            protected: Vec::new(),
            protected_attempts: 0,
            rng: ChaCha8Rng::seed_from_u64(0),
            stats: FlashStats::default(),
            sector_erases: vec![0; capacity / ERASE],
            ops: 0,
            cut: None,
            cut_fired: false,
            powered: true,
            op_log: None,
        }
    }

    /// Turns write-once (ECC) mode on or off. Meant for construction, before
    /// any write.
    pub fn write_once(mut self, on: bool) -> Self {
        self.write_once = on;
        self
    }

    /// Restarts the random stream from `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.reseed(seed);
        self
    }

    /// Restarts the random stream from `seed`, in place.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// Makes this a part whose erased state is `value`: `0xFF` (the
    /// default, most NOR flash) or `0x00` (some internal flashes, and any
    /// part behind an inverting controller). Only those two are physical:
    /// `0x00` selects a part that erases to `0x00`, and every other value
    /// is clamped to `0xFF`.
    ///
    /// Call it right after [`new`](Self::new): it stands for a fresh part of
    /// that kind, so it sets every byte to the erased value and drops weak
    /// bits, weak sectors, ECC damage and written flags (content planted
    /// before is lost). It counts nothing and draws no randomness; power,
    /// counters, the seed, armed cuts, faults and protection are kept.
    pub fn erased_to(mut self, value: u8) -> Self {
        self.erased = if value == 0x00 { 0x00 } else { 0xFF };
        self.data.fill(self.erased);
        self.weak.fill(0);
        self.written.fill(false);
        self.ecc_bad.fill(false);
        self.weak_sector.fill(false);
        self
    }

    /// The value every byte holds after an erase: `0xFF` or `0x00`.
    pub fn erased(&self) -> u8 {
        self.erased
    }

    /// Whether write-once (ECC) mode is on.
    pub fn is_write_once(&self) -> bool {
        self.write_once
    }

    /// The counters since creation or the last [`reset_stats`](Self::reset_stats).
    pub fn stats(&self) -> FlashStats {
        self.stats
    }

    /// How many times each sector was erased since creation or the last
    /// [`reset_stats`](Self::reset_stats); index `i` is the sector at
    /// `i * ERASE`. Their sum equals `stats().erases`.
    pub fn sector_erases(&self) -> &[u32] {
        &self.sector_erases
    }

    /// Zeroes [`stats`](Self::stats), [`sector_erases`](Self::sector_erases)
    /// and [`protected_attempts`](Self::protected_attempts).
    /// [`mutating_ops`](Self::mutating_ops) and
    /// [`reads_done`](Self::reads_done) keep counting, as cuts and read
    /// faults are indexed by them.
    pub fn reset_stats(&mut self) {
        self.stats = FlashStats::default();
        self.sector_erases.fill(0);
        self.protected_attempts = 0;
    }

    /// Read calls since creation that passed their power, bounds and
    /// alignment checks, failed ones included (read faults, ECC errors).
    /// The next such call has this index for
    /// [`fail_read_at`](Self::fail_read_at). Not reset by
    /// [`reset_stats`](Self::reset_stats).
    pub fn reads_done(&self) -> u64 {
        self.reads
    }

    /// Arms a read fault over `range` (byte offsets): each read that
    /// overlaps it fails with [`SimError::ReadFault`], for ever
    /// ([`ReadFault::Permanent`]) or for the next `n` overlapping reads
    /// ([`ReadFault::Transient`]`(n)`). Several ranges may be armed, and
    /// overlap: a read fails if any armed range fails it, and counts
    /// against every transient range it overlaps. An empty range or
    /// `Transient(0)` arms nothing. Only reads that pass their checks are
    /// faulted and counted.
    pub fn fail_reads(&mut self, range: Range<u32>, fault: ReadFault) {
        if range.is_empty() || fault == ReadFault::Transient(0) {
            return;
        }
        self.read_faults.push((range, fault));
    }

    /// Makes the read call with index `read_index` (the value of
    /// [`reads_done`](Self::reads_done) just before it) fail with
    /// [`SimError::ReadFault`], once, whatever it reads (even an empty
    /// read). Several indices may be armed; an index already passed never
    /// fires. A harness faults every read in turn by counting the reads of
    /// a clean run and replaying it with each index armed.
    pub fn fail_read_at(&mut self, read_index: u64) {
        if !self.read_fault_at.contains(&read_index) {
            self.read_fault_at.push(read_index);
        }
    }

    /// Drops every armed read fault, by range and by index.
    pub fn clear_read_faults(&mut self) {
        self.read_faults.clear();
        self.read_fault_at.clear();
    }

    /// Makes `range` (byte offsets) read-only: every write or erase that
    /// overlaps it fails with [`SimError::Protected`] and changes nothing,
    /// as on a part whose protection bits are set or that has stopped
    /// programming. Several ranges may be protected; an empty range
    /// protects nothing. Reads are not affected.
    ///
    /// A refused call is not an operation, like one refused for a second
    /// write: it leaves [`stats`](Self::stats),
    /// [`sector_erases`](Self::sector_erases) and
    /// [`mutating_ops`](Self::mutating_ops) alone (so it cannot be cut) and
    /// counts in [`protected_attempts`](Self::protected_attempts) instead.
    /// Power, bounds and alignment are checked first.
    pub fn protect(&mut self, range: Range<u32>) {
        if !range.is_empty() {
            self.protected.push(range);
        }
    }

    /// Lifts every protection set by [`protect`](Self::protect).
    pub fn unprotect_all(&mut self) {
        self.protected.clear();
    }

    /// Write and erase calls refused with [`SimError::Protected`] since
    /// creation or the last [`reset_stats`](Self::reset_stats): what code
    /// tried to change on a part that cannot be changed.
    pub fn protected_attempts(&self) -> u64 {
        self.protected_attempts
    }

    /// Whether the sector holding `offset` is weak: its last erase was cut
    /// by a power loss ([`CutMode::HalfErase`], [`CutMode::Unstable`] or
    /// [`CutMode::BlankHalfErase`]) and it has not been erased completely
    /// since. False for an offset outside the device.
    pub fn is_weak_sector(&self, offset: u32) -> bool {
        self.weak_sector
            .get(offset as usize / ERASE)
            .copied()
            .unwrap_or(false)
    }

    /// Starts (or stops) recording the kind of every later mutating
    /// operation, so a harness knows which cut modes apply to each.
    pub fn log_ops(&mut self, on: bool) {
        self.op_log = on.then(Vec::new);
    }

    /// The kinds of the mutating operations since [`log_ops`](Self::log_ops)
    /// was turned on, in order.
    pub fn op_log(&self) -> &[OpKind] {
        self.op_log.as_deref().unwrap_or(&[])
    }

    /// Write and erase calls since creation that passed their checks
    /// (including one cut by a power loss, and empty ones). An erase over
    /// several sectors is one operation. The next such call has this index
    /// for [`cut_at`](Self::cut_at).
    pub fn mutating_ops(&self) -> u64 {
        self.ops
    }

    /// Arms a power cut at the mutating operation whose index (the value of
    /// [`mutating_ops`](Self::mutating_ops) just before it) is `op_index`,
    /// replacing any armed cut. An index already passed never fires.
    pub fn cut_at(&mut self, op_index: u64, mode: CutMode) {
        self.cut = Some((op_index, mode));
        self.cut_fired = false;
    }

    /// Drops the armed cut, if it has not fired. Does not restore power.
    pub fn disarm(&mut self) {
        self.cut = None;
    }

    /// Whether the cut armed by the last [`cut_at`](Self::cut_at) has fired.
    /// Stays true after [`power_on`](Self::power_on), so a harness can ask
    /// once the scenario is over.
    pub fn cut_happened(&self) -> bool {
        self.cut_fired
    }

    /// Whether the device has power. False from a cut until
    /// [`power_on`](Self::power_on).
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Restores power (the next boot) and disarms any cut. Content, weak
    /// bits, weak sectors, ECC damage, counters, read faults and protection
    /// are kept.
    pub fn power_on(&mut self) {
        self.powered = true;
        self.cut = None;
    }

    /// Turns the power off without touching the array, as when another
    /// part on the same supply was cut: every call fails with
    /// [`SimError::PowerLoss`] until [`power_on`](Self::power_on). Armed
    /// cuts and faults stay armed (`power_on` disarms the cut); nothing is
    /// counted and no randomness is drawn.
    pub fn power_off(&mut self) {
        self.powered = false;
    }

    /// The raw stored bytes. A weak bit shows the value stored for it, not
    /// what a read would return.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Overwrites raw bytes at `offset`, ignoring NOR rules, to plant
    /// garbage or a prepared image. The bytes read back exactly: weak bits
    /// and ECC damage in the touched words are cleared. A touched word that
    /// is not all erased counts as written since its last erase, as a
    /// factory-programmed word does: in write-once mode a program over it
    /// is refused until an erase (a word of planted content could once be
    /// programmed again, which an ECC part refuses). Weak sectors are left
    /// as they were (planting is not an erase).
    /// Needs no power and counts nothing.
    ///
    /// # Panics
    ///
    /// If the range does not lie inside the device.
    pub fn set_contents(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset
            .checked_add(bytes.len())
            .filter(|&end| end <= self.data.len())
            .unwrap_or_else(|| {
                panic!(
                    "SimFlash::set_contents: {} bytes at {offset} do not fit {} bytes",
                    bytes.len(),
                    self.data.len()
                )
            });
        self.data[offset..end].copy_from_slice(bytes);
        self.weak[offset..end].fill(0);
        for word in Self::words(offset..end) {
            self.ecc_bad[word] = false;
            let stored = word * WRITE..(word + 1) * WRITE;
            self.written[word] = self.data[stored].iter().any(|&b| b != self.erased);
        }
    }

    /// Flips one stored bit (`bit` 0 = least significant), in either
    /// direction, as bit rot would. The bit reads back stably afterwards.
    /// ECC correction is not modelled: the flip shows in reads.
    ///
    /// # Panics
    ///
    /// If `byte` is out of bounds or `bit > 7`.
    pub fn flip_bit(&mut self, byte: usize, bit: u8) {
        assert!(bit < 8, "SimFlash::flip_bit: bit {bit} is not in 0..8");
        let mask = 1u8 << bit;
        self.data[byte] ^= mask;
        self.weak[byte] &= !mask;
    }

    /// Indices of the words that overlap `bytes`.
    fn words(bytes: Range<usize>) -> Range<usize> {
        if bytes.is_empty() {
            0..0
        } else {
            bytes.start / WRITE..(bytes.end - 1) / WRITE + 1
        }
    }

    /// Checks power, bounds and alignment in the order `embedded-storage`'s
    /// own `check_*` helpers use, and returns the byte range.
    fn check(&self, offset: u32, len: usize, align: usize) -> Result<Range<usize>, SimError> {
        if !self.powered {
            return Err(SimError::PowerLoss);
        }
        let start = offset as usize;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.data.len())
            .ok_or(SimError::OutOfBounds)?;
        if start % align != 0 || len % align != 0 {
            return Err(SimError::NotAligned);
        }
        Ok(start..end)
    }

    /// Counts a mutating operation that passed its checks and, if the armed
    /// cut is for it, takes it (the cut fires once).
    fn next_op(&mut self, kind: OpKind) -> Option<CutMode> {
        if let Some(log) = &mut self.op_log {
            log.push(kind);
        }
        let index = self.ops;
        self.ops += 1;
        match self.cut {
            Some((at, mode)) if at == index => {
                self.cut = None;
                self.cut_fired = true;
                self.powered = false;
                Some(mode)
            }
            _ => None,
        }
    }

    /// XOR mask between a raw byte and its *level* form, in which a 1 bit
    /// is at the erased level and a 0 bit at the programmed level. The
    /// model works on levels, so a part that erases to `0x00` is the exact
    /// mirror image of one that erases to `0xFF`, draw for draw.
    fn flip(&self) -> u8 {
        !self.erased
    }

    /// Programs one byte (raw value `new`) with full pulses: bits written
    /// at the programmed level become stably programmed. Returns, as a
    /// level mask, the bits this pulse programmed that were not stably
    /// programmed before.
    fn program_byte(&mut self, at: usize, new: u8) -> u8 {
        let f = self.flip();
        let (level, new) = (self.data[at] ^ f, new ^ f);
        let programmed = !new & (level | self.weak[at]);
        self.data[at] = (level & new) ^ f;
        self.weak[at] &= new;
        programmed
    }

    /// A word just programmed into a weak sector: with a 1 in
    /// [`WEAK_WORD_ONE_IN`] chance, a random non-empty subset of the bits
    /// it programmed (`programmed`, level masks per byte) becomes weak.
    /// Draws only when the word programmed a bit.
    fn weaken_word(&mut self, start: usize, programmed: &[u8; WRITE]) {
        if programmed.iter().all(|&b| b == 0) || self.rng.random_range(0..WEAK_WORD_ONE_IN) != 0 {
            return;
        }
        let mut any = false;
        for (i, &p) in programmed.iter().enumerate() {
            let w = p & self.rng.random::<u8>();
            self.weak[start + i] |= w;
            any |= w != 0;
        }
        if !any {
            // The draw picked none: the lowest programmed bit goes weak.
            let i = programmed.iter().position(|&b| b != 0).unwrap_or(0);
            self.weak[start + i] |= programmed[i] & programmed[i].wrapping_neg();
        }
    }

    fn do_write(&mut self, range: Range<usize>, bytes: &[u8], cut: Option<CutMode>) {
        let cut = cut.map(|mode| mode.effective(OpKind::Write));
        let n_words = bytes.len() / WRITE;
        // Words before `complete` are programmed in full. `None`: no cut.
        let (complete, unstable) = match cut {
            None => (n_words, false),
            // An empty write has nothing to tear.
            Some(CutMode::Lost) => return,
            Some(_) if n_words == 0 => return,
            Some(mode) => (self.rng.random_range(0..n_words), mode == CutMode::Unstable),
        };
        let first_word = range.start / WRITE;
        for w in 0..complete {
            let start = range.start + w * WRITE;
            let mut programmed = [0u8; WRITE];
            for (i, p) in programmed.iter_mut().enumerate() {
                *p = self.program_byte(start + i, bytes[w * WRITE + i]);
            }
            if self.weak_sector[start / ERASE] {
                self.weaken_word(start, &programmed);
            }
            self.written[first_word + w] = true;
        }
        if cut.is_none() {
            return;
        }

        let f = self.flip();
        let word_start = complete * WRITE;
        for (i, &new) in bytes[word_start..word_start + WRITE].iter().enumerate() {
            let at = range.start + word_start + i;
            let (level, new) = (self.data[at] ^ f, new ^ f);
            // Bits this write was programming that were not stably
            // programmed yet; an already-programmed bit keeps its charge
            // whatever happens.
            let programming = !new & (level | self.weak[at]);
            let reached: u8 = self.rng.random::<u8>() & !new;
            self.data[at] = (level & !reached) ^ f;
            self.weak[at] &= !reached;
            if unstable {
                self.weak[at] |= programming;
            }
        }
        let cut_word = first_word + complete;
        self.written[cut_word] = true;
        if self.write_once {
            self.ecc_bad[cut_word] = true;
        }
    }

    fn do_erase(&mut self, range: Range<usize>, cut: Option<CutMode>) {
        let sectors = range.start / ERASE..range.end / ERASE;
        self.stats.erases += sectors.len() as u64;
        for sector in sectors {
            self.sector_erases[sector] += 1;
        }
        let words = Self::words(range.clone());
        let sectors = range.start / ERASE..range.end / ERASE;
        let mode = match cut.map(|mode| mode.effective(OpKind::Erase)) {
            None => {
                self.data[range.clone()].fill(self.erased);
                self.weak[range].fill(0);
                self.written[words.clone()].fill(false);
                self.ecc_bad[words].fill(false);
                self.weak_sector[sectors].fill(false);
                return;
            }
            Some(CutMode::Lost) => return,
            Some(mode) => mode,
        };
        // Drivers erase a range sector by sector: a cut leaves the sectors
        // before the one it hits erased, that one cut, and the ones after
        // it untouched (a part that erases a whole block at once is the
        // case of a range one sector long).
        let (range, words, sectors) = if sectors.len() > 1 {
            let hit = sectors.start + (self.rng.next_u64() % sectors.len() as u64) as usize;
            let done = range.start..hit * ERASE;
            let done_words = Self::words(done.clone());
            self.data[done.clone()].fill(self.erased);
            self.weak[done].fill(0);
            self.written[done_words.clone()].fill(false);
            self.ecc_bad[done_words].fill(false);
            self.weak_sector[sectors.start..hit].fill(false);
            let cut = hit * ERASE..(hit + 1) * ERASE;
            (cut.clone(), Self::words(cut), hit..hit + 1)
        } else {
            (range, words, sectors)
        };
        // Every other cut leaves the sector weak, blank-looking or not.
        self.weak_sector[sectors].fill(true);
        if mode == CutMode::BlankHalfErase {
            // Every bit reached the erased level; no bit is left in between.
            self.data[range.clone()].fill(self.erased);
            self.weak[range].fill(0);
            self.written[words.clone()].fill(false);
            self.ecc_bad[words].fill(false);
            return;
        }
        let unstable = mode == CutMode::Unstable;
        let f = self.flip();
        let mut noise = vec![0u8; range.len()];
        self.rng.fill_bytes(&mut noise);
        for (at, r) in range.zip(noise) {
            let level = (self.data[at] ^ f) | r;
            self.data[at] = level ^ f;
            self.weak[at] = if unstable {
                !level
            } else {
                // A bit the pulse pushed to the erased level is erased,
                // weak or not before.
                self.weak[at] & !level
            };
        }
        for word in words {
            let bytes = word * WRITE..(word + 1) * WRITE;
            let erased = self.data[bytes].iter().all(|&b| b == self.erased);
            self.written[word] = !erased;
            self.ecc_bad[word] = self.write_once && !erased;
        }
    }

    /// Whether the byte range `bytes` (non-empty) overlaps `range`.
    fn overlaps(bytes: &Range<usize>, range: &Range<u32>) -> bool {
        !bytes.is_empty() && bytes.start < range.end as usize && (range.start as usize) < bytes.end
    }

    /// Refuses a write or erase of `bytes` that overlaps a protected range.
    fn check_protected(&mut self, bytes: &Range<usize>) -> Result<(), SimError> {
        if self.protected.iter().any(|p| Self::overlaps(bytes, p)) {
            self.protected_attempts += 1;
            return Err(SimError::Protected);
        }
        Ok(())
    }

    /// Counts a read that passed its checks and tells whether an armed
    /// read fault fails it, consuming transient counts and the index.
    fn read_fails(&mut self, bytes: &Range<usize>) -> bool {
        let index = self.reads;
        self.reads += 1;
        let mut fails = false;
        if let Some(i) = self.read_fault_at.iter().position(|&at| at == index) {
            self.read_fault_at.swap_remove(i);
            fails = true;
        }
        for (range, fault) in &mut self.read_faults {
            if Self::overlaps(bytes, range) {
                fails = true;
                if let ReadFault::Transient(n) = fault {
                    *n -= 1;
                }
            }
        }
        self.read_faults
            .retain(|(_, fault)| *fault != ReadFault::Transient(0));
        fails
    }
}

impl<const READ: usize, const WRITE: usize, const ERASE: usize> fmt::Debug
    for SimFlash<READ, WRITE, ERASE>
{
    // The content can be megabytes: show the state, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFlash")
            .field("read", &READ)
            .field("write", &WRITE)
            .field("erase", &ERASE)
            .field("capacity", &self.data.len())
            .field("erased", &self.erased)
            .field("write_once", &self.write_once)
            .field("powered", &self.powered)
            .field("mutating_ops", &self.ops)
            .field("reads_done", &self.reads)
            .field("cut", &self.cut)
            .field("cut_happened", &self.cut_fired)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<const READ: usize, const WRITE: usize, const ERASE: usize> ErrorType
    for SimFlash<READ, WRITE, ERASE>
{
    type Error = SimError;
}

impl<const READ: usize, const WRITE: usize, const ERASE: usize> ReadNorFlash
    for SimFlash<READ, WRITE, ERASE>
{
    const READ_SIZE: usize = READ;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        let range = self.check(offset, bytes.len(), READ)?;
        if self.read_fails(&range) {
            // Garbage, so code that ignores the error is caught: every byte
            // differs from the stored one.
            for (out, at) in bytes.iter_mut().zip(range) {
                let r = self.rng.random::<u8>();
                *out = self.data[at] ^ if r == 0 { 0xFF } else { r };
            }
            return Err(SimError::ReadFault);
        }
        if self.ecc_bad[Self::words(range.clone())].contains(&true) {
            return Err(SimError::Ecc);
        }
        let f = self.flip();
        for (out, at) in bytes.iter_mut().zip(range) {
            let weak = self.weak[at];
            *out = if weak == 0 {
                self.data[at]
            } else {
                // Random levels, so both kinds of part draw alike.
                let level = self.data[at] ^ f;
                ((level & !weak) | (self.rng.random::<u8>() & weak)) ^ f
            };
        }
        self.stats.reads += 1;
        self.stats.bytes_read += bytes.len() as u64;
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const READ: usize, const WRITE: usize, const ERASE: usize> NorFlash
    for SimFlash<READ, WRITE, ERASE>
{
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        if !self.powered {
            return Err(SimError::PowerLoss);
        }
        if from > to {
            return Err(SimError::OutOfBounds);
        }
        let range = self.check(from, (to - from) as usize, ERASE)?;
        self.check_protected(&range)?;
        let cut = self.next_op(OpKind::Erase);
        self.do_erase(range, cut);
        match cut {
            Some(_) => Err(SimError::PowerLoss),
            None => Ok(()),
        }
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        let range = self.check(offset, bytes.len(), WRITE)?;
        self.check_protected(&range)?;
        // All-or-nothing: refuse before touching anything.
        if self.write_once && self.written[Self::words(range.clone())].contains(&true) {
            return Err(SimError::WriteTwice);
        }
        let cut = self.next_op(OpKind::Write);
        self.stats.writes += 1;
        self.stats.bytes_written += bytes.len() as u64;
        self.do_write(range, bytes, cut);
        match cut {
            Some(_) => Err(SimError::PowerLoss),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small geometry so tests see several words and sectors: 4-byte words,
    /// 64-byte sectors, byte reads.
    type Small = SimFlash<1, 4, 64>;
    /// Read unit larger than 1 and write-once, like STM32L4 but small.
    type Ecc = SimFlash<8, 8, 64>;

    fn read_vec<const R: usize, const W: usize, const E: usize>(
        flash: &mut SimFlash<R, W, E>,
        offset: u32,
        len: usize,
    ) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        flash.read(offset, &mut buf).unwrap();
        buf
    }

    /// Everything observable except the random stream.
    type Snapshot = (
        Vec<u8>,
        Vec<u8>,
        Vec<bool>,
        Vec<bool>,
        FlashStats,
        Vec<u32>,
        u64,
    );

    fn snapshot<const R: usize, const W: usize, const E: usize>(
        flash: &SimFlash<R, W, E>,
    ) -> Snapshot {
        (
            flash.data.clone(),
            flash.weak.clone(),
            flash.written.clone(),
            flash.ecc_bad.clone(),
            flash.stats,
            flash.sector_erases.clone(),
            flash.ops,
        )
    }

    #[test]
    fn new_is_erased_and_sized() {
        let mut flash = Small::new(128);
        assert_eq!(flash.capacity(), 128);
        assert!(flash.contents().iter().all(|&b| b == 0xFF));
        assert_eq!(read_vec(&mut flash, 0, 128), vec![0xFF; 128]);
        assert!(flash.is_powered());
        assert!(!flash.is_write_once());
        assert_eq!(flash.sector_erases(), &[0, 0]);
    }

    #[test]
    #[should_panic(expected = "not a multiple of the erase size")]
    fn new_rejects_partial_sector() {
        let _ = Small::new(100);
    }

    #[test]
    #[should_panic(expected = "must be non-zero")]
    fn new_rejects_zero_size() {
        let _ = SimFlash::<1, 0, 64>::new(64);
    }

    #[test]
    #[should_panic(expected = "must be a multiple of WRITE")]
    fn new_rejects_word_straddling_sectors() {
        let _ = SimFlash::<1, 8, 12>::new(24);
    }

    #[test]
    fn write_ands_and_erase_restores() {
        let mut flash = Small::new(128);
        flash.write(4, &[0xF0, 0x0F, 0xAA, 0xFF]).unwrap();
        flash.write(4, &[0x3C, 0x3C, 0x55, 0x00]).unwrap();
        assert_eq!(read_vec(&mut flash, 4, 4), [0x30, 0x0C, 0x00, 0x00]);
        // Writing 1s never sets a bit back.
        flash.write(4, &[0xFF; 4]).unwrap();
        assert_eq!(read_vec(&mut flash, 4, 4), [0x30, 0x0C, 0x00, 0x00]);
        // Neighbours untouched.
        assert_eq!(read_vec(&mut flash, 0, 4), [0xFF; 4]);
        assert_eq!(read_vec(&mut flash, 8, 4), [0xFF; 4]);
        flash.write(64, &[0; 4]).unwrap();
        flash.erase(0, 64).unwrap();
        assert_eq!(read_vec(&mut flash, 0, 64), vec![0xFF; 64]);
        // Only the erased sector changed.
        assert_eq!(read_vec(&mut flash, 64, 4), [0; 4]);
    }

    #[test]
    fn bad_arguments_change_nothing() {
        let mut flash = Small::new(128);
        flash.write(0, &[1, 2, 3, 4]).unwrap();
        let before = snapshot(&flash);

        assert_eq!(flash.write(2, &[0; 4]), Err(SimError::NotAligned));
        assert_eq!(flash.write(4, &[0; 3]), Err(SimError::NotAligned));
        assert_eq!(flash.write(128, &[0; 4]), Err(SimError::OutOfBounds));
        assert_eq!(flash.write(124, &[0; 8]), Err(SimError::OutOfBounds));
        assert_eq!(flash.write(u32::MAX, &[0; 4]), Err(SimError::OutOfBounds));
        assert_eq!(flash.erase(1, 64), Err(SimError::NotAligned));
        assert_eq!(flash.erase(0, 63), Err(SimError::NotAligned));
        assert_eq!(flash.erase(64, 0), Err(SimError::OutOfBounds));
        assert_eq!(flash.erase(64, 192), Err(SimError::OutOfBounds));
        assert_eq!(flash.read(127, &mut [0; 2]), Err(SimError::OutOfBounds));
        assert_eq!(
            flash.read(u32::MAX, &mut [0; 1]),
            Err(SimError::OutOfBounds)
        );
        assert_eq!(snapshot(&flash), before);

        let mut ecc = Ecc::new(64);
        assert_eq!(ecc.read(4, &mut [0; 8]), Err(SimError::NotAligned));
        assert_eq!(ecc.read(8, &mut [0; 4]), Err(SimError::NotAligned));
        assert_eq!(ecc.stats(), FlashStats::default());
    }

    #[test]
    fn error_kinds_and_display() {
        assert_eq!(SimError::NotAligned.kind(), NorFlashErrorKind::NotAligned);
        assert_eq!(SimError::OutOfBounds.kind(), NorFlashErrorKind::OutOfBounds);
        for e in [SimError::PowerLoss, SimError::WriteTwice, SimError::Ecc] {
            assert_eq!(e.kind(), NorFlashErrorKind::Other);
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn cut_mode_table() {
        use CutMode::*;
        let writes: Vec<_> = CutMode::ALL
            .into_iter()
            .filter(|m| m.applies_to(OpKind::Write))
            .collect();
        let erases: Vec<_> = CutMode::ALL
            .into_iter()
            .filter(|m| m.applies_to(OpKind::Erase))
            .collect();
        assert_eq!(writes, [Lost, Torn, Unstable]);
        assert_eq!(erases, [Lost, HalfErase, Unstable]);
        assert_eq!(Torn.effective(OpKind::Erase), HalfErase);
        assert_eq!(HalfErase.effective(OpKind::Write), Torn);
        for m in CutMode::ALL {
            for op in [OpKind::Write, OpKind::Erase] {
                assert!(m.effective(op).applies_to(op));
            }
        }
    }

    #[test]
    fn write_once_refuses_second_write_atomically() {
        let mut flash = Ecc::new(128).write_once(true);
        flash.write(8, &[0xF0; 8]).unwrap();
        let before = snapshot(&flash);
        // Would only clear bits, still refused.
        assert_eq!(flash.write(8, &[0x00; 8]), Err(SimError::WriteTwice));
        // Spans a fresh word and the written one: neither changes.
        assert_eq!(flash.write(0, &[0x00; 16]), Err(SimError::WriteTwice));
        assert_eq!(flash.write(8, &[0xFF; 8]), Err(SimError::WriteTwice));
        assert_eq!(snapshot(&flash), before);
        assert_eq!(read_vec(&mut flash, 0, 8), [0xFF; 8]);
        // Fresh words next to it are fine, and erase makes it writable again.
        flash.write(0, &[0x11; 8]).unwrap();
        flash.erase(0, 64).unwrap();
        flash.write(8, &[0x00; 8]).unwrap();
        assert_eq!(read_vec(&mut flash, 0, 16), [[0xFF; 8], [0; 8]].concat());
        // Multi-write mode allows it.
        let mut multi = Ecc::new(64);
        multi.write(8, &[0xF0; 8]).unwrap();
        multi.write(8, &[0x0F; 8]).unwrap();
        assert_eq!(read_vec(&mut multi, 8, 8), [0; 8]);
    }

    #[test]
    fn lost_cut_changes_nothing() {
        for erase in [false, true] {
            let mut flash = Small::new(128);
            flash.write(0, &[0xA5; 8]).unwrap();
            let data = flash.contents().to_vec();
            flash.cut_at(1, CutMode::Lost);
            let r = if erase {
                flash.erase(0, 64)
            } else {
                flash.write(8, &[0; 8])
            };
            assert_eq!(r, Err(SimError::PowerLoss));
            assert_eq!(flash.contents(), &data[..]);
            assert!(flash.cut_happened());
            assert!(!flash.is_powered());
        }
    }

    /// Checks the shape of a torn write of `new` over `old` at word
    /// granularity `w`, and returns the index of the cut word.
    fn assert_torn(old: &[u8], new: &[u8], got: &[u8], w: usize) -> usize {
        let words = old.len() / w;
        // The cut word is the first one not fully written.
        let k = (0..words)
            .find(|&i| (i * w..(i + 1) * w).any(|b| got[b] != old[b] & new[b]))
            .unwrap_or(words.saturating_sub(1));
        for b in 0..old.len() {
            let cleared = old[b] & !got[b];
            // Never sets a bit, never clears one not being cleared.
            assert_eq!(got[b] & !old[b], 0, "byte {b} gained bits");
            assert_eq!(cleared & new[b], 0, "byte {b} lost a bit it should keep");
            if b / w < k {
                assert_eq!(got[b], old[b] & new[b], "prefix byte {b}");
            } else if b / w > k {
                assert_eq!(got[b], old[b], "byte {b} after the cut word");
            }
        }
        k
    }

    #[test]
    fn torn_write_shapes() {
        let old: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) | 0x81).collect();
        let new: Vec<u8> = (0..32u8).map(|i| !(i.wrapping_mul(11))).collect();
        let mut cut_words = std::collections::HashSet::new();
        let mut partial = false;
        for seed in 0..64 {
            let mut flash = Small::new(64).seed(seed);
            flash.set_contents(0, &old);
            flash.cut_at(0, CutMode::Torn);
            assert_eq!(flash.write(0, &new), Err(SimError::PowerLoss));
            let got = flash.contents()[..32].to_vec();
            let k = assert_torn(&old, &new, &got, 4);
            cut_words.insert(k);
            let cut = k * 4..k * 4 + 4;
            let full: Vec<u8> = cut.clone().map(|b| old[b] & new[b]).collect();
            if got[cut.clone()] != full[..] && got[cut] != old[k * 4..k * 4 + 4] {
                partial = true;
            }
            assert_eq!(&flash.contents()[32..], &[0xFF; 32][..]);
            // A torn write leaves no weak bits.
            flash.power_on();
            assert_eq!(read_vec(&mut flash, 0, 64), flash.contents());
        }
        assert!(cut_words.len() > 3, "cut word varies with the seed");
        assert!(partial, "some cut word is partially written");
    }

    #[test]
    fn half_erase_on_write_is_torn() {
        for seed in 0..8 {
            let run = |mode| {
                let mut flash = Small::new(64).seed(seed);
                flash.cut_at(0, mode);
                let _ = flash.write(0, &[0x00; 16]);
                flash.contents().to_vec()
            };
            assert_eq!(run(CutMode::HalfErase), run(CutMode::Torn));
        }
    }

    #[test]
    fn torn_write_once_marks_ecc() {
        let mut seen_prefix = false;
        for seed in 0..16 {
            let mut flash = Ecc::new(64).seed(seed).write_once(true);
            flash.cut_at(0, CutMode::Torn);
            assert_eq!(flash.write(0, &[0x00; 32]), Err(SimError::PowerLoss));
            flash.power_on();
            let k = flash.ecc_bad.iter().position(|&b| b).expect("a cut word");
            assert_eq!(flash.ecc_bad.iter().filter(|&&b| b).count(), 1);
            for w in 0..k {
                assert_eq!(read_vec(&mut flash, (w * 8) as u32, 8), [0; 8]);
                assert_eq!(
                    flash.write((w * 8) as u32, &[0; 8]),
                    Err(SimError::WriteTwice)
                );
                seen_prefix = true;
            }
            let at = (k * 8) as u32;
            assert_eq!(flash.read(at, &mut [0; 8]), Err(SimError::Ecc));
            // Any read overlapping it fails.
            assert_eq!(flash.read(0, &mut [0; 64]), Err(SimError::Ecc));
            assert_eq!(flash.write(at, &[0; 8]), Err(SimError::WriteTwice));
            // Words after the cut one are still blank and writable.
            for w in k + 1..4 {
                flash.write((w * 8) as u32, &[0x5A; 8]).unwrap();
            }
            flash.erase(0, 64).unwrap();
            assert_eq!(read_vec(&mut flash, 0, 64), vec![0xFF; 64]);
            flash.write(at, &[0; 8]).unwrap();
        }
        assert!(seen_prefix);
    }

    #[test]
    fn ecc_error_covers_reads_narrower_than_a_word() {
        let mut flash = SimFlash::<1, 4, 64>::new(64).write_once(true);
        flash.cut_at(0, CutMode::Torn);
        let _ = flash.write(8, &[0; 4]);
        flash.power_on();
        assert_eq!(flash.read(11, &mut [0; 1]), Err(SimError::Ecc));
        assert_eq!(flash.read(7, &mut [0; 2]), Err(SimError::Ecc));
        assert_eq!(read_vec(&mut flash, 4, 4), [0xFF; 4]);
        assert_eq!(read_vec(&mut flash, 12, 4), [0xFF; 4]);
        assert_eq!(flash.stats().reads, 2);
    }

    #[test]
    fn half_erase_keeps_ones_and_randomises_zeros() {
        let old: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(73) & 0xF3).collect();
        let mut changed = false;
        for seed in 0..8 {
            let mut flash = Small::new(128).seed(seed);
            flash.set_contents(0, &old);
            flash.write(64, &[0x42; 4]).unwrap();
            flash.cut_at(1, CutMode::HalfErase);
            assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
            let got = flash.contents()[..64].to_vec();
            for b in 0..64 {
                assert_eq!(got[b] & old[b], old[b], "byte {b} lost a 1");
            }
            if got != old && got.iter().any(|&b| b != 0xFF) {
                changed = true;
            }
            assert_eq!(&flash.contents()[64..68], &[0x42; 4]);
            flash.power_on();
            // Stable: two reads agree with the stored bytes.
            assert_eq!(read_vec(&mut flash, 0, 64), got);
            assert_eq!(read_vec(&mut flash, 0, 64), got);
        }
        assert!(changed, "a half erase is neither a no-op nor a full erase");
    }

    #[test]
    fn torn_on_erase_is_half_erase() {
        for seed in 0..8 {
            let run = |mode| {
                let mut flash = Small::new(128).seed(seed);
                flash.set_contents(0, &[0; 128]);
                flash.cut_at(0, mode);
                let _ = flash.erase(0, 128);
                flash.contents().to_vec()
            };
            let torn = run(CutMode::Torn);
            assert_eq!(torn, run(CutMode::HalfErase));
            // The sectors before the one the cut hit are erased, the ones
            // after it untouched, the hit one half erased.
            let hit = (0..2).find(|s| torn[s * 64..][..64].iter().any(|&b| b != 0xFF && b != 0));
            let hit = hit.unwrap_or_else(|| panic!("seed {seed}: no sector half erased"));
            assert!(torn[..hit * 64].iter().all(|&b| b == 0xFF));
            assert!(torn[(hit + 1) * 64..].iter().all(|&b| b == 0));
        }
    }

    /// A cut erase of several sectors, as a driver erases them one after
    /// the other: before the sector the cut hits, erased and sound; that
    /// one weak; after it, untouched. Over seeds, the cut hits each.
    #[test]
    fn a_cut_erase_of_several_sectors_stops_at_one() {
        let mut hits = [0u32; 4];
        for seed in 0..64 {
            for mode in [
                CutMode::HalfErase,
                CutMode::Unstable,
                CutMode::BlankHalfErase,
            ] {
                let mut flash = Small::new(256).seed(seed);
                flash.set_contents(0, &[0; 256]);
                flash.cut_at(0, mode);
                assert_eq!(flash.erase(0, 256), Err(SimError::PowerLoss));
                flash.power_on();
                let weak: Vec<usize> = (0..4)
                    .filter(|s| flash.is_weak_sector(*s as u32 * 64))
                    .collect();
                assert_eq!(weak.len(), 1, "{mode:?} seed {seed}: {weak:?}");
                let hit = weak[0];
                hits[hit] += 1;
                let c = flash.contents();
                assert!(
                    c[..hit * 64].iter().all(|&b| b == 0xFF),
                    "{mode:?}: erased before"
                );
                assert!(
                    c[(hit + 1) * 64..].iter().all(|&b| b == 0),
                    "{mode:?}: untouched after"
                );
            }
        }
        assert!(hits.iter().all(|&n| n > 0), "{hits:?}");
    }

    #[test]
    fn half_erase_write_once_marks_non_blank_words() {
        // A word is 1 byte here so that some words come out fully erased.
        let mut flash = SimFlash::<1, 1, 64>::new(64).seed(3).write_once(true);
        flash.write(0, &[0x7F; 64]).unwrap();
        flash.cut_at(1, CutMode::HalfErase);
        assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
        flash.power_on();
        let got = flash.contents().to_vec();
        let (mut blank, mut bad) = (0, 0);
        for (i, &b) in got.iter().enumerate() {
            let at = i as u32;
            if b == 0xFF {
                blank += 1;
                assert_eq!(read_vec(&mut flash, at, 1), [0xFF]);
                flash.write(at, &[0x00]).unwrap();
            } else {
                bad += 1;
                assert_eq!(flash.read(at, &mut [0]), Err(SimError::Ecc));
                assert_eq!(flash.write(at, &[0x00]), Err(SimError::WriteTwice));
            }
        }
        assert!(blank > 0 && bad > 0, "seed 3 gives both kinds");
    }

    #[test]
    fn unstable_write_reads_randomly_until_rewritten() {
        let mut flickered = false;
        for seed in 0..8 {
            let mut flash = Small::new(64).seed(seed);
            flash.cut_at(0, CutMode::Unstable);
            // 0x0F: the high nibble is being cleared, the low one stays 1.
            assert_eq!(flash.write(0, &[0x0F; 16]), Err(SimError::PowerLoss));
            flash.power_on();
            let k = flash.weak.iter().position(|&w| w != 0).expect("weak bits") / 4;
            for w in 0..4 {
                let word = &flash.weak[w * 4..w * 4 + 4];
                if w == k {
                    // Every bit being cleared is weak, none stable.
                    assert_eq!(word, [0xF0; 4]);
                } else {
                    assert_eq!(word, [0; 4]);
                }
            }
            let at = (k * 4) as u32;
            let reads: Vec<Vec<u8>> = (0..8).map(|_| read_vec(&mut flash, at, 4)).collect();
            for r in &reads {
                // Bits meant to stay 1 read 1 every time.
                assert!(r.iter().all(|&b| b & 0x0F == 0x0F));
            }
            if reads.iter().any(|r| r != &reads[0]) {
                flickered = true;
            }
            // Writing 1s applies no pulse: still weak.
            flash.write(at, &[0xFF; 4]).unwrap();
            assert_eq!(&flash.weak[k * 4..k * 4 + 4], &[0xF0; 4]);
            // Programming the bits to 0 stabilises them.
            flash.write(at, &[0x0F; 4]).unwrap();
            for _ in 0..8 {
                assert_eq!(read_vec(&mut flash, at, 4), [0x0F; 4]);
            }
        }
        assert!(flickered, "weak bits change between reads");
    }

    #[test]
    fn unstable_write_once_is_ecc_bad() {
        let mut flash = Ecc::new(64).write_once(true);
        flash.cut_at(0, CutMode::Unstable);
        let _ = flash.write(0, &[0; 8]);
        flash.power_on();
        assert_eq!(flash.read(0, &mut [0; 8]), Err(SimError::Ecc));
    }

    #[test]
    fn unstable_erase_reads_randomly_until_erased() {
        let mut flickered = false;
        for seed in 0..4 {
            let mut flash = Small::new(64).seed(seed);
            flash.write(0, &[0x0F; 64]).unwrap();
            flash.cut_at(1, CutMode::Unstable);
            assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
            flash.power_on();
            let stored = flash.contents().to_vec();
            let first = read_vec(&mut flash, 0, 64);
            for _ in 0..8 {
                let r = read_vec(&mut flash, 0, 64);
                for b in 0..64 {
                    assert_eq!(r[b] & stored[b], stored[b], "a 1 read as 0");
                }
                flickered |= r != first;
            }
            flash.erase(0, 64).unwrap();
            assert_eq!(read_vec(&mut flash, 0, 64), vec![0xFF; 64]);
            assert_eq!(read_vec(&mut flash, 0, 64), vec![0xFF; 64]);
        }
        assert!(flickered);
    }

    #[test]
    fn no_power_until_power_on() {
        let mut flash = Small::new(128);
        flash.write(0, &[0x11; 4]).unwrap();
        flash.cut_at(1, CutMode::Lost);
        assert!(!flash.cut_happened());
        flash.write(4, &[0x22; 4]).unwrap_err();
        let before = snapshot(&flash);
        assert_eq!(flash.read(0, &mut [0; 4]), Err(SimError::PowerLoss));
        assert_eq!(flash.write(8, &[0; 4]), Err(SimError::PowerLoss));
        assert_eq!(flash.erase(64, 128), Err(SimError::PowerLoss));
        // Even a bad call reports the missing power.
        assert_eq!(flash.write(1, &[0; 1]), Err(SimError::PowerLoss));
        assert_eq!(snapshot(&flash), before);
        assert_eq!(flash.mutating_ops(), 2);

        flash.power_on();
        assert!(flash.is_powered());
        assert!(flash.cut_happened());
        assert_eq!(read_vec(&mut flash, 0, 8), [[0x11; 4], [0xFF; 4]].concat());
        // The cut is disarmed: the op that had index 1 again works now.
        flash.write(4, &[0x22; 4]).unwrap();
        flash.erase(64, 128).unwrap();
        assert!(flash.is_powered());
    }

    #[test]
    fn cut_fires_at_exact_index() {
        let mut flash = Small::new(192);
        flash.cut_at(3, CutMode::Lost);
        flash.write(0, &[0; 4]).unwrap(); // 0
        flash.read(0, &mut [0; 4]).unwrap(); // reads don't count
        flash.erase(0, 192).unwrap(); // 1: three sectors, one op
        flash.write(1, &[0; 4]).unwrap_err(); // rejected: not counted
        flash.erase(64, 64).unwrap(); // 2: empty erase still counts
        assert_eq!(flash.mutating_ops(), 3);
        assert!(!flash.cut_happened());
        assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss)); // 3
        assert!(flash.cut_happened());
        assert_eq!(flash.mutating_ops(), 4);

        // Disarm before it fires.
        flash.power_on();
        flash.cut_at(5, CutMode::Lost);
        flash.disarm();
        for _ in 0..3 {
            flash.erase(0, 64).unwrap();
        }
        assert!(flash.is_powered());
        // Re-arming resets cut_happened; a past index never fires.
        flash.cut_at(0, CutMode::Torn);
        assert!(!flash.cut_happened());
        flash.write(0, &[0; 4]).unwrap();
        assert!(!flash.cut_happened());
    }

    #[test]
    fn write_twice_is_not_a_mutating_op() {
        let mut flash = Ecc::new(64).write_once(true);
        flash.write(0, &[0; 8]).unwrap();
        flash.cut_at(1, CutMode::Lost);
        assert_eq!(flash.write(0, &[0; 8]), Err(SimError::WriteTwice));
        assert_eq!(flash.mutating_ops(), 1);
        assert!(flash.is_powered());
        assert_eq!(flash.write(8, &[0; 8]), Err(SimError::PowerLoss));
    }

    #[test]
    fn counters_are_exact() {
        let mut flash = Small::new(256);
        flash.write(0, &[0; 8]).unwrap();
        flash.write(8, &[]).unwrap();
        flash.read(0, &mut [0; 3]).unwrap();
        flash.read(5, &mut [0; 10]).unwrap();
        let mid = flash.stats();
        flash.erase(64, 256).unwrap();
        flash.erase(64, 128).unwrap();
        flash.erase(0, 0).unwrap();
        flash.write(2, &[0; 4]).unwrap_err();
        flash.read(300, &mut [0; 1]).unwrap_err();
        assert_eq!(
            flash.stats(),
            FlashStats {
                reads: 2,
                bytes_read: 13,
                writes: 2,
                bytes_written: 8,
                erases: 4,
            }
        );
        assert_eq!(flash.sector_erases(), &[0, 2, 1, 1]);
        assert_eq!(flash.mutating_ops(), 5);
        assert_eq!(
            flash.stats().since(&mid),
            FlashStats {
                erases: 4,
                ..FlashStats::default()
            }
        );

        // A cut op counts in full.
        flash.cut_at(5, CutMode::HalfErase);
        flash.erase(0, 128).unwrap_err();
        flash.power_on();
        flash.cut_at(6, CutMode::Torn);
        flash.write(0, &[0; 8]).unwrap_err();
        flash.power_on();
        let s = flash.stats();
        assert_eq!((s.writes, s.bytes_written, s.erases), (3, 16, 6));
        assert_eq!(flash.sector_erases(), &[1, 3, 1, 1]);
        assert_eq!(flash.mutating_ops(), 7);

        flash.reset_stats();
        assert_eq!(flash.stats(), FlashStats::default());
        assert_eq!(flash.sector_erases(), &[0; 4]);
        assert_eq!(flash.mutating_ops(), 7);
        // Weak-bit reads count like any read.
        flash.read(0, &mut [0; 64]).unwrap();
        assert_eq!(flash.stats().reads, 1);
    }

    /// Runs a cut-heavy scenario and returns what it read.
    fn scenario(seed: u64) -> Vec<u8> {
        let mut flash = Small::new(128).seed(seed);
        flash.write(0, &[0x55; 16]).unwrap();
        flash.cut_at(1, CutMode::Unstable);
        let _ = flash.write(16, &[0x00; 32]);
        flash.power_on();
        flash.cut_at(2, CutMode::HalfErase);
        let _ = flash.erase(64, 128);
        flash.power_on();
        let mut out = read_vec(&mut flash, 0, 128);
        out.extend(read_vec(&mut flash, 0, 128));
        out.extend_from_slice(flash.contents());
        out
    }

    #[test]
    fn seed_reproduces() {
        assert_eq!(scenario(42), scenario(42));
        let distinct: std::collections::HashSet<_> = (0..4).map(scenario).collect();
        assert!(distinct.len() > 1, "different seeds give different results");
    }

    #[test]
    fn default_seed_is_zero() {
        let run = |flash: Small| {
            let mut flash = flash;
            flash.cut_at(0, CutMode::Torn);
            let _ = flash.write(0, &[0; 32]);
            flash.contents().to_vec()
        };
        assert_eq!(run(Small::new(64)), run(Small::new(64).seed(0)));
    }

    #[test]
    fn clone_replays_the_same_future() {
        let mut a = Small::new(128).seed(9);
        a.write(0, &[0x33; 8]).unwrap();
        let mut b = a.clone();
        for flash in [&mut a, &mut b] {
            flash.cut_at(1, CutMode::Unstable);
            let _ = flash.write(8, &[0; 32]);
            flash.power_on();
        }
        assert_eq!(a.contents(), b.contents());
        assert_eq!(read_vec(&mut a, 0, 64), read_vec(&mut b, 0, 64));
        assert_eq!(a.stats(), b.stats());
    }

    #[test]
    fn raw_helpers() {
        let mut flash = Ecc::new(64).write_once(true);
        flash.cut_at(0, CutMode::Unstable);
        let _ = flash.write(0, &[0; 16]);
        flash.power_on();
        let ops = flash.mutating_ops();
        let stats = flash.stats();
        flash.set_contents(0, &[0xAB; 16]);
        // Readable again, exactly as planted.
        assert_eq!(read_vec(&mut flash, 0, 16), [0xAB; 16]);
        assert_eq!(read_vec(&mut flash, 0, 16), [0xAB; 16]);
        assert_eq!(flash.mutating_ops(), ops);
        assert_eq!(flash.stats().writes, stats.writes);
        // Planted content counts as written, as factory content does on an
        // ECC part: programming over it is refused until an erase; planted
        // erased bytes are free again.
        assert!(flash.written[0]);
        assert!(!flash.written[4]);
        flash.set_contents(32, &[0x12; 8]);
        assert!(flash.written[4]);
        assert_eq!(flash.write(32, &[0x10; 8]), Err(SimError::WriteTwice));
        flash.set_contents(32, &[0xFF; 8]);
        assert!(!flash.written[4]);
        flash.write(32, &[0x10; 8]).unwrap();
        assert_eq!(read_vec(&mut flash, 32, 8), [0x10; 8]);

        flash.flip_bit(40, 0);
        flash.flip_bit(41, 7);
        assert_eq!(read_vec(&mut flash, 40, 8)[..2], [0xFE, 0x7F]);
        flash.flip_bit(40, 0);
        assert_eq!(flash.contents()[40], 0xFF);

        // A flipped weak bit reads back stably.
        let mut multi = Small::new(64).seed(1);
        multi.cut_at(0, CutMode::Unstable);
        let _ = multi.write(0, &[0x00; 4]);
        multi.power_on();
        let k = multi.weak.iter().position(|&w| w != 0).unwrap() / 4 * 4;
        for byte in k..k + 4 {
            for bit in 0..8 {
                multi.flip_bit(byte, bit);
            }
        }
        let first = read_vec(&mut multi, k as u32, 4);
        for _ in 0..8 {
            assert_eq!(read_vec(&mut multi, k as u32, 4), first);
        }
    }

    /// Both erase values, for tests that must hold on either kind of part.
    const ERASED: [u8; 2] = [0xFF, 0x00];

    #[test]
    fn erased_to_fills_and_clamps() {
        let mut zero = Small::new(128).erased_to(0x00);
        assert_eq!(zero.erased(), 0x00);
        assert!(zero.contents().iter().all(|&b| b == 0x00));
        assert_eq!(read_vec(&mut zero, 0, 128), vec![0x00; 128]);
        assert_eq!(zero.mutating_ops(), 0);
        assert_eq!(zero.stats().reads, 1);
        assert_eq!(Small::new(64).erased(), 0xFF);
        // Only 0x00 and 0xFF are physical: anything else means 0xFF.
        for other in [0x01, 0x5A, 0xFE] {
            let flash = Small::new(64).erased_to(0x00).erased_to(other);
            assert_eq!(flash.erased(), 0xFF);
            assert!(flash.contents().iter().all(|&b| b == 0xFF));
        }
        // A fresh part: planted content, weak bits and flags are gone.
        let mut used = Small::new(64).write_once(true);
        used.write(0, &[0x12; 4]).unwrap();
        used.cut_at(1, CutMode::HalfErase);
        let _ = used.erase(0, 64);
        used.power_on();
        let mut fresh = used.erased_to(0x00);
        assert!(fresh.contents().iter().all(|&b| b == 0x00));
        assert!(!fresh.is_weak_sector(0));
        assert_eq!(read_vec(&mut fresh, 0, 64), vec![0x00; 64]);
        fresh.write(0, &[0x12; 4]).unwrap();
        assert!(fresh.is_write_once());
    }

    #[test]
    fn zero_part_writes_or_and_erases_to_zero() {
        let mut flash = Small::new(128).erased_to(0x00);
        flash.write(4, &[0x0F, 0xF0, 0x55, 0x00]).unwrap();
        flash.write(4, &[0x30, 0x03, 0xAA, 0x00]).unwrap();
        assert_eq!(read_vec(&mut flash, 4, 4), [0x3F, 0xF3, 0xFF, 0x00]);
        // Writing the erased level never clears a bit.
        flash.write(4, &[0x00; 4]).unwrap();
        assert_eq!(read_vec(&mut flash, 4, 4), [0x3F, 0xF3, 0xFF, 0x00]);
        assert_eq!(read_vec(&mut flash, 0, 4), [0x00; 4]);
        assert_eq!(read_vec(&mut flash, 8, 4), [0x00; 4]);
        flash.write(64, &[0xFF; 4]).unwrap();
        flash.erase(0, 64).unwrap();
        assert_eq!(read_vec(&mut flash, 0, 64), vec![0x00; 64]);
        assert_eq!(read_vec(&mut flash, 64, 4), [0xFF; 4]);
        // Write-once works the same way.
        let mut ecc = Ecc::new(64).erased_to(0x00).write_once(true);
        ecc.write(8, &[0x0F; 8]).unwrap();
        assert_eq!(ecc.write(8, &[0xFF; 8]), Err(SimError::WriteTwice));
        assert_eq!(ecc.write(8, &[0x00; 8]), Err(SimError::WriteTwice));
        ecc.erase(0, 64).unwrap();
        ecc.write(8, &[0xF0; 8]).unwrap();
        assert_eq!(read_vec(&mut ecc, 0, 16), [[0x00; 8], [0xF0; 8]].concat());
    }

    #[test]
    fn zero_part_torn_write_and_half_erase_shapes() {
        let old: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) & 0x7E).collect();
        let new: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(11)).collect();
        let mut partial = false;
        for seed in 0..32 {
            let mut flash = Small::new(64).erased_to(0x00).seed(seed);
            flash.set_contents(0, &old);
            flash.cut_at(0, CutMode::Torn);
            assert_eq!(flash.write(0, &new), Err(SimError::PowerLoss));
            let got = flash.contents()[..32].to_vec();
            for b in 0..32 {
                // Never clears a bit, never sets one the write was not setting.
                assert_eq!(old[b] & !got[b], 0, "byte {b} lost a bit");
                assert_eq!(
                    got[b] & !(old[b] | new[b]),
                    0,
                    "byte {b} gained a stray bit"
                );
            }
            // The 0xFF model on the complement gives the same shape.
            let inv = |v: &[u8]| v.iter().map(|b| !b).collect::<Vec<u8>>();
            let k = assert_torn(&inv(&old), &inv(&new), &inv(&got), 4);
            let full: Vec<u8> = (k * 4..k * 4 + 4).map(|b| old[b] | new[b]).collect();
            partial |=
                got[k * 4..k * 4 + 4] != full[..] && got[k * 4..k * 4 + 4] != old[k * 4..k * 4 + 4];
            assert_eq!(&flash.contents()[32..], &[0x00; 32][..]);
        }
        assert!(partial, "some cut word is partially programmed");

        // A half erase may only clear bits that were 1.
        let mut changed = false;
        for seed in 0..8 {
            let mut flash = Small::new(128).erased_to(0x00).seed(seed);
            let old: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(73) | 0x0C).collect();
            flash.set_contents(0, &old);
            flash.cut_at(0, CutMode::HalfErase);
            assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
            let got = flash.contents()[..64].to_vec();
            for b in 0..64 {
                assert_eq!(got[b] & !old[b], 0, "byte {b} gained a bit");
            }
            changed |= got != old && got.iter().any(|&b| b != 0);
            assert_eq!(&flash.contents()[64..], &[0x00; 64][..]);
        }
        assert!(changed, "a half erase is neither a no-op nor a full erase");
    }

    /// A cut-heavy scenario on a part erasing to `erased`, with every byte
    /// it writes given as its level (1 = erased level). Returns contents,
    /// weak masks, ECC flags and what it read, all as levels.
    fn level_scenario(
        erased: u8,
        seed: u64,
        write_once: bool,
    ) -> (Vec<u8>, Vec<u8>, Vec<bool>, Vec<u8>) {
        let f = !erased;
        let raw = |levels: &[u8]| levels.iter().map(|b| b ^ f).collect::<Vec<u8>>();
        let mut flash = SimFlash::<1, 4, 64>::new(256)
            .erased_to(erased)
            .seed(seed)
            .write_once(write_once);
        let pattern: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(29) ^ 0x96).collect();
        flash.write(0, &raw(&pattern)).unwrap();
        flash.cut_at(1, CutMode::Torn);
        let _ = flash.write(64, &raw(&pattern[..32]));
        flash.power_on();
        flash.cut_at(2, CutMode::Unstable);
        let _ = flash.write(96, &raw(&pattern[32..]));
        flash.power_on();
        flash.cut_at(3, CutMode::HalfErase);
        let _ = flash.erase(0, 64);
        flash.power_on();
        flash.write(128, &raw(&pattern)).unwrap();
        flash.cut_at(5, CutMode::Unstable);
        let _ = flash.erase(128, 192);
        flash.power_on();
        flash.cut_at(6, CutMode::BlankHalfErase);
        let _ = flash.erase(192, 256);
        flash.power_on();
        flash.write(192, &raw(&pattern)).unwrap();
        flash.fail_read_at(flash.reads_done() + 1);
        let mut reads = Vec::new();
        for at in (0..256).step_by(16) {
            for _ in 0..2 {
                let mut buf = [0u8; 16];
                let r = flash.read(at, &mut buf);
                reads.push(match r {
                    Ok(()) => 0,
                    Err(SimError::Ecc) => 1,
                    Err(SimError::ReadFault) => 2,
                    Err(e) => panic!("{e:?}"),
                });
                // Garbage and weak reads are drawn as levels too.
                if r != Err(SimError::Ecc) {
                    reads.extend(buf.iter().map(|b| b ^ f));
                }
            }
        }
        let levels = flash.contents().iter().map(|b| b ^ f).collect();
        (levels, flash.weak.clone(), flash.ecc_bad.clone(), reads)
    }

    #[test]
    fn zero_part_mirrors_ff_part_draw_for_draw() {
        for write_once in [false, true] {
            for seed in 0..4 {
                let ff = level_scenario(0xFF, seed, write_once);
                assert_eq!(ff, level_scenario(0x00, seed, write_once), "seed {seed}");
                assert!(ff.1.iter().any(|&w| w != 0) || write_once, "weak bits");
            }
        }
    }

    #[test]
    fn half_erase_write_once_fails_every_unfinished_word() {
        for erased in ERASED {
            let f = !erased;
            let (mut partial, mut kept, mut blank) = (0, 0, 0);
            for seed in 0..8 {
                let mut flash = Small::new(128)
                    .erased_to(erased)
                    .seed(seed)
                    .write_once(true);
                // Two programmed bits per word: a half erase leaves some
                // words blank, some as they were, some in between.
                let word = [0x7E ^ f, erased, erased, erased];
                let prog: Vec<u8> = word.iter().copied().cycle().take(64).collect();
                flash.write(0, &prog).unwrap();
                flash.write(64, &prog[..4]).unwrap();
                flash.cut_at(2, CutMode::HalfErase);
                assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
                flash.power_on();
                for w in 0..16u32 {
                    let at = w * 4;
                    let got = flash.contents()[at as usize..at as usize + 4].to_vec();
                    if got == [erased; 4] {
                        blank += 1;
                        assert_eq!(read_vec(&mut flash, at, 4), [erased; 4]);
                        flash.write(at, &word).unwrap();
                        // The sector is weak: reads may differ in weak bits.
                        let a = at as usize;
                        assert_eq!(flash.contents()[a..a + 4], word);
                        let r = read_vec(&mut flash, at, 4);
                        for i in 0..4 {
                            assert_eq!((r[i] ^ word[i]) & !flash.weak[a + i], 0);
                        }
                    } else {
                        if got == word {
                            kept += 1;
                        } else {
                            partial += 1;
                        }
                        assert_eq!(flash.read(at, &mut [0; 4]), Err(SimError::Ecc));
                        assert_eq!(flash.read(at + 3, &mut [0; 1]), Err(SimError::Ecc));
                        assert_eq!(flash.write(at, &word), Err(SimError::WriteTwice));
                    }
                }
                // The other sector is untouched and readable.
                assert_eq!(read_vec(&mut flash, 64, 4), word);
                flash.erase(0, 64).unwrap();
                assert_eq!(read_vec(&mut flash, 0, 64), vec![erased; 64]);
            }
            assert!(
                partial > 0 && kept > 0 && blank > 0,
                "{erased:#x}: {partial} {kept} {blank}"
            );
        }
    }

    #[test]
    fn new_error_kinds_and_display() {
        for e in [SimError::ReadFault, SimError::Protected] {
            assert_eq!(e.kind(), NorFlashErrorKind::Other);
            assert!(!e.to_string().is_empty());
        }
        assert_ne!(
            SimError::ReadFault.to_string(),
            SimError::Protected.to_string()
        );
    }

    #[test]
    fn permanent_read_fault() {
        for erased in ERASED {
            let mut flash = Small::new(128).erased_to(erased).seed(5);
            flash.write(0, &[0x5A; 16]).unwrap();
            flash.fail_reads(8..12, ReadFault::Permanent);
            for (at, len) in [(8, 4), (4, 5), (11, 1), (0, 64), (9, 2)] {
                for _ in 0..3 {
                    let mut buf = vec![0u8; len];
                    assert_eq!(flash.read(at, &mut buf), Err(SimError::ReadFault));
                    // Garbage: no byte reads as stored.
                    let stored = &flash.contents()[at as usize..at as usize + len];
                    for (b, s) in buf.iter().zip(stored) {
                        assert_ne!(b, s);
                    }
                }
            }
            assert_eq!(flash.reads_done(), 15);
            assert_eq!(flash.stats().reads, 0);
            // Neighbours read fine, so do empty reads at the range.
            assert_eq!(read_vec(&mut flash, 0, 8), [0x5A; 8]);
            assert_eq!(read_vec(&mut flash, 12, 4), [0x5A; 4]);
            flash.read(8, &mut []).unwrap();
            assert_eq!(flash.stats().reads, 3);
            // Writes and erases are not affected.
            flash.write(16, &[0x5A; 4]).unwrap();
            flash.erase(0, 64).unwrap();
            assert_eq!(flash.read(8, &mut [0; 4]), Err(SimError::ReadFault));
            // Rejected calls are not faulted or counted.
            let done = flash.reads_done();
            assert_eq!(flash.read(200, &mut [0; 4]), Err(SimError::OutOfBounds));
            assert_eq!(flash.reads_done(), done);
            flash.clear_read_faults();
            assert_eq!(read_vec(&mut flash, 0, 64), vec![erased; 64]);
            // Empty ranges and zero counts arm nothing.
            flash.fail_reads(8..8, ReadFault::Permanent);
            #[allow(clippy::reversed_empty_ranges)]
            flash.fail_reads(12..8, ReadFault::Permanent);
            flash.fail_reads(0..64, ReadFault::Transient(0));
            assert_eq!(read_vec(&mut flash, 0, 64), vec![erased; 64]);
        }
    }

    #[test]
    fn transient_read_fault_and_several_ranges() {
        let mut flash = Small::new(128);
        flash.write(16, &[0x11; 8]).unwrap();
        flash.fail_reads(16..20, ReadFault::Transient(2));
        flash.fail_reads(20..24, ReadFault::Transient(3));
        // Not overlapping: works, consumes nothing.
        assert_eq!(read_vec(&mut flash, 0, 16), [0xFF; 16]);
        assert_eq!(read_vec(&mut flash, 24, 4), [0xFF; 4]);
        // Overlaps both: counts against both.
        assert_eq!(flash.read(16, &mut [0; 8]), Err(SimError::ReadFault));
        assert_eq!(flash.read(19, &mut [0; 1]), Err(SimError::ReadFault));
        // The first range is spent, the second has two reads left.
        assert_eq!(read_vec(&mut flash, 16, 4), [0x11; 4]);
        assert_eq!(flash.read(18, &mut [0; 4]), Err(SimError::ReadFault));
        assert_eq!(flash.read(23, &mut [0; 1]), Err(SimError::ReadFault));
        assert_eq!(read_vec(&mut flash, 16, 8), [0x11; 8]);
        assert_eq!(read_vec(&mut flash, 16, 8), [0x11; 8]);
        // Power loss comes first and consumes nothing.
        flash.fail_reads(0..4, ReadFault::Transient(1));
        flash.cut_at(flash.mutating_ops(), CutMode::Lost);
        let _ = flash.erase(64, 128);
        assert_eq!(flash.read(0, &mut [0; 4]), Err(SimError::PowerLoss));
        flash.power_on();
        assert_eq!(flash.read(0, &mut [0; 4]), Err(SimError::ReadFault));
        assert_eq!(read_vec(&mut flash, 0, 4), [0xFF; 4]);
        // A read fault comes before an ECC error.
        let mut ecc = Ecc::new(64).write_once(true);
        ecc.cut_at(0, CutMode::Torn);
        let _ = ecc.write(0, &[0; 8]);
        ecc.power_on();
        ecc.fail_reads(0..8, ReadFault::Transient(1));
        assert_eq!(ecc.read(0, &mut [0; 8]), Err(SimError::ReadFault));
        assert_eq!(ecc.read(0, &mut [0; 8]), Err(SimError::Ecc));
        assert_eq!(ecc.reads_done(), 2);
    }

    #[test]
    fn read_fault_by_index() {
        for erased in ERASED {
            // A sequence of reads, as code under test would issue them.
            let run = |flash: &mut Small| -> Vec<Result<u8, SimError>> {
                (0..6u32)
                    .map(|i| {
                        let mut b = [0u8; 4];
                        flash.read(i * 8, &mut b).map(|()| b[0])
                    })
                    .collect()
            };
            let base = Small::new(64).erased_to(erased).seed(2);
            let mut clean = base.clone();
            let n = {
                assert!(run(&mut clean).iter().all(Result::is_ok));
                clean.reads_done()
            };
            assert_eq!(n, 6);
            // Fault every read in turn: exactly that one fails.
            for i in 0..n {
                let mut flash = base.clone();
                flash.fail_read_at(i);
                let got = run(&mut flash);
                for (j, r) in got.iter().enumerate() {
                    assert_eq!(r.is_err(), j as u64 == i, "index {i}, read {j}");
                }
                assert_eq!(got[i as usize], Err(SimError::ReadFault));
                // Single shot: the same reads work again.
                assert!(run(&mut flash).iter().all(Result::is_ok));
            }
            // Several indices, an empty read, and a past index.
            let mut flash = base.clone();
            flash.read(0, &mut [0; 4]).unwrap();
            flash.fail_read_at(0);
            flash.fail_read_at(2);
            flash.fail_read_at(3);
            flash.read(0, &mut [0; 4]).unwrap(); // 1
            assert_eq!(flash.read(0, &mut []), Err(SimError::ReadFault)); // 2
            assert_eq!(flash.read(0, &mut [0; 4]), Err(SimError::ReadFault)); // 3
            flash.read(0, &mut [0; 4]).unwrap(); // 4
                                                 // clear_read_faults drops an armed index too; reset_stats
                                                 // does not reset the read index.
            flash.fail_read_at(5);
            flash.clear_read_faults();
            flash.reset_stats();
            flash.read(0, &mut [0; 4]).unwrap();
            assert_eq!(flash.reads_done(), 6);
        }
    }

    #[test]
    fn protected_range_refuses_writes_and_erases() {
        for erased in ERASED {
            let mut flash = Small::new(192).erased_to(erased).write_once(true);
            flash.write(64, &[0x3C; 4]).unwrap();
            flash.protect(64..128);
            flash.cut_at(flash.mutating_ops(), CutMode::Torn);
            let before = snapshot(&flash);
            assert_eq!(flash.write(60, &[0x00; 8]), Err(SimError::Protected));
            assert_eq!(flash.write(124, &[0x00; 4]), Err(SimError::Protected));
            // Protected comes before a second write of a word.
            assert_eq!(flash.write(64, &[0x00; 4]), Err(SimError::Protected));
            assert_eq!(flash.erase(64, 128), Err(SimError::Protected));
            assert_eq!(flash.erase(0, 192), Err(SimError::Protected));
            // Nothing changed, nothing counted, the cut did not fire.
            assert_eq!(snapshot(&flash), before);
            assert_eq!(flash.sector_erases(), &[0, 0, 0]);
            assert_eq!(flash.protected_attempts(), 5);
            assert!(!flash.cut_happened() && flash.is_powered());
            // Bad arguments and power are checked first.
            assert_eq!(flash.write(66, &[0; 4]), Err(SimError::NotAligned));
            assert_eq!(flash.protected_attempts(), 5);
            // Reads, empty calls and the neighbours work.
            assert_eq!(read_vec(&mut flash, 64, 4), [0x3C; 4]);
            flash.write(128, &[0x00; 4]).unwrap_err(); // the armed cut fires
            flash.power_on();
            flash.write(64, &[]).unwrap();
            flash.erase(64, 64).unwrap();
            assert_eq!(flash.write(64, &[0; 4]), Err(SimError::Protected));
            flash.erase(0, 64).unwrap();
            assert_eq!(flash.sector_erases(), &[1, 0, 0]);
            flash.reset_stats();
            assert_eq!(flash.protected_attempts(), 0);
            flash.unprotect_all();
            flash.erase(64, 128).unwrap();
            assert_eq!(read_vec(&mut flash, 64, 4), [erased; 4]);
            assert_eq!(flash.sector_erases(), &[0, 1, 0]);
            // Power loss is reported before protection.
            flash.protect(0..4);
            flash.cut_at(flash.mutating_ops(), CutMode::Lost);
            let _ = flash.erase(128, 192);
            assert_eq!(flash.write(0, &[0; 4]), Err(SimError::PowerLoss));
            assert_eq!(flash.protected_attempts(), 0);
        }
    }

    #[test]
    fn cut_erases_leave_weak_sectors() {
        for erased in ERASED {
            for mode in [
                CutMode::HalfErase,
                CutMode::Unstable,
                CutMode::BlankHalfErase,
                CutMode::Torn,
            ] {
                let mut flash = Small::new(192).erased_to(erased).seed(1);
                for sector in [0, 64] {
                    flash.cut_at(flash.mutating_ops(), mode);
                    assert_eq!(flash.erase(sector, sector + 64), Err(SimError::PowerLoss));
                    flash.power_on();
                }
                assert!(
                    flash.is_weak_sector(0) && flash.is_weak_sector(127),
                    "{mode:?}"
                );
                assert!(!flash.is_weak_sector(128));
                assert!(!flash.is_weak_sector(1_000));
                // Another cut erase keeps it weak; a lost one changes nothing.
                flash.cut_at(flash.mutating_ops(), CutMode::Lost);
                let _ = flash.erase(0, 64);
                flash.power_on();
                assert!(flash.is_weak_sector(0));
                // A complete erase makes it sound, the other one stays weak.
                flash.erase(0, 64).unwrap();
                assert!(!flash.is_weak_sector(0) && flash.is_weak_sector(64));
                // Planting bytes is not an erase.
                flash.set_contents(64, &[erased; 64]);
                assert!(flash.is_weak_sector(64));
            }
            let mut flash = Small::new(64).erased_to(erased);
            flash.cut_at(0, CutMode::Lost);
            let _ = flash.erase(0, 64);
            assert!(!flash.is_weak_sector(0));
        }
    }

    #[test]
    fn blank_half_erase_looks_blank() {
        for erased in ERASED {
            let mut flash = Small::new(128).erased_to(erased).seed(4).write_once(true);
            flash.write(0, &[0x5A; 64]).unwrap();
            flash.write(64, &[0x5A; 4]).unwrap();
            let stream = flash.rng.clone();
            flash.cut_at(2, CutMode::BlankHalfErase);
            assert_eq!(flash.erase(0, 64), Err(SimError::PowerLoss));
            flash.power_on();
            // Blank, stable, writable, counted; drew nothing.
            assert_eq!(&flash.contents()[..64], &[erased; 64][..]);
            assert_eq!(&flash.contents()[64..68], &[0x5A; 4]);
            assert!(flash.weak.iter().all(|&w| w == 0));
            assert_eq!(flash.rng, stream);
            assert_eq!(read_vec(&mut flash, 0, 64), vec![erased; 64]);
            assert_eq!(flash.sector_erases(), &[1, 0]);
            assert!(flash.is_weak_sector(0));
            flash.write(0, &[0x5A; 4]).unwrap();
        }
        // It is an erase mode only.
        assert!(CutMode::BlankHalfErase.applies_to(OpKind::Erase));
        assert!(!CutMode::BlankHalfErase.applies_to(OpKind::Write));
        assert_eq!(
            CutMode::BlankHalfErase.effective(OpKind::Write),
            CutMode::Torn
        );
        assert!(!CutMode::ALL.contains(&CutMode::BlankHalfErase));
        for seed in 0..4 {
            let run = |mode| {
                let mut flash = Small::new(64).seed(seed);
                flash.cut_at(0, mode);
                let _ = flash.write(0, &[0x00; 16]);
                flash.contents().to_vec()
            };
            assert_eq!(run(CutMode::BlankHalfErase), run(CutMode::Torn));
        }
    }

    #[test]
    fn program_into_weak_sector_may_read_back_wrong() {
        for erased in ERASED {
            let f = !erased;
            let (mut weak_words, mut words) = (0, 0);
            let mut flickered = false;
            for seed in 0..8 {
                let mut flash = Small::new(128).erased_to(erased).seed(seed);
                flash.cut_at(0, CutMode::BlankHalfErase);
                let _ = flash.erase(0, 64);
                flash.power_on();
                flash.erase(64, 128).unwrap(); // sector 1 is sound again
                                               // Each word programs the bits of 0x0F (as levels: 0xF0 stays
                                               // erased).
                let value = [0xF0 ^ f; 64];
                flash.write(0, &value).unwrap();
                flash.write(64, &value).unwrap();
                assert!(flash.weak[64..].iter().all(|&w| w == 0), "sound sector");
                for w in 0..16 {
                    let mask = flash.weak[w * 4..w * 4 + 4].to_vec();
                    words += 1;
                    if mask.iter().all(|&m| m == 0) {
                        for _ in 0..4 {
                            assert_eq!(read_vec(&mut flash, (w * 4) as u32, 4), value[..4]);
                        }
                        continue;
                    }
                    weak_words += 1;
                    // Only bits the write programmed go weak.
                    assert!(mask.iter().all(|&m| m & 0xF0 == 0), "{mask:?}");
                    let reads: Vec<Vec<u8>> = (0..16)
                        .map(|_| read_vec(&mut flash, (w * 4) as u32, 4))
                        .collect();
                    for r in &reads {
                        for (b, m) in r.iter().zip(&mask) {
                            assert_eq!((b ^ value[0]) & !m, 0, "only weak bits differ");
                        }
                    }
                    flickered |= reads.iter().any(|r| r != &reads[0]);
                }
                // Writing the erased level programs nothing and draws nothing.
                let stream = flash.rng.clone();
                flash.write(64, &[erased; 4]).unwrap();
                flash.erase(64, 128).unwrap();
                flash.write(64, &[erased; 64]).unwrap();
                assert_eq!(flash.rng, stream);
                // A complete erase makes the sector sound: no weak bits again.
                flash.erase(0, 64).unwrap();
                assert!(flash.weak.iter().all(|&w| w == 0));
                flash.write(0, &value).unwrap();
                assert!(flash.weak.iter().all(|&w| w == 0));
                assert_eq!(read_vec(&mut flash, 0, 64), value);
            }
            assert!(flickered, "{erased:#x}: weak words read differently");
            // About 1 in 4 words.
            assert!(
                weak_words * 8 > words && weak_words * 5 < 2 * words,
                "{weak_words}/{words}"
            );
        }
    }

    #[test]
    fn weak_sector_after_half_erase_in_write_once_mode() {
        // Words a half erase left blank are writable, and may read wrong.
        let mut weak = false;
        for seed in 0..8 {
            let mut flash = SimFlash::<1, 1, 64>::new(64).seed(seed).write_once(true);
            flash.write(0, &[0x7F; 64]).unwrap();
            flash.cut_at(1, CutMode::HalfErase);
            let _ = flash.erase(0, 64);
            flash.power_on();
            for at in 0..64 {
                if flash.contents()[at] == 0xFF {
                    flash.write(at as u32, &[0x00]).unwrap();
                }
            }
            weak |= flash.weak.iter().any(|&w| w != 0);
        }
        assert!(weak);
    }

    /// Everything the new fault models can do, in one run.
    fn fault_scenario(erased: u8, seed: u64) -> (Vec<u8>, Vec<u8>, Vec<Result<(), SimError>>) {
        let mut flash = Small::new(256).erased_to(erased).seed(seed);
        let mut results = Vec::new();
        flash.write(0, &[0x3C; 64]).unwrap();
        flash.cut_at(1, CutMode::HalfErase);
        results.push(flash.erase(0, 128));
        flash.power_on();
        results.push(flash.write(64, &[0x96; 64]));
        flash.protect(128..192);
        results.push(flash.erase(128, 256));
        flash.fail_reads(0..16, ReadFault::Transient(2));
        flash.fail_reads(200..201, ReadFault::Permanent);
        flash.fail_read_at(flash.reads_done() + 3);
        let mut out = Vec::new();
        for at in (0..256).step_by(32) {
            let mut buf = [0u8; 32];
            results.push(flash.read(at, &mut buf));
            out.extend_from_slice(&buf);
        }
        out.extend_from_slice(flash.contents());
        (out, flash.weak.clone(), results)
    }

    #[test]
    fn fault_models_reproduce_from_the_seed() {
        for erased in ERASED {
            assert_eq!(fault_scenario(erased, 11), fault_scenario(erased, 11));
            let first = fault_scenario(erased, 0);
            assert!(
                (1..4).any(|s| fault_scenario(erased, s) != first),
                "different seeds give different results"
            );
            let (_, _, results) = fault_scenario(erased, 11);
            assert_eq!(
                results
                    .iter()
                    .filter(|r| **r == Err(SimError::ReadFault))
                    .count(),
                3
            );
            assert_eq!(results[2], Err(SimError::Protected));
        }
    }

    #[test]
    fn unused_faults_draw_nothing() {
        // Faults and protection armed where nothing goes leave the random
        // stream, and so every later outcome, as it was.
        let plain = scenario(42);
        let run = |arm: fn(&mut Small)| {
            let mut flash = Small::new(128).seed(42);
            arm(&mut flash);
            flash.write(0, &[0x55; 16]).unwrap();
            flash.cut_at(1, CutMode::Unstable);
            let _ = flash.write(16, &[0x00; 32]);
            flash.power_on();
            flash.cut_at(2, CutMode::HalfErase);
            let _ = flash.erase(64, 128);
            flash.power_on();
            let mut out = read_vec(&mut flash, 0, 128);
            out.extend(read_vec(&mut flash, 0, 128));
            out.extend_from_slice(flash.contents());
            out
        };
        assert_eq!(run(|_| {}), plain);
        assert_eq!(
            run(|f| {
                f.fail_read_at(1_000);
                f.fail_reads(1_000..2_000, ReadFault::Permanent);
                f.protect(5_000..6_000);
            }),
            plain
        );
        assert_eq!(run(|f| *f = f.clone().erased_to(0xFF)), plain);
    }

    #[test]
    #[should_panic(expected = "do not fit")]
    fn set_contents_checks_bounds() {
        Small::new(64).set_contents(60, &[0; 8]);
    }

    #[test]
    fn aliases_have_their_geometry() {
        fn geometry<F: NorFlash>(_: &F) -> (usize, usize, usize) {
            (F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE)
        }
        assert_eq!(geometry(&Sim4K::new(4096)), (1, 4, 4096));
        assert_eq!(geometry(&SimSpiNor::new(4096)), (1, 1, 4096));
        assert_eq!(geometry(&SimL4::new(2048)), (8, 8, 2048));
        let mut h7 = SimH7::new(2 * 131072).write_once(true);
        assert_eq!(geometry(&h7), (1, 32, 131072));
        h7.write(131072, &[0; 32]).unwrap();
        h7.erase(0, 2 * 131072).unwrap();
        assert_eq!(h7.sector_erases(), &[1, 1]);
    }
}
