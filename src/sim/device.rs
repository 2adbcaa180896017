//! A simulated device: a rig of simulated NOR flash parts holding the
//! metadata sectors and both slots, with the bootloader and the firmware
//! API wired to it.
//!
//! Each [`Device::boot`] builds a fresh [`Bootloader`] (a reset: nothing
//! survives in RAM) and each firmware call a fresh [`Updater`]. Every call
//! notices when the simulated power is gone and returns [`Stop::PowerCut`],
//! so a scenario written with `?` stops where the device would.
//!
//! # Rigs
//!
//! The parts are a [`Rig`]: [`OnePart`] (everything on one part, the
//! default [`Device::new`] and [`Device::one_part`]) or [`TwoParts`]
//! (metadata on one part, slots on another, [`Device::two_parts`]), each
//! part with its own read, write and erase sizes, write-once mode and
//! erase value, which the layout declares. All parts share one power
//! supply: a cut on any part powers every part off, and
//! [`Device::power_on`] powers them all on. Mutating operations and reads
//! are counted per part; [`Device::log_accesses`] records them in the
//! order the device made them, across parts, which is how the harness
//! indexes "operation `k` of the scenario" whichever part it lands on.
//!
//! The harness's bookkeeping (which images were confirmed, whether a trial
//! was counted on flash) reads a copy of the metadata part, so it counts
//! no read, fires no fault and draws no randomness of the device's.
//!
//! # The default rig
//!
//! Flash map of [`Device::new`] (4 KiB sectors, 4-byte words, `0xFF`):
//!
//! | offset | size | what |
//! |---:|---:|---|
//! | 0 | 8 KiB | metadata journal, two 4 KiB sectors |
//! | 8 KiB | `slot_size` | slot A |
//! | 8 KiB + `slot_size` | `slot_size` | slot B |

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

use crate::app::{StageOptions, Updater};
use crate::boot::{Bootloader, Decision, Policy, VerifyPolicy};
use crate::context::Layout;
use crate::error::Error;
use crate::flash::{Region, SharedError};
use crate::handoff::Handoff;
use crate::image::header::ImageHeader;
use crate::image::sign::{keypair_from_seed, sign_image};
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::journal::{Geometry, Journal};
use crate::machine::Refusal;
use crate::sim::flash::{CutMode, FlashStats, OpKind, SimFlash};
use crate::state::{BootKind, BootState, ImageState, Slot};
use crate::status::Status;
use crate::version::Version;

/// The firmware's [`Updater`] on a device's wires ([`Device::firmware`]).
pub type DeviceUpdater<'a, C, R> =
    Updater<Wire<'a, <R as Rig>::Meta>, Wire<'a, <R as Rig>::Slots>, C>;

/// The default rig's part: 4 KiB sectors, 4-byte words, erases to `0xFF`.
pub type DeviceFlash = SimFlash<1, 4, 4096>;

/// Why a scenario stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The simulated power went off: the device is dead until power-on.
    PowerCut,
    /// A call failed with an error the scenario did not expect.
    Error(Error),
    /// The scenario saw something it did not expect.
    Unexpected(String),
}

impl core::fmt::Display for Stop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Stop::PowerCut => f.write_str("power cut"),
            Stop::Error(e) => write!(f, "error: {e}"),
            Stop::Unexpected(s) => write!(f, "unexpected: {s}"),
        }
    }
}

/// What the device and the harness drive on a simulated part, whatever its
/// geometry: counters, cuts, read faults and power. Implemented by every
/// [`SimFlash`]; object safe, so a rig can list its parts.
pub trait SimPart {
    /// [`SimFlash::mutating_ops`].
    fn mutating_ops(&self) -> u64;
    /// [`SimFlash::reads_done`].
    fn reads_done(&self) -> u64;
    /// [`SimFlash::is_powered`].
    fn is_powered(&self) -> bool;
    /// [`SimFlash::power_on`].
    fn power_on(&mut self);
    /// [`SimFlash::power_off`].
    fn power_off(&mut self);
    /// [`SimFlash::cut_at`].
    fn cut_at(&mut self, op_index: u64, mode: CutMode);
    /// [`SimFlash::cut_happened`].
    fn cut_happened(&self) -> bool;
    /// [`SimFlash::fail_read_at`].
    fn fail_read_at(&mut self, read_index: u64);
    /// [`SimFlash::clear_read_faults`].
    fn clear_read_faults(&mut self);
    /// Restarts the random stream from `seed` ([`SimFlash::seed`]).
    fn reseed(&mut self, seed: u64);
    /// [`SimFlash::stats`].
    fn stats(&self) -> FlashStats;
    /// [`SimFlash::erased`].
    fn erased(&self) -> u8;
    /// [`SimFlash::set_contents`].
    fn set_contents(&mut self, offset: usize, bytes: &[u8]);
    /// [`SimFlash::flip_bit`].
    fn flip_bit(&mut self, byte: usize, bit: u8);
    /// A short description: sizes, erase value, write-once mode.
    fn describe(&self) -> String;
}

