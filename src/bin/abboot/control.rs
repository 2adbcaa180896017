//! `abboot status`, `confirm`, `mark-bad`, `set-tries` and `abort`: control
//! of the boot state from a running Linux system (`rauc status
//! mark-good`-style), on the metadata partition or a dump of it.
//!
//! The commands read and change the state with the code a device runs
//! ([`Control`] over a [`FileFlash`](abboot::sim::file::FileFlash)). A
//! change is reported only after `Control` returned `Ok`: the new record
//! read back as written, a boot's scan of the journal finds it, and the
//! file or device was synced. A refusal writes nothing.
//!
//! `confirm` is meant to run at every boot: on an image that is already
//! confirmed it says so and succeeds.

use std::ops::RangeInclusive;
use std::path::Path;

use abboot::journal::Loaded;
use abboot::machine::{self, Refusal};
use abboot::state::{BootState, ImageState, Reason, Slot, UpdateState};
use abboot::status::Status;
use abboot::Control;
use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::config::{self, MetadataArgs};
use crate::inspect::{events_text, reason_text, tag_text};
use crate::journal_file::{self, Access, JournalTask, Opened};
use crate::num::{self, hex};
use crate::{Error, Report, SlotArg};

/// The metadata the control commands work on.
#[derive(Debug, Args)]
pub struct MetadataFile {
    #[command(flatten)]
    pub metadata: MetadataArgs,
}

/// `abboot confirm`.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// The slot the system runs from (from the kernel command line): the
    /// confirm is refused unless that slot is the one on trial. Without
    /// it, the image on trial is confirmed whichever runs.
    #[arg(long, value_enum, value_name = "SLOT")]
    pub running: Option<SlotArg>,
    #[command(flatten)]
    pub target: MetadataFile,
}

/// `abboot mark-bad`.
#[derive(Debug, Args)]
pub struct MarkBadArgs {
    /// Firmware reason code, 0..=127, kept as the last reason.
    #[arg(long, value_parser = reason_value, value_name = "N")]
    pub reason: u8,
    /// The slot the system runs from: refused unless it is the one on
    /// trial (see `confirm --running`).
    #[arg(long, value_enum, value_name = "SLOT")]
    pub running: Option<SlotArg>,
    #[command(flatten)]
    pub target: MetadataFile,
}

/// `abboot set-tries`.
#[derive(Debug, Args)]
pub struct SetTriesArgs {
    /// Trial boots the unconfirmed image gets from now, 1..=255.
    #[arg(long, value_parser = tries_value, value_name = "N")]
    pub tries: u8,
    #[command(flatten)]
    pub target: MetadataFile,
}

/// A firmware reason code: 7 bits, as the record stores it.
fn reason_value(text: &str) -> Result<u8, String> {
    u8_in(text, 0..=127, "a firmware reason code")
}

/// A number of trial boots.
pub fn tries_value(text: &str) -> Result<u8, String> {
    u8_in(text, 1..=255, "tries")
}

fn u8_in(text: &str, range: RangeInclusive<u8>, what: &str) -> Result<u8, String> {
    let v = num::u32_value(text)?;
    u8::try_from(v)
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| format!("{text}: {what} must be {}..={}", range.start(), range.end()))
}

// ---------------------------------------------------------------- status

/// Reads the journal as a boot does, and what the scan said.
struct Read;

impl JournalTask for Read {
    type Output = (Loaded, Result<(), crate::geometry::Mismatch>);

    fn run<const ERASE: usize>(self, mut opened: Opened<ERASE>) -> Result<Self::Output, Error> {
        Ok((opened.journal.read(), opened.scan))
    }
}

/// One slot in the status.
#[derive(Serialize)]
struct SlotJson {
    /// `empty`, `pending`, `trial`, `confirmed` or `rejected`.
    state: &'static str,
    /// Trial boots left (pending and trial only).
    tries_left: Option<u8>,
    version: Option<String>,
    digest: Option<String>,
    /// Boots of this image that wrote state.
    boots: u8,
    /// The last confirmed slot.
    primary: bool,
    /// The slot kept as the way back.
    rollback: bool,
}

