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
use std::path::{Path, PathBuf};

use abboot::journal::Loaded;
use abboot::machine::{self, Refusal};
use abboot::state::{BootState, ImageState, Slot};
use abboot::status::Status;
use abboot::Control;
use clap::Args;
use serde::Serialize;

use crate::inspect::{events_text, field, reason_text, tag_text, to_json};
use crate::journal_file::{self, Access, JournalArgs, JournalTask, Opened};
use crate::num::{self, hex};
use crate::{Error, Report};

/// The metadata the control commands work on.
#[derive(Debug, Args)]
pub struct MetadataFile {
    /// The metadata: a block device holding the journal (/dev/mmcblk0p3,
    /// /dev/mtdblock2; not a raw /dev/mtdN), or a dump of it.
    #[arg(long, value_name = "FILE")]
    pub metadata: PathBuf,
    #[command(flatten)]
    pub journal: JournalArgs,
}

/// `abboot status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: MetadataFile,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `abboot mark-bad`.
#[derive(Debug, Args)]
pub struct MarkBadArgs {
    /// Firmware reason code, 0..=127, kept as the last reason.
    #[arg(long, value_parser = reason_value, value_name = "N")]
    pub reason: u8,
    #[command(flatten)]
    pub target: MetadataFile,
}

/// `abboot set-tries`.
#[derive(Debug, Args)]
pub struct SetTriesArgs {
    /// Trial boots the unconfirmed image gets from now, 1..=255.
    #[arg(value_parser = tries_value, value_name = "N")]
    pub tries: u8,
    #[command(flatten)]
    pub target: MetadataFile,
}

/// A firmware reason code: 7 bits, as the record stores it.
fn reason_value(text: &str) -> Result<u8, String> {
    u8_in(text, 0..=127, "a firmware reason code")
}

/// A number of trial boots.
fn tries_value(text: &str) -> Result<u8, String> {
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

/// Reads the journal as a boot does.
struct Read;

impl JournalTask for Read {
    type Output = Loaded;

    fn run<const ERASE: usize>(self, mut opened: Opened<ERASE>) -> Result<Loaded, Error> {
        Ok(opened.journal.read())
    }
}

#[derive(Serialize)]
struct StatusJson<'a> {
    file: String,
    /// `"valid"`, `"blank"` (both sectors erased) or `"invalid"` (no valid
    /// record: not a journal, or the wrong sector size or offset).
    metadata: &'static str,
    /// Sequence number of the record read, when there is one.
    seq: Option<u32>,
    /// What `Status::to_json` gives, field for field.
    #[serde(flatten)]
    status: &'a Status,
    data_restore_needed: bool,
}

/// Shows the status record of the state on flash.
pub fn status(a: &StatusArgs) -> Result<Report, Error> {
    let t = &a.target;
    let loaded = journal_file::open(&t.metadata, &t.journal, Access::Read, Read)?;
    let state = loaded.record.as_ref().map(|r| r.state.clone());
    let status = Status::from_state(&state.unwrap_or_default());
    let metadata = match (&loaded.record, loaded.blank) {
        (Some(_), _) => "valid",
        (None, true) => "blank",
        (None, false) => "invalid",
    };
    if a.json {
        return to_json(&StatusJson {
            file: t.metadata.display().to_string(),
            metadata,
            seq: loaded.record.as_ref().map(|r| r.seq),
            status: &status,
            data_restore_needed: status.data_restore_needed(),
        });
    }
    let file = t.metadata.display();
    let r = match &loaded.record {
        Some(r) => r,
        None if loaded.blank => {
            return Ok(format!(
                "{file}: blank metadata: both journal sectors are erased (a factory device); \
                 no state is recorded yet\n"
            ))
        }
        None => {
            let f = &loaded.findings;
            return Ok(format!(
                "{file}: no valid record ({} invalid, {} unreadable positions where a device \
                 looks): not an abboot journal, or the wrong --sector-size or --offset\n",
                f.invalid, f.unreadable
            ));
        }
    };
    let mut s = format!("{file}: record seq {}\n", r.seq);
    status_text(&mut s, &status);
    Ok(s)
}

fn status_text(s: &mut String, st: &Status) {
    let mut line = |k: &str, v: String| field(s, k, v);
    let version = |v: Option<abboot::Version>| v.map_or("none".to_string(), |v| v.to_string());
    let digest = |d: Option<[u8; 32]>| d.map_or("none".to_string(), |d| hex(&d));
    line(
        "running",
        match st.running {
            Some(slot) => format!("slot {slot}, version {}", version(st.installed_version)),
            None => "none".to_string(),
        },
    );
    line("running digest", digest(st.installed_digest));
    line(
        "update",
        match st.target_version {
            Some(v) => format!("{:?}, version {v}", st.update),
            None => format!("{:?}", st.update),
        },
    );
    line(
        "trial",
        if st.trial { "yes, not confirmed" } else { "no" }.to_string(),
    );
    line("tries left", st.tries_left.to_string());
    line("failures", st.failure_count.to_string());
    line("last reason", reason_text(st.last_reason));
    line(
        "failed check",
        st.last_check_error
            .map_or("none".to_string(), |e| e.to_string()),
    );
    line("rejected digest", digest(st.rejected_digest));
    line("update tag", tag_text(&st.update_tag));
    line("min security counter", st.min_security_counter.to_string());
    line(
        "data epoch",
        format!(
            "{} (the running image expects {})",
            st.data_epoch, st.running_data_epoch
        ),
    );
    line(
        "data restore needed",
        if st.data_restore_needed() {
            "yes: the data is ahead of the running image; restore its backup"
        } else {
            "no"
        }
        .to_string(),
    );
    events_text(s, st.events.iter());
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

/// Applies an [`Op`] through [`Control`].
struct Change(Op);

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
        } = opened;
        let before = journal.read();
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
pub fn confirm(a: &MetadataFile) -> Result<Report, Error> {
    change(a, Op::Confirm)
}

/// Rejects the image on trial with a firmware reason code.
pub fn mark_bad(a: &MarkBadArgs) -> Result<Report, Error> {
    change(&a.target, Op::MarkBad(a.reason))
}

/// Gives the unconfirmed image more trial boots.
pub fn set_tries(a: &SetTriesArgs) -> Result<Report, Error> {
    change(&a.target, Op::SetTries(a.tries))
}

/// Drops a staged update that has not booted.
pub fn abort(a: &MetadataFile) -> Result<Report, Error> {
    change(a, Op::Abort)
}

fn change(t: &MetadataFile, op: Op) -> Result<Report, Error> {
    let file = &t.metadata;
    let Changed { before, after } =
        journal_file::open(file, &t.journal, Access::Write, Change(op))?;
    let old = before
        .record
        .as_ref()
        .map(|r| r.state.clone())
        .unwrap_or_default();
    match after {
        Ok(new) => Ok(done_text(op, &old, &new)),
        Err(abboot::Error::Refused(Refusal::AlreadyConfirmed)) if op == Op::Confirm => {
            let running = machine::running_slot(&old).map(|s| image(&old, s));
            Ok(format!(
                "already confirmed: {} runs confirmed; nothing changed\n",
                running.unwrap_or_else(|| "the primary".to_string())
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
    match (&before.record, before.blank) {
        (Some(_), _) => "",
        (None, true) => " (the metadata is blank: no state is recorded yet)",
        (None, false) => {
            " (the metadata holds no valid record: not an abboot journal, or the wrong \
             --sector-size or --offset)"
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
                None => "no confirmed image (recovery)".to_string(),
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