impl<const R: usize, const W: usize, const E: usize> SimPart for SimFlash<R, W, E> {
    fn mutating_ops(&self) -> u64 {
        SimFlash::mutating_ops(self)
    }
    fn reads_done(&self) -> u64 {
        SimFlash::reads_done(self)
    }
    fn is_powered(&self) -> bool {
        SimFlash::is_powered(self)
    }
    fn power_on(&mut self) {
        SimFlash::power_on(self)
    }
    fn power_off(&mut self) {
        SimFlash::power_off(self)
    }
    fn cut_at(&mut self, op_index: u64, mode: CutMode) {
        SimFlash::cut_at(self, op_index, mode)
    }
    fn cut_happened(&self) -> bool {
        SimFlash::cut_happened(self)
    }
    fn fail_read_at(&mut self, read_index: u64) {
        SimFlash::fail_read_at(self, read_index)
    }
    fn clear_read_faults(&mut self) {
        SimFlash::clear_read_faults(self)
    }
    fn reseed(&mut self, seed: u64) {
        SimFlash::reseed(self, seed)
    }
    fn stats(&self) -> FlashStats {
        SimFlash::stats(self)
    }
    fn erased(&self) -> u8 {
        SimFlash::erased(self)
    }
    fn set_contents(&mut self, offset: usize, bytes: &[u8]) {
        SimFlash::set_contents(self, offset, bytes)
    }
    fn flip_bit(&mut self, byte: usize, bit: u8) {
        SimFlash::flip_bit(self, byte, bit)
    }
    fn describe(&self) -> String {
        format!(
            "R{R}/W{W}/E{E}, erases to {:#04x}{}",
            self.erased(),
            if self.is_write_once() {
                ", write-once (ECC)"
            } else {
                ""
            }
        )
    }
}

/// A simulated part the device can wire to the bootloader and the firmware.
pub trait Part: NorFlash + SimPart + Clone + 'static {}
impl<F: NorFlash + SimPart + Clone + 'static> Part for F {}

/// The simulated parts of a device and where the metadata and the slots
/// live on them. All parts share one power supply: a cut on any of them
/// powers all of them off, and [`Device::power_on`] powers all of them on.
///
/// Two rigs are provided: [`OnePart`] (metadata and slots on one part) and
/// [`TwoParts`] (metadata on one, slots on another, each with its own
/// read, write and erase sizes and its own erase value).
pub trait Rig: Clone {
    /// The part that holds the metadata journal.
    type Meta: Part;
    /// The part that holds the slots.
    type Slots: Part;
    /// The metadata part.
    fn meta(&self) -> &RefCell<Self::Meta>;
    /// The slots' part (the same cell as [`meta`](Self::meta) on one part).
    fn slots(&self) -> &RefCell<Self::Slots>;
    /// Every part once, the metadata part first. A part's index here is
    /// the `part` of the harness's reports.
    fn parts(&self) -> Vec<&RefCell<dyn SimPart>>;
    /// Index of the slots' part in [`parts`](Self::parts).
    fn slots_part(&self) -> usize;
    /// A short description of the rig, for reports.
    fn describe(&self) -> String;
}

/// Metadata and both slots on one part.
#[derive(Clone)]
pub struct OnePart<F>(pub RefCell<F>);

impl<F: Part> Rig for OnePart<F> {
    type Meta = F;
    type Slots = F;
    fn meta(&self) -> &RefCell<F> {
        &self.0
    }
    fn slots(&self) -> &RefCell<F> {
        &self.0
    }
    fn parts(&self) -> Vec<&RefCell<dyn SimPart>> {
        vec![&self.0]
    }
    fn slots_part(&self) -> usize {
        0
    }
    fn describe(&self) -> String {
        format!("one part ({})", self.0.borrow().describe())
    }
}

/// Metadata on part `M`, both slots on part `S`, one power supply.
#[derive(Clone)]
pub struct TwoParts<M, S> {
    /// The metadata part.
    pub meta: RefCell<M>,
    /// The slots' part.
    pub slots: RefCell<S>,
}

impl<M: Part, S: Part> Rig for TwoParts<M, S> {
    type Meta = M;
    type Slots = S;
    fn meta(&self) -> &RefCell<M> {
        &self.meta
    }
    fn slots(&self) -> &RefCell<S> {
        &self.slots
    }
    fn parts(&self) -> Vec<&RefCell<dyn SimPart>> {
        vec![&self.meta, &self.slots]
    }
    fn slots_part(&self) -> usize {
        1
    }
    fn describe(&self) -> String {
        format!(
            "two parts (metadata {}; slots {})",
            self.meta.borrow().describe(),
            self.slots.borrow().describe()
        )
    }
}

/// One flash access of a run, in the order the device made it, across all
/// parts: what the harness indexes cuts and read faults by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Index of the part in [`Rig::parts`].
    pub part: usize,
    /// `None` for a read, else the kind of the mutating operation.
    pub op: Option<OpKind>,
    /// The part's own index of the access ([`SimFlash::reads_done`] or
    /// [`SimFlash::mutating_ops`] just before it).
    pub index: u64,
    /// The byte offset on the part where the access starts.
    pub offset: u32,
    /// Index of the device call (boot, stage, ...) that made it.
    pub call: u32,
}

/// The power supply and the access log shared by a device's parts.
#[derive(Clone, Default)]
struct Bus {
    /// The supply is off: a part was cut.
    off: Cell<bool>,
    /// Index of the current device call.
    call: Cell<u32>,
    /// Every access, when logging.
    log: RefCell<Option<Vec<Access>>>,
}

impl Bus {
    fn note(&self, part: usize, op: Option<OpKind>, index: u64, offset: u32) {
        if let Some(log) = self.log.borrow_mut().as_mut() {
            log.push(Access {
                part,
                op,
                index,
                offset,
                call: self.call.get(),
            });
        }
    }
}

