//! `abboot inspect image` and `abboot inspect metadata`: what a file holds,
//! valid or not, as text or JSON.
//!
//! Inspection reports damage instead of failing on it: a metadata dump full
//! of garbage is listed position by position, and the state shown is the
//! one the journal code, the same a device runs, reads from it.

use std::fmt::Write as _;
use std::path::PathBuf;

use abboot::flash::Region;
use abboot::image::header::{ImageHeader, FIXED_LEN};
use abboot::image::signed::read_header;
use abboot::journal::{Content, Findings, Position};
use abboot::record::{DecodeError, Record, RECORD_SIZE};
use abboot::state::{BootEvent, BootState, ImageState, Reason, SlotInfo};
use abboot::{Slot, Version};
use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{self, MetadataArgs as Where};
use crate::journal_file::{self, Access, JournalTask, Opened};
use crate::mem::MemFlash;
use crate::num::hex;
use crate::output::read_input;
use crate::{Error, Report};

/// `abboot inspect image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The signed image.
    #[arg(long = "image", value_name = "SIGNED.bin")]
    pub file: PathBuf,
}

/// `abboot inspect metadata`: the metadata as the other commands take it
/// (a dump of the sectors, or of the whole flash with --offset, or a
/// block device).
#[derive(Debug, Args)]
pub struct InspectMetadataArgs {
    #[command(flatten)]
    pub journal: Where,
}

// ---------------------------------------------------------------- image

#[derive(Serialize)]
struct ImageJson {
    file: String,
    file_len: u64,
    header: HeaderJson,
    payload: PayloadJson,
    /// Bytes in the file after the image; a device never reads them.
    trailing_bytes: u64,
    /// The signature needs a key: `abboot verify` checks it.
    signature_checked: bool,
}

#[derive(Serialize)]
struct HeaderJson {
    flags: u16,
    header_len: u32,
    payload_len: u32,
    version: Version,
    version_text: String,
    security_counter: u32,
    hardware_id: u32,
    load_address: u32,
    data_epoch: u16,
    payload_digest: String,
    key_id: String,
    signature: String,
    /// Padding bytes (after the fixed header) that are not 0xFF; unsigned
    /// and ignored, but a signing tool writes 0xFF.
    padding_not_ff: u64,
}

#[derive(Serialize)]
struct PayloadJson {
    /// `"match"`, `"mismatch"` or `"truncated"`.
    status: &'static str,
    matches: bool,
    /// SHA-256 of the payload bytes in the file, when they are all there.
    actual_digest: Option<String>,
    /// Payload bytes present in the file.
    present: u64,
}