/// `status --json`: every field `null` when the metadata holds no usable
/// state.
#[derive(Serialize)]
struct StatusJson {
    file: String,
    /// `"valid"`, `"blank"` (both sectors erased), `"invalid"` (no valid
    /// record: not a journal, or the wrong geometry) or `"geometry"` (the
    /// scan proves the geometry given wrong).
    metadata: &'static str,
    /// What is wrong, when the metadata is not valid.
    problem: Option<String>,
    seq: Option<u32>,
    slots: Option<SlotsJson>,
    /// The slot the next boot takes, if the images verify: `"A"`, `"B"`,
    /// or `null` (recovery, or no state).
    next_boot: Option<Slot>,
    /// Why: `"confirmed"`, `"trial"` or `"rollback"`.
    next_boot_kind: Option<&'static str>,
    /// Where the last update stands.
    last_outcome: Option<UpdateState>,
    /// Why the last update failed or was rolled back.
    last_reason: Option<Reason>,
    /// Whether the data is ahead of the running image (restore its backup).
    data_restore_needed: Option<bool>,
    /// The whole status record (`Status::to_json`), or `null`.
    status: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct SlotsJson {
    #[serde(rename = "A")]
    a: SlotJson,
    #[serde(rename = "B")]
    b: SlotJson,
}

fn slot_json(st: &BootState, s: Slot) -> SlotJson {
    let info = st.slot(s);
    let (state, tries) = match info.state {
        ImageState::Empty => ("empty", None),
        ImageState::Pending { tries } => ("pending", Some(tries)),
        ImageState::Trial { tries } => ("trial", Some(tries)),
        ImageState::Confirmed => ("confirmed", None),
        ImageState::Rejected => ("rejected", None),
    };
    let present = info.state != ImageState::Empty;
    SlotJson {
        state,
        tries_left: tries,
        version: present.then(|| info.version.to_string()),
        digest: present.then(|| hex(&info.digest)),
        boots: info.attempts,
        primary: st.primary == Some(s),
        rollback: st.rollback == Some(s),
    }
}

/// The slot the next boot takes if the images still verify, and why.
pub fn next_boot(st: &BootState) -> (Option<Slot>, Option<&'static str>) {
    if let Some(c) = machine::candidate(st) {
        // Below the floor, the bootloader rejects it as a downgrade (from
        // what the record says; its own check may refuse it for more).
        let c_info = st.slot(c);
        if c_info.state.tries() > 0 && c_info.security_counter >= st.min_security_counter {
            return (Some(c), Some("trial"));
        }
        return (st.primary, st.primary.map(|_| "rollback"));
    }
    (st.primary, st.primary.map(|_| "confirmed"))
}

/// Shows both slots side by side and what boots next.
pub fn status(a: &MetadataFile) -> Result<Report, Error> {
    let m = config::metadata(&a.metadata)?;
    let (loaded, scan) = journal_file::open(&m, Access::Read, Read)?;
    let file = m.path.display().to_string();
    let unusable = |metadata: &'static str, problem: String| {
        let json = StatusJson {
            file: file.clone(),
            metadata,
            problem: Some(problem.clone()),
            seq: None,
            slots: None,
            next_boot: None,
            next_boot_kind: None,
            last_outcome: None,
            last_reason: None,
            data_restore_needed: None,
            status: None,
        };
        Error::file(&m.path, problem)
            .with_json(serde_json::to_value(json).unwrap_or(serde_json::Value::Null))
    };
    if let Err(e) = scan {
        return Err(unusable(
            "geometry",
            format!("{e} ({})", journal_file::fix_hint(&e, &m)),
        ));
    }
    let r = match &loaded.record {
        Some(r) => r,
        None if loaded.blank() => {
            return Err(unusable(
                "blank",
                "blank metadata: both journal sectors are erased; no state is recorded yet \
                 (a factory device: run abboot init)"
                    .to_string(),
            ))
        }
        None => {
            let f = &loaded.findings;
            return Err(unusable(
                "invalid",
                format!(
                    "no valid record ({} invalid, {} unreadable positions where a device looks): \
                     not an abboot journal, or the wrong {} or {}",
                    f.invalid,
                    f.unreadable,
                    m.sector_size.source.name(),
                    m.offset.source.name()
                ),
            ));
        }
    };
    let st = &r.state;
    let status = Status::from_state(st);
    let (next, kind) = next_boot(st);
    let json = StatusJson {
        file: file.clone(),
        metadata: "valid",
        problem: None,
        seq: Some(r.seq),
        slots: Some(SlotsJson {
            a: slot_json(st, Slot::A),
            b: slot_json(st, Slot::B),
        }),
        next_boot: next,
        next_boot_kind: kind,
        last_outcome: Some(st.update),
        last_reason: Some(st.last_reason),
        data_restore_needed: Some(status.data_restore_needed()),
        status: Some(status_value(&status)),
    };
    let text = status_text(&file, r.seq, st, &status);
    Ok(Report::of(text, &json))
}