/// A part as the bootloader and the firmware see it on a simulated device:
/// a handle to the part on the device's power supply (like
/// [`crate::flash::Shared`], each call borrows the part for its length
/// only). When another part of the device lost power, every call fails
/// with [`SimError::PowerLoss`](crate::sim::SimError::PowerLoss); a cut on
/// this part powers the others off.
pub struct Wire<'a, F> {
    cell: &'a RefCell<F>,
    part: usize,
    bus: &'a Bus,
}

impl<F> Clone for Wire<'_, F> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell,
            part: self.part,
            bus: self.bus,
        }
    }
}

impl<F: ErrorType> ErrorType for Wire<'_, F> {
    type Error = SharedError<F::Error>;
}

impl<F: ReadNorFlash + SimPart> ReadNorFlash for Wire<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let mut f = self.cell.try_borrow_mut().map_err(|_| SharedError::Busy)?;
        if self.bus.off.get() {
            f.power_off();
        }
        let before = f.reads_done();
        let r = f.read(offset, bytes);
        if f.reads_done() > before {
            self.bus.note(self.part, None, before, offset);
        }
        r.map_err(SharedError::Flash)
    }

    fn capacity(&self) -> usize {
        self.cell.try_borrow().map_or(0, |f| f.capacity())
    }
}

impl<F: NorFlash + SimPart> Wire<'_, F> {
    fn mutate(
        &mut self,
        kind: OpKind,
        offset: u32,
        op: impl FnOnce(&mut F) -> Result<(), F::Error>,
    ) -> Result<(), SharedError<F::Error>> {
        let mut f = self.cell.try_borrow_mut().map_err(|_| SharedError::Busy)?;
        if self.bus.off.get() {
            f.power_off();
        }
        let before = f.mutating_ops();
        let r = op(&mut f);
        if f.mutating_ops() > before {
            self.bus.note(self.part, Some(kind), before, offset);
        }
        if !f.is_powered() {
            self.bus.off.set(true);
        }
        r.map_err(SharedError::Flash)
    }
}

impl<F: NorFlash + SimPart> NorFlash for Wire<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.mutate(OpKind::Erase, from, |f| f.erase(from, to))
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.mutate(OpKind::Write, offset, |f| f.write(offset, bytes))
    }
}

/// An image check usable on a simulated device whose slots are on part
/// `S` ([`DigestCheck`](crate::image::digest::DigestCheck) and
/// [`SignedCheck`](crate::image::signed::SignedCheck) are, for any part).
pub trait DeviceCheck<S: ReadNorFlash + SimPart = DeviceFlash>:
    Clone + for<'a> ImageCheck<Wire<'a, S>>
{
}
impl<S: ReadNorFlash + SimPart, C: Clone + for<'a> ImageCheck<Wire<'a, S>>> DeviceCheck<S> for C {}

/// What the device remembers across a run for the harness's invariants.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    /// `(mutating ops before the call, digest)` of every image seen
    /// confirmed on flash, first sighting only.
    pub confirmed: Vec<(u64, [u8; 32])>,
    /// Trial boots per digest since it was last staged, and tries it got.
    pub trials: HashMap<[u8; 32], (u32, u8)>,
    /// Broken promises noticed during the run.
    pub violations: Vec<String>,
    /// A read fault armed by the harness: `(part, read index)`.
    pub watch: Option<(usize, u64)>,
    /// The call during which the watched read fault fired: its name,
    /// its error (if it failed) and the state on flash after it.
    pub fired: Option<(String, Option<String>, Option<BootState>)>,
}

/// A simulated device: a [`Rig`] of simulated parts (by default one
/// [`DeviceFlash`] holding everything), a [`Layout`] on them, a bootloader
/// policy and an image check. Cloning it clones the parts, power state
/// included.
#[derive(Clone)]
pub struct Device<C, R = OnePart<DeviceFlash>> {
    rig: R,
    bus: Bus,
    layout: Layout,
    policy: Policy,
    check: C,
    /// A readable line per call and per boot decision.
    pub trace: Vec<String>,
    pub(crate) history: History,
    /// The slot the last boot started: the bootloader's hand-off, which
    /// the firmware calls pass to [`Updater::running`].
    running: Option<Slot>,
}

impl<C: DeviceCheck> Device<C> {
    /// The default rig: one [`DeviceFlash`] with the metadata in two 4 KiB
    /// sectors at 0 and two slots of `slot_size` bytes (a multiple of
    /// 4 KiB) after it; blank metadata and blank slots, checking images
    /// with `check`.
    pub fn new(slot_size: u32, check: C) -> Self {
        let part = DeviceFlash::new(Self::one_part_capacity(slot_size));
        Self::one_part(part, slot_size, check)
    }
}

impl<C, F: Part> Device<C, OnePart<F>> {
    /// Bytes a part needs for [`one_part`](Self::one_part): two erase
    /// sectors of metadata and two slots.
    pub const fn one_part_capacity(slot_size: u32) -> usize {
        2 * F::ERASE_SIZE + 2 * slot_size as usize
    }

