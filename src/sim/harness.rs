//! The power-cut harness: replays a scenario with a cut at every flash
//! operation, in every cut mode, and checks the promise after each.
//!
//! A *scenario* is a closure that drives a [`Device`]: boots, stages,
//! confirms, marks bad, corrupts a slot... written with `?` so that it
//! stops where a power cut stops the device. [`Harness::run`]
//!
//! 1. runs it once without a cut, which must succeed, and records the kind
//!    of each of its `N` mutating flash operations;
//! 2. for every operation `k` and every cut mode that applies to it, runs it
//!    again on a copy of the starting device with the power cut at `k`,
//!    powers on, and checks:
//!    * **atomic state** — the metadata reads as the state just before
//!      operation `k` or just after it (as the same scenario cut with the
//!      operation lost at `k`, or at `k + 1`, reads it);
//!    * **always a way back** — every following boot picks a slot whose
//!      image verifies, never recovery while one exists, and the device
//!      settles on a confirmed image that was confirmed before the cut;
//!    * **bounded trial** — no image boots on trial more times than it
//!      was given tries, counting the boots before the cut (the firmware
//!      never confirms after the cut: the worst case);
//!    * **no failure loops** — a rejected image does not boot again, which
//!      the trial bound enforces;
//!    * **no wear when nothing happens** — once settled, two more boots
//!      write and erase nothing.
//!
//! On a violation it returns the seed, the operation, the mode and the
//! device's trace, which is enough to replay the failure.

use crate::sim::device::{Device, DeviceCheck, Stop};
use crate::sim::flash::{CutMode, OpKind};
use crate::state::{BootKind, BootState, ImageState, Slot};

/// How the harness runs.
#[derive(Clone, Debug)]
pub struct Harness {
    /// Cut modes to try at each operation (those that apply to it).
    pub modes: Vec<CutMode>,
    /// Seed of the simulated flash's randomness; each run derives its own.
    pub seed: u64,
    /// Cut at every `stride`-th operation only (1: every operation).
    pub stride: usize,
    /// Boots after a cut before the device must have settled.
    pub settle_boots: u32,
}

impl Default for Harness {
    fn default() -> Self {
        Self {
            modes: CutMode::ALL.to_vec(),
            seed: 0xAB_B007,
            stride: 1,
            settle_boots: 12,
        }
    }
}

/// What a harness run exercised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Mutating flash operations of the scenario.
    pub ops: usize,
    /// Cut runs, each followed by the checks.
    pub runs: usize,
    /// Runs per cut mode, in [`CutMode::ALL`] order.
    pub per_mode: [usize; 4],
    /// Operations of the scenario that were writes and erases.
    pub writes: usize,
    /// Erases among the operations.
    pub erases: usize,
}