/// Shows an image's header and checks its payload digest.
pub fn image(a: &ImageArgs) -> Result<Report, Error> {
    let bytes = read_input(&a.file)?;
    let file_len =
        u32::try_from(bytes.len()).map_err(|_| Error::file(&a.file, "is larger than 4 GiB"))?;
    let mut flash = MemFlash::new(&bytes, 0);
    let h = read_header(&mut flash, Region::new(0, file_len)).map_err(|e| {
        let extra = if (file_len as usize) < FIXED_LEN {
            format!(" (the file has {file_len} bytes, the fixed header {FIXED_LEN})")
        } else {
            String::new()
        };
        Error::file(&a.file, format_args!("{e}{extra}"))
    })?;

    let start = h.header_len as usize;
    let end = start.saturating_add(h.payload_len as usize);
    let payload = bytes.get(start..end);
    let actual: Option<[u8; 32]> = payload.map(|p| Sha256::digest(p).into());
    let matches = actual == Some(h.payload_digest);
    let status = match actual {
        None => "truncated",
        Some(_) if matches => "match",
        Some(_) => "mismatch",
    };
    let present = bytes
        .len()
        .saturating_sub(start)
        .min(h.payload_len as usize) as u64;
    let padding = bytes.get(FIXED_LEN..start.min(bytes.len())).unwrap_or(&[]);
    let json = ImageJson {
        file: a.file.display().to_string(),
        file_len: u64::from(file_len),
        header: header_json(&h, padding),
        payload: PayloadJson {
            status,
            matches,
            actual_digest: actual.map(|d| hex(&d)),
            present,
        },
        trailing_bytes: (bytes.len() as u64).saturating_sub(end as u64),
        signature_checked: false,
    };
    let hd = &json.header;
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "{k:<18}{v}");
    };
    line("file", format!("{} ({file_len} bytes)", a.file.display()));
    line("header length", format!("0x{:x}", hd.header_len));
    line(
        "payload length",
        format!("{} (0x{:x})", hd.payload_len, hd.payload_len),
    );
    line("version", hd.version_text.clone());
    line("security counter", hd.security_counter.to_string());
    line("hardware id", format!("0x{:08x}", hd.hardware_id));
    line("load address", format!("0x{:08x}", hd.load_address));
    line("data epoch", hd.data_epoch.to_string());
    line("payload sha256", hd.payload_digest.clone());
    line("key id", hd.key_id.clone());
    line("signature", hd.signature.clone());
    if hd.padding_not_ff > 0 {
        line(
            "padding",
            format!(
                "{} bytes are not 0xFF (unsigned, ignored)",
                hd.padding_not_ff
            ),
        );
    }
    line(
        "payload digest",
        match (status, &json.payload.actual_digest) {
            ("match", _) => "matches".to_string(),
            (_, Some(d)) => format!("MISMATCH: the payload hashes to {d}"),
            _ => format!(
                "file truncated: {present} of {} payload bytes present",
                hd.payload_len
            ),
        },
    );
    if json.trailing_bytes > 0 {
        line(
            "trailing bytes",
            format!("{} after the image (not part of it)", json.trailing_bytes),
        );
    }
    line(
        "signature check",
        "not done here; use abboot verify with the public key".to_string(),
    );
    Ok(Report::of(s, &json))
}

fn header_json(h: &ImageHeader, padding: &[u8]) -> HeaderJson {
    HeaderJson {
        flags: h.flags,
        header_len: h.header_len,
        payload_len: h.payload_len,
        version: h.version,
        version_text: h.version.to_string(),
        security_counter: h.security_counter,
        hardware_id: h.hardware_id,
        load_address: h.load_address,
        data_epoch: h.data_epoch,
        payload_digest: hex(&h.payload_digest),
        key_id: hex(&h.key_id),
        signature: hex(&h.signature),
        padding_not_ff: padding.iter().filter(|&&b| b != 0xFF).count() as u64,
    }
}

// ---------------------------------------------------------------- metadata

#[derive(Serialize)]
struct MetadataJson {
    file: String,
    sector_size: u32,
    sectors: [u32; 2],
    positions_per_sector: u32,
    positions: Vec<PositionJson>,
    /// What a device reads from this journal.
    current: CurrentJson,
    /// Why the geometry given disagrees with the flash, or null.
    geometry_mismatch: Option<String>,
}

#[derive(Serialize)]
struct PositionJson {
    sector: u8,
    index: u32,
    offset: u32,
    /// `"valid"`, `"blank"`, `"invalid"` or `"unreadable"`.
    status: &'static str,
    seq: Option<u32>,
    /// Why the bytes are not a record (`Blank` for erased flash).
    reason: Option<DecodeError>,
    /// The reason in words.
    detail: Option<&'static str>,
    /// Whether this is the record a device takes as current.
    current: bool,
}

#[derive(Serialize)]
struct CurrentJson {
    /// Both sectors erased: a factory device.
    blank: bool,
    findings: Findings,
    /// The newest valid record, or null.
    record: Option<Record>,
}

/// Lists every journal position of a dump and the state it holds.
pub fn metadata(a: &InspectMetadataArgs) -> Result<Report, Error> {
    let m = config::metadata(&a.journal)?;
    journal_file::open(&m, Access::Read, Inspect(&m))
}

/// `inspect metadata` as a task on the opened journal.
struct Inspect<'a>(&'a config::Metadata);