    /// Metadata and slots on `part`: the journal in its first two erase
    /// sectors, slot A and slot B of `slot_size` bytes (a multiple of the
    /// erase size) after them. The erase value is the part's, declared in
    /// the layout ([`Geometry::erased_to`], [`Layout::slots_erased_to`]).
    ///
    /// # Panics
    ///
    /// If `slot_size` is not a multiple of the erase size, or the part is
    /// smaller than [`one_part_capacity`](Self::one_part_capacity).
    pub fn one_part(part: F, slot_size: u32, check: C) -> Self {
        let sector = F::ERASE_SIZE as u32;
        assert!(
            slot_size > 0 && slot_size % sector == 0,
            "Device::one_part: slot size {slot_size} is not a multiple of the erase size {sector}"
        );
        let need = Self::one_part_capacity(slot_size);
        assert!(
            part.capacity() >= need,
            "Device::one_part: the part has {} bytes, needs {need}",
            part.capacity()
        );
        let erased = SimPart::erased(&part);
        let meta = 2 * sector;
        let layout = Layout::new(
            Geometry::contiguous(0, sector).erased_to(erased),
            [
                Region::new(meta, slot_size),
                Region::new(meta + slot_size, slot_size),
            ],
        )
        .slots_erased_to(erased);
        Self::with_rig(OnePart(RefCell::new(part)), layout, check)
    }

    /// The simulated flash.
    pub fn flash(&self) -> std::cell::Ref<'_, F> {
        self.rig.0.borrow()
    }

    /// The simulated flash, to arm cuts or faults or look at counters.
    pub fn flash_mut(&mut self) -> &mut F {
        self.rig.0.get_mut()
    }
}

impl<C, M: Part, S: Part> Device<C, TwoParts<M, S>> {
    /// Metadata on `meta`, in its first two erase sectors; slot A and slot
    /// B of `slot_size` bytes (a multiple of `S`'s erase size) from offset
    /// 0 of `slots`. Each part's erase value is declared in the layout.
    ///
    /// # Panics
    ///
    /// If `slot_size` is not a multiple of the slots' erase size, or a
    /// part is too small (`meta`: two erase sectors; `slots`: two slots).
    pub fn two_parts(meta: M, slots: S, slot_size: u32, check: C) -> Self {
        let sector = M::ERASE_SIZE as u32;
        let slot_sector = S::ERASE_SIZE as u32;
        assert!(
            slot_size > 0 && slot_size % slot_sector == 0,
            "Device::two_parts: slot size {slot_size} is not a multiple of the erase size {slot_sector}"
        );
        assert!(
            meta.capacity() >= 2 * sector as usize,
            "Device::two_parts: the metadata part has {} bytes, needs {}",
            meta.capacity(),
            2 * sector
        );
        assert!(
            slots.capacity() >= 2 * slot_size as usize,
            "Device::two_parts: the slots' part has {} bytes, needs {}",
            slots.capacity(),
            2 * slot_size
        );
        let layout = Layout::new(
            Geometry::contiguous(0, sector).erased_to(SimPart::erased(&meta)),
            [Region::new(0, slot_size), Region::new(slot_size, slot_size)],
        )
        .slots_erased_to(SimPart::erased(&slots))
        .on_separate_parts();
        let rig = TwoParts {
            meta: RefCell::new(meta),
            slots: RefCell::new(slots),
        };
        Self::with_rig(rig, layout, check)
    }
}

impl<C, R: Rig> Device<C, R> {
    /// A device on any rig with any layout (metadata on [`Rig::meta`],
    /// slots on [`Rig::slots`]); the bootloader checks the layout at every
    /// boot.
    pub fn with_rig(rig: R, layout: Layout, check: C) -> Self {
        Self {
            rig,
            bus: Bus::default(),
            layout,
            policy: Policy::default(),
            check,
            trace: Vec::new(),
            history: History::default(),
            running: None,
        }
    }

    /// The same device with another bootloader policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The flash map.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The rig.
    pub fn rig(&self) -> &R {
        &self.rig
    }