/// The library's status JSON (`Status::to_json`), as a value.
pub fn status_value(st: &Status) -> serde_json::Value {
    serde_json::from_str(&st.to_json()).unwrap_or(serde_json::Value::Null)
}

/// A slot's state in words.
pub fn slot_state_text(st: &BootState, s: Slot) -> String {
    let info = st.slot(s);
    let role = if st.primary == Some(s) {
        " (primary)"
    } else if st.rollback == Some(s) {
        " (fallback)"
    } else {
        ""
    };
    let state = match info.state {
        ImageState::Empty => "empty".to_string(),
        ImageState::Pending { tries } => {
            format!("pending, {tries} {} left", plural(tries, "try", "tries"))
        }
        ImageState::Trial { tries } => {
            format!("on trial, {tries} {} left", plural(tries, "try", "tries"))
        }
        ImageState::Confirmed => "confirmed".to_string(),
        ImageState::Rejected => "rejected".to_string(),
    };
    format!("{state}{role}")
}

fn plural<'a>(n: u8, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The last update's outcome in words.
pub fn outcome_text(st: &BootState) -> String {
    let reason = reason_text(st.last_reason);
    match st.update {
        UpdateState::Idle => "no update yet".to_string(),
        UpdateState::Staged => match machine::candidate(st) {
            Some(c) => format!("an update is staged in slot {c}, waiting for its first boot"),
            None => "an update was being written and did not finish (interrupted, or a stage \
                     still running); the slot it was written to is empty"
                .to_string(),
        },
        UpdateState::Trial => "an update is on trial".to_string(),
        UpdateState::Confirmed => "the last update was confirmed".to_string(),
        UpdateState::RolledBack => format!("the last update was rolled back: {reason}"),
        UpdateState::Failed => format!("the last update failed: {reason}"),
    }
}

