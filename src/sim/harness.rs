//! The fault harness: replays a scenario on any rig with a fault at every
//! point — a power cut at every flash operation in every cut mode, a read
//! fault at every read, a second cut while recovering from a first — and
//! checks the promise after each.
//!
//! A *scenario* is a closure that drives a [`Device`]: boots, stages,
//! confirms, marks bad, corrupts a slot... written with `?` so that it
//! stops where a power cut stops the device. The device may be any
//! [`Rig`]: metadata and slots on one part or on two parts with their own
//! sizes and erase values, on one power supply. [`Harness::run`]
//!
//! 1. runs it once without a fault, which must succeed, and logs every
//!    flash access in order across the parts: its `N` mutating operations
//!    (writes and erases) and its reads;
//! 2. **cuts** — for every operation `k` (whichever part it lands on) and
//!    every cut mode that applies to it ([`Harness::modes`], by default the
//!    four of [`CutMode::ALL`] and [`CutMode::BlankHalfErase`]), runs it
//!    again on a copy of the starting device with the power cut at `k`,
//!    powers on, and runs the oracle;
//! 3. **read faults** — for every read of the scenario (or an even sample
//!    of [`Harness::read_faults`] of them), runs it again with that one
//!    read failing ([`SimFlash::fail_read_at`](crate::sim::SimFlash::fail_read_at)
//!    on the part it lands on). The call that met the fault may fail with
//!    an error (the scenario stops there, as at a cut but with the power
//!    on) or carry on; the state right after that call is checked, then
//!    the oracle runs;
//! 4. **double cuts** — [`Harness::double_cuts`] seeded samples of a first
//!    cut (an operation and a mode of step 2) followed by a second cut at
//!    an operation of the boots that recover from it (the first
//!    [`Harness::recovery_boots`] boots after power-on), then the oracle.
//!
//! # The oracle
//!
//! * **atomic state** — the metadata reads, twice (weak bits may read
//!   differently each time), as the state just before the cut operation or
//!   just after it (as the same scenario cut with the operation lost at
//!   `k`, or at `k + 1`, reads it). After a read fault: as the state at one
//!   of the operation boundaries of the call that met the fault — a read
//!   fault never makes the library write a state the run without it would
//!   not have written — and the same on a second read;
//! * **always a way back** — every following boot picks a slot whose image
//!   verifies, never recovery while an image confirmed before the fault
//!   still verifies, and the device settles on such an image;
//! * **bounded trial** — no image boots on trial more times than it was
//!   given tries, counting the boots before the fault (the firmware never
//!   confirms after the fault: the worst case), and every trial boot is
//!   counted on flash before the decision returns (the device checks it at
//!   every boot; [`Device::trial_boots`] gives the count per image);
//! * **verified before trusted** — every boot of every run (the faulted
//!   call included, whose state on flash may rightly be the state before
//!   it) that the bootloader verified — each boot under
//!   `VerifyPolicy::Always`; a trial, a fallback and an adoption under
//!   `TrialOnly` — chose an image that verifies on a read without faults,
//!   is the image its decision reports, and is not below the floor that
//!   was on flash before it (the device checks it at every boot);
//! * **no failure loops** — a rejected image does not boot again, which
//!   the trial bound enforces;
//! * **no wear when nothing happens** — once settled, two more boots write
//!   and erase nothing;
//! * **the user's check** — [`Harness::run_with_check`] calls a closure on
//!   the settled device after every fault run (and after the run without a
//!   fault), for what only the scenario knows.
//!
//! On a violation it returns the rig, the seed, the fault (operation and
//! mode, read index, or both cuts) and the device's trace, which is enough
//! to replay the failure.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::flash::Region;
use crate::sim::device::{Access, Device, DeviceCheck, Rig, Stop};
use crate::sim::flash::{CutMode, OpKind};
use crate::state::{BootKind, BootState, ImageState, Slot};