    /// The metadata part.
    pub fn meta(&self) -> std::cell::Ref<'_, R::Meta> {
        self.rig.meta().borrow()
    }

    /// The metadata part, to arm cuts or faults or look at counters.
    pub fn meta_mut(&mut self) -> std::cell::RefMut<'_, R::Meta> {
        self.rig.meta().borrow_mut()
    }

    /// The slots' part.
    pub fn slot_flash(&self) -> std::cell::Ref<'_, R::Slots> {
        self.rig.slots().borrow()
    }

    /// The slots' part, to arm cuts or faults or look at counters.
    pub fn slot_flash_mut(&mut self) -> std::cell::RefMut<'_, R::Slots> {
        self.rig.slots().borrow_mut()
    }

    /// Runs `f` on part `i` of [`Rig::parts`].
    pub fn with_part<T>(&self, i: usize, f: impl FnOnce(&mut dyn SimPart) -> T) -> T {
        let parts = self.rig.parts();
        let mut p = parts[i].borrow_mut();
        f(&mut *p)
    }

    /// Number of parts on the rig.
    pub fn part_count(&self) -> usize {
        self.rig.parts().len()
    }

    /// Mutating operations (writes and erases) of all parts since they were
    /// created: the global index of the next one.
    pub fn mutating_ops(&self) -> u64 {
        self.rig
            .parts()
            .iter()
            .map(|p| p.borrow().mutating_ops())
            .sum()
    }

    /// Read calls of all parts since they were created.
    pub fn reads_done(&self) -> u64 {
        self.rig
            .parts()
            .iter()
            .map(|p| p.borrow().reads_done())
            .sum()
    }

    /// Counters of all parts, added up.
    pub fn stats(&self) -> FlashStats {
        self.rig
            .parts()
            .iter()
            .map(|p| p.borrow().stats())
            .fold(FlashStats::default(), |a, s| FlashStats {
                reads: a.reads + s.reads,
                bytes_read: a.bytes_read + s.bytes_read,
                writes: a.writes + s.writes,
                bytes_written: a.bytes_written + s.bytes_written,
                erases: a.erases + s.erases,
            })
    }

    /// Starts (or stops) logging every flash access of every part in
    /// order; see [`accesses`](Self::accesses).
    pub fn log_accesses(&mut self, on: bool) {
        *self.bus.log.get_mut() = on.then(Vec::new);
    }

    /// The accesses since [`log_accesses`](Self::log_accesses) was turned on.
    pub fn accesses(&self) -> Vec<Access> {
        self.bus.log.borrow().clone().unwrap_or_default()
    }

    /// Trial boots of the image with `digest` since it was last staged (or,
    /// for an image the bootloader put on trial from blank metadata, since
    /// the run began), as this device saw them: with every boot before a
    /// power cut counted. What a check of bounded trial compares with the
    /// tries the image was given.
    pub fn trial_boots(&self, digest: &[u8; 32]) -> u32 {
        self.history.trials.get(digest).map_or(0, |t| t.0)
    }

    /// Writes `image` into `slot` as a factory programmer would (raw, not
    /// counted as a flash operation).
    pub fn factory(&mut self, slot: Slot, image: &[u8]) {
        let at = self.layout.slots[slot.index()].offset as usize;
        SimPart::set_contents(&mut *self.slot_flash_mut(), at, image);
        self.trace
            .push(format!("factory: image written to slot {slot}"));
    }

    /// Flips one bit of `slot`'s content (bit rot); raw, not an operation.
    pub fn corrupt(&mut self, slot: Slot, offset: u32, bit: u8) {
        let at = (self.layout.slots[slot.index()].offset + offset) as usize;
        SimPart::flip_bit(&mut *self.slot_flash_mut(), at, bit);
        self.trace
            .push(format!("bit rot: slot {slot} byte {offset} bit {bit}"));
    }

    /// Powers every part back on after a cut.
    pub fn power_on(&mut self) {
        for p in self.rig.parts() {
            p.borrow_mut().power_on();
        }
        self.bus.off.set(false);
        // RAM, the hand-off with it, did not survive.
        self.running = None;
        self.trace.push("power on".into());
    }

    fn wire_meta(&self) -> Wire<'_, R::Meta> {
        Wire {
            cell: self.rig.meta(),
            part: 0,
            bus: &self.bus,
        }
    }

    fn wire_slots(&self) -> Wire<'_, R::Slots> {
        Wire {
            cell: self.rig.slots(),
            part: self.rig.slots_part(),
            bus: &self.bus,
        }
    }

    /// The state on flash, as a new boot would read it (through the
    /// device's wiring: the reads count, and faults and weak bits apply).
    pub fn read_state(&self) -> Option<BootState> {
        let mut j = Journal::new(self.wire_meta(), self.layout.metadata).ok()?;
        j.read().record.map(|r| r.state)
    }

    /// The state on flash as the harness's bookkeeping sees it: read from
    /// a copy of the metadata part with no faults armed, so it counts no
    /// read, draws no randomness from the part and fires no fault.
    pub(crate) fn peek_state(&self) -> Option<BootState> {
        let mut m = self.rig.meta().borrow().clone();
        m.clear_read_faults();
        m.power_on();
        let mut j = Journal::new(&mut m, self.layout.metadata).ok()?;
        j.read().record.map(|r| r.state)
    }

    /// Whether every part has power.
    pub fn is_powered(&self) -> bool {
        !self.bus.off.get() && self.rig.parts().iter().all(|p| p.borrow().is_powered())
    }

    fn begin(&mut self) -> u64 {
        self.bus.call.set(self.bus.call.get() + 1);
        self.mutating_ops()
    }

    /// Turns a call's result into the scenario's, noticing power cuts and
    /// recording which images are confirmed on flash afterwards.
    fn settle<T>(&mut self, what: &str, ops_before: u64, r: Result<T, Error>) -> Result<T, Stop> {
        if !self.is_powered() {
            self.trace.push(format!("{what}: power cut"));
            return Err(Stop::PowerCut);
        }
        let st = self.peek_state();
        if let Some(st) = &st {
            for s in Slot::ALL {
                let info = st.slot(s);
                let seen = self
                    .history
                    .confirmed
                    .iter()
                    .any(|(_, d)| *d == info.digest);
                if info.state == ImageState::Confirmed && !seen {
                    self.history.confirmed.push((ops_before, info.digest));
                }
            }
        }
        if let (Some((part, index)), None) = (self.history.watch, &self.history.fired) {
            if self.with_part(part, |p| p.reads_done()) > index {
                let err = r.as_ref().err().map(|e| e.to_string());
                self.trace.push(format!(
                    "{what}: the read fault fired during this call ({})",
                    err.as_deref().unwrap_or("it succeeded")
                ));
                self.history.fired = Some((what.to_string(), err, st));
            }
        }
        r.map_err(|e| {
            self.trace.push(format!("{what}: {e}"));
            Stop::Error(e)
        })
    }
}

impl<C: DeviceCheck<R::Slots>, R: Rig> Device<C, R> {
    /// Checks the image in `slot` as the bootloader would.
    pub fn verify(&mut self, slot: Slot) -> Result<ImageInfo, ImageError> {
        let region = self.layout.slots[slot.index()];
        let mut wire = self.wire_slots();
        self.check.clone().check(&mut wire, slot, region)
    }