/// A broken promise, with what is needed to replay it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The harness seed.
    pub seed: u64,
    /// Index of the cut operation within the scenario (`None`: the run
    /// without a cut).
    pub op: Option<usize>,
    /// The cut mode.
    pub mode: Option<CutMode>,
    /// What went wrong.
    pub what: String,
    /// The device's trace up to the violation.
    pub trace: Vec<String>,
}

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "invariant violated: {}", self.what)?;
        writeln!(
            f,
            "  seed {:#x}, cut at operation {:?}, mode {:?}",
            self.seed, self.op, self.mode
        )?;
        writeln!(f, "  trace:")?;
        for line in &self.trace {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

impl Harness {
    /// Runs `scenario` on copies of `device` with a cut at every operation;
    /// see the [module documentation](self).
    pub fn run<C, F>(&self, device: &Device<C>, scenario: F) -> Result<Report, Violation>
    where
        C: DeviceCheck,
        F: Fn(&mut Device<C>) -> Result<(), Stop>,
    {
        let start = device.flash().mutating_ops();
        let mut dry = device.clone();
        dry.flash_mut().log_ops(true);
        let fail = |op, mode, what: String, trace: &[String]| Violation {
            seed: self.seed,
            op,
            mode,
            what,
            trace: trace.to_vec(),
        };
        if let Err(stop) = scenario(&mut dry) {
            return Err(fail(
                None,
                None,
                format!("scenario failed without a cut: {stop}"),
                &dry.trace,
            ));
        }
        if let Some(v) = dry.history.violations.first() {
            return Err(fail(None, None, v.clone(), &dry.trace));
        }
        let kinds = dry.flash().op_log().to_vec();
        let confirmed = dry.history.confirmed.clone();
        let initial = initial_good(device);
        let mut report = Report {
            ops: kinds.len(),
            writes: kinds.iter().filter(|k| **k == OpKind::Write).count(),
            erases: kinds.iter().filter(|k| **k == OpKind::Erase).count(),
            ..Report::default()
        };

        // The state at each operation boundary, read after a cut that loses
        // the operation; past the last operation, the dry run's end state.
        let mut boundary: Vec<Option<Option<BootState>>> = vec![None; kinds.len() + 1];
        boundary[kinds.len()] = Some(dry.read_state());
        let mut at_boundary = |k: usize| -> Result<Option<BootState>, Violation> {
            if let Some(s) = &boundary[k] {
                return Ok(s.clone());
            }
            let mut dev = self.cut_run(device, start, k, CutMode::Lost, &scenario);
            if !dev.flash().cut_happened() {
                return Err(fail(
                    Some(k),
                    Some(CutMode::Lost),
                    "cut never fired".into(),
                    &dev.trace,
                ));
            }
            dev.power_on();
            let s = dev.read_state();
            boundary[k] = Some(s.clone());
            Ok(s)
        };

        for k in (0..kinds.len()).step_by(self.stride.max(1)) {
            for (mi, &mode) in self.modes.iter().enumerate() {
                if !mode.applies_to(kinds[k]) {
                    continue;
                }
                let before = at_boundary(k)?;
                let after = at_boundary(k + 1)?;
                let mut dev = self.cut_run(device, start, k, mode, &scenario);
                let v = |what: String, dev: &Device<C>| fail(Some(k), Some(mode), what, &dev.trace);
                if !dev.flash().cut_happened() {
                    return Err(v(
                        "cut never fired: the scenario is not deterministic".into(),
                        &dev,
                    ));
                }
                dev.power_on();
                // Weak bits may read differently each time; each read must
                // still be one of the two states.
                for _ in 0..2 {
                    let got = dev.read_state();
                    if got != before && got != after {
                        return Err(v(format!("metadata is neither the state before nor after the cut operation: {got:?}"), &dev));
                    }
                }
                let good: Vec<[u8; 32]> = initial
                    .iter()
                    .copied()
                    .chain(
                        confirmed
                            .iter()
                            .filter(|(ops, _)| *ops <= start + k as u64)
                            .map(|(_, d)| *d),
                    )
                    .collect();
                self.settle(&mut dev, &good).map_err(|what| v(what, &dev))?;
                report.runs += 1;
                if let Some(i) = CutMode::ALL.iter().position(|m| *m == mode) {
                    report.per_mode[i] += 1;
                }
                let _ = mi;
            }
        }
        Ok(report)
    }

    fn cut_run<C, F>(
        &self,
        device: &Device<C>,
        start: u64,
        k: usize,
        mode: CutMode,
        scenario: &F,
    ) -> Device<C>
    where
        C: DeviceCheck,
        F: Fn(&mut Device<C>) -> Result<(), Stop>,
    {
        let mut dev = device.clone();
        let op = start + k as u64;
        let seed = self.seed ^ (op << 8) ^ mode as u64;
        let flash = dev.flash_mut();
        *flash = flash.clone().seed(seed);
        flash.cut_at(op, mode);
        dev.trace
            .push(format!("-- power will be cut at operation {k} ({mode:?})"));
        // The scenario stops at the cut; what it returns is not the point.
        let _ = scenario(&mut dev);
        dev
    }

    /// Boots until the device runs a confirmed image, never confirming
    /// anything, and checks every boot on the way.
    fn settle<C: DeviceCheck>(&self, dev: &mut Device<C>, good: &[[u8; 32]]) -> Result<(), String> {
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
                // not something power loss caused.
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
            if d.kind == BootKind::Trial {
                continue;
            }
            if !good.contains(&info.digest) {
                return Err(format!(
                    "settled on slot {slot} v{}, which was never confirmed before the cut",
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
            let before = dev.flash().stats();
            for _ in 0..2 {
                let again = dev.boot().map_err(|s| format!("boot failed: {s}"))?;
                if again.slot != Some(slot) {
                    return Err(format!(
                        "settled boot moved from slot {slot} to {:?}",
                        again.slot
                    ));
                }
            }
            let wear = dev.flash().stats().since(&before);
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

/// Images that are a way back before the scenario starts: the confirmed
/// ones on flash, or with blank metadata, every image that verifies.
fn initial_good<C: DeviceCheck>(device: &Device<C>) -> Vec<[u8; 32]> {
    let mut dev = device.clone();
    match dev.read_state() {
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