impl JournalTask for Inspect<'_> {
    type Output = Report;

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Report, Error> {
        let m = self.0;
        let Opened {
            mut journal,
            geometry,
            scan,
        } = opened;
        let mut positions = Vec::new();
        journal.inspect(|p| positions.push(p));
        let loaded = journal.read();
        let current_at = loaded.record.as_ref().and_then(|r| {
            positions
                .iter()
                .position(|p| matches!(&p.content, Content::Valid(v) if v == r))
        });

        let json = MetadataJson {
            file: m.path.display().to_string(),
            sector_size: m.sector_size.value,
            sectors: geometry.sectors.map(|r| r.offset),
            positions_per_sector: journal.records_per_sector(),
            positions: positions
                .iter()
                .enumerate()
                .map(|(i, p)| position_json(p, current_at == Some(i)))
                .collect(),
            current: CurrentJson {
                blank: loaded.blank(),
                findings: loaded.findings,
                record: loaded.record,
            },
            geometry_mismatch: scan
                .err()
                .map(|e| format!("{e} ({})", journal_file::fix_hint(&e, m))),
        };
        Ok(Report::of(metadata_text(&json), &json))
    }
}

fn position_json(p: &Position, current: bool) -> PositionJson {
    let (status, seq, reason) = match &p.content {
        Content::Valid(r) => ("valid", Some(r.seq), None),
        Content::Invalid(DecodeError::Blank) => ("blank", None, Some(DecodeError::Blank)),
        Content::Invalid(e) => ("invalid", None, Some(*e)),
        Content::Foreign(r) => ("foreign", Some(r.seq), None),
        Content::Damaged => ("damaged", None, None),
        Content::Unreadable => ("unreadable", None, None),
    };
    PositionJson {
        sector: p.sector,
        index: p.index,
        offset: p.offset,
        status,
        seq,
        reason,
        detail: reason.map(decode_detail),
        current,
    }
}

fn decode_detail(e: DecodeError) -> &'static str {
    match e {
        DecodeError::Blank => "erased (all 0xFF)",
        DecodeError::BadMagic => "not a record (no ABBT magic)",
        DecodeError::UnsupportedFormat => "a record format this build does not read",
        DecodeError::BadCrc => "CRC mismatch: torn, corrupt or random bytes",
        DecodeError::BadField => "CRC matches but a field is out of range",
    }
}

fn metadata_text(m: &MetadataJson) -> String {
    let mut s = format!(
        "{}: journal of 2 sectors of 0x{:x} bytes at 0x{:x} and 0x{:x}, {} positions each\n",
        m.file, m.sector_size, m.sectors[0], m.sectors[1], m.positions_per_sector
    );
    for sector in 0..2u8 {
        let _ = writeln!(s, "sector {sector} (0x{:08x}):", m.sectors[sector as usize]);
        let list: Vec<&PositionJson> = m.positions.iter().filter(|p| p.sector == sector).collect();
        // Runs of erased positions collapse into one line: a 128K sector
        // has 512 positions, mostly blank.
        let mut i = 0;
        while i < list.len() {
            let p = list[i];
            if p.status == "blank" {
                let run = list[i..].iter().take_while(|q| q.status == "blank").count();
                let last = list[i + run - 1];
                let _ = if run == 1 {
                    writeln!(s, "  #{:<4} 0x{:08x}  blank", p.index, p.offset)
                } else {
                    writeln!(
                        s,
                        "  #{}..#{} 0x{:08x}..0x{:08x}  blank ({run} positions)",
                        p.index,
                        last.index,
                        p.offset,
                        last.offset + RECORD_SIZE as u32
                    )
                };
                i += run;
                continue;
            }
            let what = match (p.status, p.seq, p.detail) {
                ("valid", Some(seq), _) => format!("valid    seq {seq}"),
                ("unreadable", ..) => "unreadable (flash read error)".to_string(),
                (status, _, detail) => format!("{status:<8} {}", detail.unwrap_or("")),
            };
            let mark = if p.current { "  <- current" } else { "" };
            let _ = writeln!(s, "  #{:<4} 0x{:08x}  {what}{mark}", p.index, p.offset);
            i += 1;
        }
    }
    if let Some(g) = &m.geometry_mismatch {
        let _ = writeln!(
            s,
            "WARNING: {g}; the positions above may not be this journal's"
        );
    }
    let f = &m.current.findings;
    let count = |st: &str| m.positions.iter().filter(|p| p.status == st).count();
    let _ = writeln!(
        s,
        "positions: {} valid, {} invalid, {} unreadable, {} blank",
        count("valid"),
        count("invalid"),
        count("unreadable"),
        count("blank")
    );
    match &m.current.record {
        None if m.current.blank => {
            s += "current state: none, both sectors are erased (a factory device)\n";
        }
        None => {
            let _ = writeln!(
                s,
                "current state: none, no valid record ({} invalid, {} unreadable positions \
                 where a device looks)",
                f.invalid, f.unreadable
            );
        }
        Some(r) => {
            let _ = writeln!(s, "current state (what a device reads): seq {}", r.seq);
            state_text(&mut s, &r.state);
        }
    }
    s
}