/// How the harness runs.
#[derive(Clone, Debug)]
pub struct Harness {
    /// Cut modes to try at each operation (those that apply to it).
    pub modes: Vec<CutMode>,
    /// Seed of the simulated flash's randomness and of the sampling; each
    /// run derives its own.
    pub seed: u64,
    /// Cut at every `stride`-th operation only (1: every operation).
    pub stride: usize,
    /// Boots after a fault before the device must have settled.
    pub settle_boots: u32,
    /// Read-fault runs at most: every read of the scenario when it has no
    /// more reads than this, else this many spread evenly over them (a
    /// stride, with a seeded offset). 0 turns read faults off.
    pub read_faults: usize,
    /// Double-cut runs (seeded samples). 0 turns them off.
    pub double_cuts: usize,
    /// Boots after power-on from a first cut in which a second cut may
    /// land.
    pub recovery_boots: u32,
    /// Which reads the read faults land on.
    pub read_scope: ReadScope,
    /// Consecutive reads of the part that fail, from the chosen read on (1:
    /// that read only, which the journal's retries absorb; more than
    /// [`READ_ATTEMPTS`](crate::journal::READ_ATTEMPTS): a fault that
    /// outlasts them).
    pub read_burst: u32,
}

/// Which reads of a scenario the harness fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadScope {
    /// Every read, metadata and images.
    #[default]
    All,
    /// Reads of the metadata sectors only.
    Metadata,
    /// Reads outside the metadata sectors only (images in the slots).
    Slots,
}

impl Default for Harness {
    fn default() -> Self {
        let mut modes = CutMode::ALL.to_vec();
        modes.push(CutMode::BlankHalfErase);
        Self {
            modes,
            seed: 0xAB_B007,
            stride: 1,
            settle_boots: 12,
            read_faults: 1000,
            double_cuts: 64,
            recovery_boots: 2,
            read_scope: ReadScope::All,
            read_burst: 1,
        }
    }
}

/// What a harness run exercised. Every run was followed by the oracle; a
/// report exists only when no run found a violation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Mutating flash operations of the scenario, all parts.
    pub ops: usize,
    /// Writes among the operations.
    pub writes: usize,
    /// Erases among the operations.
    pub erases: usize,
    /// Cut runs (one operation, one mode), each followed by the oracle.
    pub runs: usize,
    /// Cut runs per cut mode, in the order of [`Harness::modes`].
    pub per_mode: Vec<(CutMode, usize)>,
    /// Reads of the scenario in [`Harness::read_scope`], all parts.
    pub reads: usize,
    /// Read-fault runs (one read failed each).
    pub read_fault_runs: usize,
    /// Of those, runs whose call met the fault and failed with an error
    /// (the others retried or carried on).
    pub read_fault_errors: usize,
    /// Double-cut runs.
    pub double_cut_runs: usize,
}

impl Report {
    /// Cut runs, read-fault runs and double-cut runs together.
    pub fn total_runs(&self) -> usize {
        self.runs + self.read_fault_runs + self.double_cut_runs
    }

    /// Adds `other`'s counts to this report's (to sum scenarios or seeds).
    pub fn add(&mut self, other: &Report) {
        self.ops += other.ops;
        self.writes += other.writes;
        self.erases += other.erases;
        self.runs += other.runs;
        for &(mode, n) in &other.per_mode {
            match self.per_mode.iter_mut().find(|(m, _)| *m == mode) {
                Some((_, c)) => *c += n,
                None => self.per_mode.push((mode, n)),
            }
        }
        self.reads += other.reads;
        self.read_fault_runs += other.read_fault_runs;
        self.read_fault_errors += other.read_fault_errors;
        self.double_cut_runs += other.double_cut_runs;
    }

    fn count_mode(&mut self, mode: CutMode) {
        match self.per_mode.iter_mut().find(|(m, _)| *m == mode) {
            Some((_, c)) => *c += 1,
            None => self.per_mode.push((mode, 1)),
        }
    }
}

impl core::fmt::Display for Report {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} operations ({} writes, {} erases), {} cut runs (",
            self.ops, self.writes, self.erases, self.runs
        )?;
        for (i, (m, n)) in self.per_mode.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{m:?} {n}")?;
        }
        write!(
            f,
            "); {} reads, {} read-fault runs ({} failed the call); {} double cuts; 0 violations",
            self.reads, self.read_fault_runs, self.read_fault_errors, self.double_cut_runs
        )
    }
}