fn status_text(file: &str, seq: u32, st: &BootState, status: &Status) -> String {
    let mut s = format!("{file}: record seq {seq}\n");
    let col = |f: &dyn Fn(Slot) -> String| (f(Slot::A), f(Slot::B));
    let version = |slot: Slot| {
        let i = st.slot(slot);
        if i.state == ImageState::Empty {
            "-".to_string()
        } else {
            i.version.to_string()
        }
    };
    let digest = |slot: Slot| {
        let i = st.slot(slot);
        if i.state == ImageState::Empty {
            "-".to_string()
        } else {
            format!("{}..", &hex(&i.digest)[..16])
        }
    };
    let rows: Vec<(&str, (String, String))> = vec![
        ("", ("slot A".to_string(), "slot B".to_string())),
        ("state", col(&|x| slot_state_text(st, x))),
        ("version", col(&version)),
        ("digest", col(&digest)),
        ("boots", col(&|x| st.slot(x).attempts.to_string())),
    ];
    for (k, (a, b)) in rows {
        s += &format!("  {k:<12}{a:<30}{b}\n");
    }
    let (next, kind) = next_boot(st);
    let next = match (next, kind) {
        (Some(n), Some("trial")) => format!(
            "slot {n}, on trial (this boot uses one of its {} {})",
            st.slot(n).state.tries(),
            plural(st.slot(n).state.tries(), "try", "tries")
        ),
        (Some(n), Some("rollback")) => {
            format!("slot {n}: the unconfirmed image has no tries left and is rolled back")
        }
        (Some(n), _) => format!("slot {n}, confirmed"),
        (None, _) => "none: no confirmed image (recovery)".to_string(),
    };
    let mut line = |k: &str, v: String| s += &format!("  {k:<12}{v}\n");
    line("next boot", next);
    line("last update", outcome_text(st));
    line(
        "failures",
        format!("{} updates failed or rolled back, ever", st.failure_count),
    );
    if status.update_tag.is_empty() {
        line("update tag", "none".to_string());
    } else {
        line("update tag", tag_text(&status.update_tag));
    }
    if status.data_restore_needed() {
        line(
            "data",
            format!(
                "migrated to epoch {}, the running image expects {}: restore its backup",
                status.data_epoch, status.running_data_epoch
            ),
        );
    }
    events_text(&mut s, st.events.iter());
    s
}

// ---------------------------------------------------------------- changes

/// A change of the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Confirm,
    MarkBad(u8),
    SetTries(u8),
    Abort,
}

/// Applies an [`Op`] through [`Control`], from a system running the
/// slot given, if it is given.
struct Change(Op, Option<Slot>);

/// The state before, and the state after or why there is none.
struct Changed {
    before: Loaded,
    after: Result<BootState, abboot::Error>,
}

impl JournalTask for Change {
    type Output = Changed;

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Changed, Error> {
        let Opened {
            mut journal,
            geometry,
            ..
        } = opened;
        let before = journal.read();
        // Only the image on trial can vouch for itself: when the bootloader
        // could not count a try, it boots the primary while the state still
        // says trial, and the primary's health check is not the trial's.
        let trial = before
            .record
            .as_ref()
            .and_then(|r| machine::trial_slot(&r.state));
        let vouches = matches!(self.0, Op::Confirm | Op::MarkBad(_));
        if let (true, Some(r), Some(t)) = (vouches, self.1, trial) {
            if r != t {
                return Ok(Changed {
                    before,
                    after: Err(Refusal::NotOnTrial.into()),
                });
            }
        }
        let after = Control::new(journal.into_inner(), geometry).and_then(|mut c| {
            match self.0 {
                Op::Confirm => c.confirm(),
                Op::MarkBad(code) => c.mark_bad(code),
                Op::SetTries(tries) => c.set_tries(tries),
                Op::Abort => c.abort(),
            }?;
            // `Ok` means a boot's scan finds the new record: read it back.
            c.state().ok_or(abboot::Error::MetadataVerify)
        });
        Ok(Changed { before, after })
    }
}

/// Confirms the image on trial.
pub fn confirm(a: &ConfirmArgs) -> Result<Report, Error> {
    change(&a.target, Op::Confirm, a.running.map(Slot::from))
}

/// Rejects the image on trial with a firmware reason code.
pub fn mark_bad(a: &MarkBadArgs) -> Result<Report, Error> {
    change(&a.target, Op::MarkBad(a.reason), a.running.map(Slot::from))
}

/// Gives the unconfirmed image more trial boots.
pub fn set_tries(a: &SetTriesArgs) -> Result<Report, Error> {
    change(&a.target, Op::SetTries(a.tries), None)
}

/// Drops a staged update that has not booted.
pub fn abort(a: &MetadataFile) -> Result<Report, Error> {
    change(a, Op::Abort, None)
}