    /// Resets the device and runs the bootloader's decision.
    pub fn boot(&mut self) -> Result<Decision, Stop> {
        let ops = self.begin();
        let before = self.peek_state();
        let result = Bootloader::new(
            self.wire_meta(),
            self.wire_slots(),
            self.layout,
            self.check.clone(),
            self.policy,
        )
        .map(|mut b| b.select());
        let d = self.settle("boot", ops, result)?;
        // What the board hands to the firmware; it survives only in RAM.
        self.running = Handoff::from_decision(&d).map(|h| h.slot);
        self.trace.push(describe(&d));
        self.check_decision(&d, before.as_ref());
        if let (true, Some(slot)) = (d.is_trial(), d.slot) {
            self.count_trial(slot, &d, before);
        }
        Ok(d)
    }

    /// Checks what a boot decided, whatever faults it met: a slot the
    /// bootloader verified (every boot under `VerifyPolicy::Always`; a
    /// trial, a fallback and an adoption from the images under
    /// `TrialOnly`) holds an image that verifies on a read without faults,
    /// is the image the decision reports, and is not below the floor that
    /// was on flash before the boot.
    fn check_decision(&mut self, d: &Decision, before: Option<&BootState>) {
        let Some(slot) = d.slot else { return };
        let verified = self.policy.verify == VerifyPolicy::Always
            || matches!(
                d.kind,
                BootKind::Trial | BootKind::Fallback | BootKind::Fresh
            );
        if !verified {
            return;
        }
        let problem = match self.peek_verify(slot) {
            Err(e) => Some(format!("whose image does not verify ({e})")),
            Ok(i) if d.image.is_some_and(|r| r.digest != i.digest) => {
                Some("reporting another image than the slot holds".to_string())
            }
            Ok(i) => before
                .filter(|b| i.security_counter < b.min_security_counter)
                .map(|b| {
                    format!(
                        "whose security counter {} is below the floor {} on flash",
                        i.security_counter, b.min_security_counter
                    )
                }),
        };
        if let Some(p) = problem {
            self.history
                .violations
                .push(format!("boot ({:?}) chose slot {slot}, {p}", d.kind));
        }
    }

    /// The image check of `slot` on a copy of the slots' part with no
    /// faults armed (as [`peek_state`](Self::peek_state) reads the state).
    fn peek_verify(&self, slot: Slot) -> Result<ImageInfo, ImageError> {
        let mut part = self.rig.slots().borrow().clone();
        part.clear_read_faults();
        part.power_on();
        let (cell, bus) = (RefCell::new(part), Bus::default());
        let mut wire = Wire {
            cell: &cell,
            part: self.rig.slots_part(),
            bus: &bus,
        };
        let region = self.layout.slots[slot.index()];
        self.check.clone().check(&mut wire, slot, region)
    }

    /// Checks that the trial boot `d` of `slot` was counted on flash before
    /// it was returned, and that the image is within its tries.
    fn count_trial(&mut self, slot: Slot, d: &Decision, before: Option<BootState>) {
        let after = self.peek_state();
        let Some(now) = after.as_ref().map(|s| *s.slot(slot)) else {
            self.history.violations.push(format!(
                "slot {slot} booted on trial with no state on flash"
            ));
            return;
        };
        let counted = matches!(now.state, ImageState::Trial { tries } if tries == d.tries_left);
        let decreased = match before.as_ref().map(|b| *b.slot(slot)) {
            Some(b) => {
                b.digest != now.digest
                    || !matches!(
                        b.state,
                        ImageState::Pending { .. } | ImageState::Trial { .. }
                    )
                    || b.state.tries() > now.state.tries()
            }
            None => true,
        };
        if !counted || !decreased {
            self.history.violations.push(format!(
                "slot {slot} booted on trial with {} tries left, but flash went from {:?} to {:?}: the try was not counted",
                d.tries_left,
                before.map(|b| b.slot(slot).state),
                now.state
            ));
        }
        let fresh = self.policy.fresh_tries;
        let entry = self.history.trials.entry(now.digest).or_insert((0, fresh));
        entry.0 += 1;
        if entry.0 > entry.1 as u32 {
            let v = format!(
                "image in slot {slot} booted on trial {} times, allowed {}",
                entry.0, entry.1
            );
            self.history.violations.push(v);
        }
    }