fn state_text(s: &mut String, st: &BootState) {
    let slot = slot_name;
    let mut line = |k: &str, v: String| field(s, k, v);
    line("primary", slot(st.primary));
    line("rollback", slot(st.rollback));
    line("update", format!("{:?}", st.update));
    line("last reason", reason_text(st.last_reason));
    line("failures", st.failure_count.to_string());
    line("data epoch", st.data_epoch.to_string());
    line("min security counter", st.min_security_counter.to_string());
    line(
        "rejected digest",
        st.rejected_digest.map_or("none".to_string(), |d| hex(&d)),
    );
    line("update tag", tag_text(&st.update_tag));
    for which in Slot::ALL {
        let info = st.slot(which);
        line(&format!("slot {which}"), slot_text(info));
        if info.state != ImageState::Empty {
            line("", format!("digest {}", hex(&info.digest)));
        }
    }
    events_text(s, st.events.iter());
}

/// One line of a state listing: `  KEY   VALUE`.
pub fn field(s: &mut String, key: &str, value: String) {
    let _ = writeln!(s, "  {key:<22}{value}");
}

/// The boot events of a state listing, oldest first.
pub fn events_text(s: &mut String, events: impl ExactSizeIterator<Item = BootEvent>) {
    if events.len() == 0 {
        field(s, "events", "none".to_string());
    }
    for (i, e) in events.enumerate() {
        let key = if i == 0 { "events (oldest first)" } else { "" };
        field(s, key, event_text(&e));
    }
}

/// One boot event in words.
/// A field this build does not know (an event a later abboot wrote) is
/// shown as its byte.
fn event_text(e: &BootEvent) -> String {
    let [kind, slot, reason, _] = e.to_bytes();
    let unknown = |b: u8| format!("unknown ({b:#04x})");
    format!(
        "{}, slot {}, reason {}, tries {}",
        e.kind().map_or_else(|| unknown(kind), |k| format!("{k:?}")),
        match e.slot() {
            _ if slot == 0xFF => slot_name(None),
            Some(x) => slot_name(Some(x)),
            None => unknown(slot),
        },
        e.reason().map_or_else(|| unknown(reason), reason_text),
        e.tries()
    )
}

/// A slot, or `none`.
pub fn slot_name(slot: Option<Slot>) -> String {
    slot.map_or("none".to_string(), |s| s.to_string())
}

fn slot_text(info: &SlotInfo) -> String {
    let state = match info.state {
        ImageState::Empty => return "empty".to_string(),
        ImageState::Pending { tries } => format!("pending, {tries} tries left"),
        ImageState::Trial { tries } => format!("on trial, {tries} tries left"),
        ImageState::Confirmed => "confirmed".to_string(),
        ImageState::Rejected => "rejected".to_string(),
    };
    format!(
        "{state}, version {}, security counter {}, data epoch {}, {} boots",
        info.version, info.security_counter, info.data_epoch, info.attempts
    )
}

/// A reason in words.
pub fn reason_text(r: Reason) -> String {
    match r {
        Reason::None => "none".to_string(),
        Reason::App(code) => format!("firmware reason {code}"),
        other => format!("{other:?}"),
    }
}

/// An update tag: quoted text, or hex when it is not printable text.
pub fn tag_text(tag: &[u8]) -> String {
    if tag.is_empty() {
        return "none".to_string();
    }
    match std::str::from_utf8(tag) {
        Ok(t) if t.chars().all(|c| !c.is_control()) => format!("{t:?}"),
        _ => format!("0x{}", hex(tag)),
    }
}