/// The fault a run injected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// None: the run without a fault.
    None,
    /// A power cut at operation `op` of the scenario (all parts counted).
    Cut {
        /// Index of the operation within the scenario.
        op: usize,
        /// The part it landed on (index in [`Rig::parts`]).
        part: usize,
        /// The cut mode.
        mode: CutMode,
    },
    /// A failed read: read `read` of the scenario (all parts counted).
    Read {
        /// Index of the read within the scenario.
        read: usize,
        /// The part it landed on.
        part: usize,
        /// Its byte offset on that part.
        offset: u32,
    },
    /// A cut at `op` of the scenario, then a cut at operation `second` of
    /// the boots after power-on.
    DoubleCut {
        /// Index of the first cut operation within the scenario.
        op: usize,
        /// The first cut's mode.
        mode: CutMode,
        /// Index of the second cut operation within the recovery boots.
        second: usize,
        /// The part the second cut landed on.
        second_part: usize,
        /// The second cut's mode.
        second_mode: CutMode,
    },
}

/// A broken promise, with what is needed to replay it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The rig the scenario ran on.
    pub rig: String,
    /// The harness seed.
    pub seed: u64,
    /// The fault.
    pub fault: Fault,
    /// What went wrong.
    pub what: String,
    /// The device's trace up to the violation.
    pub trace: Vec<String>,
}

impl Violation {
    /// Index of the (first) cut operation within the scenario (`None`: no
    /// cut).
    pub fn op(&self) -> Option<usize> {
        match self.fault {
            Fault::Cut { op, .. } | Fault::DoubleCut { op, .. } => Some(op),
            _ => None,
        }
    }

    /// The (first) cut mode.
    pub fn mode(&self) -> Option<CutMode> {
        match self.fault {
            Fault::Cut { mode, .. } | Fault::DoubleCut { mode, .. } => Some(mode),
            _ => None,
        }
    }
}

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "invariant violated: {}", self.what)?;
        writeln!(f, "  rig: {}", self.rig)?;
        writeln!(f, "  seed {:#x}, fault {:?}", self.seed, self.fault)?;
        writeln!(f, "  trace:")?;
        for line in &self.trace {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// States and digests a fault run is judged against.
struct Expect<'a> {
    /// The states the metadata may read as after the fault.
    states: &'a [Option<BootState>],
    /// Images that are a way back.
    good: &'a [[u8; 32]],
}

impl Harness {
    /// Runs `scenario` on copies of `device` with every fault; see the
    /// [module documentation](self).
    pub fn run<C, R, F>(&self, device: &Device<C, R>, scenario: F) -> Result<Report, Violation>
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
        F: Fn(&mut Device<C, R>) -> Result<(), Stop>,
    {
        self.run_with_check(device, scenario, |_| Ok(()))
    }