    /// Runs the firmware's own update flow as one call of the device: `f`
    /// gets a fresh [`Updater`] on the device's wires, told the running
    /// slot the bootloader handed off, as the firmware makes one after a
    /// reset. For the flows the other calls do not cover — a download
    /// written chunk by chunk as it arrives (`stage_begin`, `stage_write`,
    /// `stage_finish`), a call order of the firmware's own — so that the
    /// harness cuts power at each of their operations and fails their
    /// reads. An image the call leaves pending is held to the tries it was
    /// given (the bounded-trial check), as [`stage`](Self::stage)'s is.
    pub fn firmware<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut DeviceUpdater<'_, C, R>) -> Result<T, Error>,
    ) -> Result<T, Stop> {
        let r = self.app(what, f)?;
        self.trace.push(format!("{what}: ok"));
        Ok(r)
    }

    /// Notes the tries of an image that a firmware call made pending, for
    /// the bounded-trial check; read even when the call was cut, since the
    /// record may be on flash.
    fn note_staged(&mut self, before: Option<&BootState>) {
        let Some(after) = self.peek_state() else {
            return;
        };
        for s in Slot::ALL {
            let now = after.slot(s);
            if let ImageState::Pending { tries } = now.state {
                if before.map(|b| b.slot(s)) != Some(now) {
                    self.history.trials.insert(now.digest, (0, tries));
                }
            }
        }
    }

    fn app<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut DeviceUpdater<'_, C, R>) -> Result<T, Error>,
    ) -> Result<T, Stop> {
        let ops = self.begin();
        let before = self.peek_state();
        let result = Updater::new(
            self.wire_meta(),
            self.wire_slots(),
            self.layout,
            self.check.clone(),
        )
        .map(|u| match self.running {
            Some(slot) => u.running(slot),
            None => u,
        })
        .and_then(|mut u| f(&mut u));
        self.note_staged(before.as_ref());
        self.settle(what, ops, result)
    }

    /// Stages `image` into the slot the device does not run from.
    pub fn stage(&mut self, image: &[u8], opts: &StageOptions<'_>) -> Result<ImageInfo, Stop> {
        let info = self.app("stage", |u| u.stage(image, opts))?;
        self.trace.push(format!(
            "stage: v{} pending with {} tries",
            info.version, opts.tries
        ));
        Ok(info)
    }

    /// Starts staging `image` and writes only its first `bytes` bytes, as
    /// a download cut off by a reset would.
    pub fn stage_partial(
        &mut self,
        image: &[u8],
        bytes: usize,
        opts: &StageOptions<'_>,
    ) -> Result<(), Stop> {
        let part = &image[..bytes.min(image.len()) / 256 * 256];
        self.app("stage (interrupted)", |u| {
            u.stage_begin(opts)?;
            for (i, chunk) in part.chunks(256).enumerate() {
                u.stage_write((i * 256) as u32, chunk)?;
            }
            Ok(())
        })?;
        self.trace.push(format!(
            "stage: reset after {} of {} bytes",
            part.len(),
            image.len()
        ));
        Ok(())
    }

    /// Confirms the image on trial.
    pub fn confirm(&mut self) -> Result<(), Stop> {
        self.app("confirm", |u| u.confirm())?;
        self.trace.push("confirm: ok".into());
        Ok(())
    }

    /// The image on trial rejects itself with `code`.
    pub fn mark_bad(&mut self, code: u8) -> Result<(), Stop> {
        self.app("mark_bad", |u| u.mark_bad(code))?;
        self.trace.push(format!("mark_bad({code}): ok"));
        Ok(())
    }

    /// Drops a staged update.
    pub fn abort(&mut self) -> Result<(), Stop> {
        self.app("abort", |u| u.abort())?;
        self.trace.push("abort: ok".into());
        Ok(())
    }

    /// The status record.
    pub fn status(&mut self) -> Result<Status, Stop> {
        self.app("status", |u| Ok(u.status()))
    }

    /// Passes when `r` is the refusal `want`, and lets a power cut through.
    pub fn expect_refused<T: core::fmt::Debug>(
        &mut self,
        r: Result<T, Stop>,
        want: Refusal,
    ) -> Result<(), Stop> {
        match r {
            Err(Stop::Error(Error::Refused(got))) if got == want => {
                self.trace.push(format!("refused as expected: {want}"));
                Ok(())
            }
            Err(Stop::PowerCut) => Err(Stop::PowerCut),
            other => Err(Stop::Unexpected(format!(
                "expected refusal {want:?}, got {other:?}"
            ))),
        }
    }
}

/// One readable line for a boot decision.
pub fn describe(d: &Decision) -> String {
    let slot = d.slot.map_or("none".to_string(), |s| s.to_string());
    let mut line = match d.kind {
        BootKind::Trial => format!(
            "boot: slot {slot} v{} ON TRIAL, {} tries left",
            d.version, d.tries_left
        ),
        BootKind::Recovery => format!("boot: RECOVERY ({:?})", d.reason),
        k => format!(
            "boot: slot {slot} v{} ({k:?}{})",
            d.version,
            match d.reason {
                crate::state::Reason::None => String::new(),
                r => format!(", {r:?}"),
            }
        ),
    };
    if d.data_restore_needed() {
        line += &format!(
            "; data epoch {} > image epoch {}: restore data backup",
            d.data_epoch, d.image_epoch
        );
    }
    if let Some(f) = d.fault {
        line += &format!("; metadata fault: {f}");
    }
    line
}

/// Builds a test image: a header signed with the simulation's test key
/// (seed `[0x5A; 32]`) over `len` bytes of payload derived from `fill`.
pub fn test_image(version: Version, len: usize, fill: u8) -> Vec<u8> {
    TestImage::new(version, len, fill).build()
}

/// A test image with every header field settable.
#[derive(Clone, Copy, Debug)]
pub struct TestImage {
    /// Header template (payload length, digest, key and signature are filled in).
    pub header: ImageHeader,
    /// Payload length in bytes.
    pub len: usize,
    /// Payload pattern seed.
    pub fill: u8,
    /// Seed of the signing key.
    pub key_seed: [u8; 32],
}

/// Seed of the key [`test_image`] signs with.
pub const TEST_KEY_SEED: [u8; 32] = [0x5A; 32];

impl TestImage {
    /// An image of `version` with `len` payload bytes.
    pub fn new(version: Version, len: usize, fill: u8) -> Self {
        Self {
            header: ImageHeader {
                version,
                header_len: 256,
                ..ImageHeader::default()
            },
            len,
            fill,
            key_seed: TEST_KEY_SEED,
        }
    }

    /// The signed image bytes.
    pub fn build(&self) -> Vec<u8> {
        let payload: Vec<u8> = (0..self.len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(self.fill))
            .collect();
        let key = keypair_from_seed(self.key_seed).expect("test key");
        sign_image(&self.header, &payload, &key, self.header.header_len).expect("test image")
    }
}