fn change(t: &MetadataFile, op: Op, running: Option<Slot>) -> Result<Report, Error> {
    let m = config::metadata(&t.metadata)?;
    let file = &m.path;
    let Changed { before, after } = journal_file::open(&m, Access::Write, Change(op, running))?;
    let old = before.record.as_ref().map(|r| r.state).unwrap_or_default();
    let name = match op {
        Op::Confirm => "confirm",
        Op::MarkBad(_) => "mark-bad",
        Op::SetTries(_) => "set-tries",
        Op::Abort => "abort",
    };
    match after {
        Ok(new) => Ok(Report::new(
            done_text(op, &old, &new),
            json!({
                "command": name,
                // A change to what the state already says writes nothing.
                "changed": before.record.map(|r| r.state) != Some(new),
                "file": file.display().to_string(),
                "next_boot": next_boot(&new).0,
                "status": status_value(&Status::from_state(&new)),
            }),
        )),
        Err(abboot::Error::Refused(Refusal::AlreadyConfirmed)) if op == Op::Confirm => {
            let running = machine::running_slot(&old).map(|s| image(&old, s));
            Ok(Report::new(
                format!(
                    "already confirmed: {} runs confirmed; nothing changed\n",
                    running.unwrap_or_else(|| "the primary".to_string())
                ),
                json!({
                    "command": name,
                    "changed": false,
                    "file": file.display().to_string(),
                    "next_boot": next_boot(&old).0,
                    "status": status_value(&Status::from_state(&old)),
                }),
            ))
        }
        Err(e @ abboot::Error::Refused(_)) => Err(Error::file(
            file,
            format_args!("{e}{}", no_record_note(&before)),
        )),
        Err(e) => Err(write_failed(file, e)),
    }
}

/// Why a refused change may be refused: the journal holds no state.
fn no_record_note(before: &Loaded) -> &'static str {
    match (&before.record, before.blank()) {
        (Some(_), _) => "",
        (None, true) => " (the metadata is blank: no state is recorded yet)",
        (None, false) => {
            " (the metadata holds no valid record: not an abboot journal, or the wrong \
             sector size or offset)"
        }
    }
}

fn write_failed(file: &Path, e: abboot::Error) -> Error {
    Error::file(
        file,
        format_args!(
            "cannot change the metadata: {e}; the journal holds the state before or after \
             the change (abboot status shows which)"
        ),
    )
}

/// `slot B, version 1.1.0`.
fn image(st: &BootState, slot: Slot) -> String {
    format!("slot {slot}, version {}", st.slot(slot).version)
}

fn done_text(op: Op, old: &BootState, new: &BootState) -> String {
    let of = |st: &BootState, s: Option<Slot>| s.map_or("no image".to_string(), |s| image(st, s));
    match op {
        Op::Confirm => {
            let rollback = match new.rollback {
                Some(r) => format!("slot {r} is kept for rollback"),
                None => "no slot is kept for rollback".to_string(),
            };
            format!(
                "confirmed: {} is the primary now; {rollback}\n",
                of(new, new.primary)
            )
        }
        Op::MarkBad(code) => format!(
            "marked bad: {}, with firmware reason {code}; the next boot returns to {}\n",
            of(old, machine::trial_slot(old)),
            match new.primary {
                Some(p) => image(new, p),
                None => "the images that verify (no image is recorded as confirmed; the bootloader rebuilds the state from them)".to_string(),
            }
        ),
        Op::SetTries(tries) => {
            let slot = machine::candidate(new);
            let state = match slot.map(|s| new.slot(s).state) {
                Some(ImageState::Pending { .. }) => "pending",
                _ => "on trial",
            };
            let boots = if tries == 1 { "boot" } else { "boots" };
            format!("{} ({state}): {tries} trial {boots} left\n", of(new, slot))
        }
        Op::Abort => match machine::candidate(old) {
            Some(s) => format!(
                "aborted: the update staged in {} is dropped; slot {s} is empty\n",
                image(old, s)
            ),
            None => "aborted: the interrupted staging is dropped\n".to_string(),
        },
    }
}