    /// [`run`](Self::run), and `check` on the settled device after every
    /// fault run and after the run without a fault: what the scenario
    /// knows that the oracle does not (for instance, with
    /// [`Device::trial_boots`], how many times an image may have booted on
    /// trial). An `Err` is a violation.
    pub fn run_with_check<C, R, F, K>(
        &self,
        device: &Device<C, R>,
        scenario: F,
        check: K,
    ) -> Result<Report, Violation>
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
        F: Fn(&mut Device<C, R>) -> Result<(), Stop>,
        K: Fn(&Device<C, R>) -> Result<(), String>,
    {
        let rig = device.rig().describe();
        let start = device.mutating_ops();
        let fail = |fault: Fault, what: String, trace: &[String]| Violation {
            rig: rig.clone(),
            seed: self.seed,
            fault,
            what,
            trace: trace.to_vec(),
        };

        let mut dry = device.clone();
        dry.log_accesses(true);
        if let Err(stop) = scenario(&mut dry) {
            let what = format!("scenario failed without a fault: {stop}");
            return Err(fail(Fault::None, what, &dry.trace));
        }
        if let Some(v) = dry.history.violations.first() {
            return Err(fail(Fault::None, v.clone(), &dry.trace));
        }
        if let Err(what) = check(&dry) {
            return Err(fail(Fault::None, what, &dry.trace));
        }
        let log = dry.accesses();
        dry.log_accesses(false);
        let ops: Vec<Access> = log.iter().copied().filter(|a| a.op.is_some()).collect();
        // Only what goes through the device's calls is logged, and so cut:
        // a scenario that writes the part itself (`flash_mut`, `rig`) would
        // be reported as swept while those operations never were.
        let made = dry.mutating_ops().saturating_sub(start);
        if made != ops.len() as u64 {
            let what = format!(
                "the scenario made {made} flash operations, {} of them through the device's \
                 calls: the others (through flash_mut, meta_mut, slot_flash_mut or rig) \
                 cannot be cut; make them through the device",
                ops.len()
            );
            return Err(fail(Fault::None, what, &dry.trace));
        }
        let layout = device.layout();
        let in_metadata = |a: &Access| {
            let meta_part = 0;
            a.part == meta_part
                && layout
                    .metadata
                    .sectors
                    .iter()
                    .any(|r| r.overlaps(&Region::new(a.offset, 1)))
        };
        let reads: Vec<Access> = log
            .iter()
            .copied()
            .filter(|a| a.op.is_none())
            .filter(|a| match self.read_scope {
                ReadScope::All => true,
                ReadScope::Metadata => in_metadata(a),
                ReadScope::Slots => !in_metadata(a),
            })
            .collect();
        let confirmed = dry.history.confirmed.clone();
        let initial = initial_good(device);
        let good_at = |k: usize| -> Vec<[u8; 32]> {
            initial
                .iter()
                .copied()
                .chain(
                    confirmed
                        .iter()
                        .filter(|(ops, _)| *ops <= start + k as u64)
                        .map(|(_, d)| *d),
                )
                .collect()
        };
        let mut report = Report {
            ops: ops.len(),
            writes: ops.iter().filter(|a| a.op == Some(OpKind::Write)).count(),
            erases: ops.iter().filter(|a| a.op == Some(OpKind::Erase)).count(),
            reads: reads.len(),
            ..Report::default()
        };

        // The state at each operation boundary, read after a cut that loses
        // the operation; past the last operation, the dry run's end state.
        let mut boundary: HashMap<usize, Option<BootState>> = HashMap::new();
        boundary.insert(ops.len(), dry.peek_state());
        let mut at_boundary = |k: usize| -> Result<Option<BootState>, Violation> {
            if let Some(s) = boundary.get(&k) {
                return Ok(*s);
            }
            let mut dev = self.cut_run(device, &ops, k, CutMode::Lost, &scenario);
            if !dev.with_part(ops[k].part, |p| p.cut_happened()) {
                let fault = Fault::Cut {
                    op: k,
                    part: ops[k].part,
                    mode: CutMode::Lost,
                };
                return Err(fail(fault, "cut never fired".into(), &dev.trace));
            }
            dev.power_on();
            let s = dev.peek_state();
            boundary.insert(k, s);
            Ok(s)
        };

        // 1. A cut at every operation, in every mode that applies.
        let mut cuts = Vec::new();
        for k in (0..ops.len()).step_by(self.stride.max(1)) {
            for &mode in &self.modes {
                let kind = ops[k].op.unwrap_or(OpKind::Write);
                if !mode.applies_to(kind) {
                    continue;
                }
                cuts.push((k, mode));
                let fault = Fault::Cut {
                    op: k,
                    part: ops[k].part,
                    mode,
                };
                let states = [at_boundary(k)?, at_boundary(k + 1)?];
                let mut dev = self.cut_run(device, &ops, k, mode, &scenario);
                if !dev.with_part(ops[k].part, |p| p.cut_happened()) {
                    let what = "cut never fired: the scenario is not deterministic".to_string();
                    return Err(fail(fault, what, &dev.trace));
                }
                let good = good_at(k);
                let expect = Expect {
                    states: &states,
                    good: &good,
                };
                self.oracle(&mut dev, &expect, &check)
                    .map_err(|what| fail(fault, what, &dev.trace))?;
                report.runs += 1;
                report.count_mode(mode);
            }
        }

        // 2. A read fault at every read (or an even sample of them).
        let picks = sample_evenly(reads.len(), self.read_faults, self.seed);
        for r in picks {
            let at = reads[r];
            let fault = Fault::Read {
                read: r,
                part: at.part,
                offset: at.offset,
            };
            // The operation boundaries of the call that met the fault.
            let first = ops.iter().take_while(|a| a.call < at.call).count();
            let last = ops.iter().take_while(|a| a.call <= at.call).count();
            let mut states = Vec::new();
            for k in first..=last {
                let s = at_boundary(k)?;
                if !states.contains(&s) {
                    states.push(s);
                }
            }
            let mut dev = device.clone();
            self.reseed(&mut dev, (r as u64) << 8 | 0x5D);
            dev.with_part(at.part, |p| {
                for i in 0..u64::from(self.read_burst.max(1)) {
                    p.fail_read_at(at.index + i);
                }
            });
            dev.history.watch = Some((at.part, at.index));
            dev.trace.push(format!(
                "-- read {r} will fail (part {}, offset {:#x}, {} time(s) in a row)",
                at.part,
                at.offset,
                self.read_burst.max(1)
            ));
            let _ = scenario(&mut dev);
            let Some((call, err, after)) = dev.history.fired.clone() else {
                let what = "read fault never fired: the scenario is not deterministic".to_string();
                return Err(fail(fault, what, &dev.trace));
            };
            // A call that met a fault in an image read may fail and record
            // its failure; one that succeeds, or met a fault in the
            // metadata, leaves a state the run without the fault had.
            let excused = err.is_some() && !in_metadata(&at);
            if !excused && !states.contains(&after) {
                let what = format!(
                    "after a read fault in `{call}` ({}), the metadata is not a state of that call without the fault: {after:?}",
                    err.as_deref().unwrap_or("the call succeeded")
                );
                return Err(fail(fault, what, &dev.trace));
            }
            if err.is_some() {
                report.read_fault_errors += 1;
            }
            // Whatever the scenario did afterwards, the state it left.
            let end = dev.peek_state();
            let good: Vec<[u8; 32]> = initial
                .iter()
                .copied()
                .chain(dev.history.confirmed.iter().map(|(_, d)| *d))
                .collect();
            let expect = Expect {
                states: &[end],
                good: &good,
            };
            if let Err(what) = self.oracle(&mut dev, &expect, &check) {
                return Err(fail(fault, what, &dev.trace));
            }
            report.read_fault_runs += 1;
        }

        // 3. Double cuts: a second cut while recovering from the first.
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xD0_0B1E);
        let mut tries = 0;
        while report.double_cut_runs < self.double_cuts && !cuts.is_empty() {
            tries += 1;
            if tries > self.double_cuts * 8 {
                break; // recoveries that write nothing: no second cut
            }
            let (k, mode) = cuts[rng.random_range(0..cuts.len())];
            let mut first = self.cut_run(device, &ops, k, mode, &scenario);
            first.power_on();
            let mut probe = first.clone();
            probe.log_accesses(true);
            self.recover(&mut probe);
            let rec: Vec<Access> = probe
                .accesses()
                .into_iter()
                .filter(|a| a.op.is_some())
                .collect();
            if rec.is_empty() {
                continue;
            }
            let i = rng.random_range(0..rec.len());
            let kind = rec[i].op.unwrap_or(OpKind::Write);
            let modes: Vec<CutMode> = self
                .modes
                .iter()
                .copied()
                .filter(|m| m.applies_to(kind))
                .collect();
            let Some(&second_mode) = modes.get(rng.random_range(0..modes.len().max(1))) else {
                continue;
            };
            let fault = Fault::DoubleCut {
                op: k,
                mode,
                second: i,
                second_part: rec[i].part,
                second_mode,
            };
            let mut states = Vec::new();
            for (j, m) in [(i, CutMode::Lost), (i + 1, CutMode::Lost)] {
                if j == rec.len() {
                    let mut done = first.clone();
                    self.recover(&mut done);
                    states.push(done.peek_state());
                } else {
                    let mut lost = first.clone();
                    self.cut_recovery(&mut lost, &rec, j, m);
                    lost.power_on();
                    states.push(lost.peek_state());
                }
            }
            let mut dev = first;
            self.cut_recovery(&mut dev, &rec, i, second_mode);
            if !dev.with_part(rec[i].part, |p| p.cut_happened()) {
                let what = "second cut never fired: recovery is not deterministic".to_string();
                return Err(fail(fault, what, &dev.trace));
            }
            let good = good_at(k);
            let expect = Expect {
                states: &states,
                good: &good,
            };
            self.oracle(&mut dev, &expect, &check)
                .map_err(|what| fail(fault, what, &dev.trace))?;
            report.double_cut_runs += 1;
        }
        Ok(report)
    }

    /// Reseeds every part of `dev` for one run.
    fn reseed<C, R: Rig>(&self, dev: &mut Device<C, R>, salt: u64) {
        for i in 0..dev.part_count() {
            let seed = self.seed ^ salt ^ ((i as u64) << 48);
            dev.with_part(i, |p| p.reseed(seed));
        }
    }

    /// The scenario on a copy of `device` with the power cut at operation
    /// `k` of `ops`.
    fn cut_run<C, R, F>(
        &self,
        device: &Device<C, R>,
        ops: &[Access],
        k: usize,
        mode: CutMode,
        scenario: &F,
    ) -> Device<C, R>
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
        F: Fn(&mut Device<C, R>) -> Result<(), Stop>,
    {
        let mut dev = device.clone();
        let at = ops[k];
        self.reseed(&mut dev, ((k as u64) << 8) ^ mode as u64);
        dev.with_part(at.part, |p| p.cut_at(at.index, mode));
        dev.trace.push(format!(
            "-- power will be cut at operation {k} (part {}, offset {:#x}, {mode:?})",
            at.part, at.offset
        ));
        // The scenario stops at the cut; what it returns is not the point.
        let _ = scenario(&mut dev);
        dev
    }

    /// The boots after power-on from a first cut.
    fn recover<C, R>(&self, dev: &mut Device<C, R>)
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
    {
        for _ in 0..self.recovery_boots {
            if dev.boot().is_err() {
                break;
            }
        }
    }

    /// The recovery boots with the power cut at operation `j` of `rec`.
    fn cut_recovery<C, R>(&self, dev: &mut Device<C, R>, rec: &[Access], j: usize, mode: CutMode)
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
    {
        let at = rec[j];
        self.reseed(dev, ((j as u64) << 16) ^ 0xC0 ^ mode as u64);
        dev.with_part(at.part, |p| p.cut_at(at.index, mode));
        dev.trace.push(format!(
            "-- power will be cut again at recovery operation {j} (part {}, offset {:#x}, {mode:?})",
            at.part, at.offset
        ));
        self.recover(dev);
    }

    /// Powers on and checks the promise after a fault.
    fn oracle<C, R, K>(
        &self,
        dev: &mut Device<C, R>,
        expect: &Expect<'_>,
        check: &K,
    ) -> Result<(), String>
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
        K: Fn(&Device<C, R>) -> Result<(), String>,
    {
        for i in 0..dev.part_count() {
            dev.with_part(i, |p| p.clear_read_faults());
        }
        dev.history.watch = None;
        dev.power_on();
        // Weak bits may read differently each time; each read must still
        // be one of the states.
        for _ in 0..2 {
            let got = dev.read_state();
            if !expect.states.contains(&got) {
                return Err(format!(
                    "metadata is neither the state before nor after the fault: {got:?}"
                ));
            }
        }
        self.settle(dev, expect.good)?;
        check(dev)
    }

    /// Boots until the device runs a confirmed image, never confirming
    /// anything, and checks every boot on the way.
    fn settle<C, R>(&self, dev: &mut Device<C, R>, good: &[[u8; 32]]) -> Result<(), String>
    where
        R: Rig,
        C: DeviceCheck<R::Slots>,
    {
        for _ in 0..self.settle_boots {
            let d = dev
                .boot()
                .map_err(|s| format!("boot after power-on failed: {s}"))?;
            if let Some(v) = dev.history.violations.first() {
                return Err(v.clone());
            }
            let Some(slot) = d.slot else {
                // Recovery is a failure only while a way back exists: an
                // image confirmed on flash that still verifies. Bit rot of
                // the only confirmed image (a scenario may inflict it) is
                // not something a fault caused.
                let st = dev.read_state().unwrap_or_default();
                for s in Slot::ALL {
                    let confirmed = st.slot(s).state == ImageState::Confirmed;
                    if confirmed && dev.verify(s).is_ok_and(|i| good.contains(&i.digest)) {
                        return Err(format!("recovery although confirmed slot {s} verifies"));
                    }
                }
                return Ok(());
            };
            let info = dev
                .verify(slot)
                .map_err(|e| format!("booted slot {slot}, whose image does not verify: {e}"))?;
            // A trial boot, or a boot whose metadata write failed (it
            // booted the safe choice; the next boot tries again), is not
            // settled yet.
            if d.kind == BootKind::Trial || d.fault.is_some() {
                continue;
            }
            if !good.contains(&info.digest) {
                return Err(format!(
                    "settled on slot {slot} v{}, which was never confirmed before the fault",
                    info.version
                ));
            }
            let st = dev
                .read_state()
                .ok_or("no state on flash after a confirmed boot")?;
            if st.slot(slot).state != ImageState::Confirmed {
                return Err(format!(
                    "booted slot {slot} without trial although it is {:?}",
                    st.slot(slot).state
                ));
            }
            let before = dev.stats();
            for _ in 0..2 {
                let again = dev.boot().map_err(|s| format!("boot failed: {s}"))?;
                if again.slot != Some(slot) {
                    return Err(format!(
                        "settled boot moved from slot {slot} to {:?}",
                        again.slot
                    ));
                }
            }
            let wear = dev.stats().since(&before);
            if wear.writes + wear.erases != 0 {
                return Err(format!(
                    "normal boots wrote {} times and erased {} times",
                    wear.writes, wear.erases
                ));
            }
            return Ok(());
        }
        Err(format!(
            "no confirmed boot after {} boots",
            self.settle_boots
        ))
    }
}