/// The public key of [`TEST_KEY_SEED`].
pub fn test_public_key() -> [u8; 32] {
    *keypair_from_seed(TEST_KEY_SEED).expect("test key").pk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::DigestCheck;
    use crate::sim::flash::SimError;

    fn two_parts() -> Device<DigestCheck, TwoParts<SimFlash<1, 8, 2048>, SimFlash<4, 4, 4096>>> {
        let mut d = Device::two_parts(
            SimFlash::<1, 8, 2048>::new(4096).write_once(true),
            SimFlash::<4, 4, 4096>::new(2 * 8192).erased_to(0x00),
            8192,
            DigestCheck,
        );
        d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 1500, 1));
        d
    }

    #[test]
    fn layout_follows_the_parts() {
        let d = two_parts();
        let l = d.layout();
        assert_eq!(l.metadata, Geometry::contiguous(0, 2048));
        assert_eq!(l.metadata.erased, 0xFF);
        assert_eq!(l.slots, [Region::new(0, 8192), Region::new(8192, 8192)]);
        assert_eq!(l.slot_erased, 0x00);
        let one = Device::one_part(
            SimFlash::<1, 16, 1024>::new(2 * 1024 + 2 * 4096).erased_to(0x00),
            4096,
            DigestCheck,
        );
        assert_eq!(one.layout().metadata.erased, 0x00);
        assert_eq!(one.layout().slots[0], Region::new(2048, 4096));
    }

    /// A cut on the slots' part powers the metadata part off too, and the
    /// accesses of both parts are logged in order.
    #[test]
    fn one_power_supply_for_every_part() {
        let mut d = two_parts();
        d.boot().unwrap();
        d.log_accesses(true);
        let at = d.slot_flash().mutating_ops();
        d.slot_flash_mut().cut_at(at, CutMode::Torn);
        let image = test_image(Version::new(1, 1, 0, 0), 1500, 2);
        assert_eq!(
            d.stage(&image, &StageOptions::default()),
            Err(Stop::PowerCut)
        );
        assert!(!d.is_powered());
        // The next access to the metadata part finds it without power.
        let mut wire = d.wire_meta();
        assert_eq!(
            wire.read(0, &mut [0; 8]),
            Err(SharedError::Flash(SimError::PowerLoss))
        );
        assert!(!d.meta().is_powered());
        let log = d.accesses();
        let parts: Vec<usize> = log
            .iter()
            .filter(|a| a.op.is_some())
            .map(|a| a.part)
            .collect();
        assert_eq!(
            parts.first(),
            Some(&0),
            "staging invalidates the slot's metadata first"
        );
        assert_eq!(parts.last(), Some(&1), "the cut landed on the slots' part");
        d.power_on();
        assert!(d.is_powered() && d.meta().is_powered() && d.slot_flash().is_powered());
        assert_eq!(d.boot().unwrap().slot, Some(Slot::A));
    }

    /// The harness's bookkeeping reads a copy: no read counted, no fault
    /// fired.
    #[test]
    fn peeking_at_the_state_touches_nothing() {
        let mut d = two_parts();
        d.boot().unwrap();
        let reads = d.reads_done();
        let next = d.meta().reads_done();
        d.meta_mut().fail_read_at(next);
        assert!(d.peek_state().is_some());
        assert_eq!(d.reads_done(), reads);
        // The armed fault is still there for the device's own reads.
        let mut wire = d.wire_meta();
        assert!(wire.read(0, &mut [0; 8]).is_err());
    }

    /// A boot of A as `kind`, reporting `image`.
    fn decided(kind: BootKind, image: Option<ImageInfo>) -> Decision {
        Decision {
            slot: Some(Slot::A),
            kind,
            reason: crate::state::Reason::None,
            tries_left: 0,
            version: Version::default(),
            image_epoch: 0,
            data_epoch: 0,
            fault: None,
            findings: Default::default(),
            image,
        }
    }

    #[test]
    fn a_decision_is_held_to_the_image_it_boots() {
        let mut d = two_parts();
        let a = d.verify(Slot::A).unwrap();
        // The image A holds, at the floor: nothing to say.
        let mut st = BootState {
            min_security_counter: a.security_counter,
            ..BootState::default()
        };
        d.check_decision(&decided(BootKind::Normal, Some(a)), Some(&st));
        assert_eq!(d.history.violations, Vec::<String>::new());
        // Another image reported than the slot holds.
        let other = ImageInfo {
            digest: [0xEE; 32],
            ..a
        };
        d.check_decision(&decided(BootKind::Normal, Some(other)), Some(&st));
        assert!(
            d.history.violations[0].contains("another image"),
            "{:?}",
            d.history.violations
        );
        // Below the floor that was on flash.
        st.min_security_counter = a.security_counter + 1;
        d.check_decision(&decided(BootKind::Fallback, None), Some(&st));
        assert!(
            d.history.violations[1].contains("below the floor"),
            "{:?}",
            d.history.violations
        );
        // Under `TrialOnly` a normal boot verifies nothing, so it is not
        // held to the image; a fallback is.
        let mut d = two_parts().with_policy(Policy {
            verify: VerifyPolicy::TrialOnly,
            ..Policy::default()
        });
        d.corrupt(Slot::A, 1000, 0);
        d.check_decision(&decided(BootKind::Normal, None), None);
        assert_eq!(d.history.violations.len(), 0);
        d.check_decision(&decided(BootKind::Fallback, None), None);
        assert!(
            d.history.violations[0].contains("does not verify"),
            "{:?}",
            d.history.violations
        );
    }
}