/// Indices of `want` of `n` items spread evenly (all of them when
/// `n <= want`), starting at a seeded offset within the first stride.
fn sample_evenly(n: usize, want: usize, seed: u64) -> Vec<usize> {
    if want == 0 || n == 0 {
        return Vec::new();
    }
    if n <= want {
        return (0..n).collect();
    }
    let offset = ChaCha8Rng::seed_from_u64(seed ^ 0x5EAD).random_range(0..n / want);
    (0..want).map(|i| offset + i * n / want).collect()
}

/// Images that are a way back before the scenario starts: the confirmed
/// ones on flash, or with blank metadata, every image that verifies.
fn initial_good<C, R>(device: &Device<C, R>) -> Vec<[u8; 32]>
where
    R: Rig,
    C: DeviceCheck<R::Slots>,
{
    let mut dev = device.clone();
    match dev.peek_state() {
        Some(st) => Slot::ALL
            .into_iter()
            .filter(|&s| st.slot(s).state == ImageState::Confirmed)
            .map(|s| st.slot(s).digest)
            .collect(),
        None => Slot::ALL
            .into_iter()
            .filter_map(|s| dev.verify(s).ok())
            .map(|i| i.digest)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::DigestCheck;
    use crate::sim::device::test_image;
    use crate::version::Version;

    #[test]
    fn samples_spread_evenly() {
        assert_eq!(sample_evenly(5, 10, 1), vec![0, 1, 2, 3, 4]);
        assert!(sample_evenly(5, 0, 1).is_empty());
        let s = sample_evenly(1000, 10, 7);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[1] - w[0] == 100));
        assert!(s[0] < 100);
    }

    /// The user's check is a violation like any other, and names the fault
    /// that led to it: here, the first cut run.
    #[test]
    fn the_users_check_names_the_fault() {
        let mut d = Device::new(8192, DigestCheck);
        d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 1000, 1));
        let v = Harness::default()
            .run_with_check(
                &d,
                |d| d.boot().map(|_| ()),
                |d| {
                    if d.trace.iter().any(|l| l == "power on") {
                        Err("a power cut happened".into())
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap_err();
        assert_eq!(
            v.fault,
            Fault::Cut {
                op: 0,
                part: 0,
                mode: CutMode::Lost
            }
        );
        assert_eq!((v.op(), v.mode()), (Some(0), Some(CutMode::Lost)));
        assert!(v.to_string().contains("a power cut happened"));
    }

    #[test]
    fn reports_add_up_per_mode() {
        let mut a = Report::default();
        a.count_mode(CutMode::Lost);
        a.runs = 1;
        let mut b = Report::default();
        b.count_mode(CutMode::Lost);
        b.count_mode(CutMode::BlankHalfErase);
        b.runs = 2;
        a.add(&b);
        assert_eq!(a.runs, 3);
        assert_eq!(
            a.per_mode,
            vec![(CutMode::Lost, 2), (CutMode::BlankHalfErase, 1)]
        );
    }
}
