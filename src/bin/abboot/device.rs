//! The commands that need the slots too: `init`, `stage`, `mark-active`
//! and `select`, on the metadata and the two slot partitions (or files) of
//! a Linux device, with the code a device runs ([`Updater`],
//! [`Bootloader`], the journal) and the image check a bootloader makes
//! ([`SignedCheck`] with the trusted keys and board profile).
//!
//! Every one of them holds the writers' lock and refuses a geometry that
//! disagrees with the flash before it changes anything (see
//! [`journal_file`]).

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use abboot::flash::Region;
use abboot::image::header::{ImageHeader, FIXED_LEN};
use abboot::image::signed::{read_header, SignedCheck, TrustedKey, TrustedKeys};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::journal::{Journal, Loaded};
use abboot::machine;
use abboot::sim::file::FileFlash;
use abboot::state::{BootState, ImageState, Reason, Slot, SlotInfo, UpdateState};
use abboot::status::Status;
use abboot::{Bootloader, Layout, Policy, StageOptions, Updater};
use clap::Args;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use serde_json::json;

use crate::config::{self, Metadata, MetadataArgs, SlotArgs, Slots};
use crate::control::{next_boot, outcome_text, slot_state_text, status_value, tries_value};
use crate::inspect::reason_text;
use crate::journal_file::{self, Access, JournalTask, Opened};
use crate::mem::MemFlash;
use crate::num::hex;
use crate::slots::{SlotFlash, SLOT_ERASE};
use crate::verify;
use crate::{Error, Report, SlotArg};

/// `abboot init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub metadata: MetadataArgs,
    #[command(flatten)]
    pub slots: SlotArgs,
    /// Trial boots for the newer image when both slots hold valid images
    /// of different versions (it was never confirmed).
    #[arg(long, value_parser = tries_value, default_value = "3", value_name = "N")]
    pub tries: u8,
    /// Replace what the metadata holds: a state, or anything else that is
    /// not blank (without it, init writes only over blank metadata).
    #[arg(long)]
    pub force: bool,
    /// The slot the system runs from (from the kernel command line): its
    /// image becomes the confirmed primary and the other slot's, if it
    /// verifies, the confirmed way back. Without it, the older image is
    /// the primary and a newer one is tried: the running slot is guessed
    /// from the versions.
    #[arg(long, value_enum, value_name = "SLOT")]
    pub running: Option<SlotArg>,
}

/// `abboot stage`.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// The signed image (from abboot sign): a file or a pipe (/dev/stdin),
    /// read whole and checked for the target slot before anything is
    /// erased.
    #[arg(long, value_name = "SIGNED.bin")]
    pub image: PathBuf,
    /// Trial boots the image gets before it is rolled back.
    #[arg(long, value_parser = tries_value, default_value = "3", value_name = "N")]
    pub tries: u8,
    /// The slot the system runs from (from the kernel command line), when
    /// the state on flash does not say.
    #[arg(long, value_enum, value_name = "SLOT")]
    pub running: Option<SlotArg>,
    /// Opaque tag kept with the update (a request id), up to 36 bytes.
    #[arg(long, default_value = "", value_name = "TEXT")]
    pub tag: String,
    /// Stage even an image rejected before, or a lower version.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub metadata: MetadataArgs,
    #[command(flatten)]
    pub slots: SlotArgs,
}

/// `abboot mark-active`.
#[derive(Debug, Args)]
pub struct MarkActiveArgs {
    /// The slot to boot next.
    #[arg(long, value_enum, value_name = "SLOT")]
    pub slot: SlotArg,
    /// Trial boots, when the slot's image is not confirmed.
    #[arg(long, value_parser = tries_value, default_value = "1", value_name = "N")]
    pub tries: u8,
    /// Arm an image that was rolled back before (its digest is the one
    /// the state remembers as rejected).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub metadata: MetadataArgs,
    #[command(flatten)]
    pub slots: SlotArgs,
}

/// `abboot select`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub metadata: MetadataArgs,
    #[command(flatten)]
    pub slots: SlotArgs,
}

/// The image check of the configured keys and board.
fn check<'k>(keys: &'k [TrustedKey], slots: &Slots) -> SignedCheck<'k> {
    SignedCheck::new(TrustedKeys::new(keys), slots.profile)
}

fn layout(geometry: abboot::journal::Geometry, sf: &SlotFlash, slots: &Slots) -> Layout {
    // The metadata is a file or partition of its own, never inside a slot.
    Layout::new(geometry, sf.regions())
        .on_separate_parts()
        .slots_erased_to(slots.erased)
}

// ---------------------------------------------------------------- init

struct Init<'a> {
    path: &'a Path,
    slots: &'a Slots,
    tries: u8,
    force: bool,
    running: Option<Slot>,
    /// Where the erased value was given, for a hint.
    erased_setting: String,
}

/// What the journal sectors hold besides the erased value.
struct Unerased {
    /// Bytes that do not read as the erased value.
    count: u64,
    /// Offset of the first of them.
    first: u32,
    /// Whether every byte of the sectors reads as the *other* erased
    /// value (a part that erases to it, declared wrong).
    other_erased: bool,
}

/// Reads both journal sectors whole: `None` when every byte reads erased.
fn unerased<F: ReadNorFlash>(
    flash: &mut F,
    geometry: &abboot::journal::Geometry,
) -> Result<Option<Unerased>, F::Error> {
    let erased = geometry.erased;
    let other = !erased;
    let mut found: Option<Unerased> = None;
    let mut all_other = true;
    let mut buf = vec![0u8; 4096];
    for sector in geometry.sectors {
        let mut at = sector.offset;
        let end = sector.offset + sector.len;
        while at < end {
            let n = (end - at).min(buf.len() as u32);
            let chunk = &mut buf[..n as usize];
            flash.read(at, chunk)?;
            all_other &= chunk.iter().all(|&b| b == other);
            for (i, &b) in chunk.iter().enumerate() {
                if b != erased {
                    let u = found.get_or_insert(Unerased {
                        count: 0,
                        first: at + i as u32,
                        other_erased: false,
                    });
                    u.count += 1;
                }
            }
            at += n;
        }
    }
    Ok(found.map(|u| Unerased {
        other_erased: all_other,
        ..u
    }))
}

struct Initialised {
    before: Loaded,
    state: BootState,
    seq: u32,
    checks: [Result<ImageInfo, ImageError>; 2],
}

impl JournalTask for Init<'_> {
    type Output = Initialised;

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Initialised, Error> {
        let Opened {
            mut journal,
            geometry,
            ..
        } = opened;
        let before = journal.read();
        if let (Some(r), false) = (&before.record, self.force) {
            return Err(Error::file(
                self.path,
                format_args!(
                    "already holds a state (record seq {}); init would replace it (--force); \
                     nothing changed",
                    r.seq
                ),
            ));
        }
        let mut flash = journal.into_inner();
        if before.record.is_none() && !self.force {
            // Not a state, but not blank either: a wrong file or partition,
            // or data init would destroy. Only blank metadata is init's to
            // take without being told.
            let found = unerased(&mut flash, &geometry)
                .map_err(|e| Error::file(self.path, format_args!("cannot read: {e}")))?;
            if let Some(u) = found {
                let [a, b] = geometry.sectors;
                let hint = if u.other_erased {
                    format!(
                        " (every byte reads 0x{:02x}: if the part erases to that, say so with {})",
                        !geometry.erased, self.erased_setting
                    )
                } else {
                    String::new()
                };
                return Err(Error::file(
                    self.path,
                    format_args!(
                        "is not blank and holds no abboot state (not an abboot journal): {} of \
                         the journal sectors (0x{:x} and 0x{:x}, 0x{:x} bytes each) {} not the \
                         erased value 0x{:02x}, the first at 0x{:x}{hint}; init would erase {}: \
                         give --force if that is meant; nothing changed",
                        if u.count == 1 {
                            "1 byte".to_string()
                        } else {
                            format!("{} bytes", u.count)
                        },
                        a.offset,
                        b.offset,
                        a.len,
                        if u.count == 1 { "is" } else { "are" },
                        geometry.erased,
                        u.first,
                        if u.count == 1 { "it" } else { "them" },
                    ),
                ));
            }
        }
        let mut sf = SlotFlash::open(self.slots, false)?;
        let keys = self.slots.keys.clone();
        let mut c = check(&keys, self.slots);
        let regions = sf.regions();
        let checks = [Slot::A, Slot::B].map(|s| c.check(&mut sf, s, regions[s.index()]));
        if checks.iter().all(Result::is_err) {
            let why = |s: Slot| match &checks[s.index()] {
                Err(e) => format!("slot {s} ({}): {e}", self.slots.files[s.index()].display()),
                Ok(_) => String::new(),
            };
            return Err(Error::file(
                &self.slots.files[0],
                format_args!(
                    "neither slot holds an image that verifies, so there is nothing to boot: {}; \
                     {}; nothing changed",
                    why(Slot::A),
                    why(Slot::B)
                ),
            ));
        }
        let state = match self.running {
            None => machine::fresh([checks[0].ok(), checks[1].ok()], self.tries),
            Some(r) => {
                let file = &self.slots.files[r.index()];
                let running = checks[r.index()].map_err(|e| {
                    Error::file(
                        file,
                        format_args!(
                            "slot {r}, given as the running slot, does not verify: {e}; nothing \
                             changed"
                        ),
                    )
                })?;
                let mut infos = [None, None];
                infos[r.index()] = Some(running);
                let mut st = machine::fresh(infos, self.tries);
                // The other image, if it verifies within the floor, is the
                // way back: confirmed, never tried as an update.
                let o = r.other();
                if let Ok(other) = checks[o.index()] {
                    if other.security_counter >= st.min_security_counter {
                        *st.slot_mut(o) = SlotInfo {
                            state: ImageState::Confirmed,
                            version: other.version,
                            digest: other.digest,
                            attempts: 0,
                            security_counter: other.security_counter,
                            data_epoch: other.data_epoch,
                        };
                        st.rollback = Some(o);
                    }
                }
                st
            }
        };
        for s in geometry.sectors {
            flash.erase(s.offset, s.offset + s.len).map_err(|e| {
                Error::file(self.path, format_args!("cannot erase the journal: {e}"))
            })?;
        }
        let mut journal = Journal::new(flash, geometry).map_err(|e| {
            Error::file(
                self.path,
                format_args!(
                    "journal: {}",
                    abboot::Error::Layout(abboot::error::LayoutError::Metadata(e))
                ),
            )
        })?;
        let seq = journal.append(&state).map_err(|e| {
            Error::file(
                self.path,
                format_args!("cannot write the state: {}", abboot::Error::from(e)),
            )
        })?;
        match journal.read().record {
            Some(r) if r.state == state => {}
            _ => {
                return Err(Error::file(
                    self.path,
                    "the state did not read back as written; the metadata may be blank (the \
                     bootloader then decides from the images)",
                ))
            }
        }
        Ok(Initialised {
            before,
            state,
            seq,
            checks,
        })
    }
}

/// Writes a fresh state for the images in the slots.
pub fn init(a: &InitArgs) -> Result<Report, Error> {
    let (m, slots) = config::device(&a.metadata, &a.slots)?;
    let out = journal_file::open(
        &m,
        Access::Init,
        Init {
            path: &m.path,
            slots: &slots,
            tries: a.tries,
            force: a.force,
            running: a.running.map(Slot::from),
            erased_setting: m.erased.source.name(),
        },
    )?;
    let st = &out.state;
    let mut text = format!(
        "initialised {}: record seq {}{}\n",
        m.path.display(),
        out.seq,
        if out.before.record.is_some() {
            " (the state before was replaced)"
        } else {
            ""
        }
    );
    for s in Slot::ALL {
        let line = match &out.checks[s.index()] {
            Ok(i) => format!(
                "verifies, version {}, {}",
                i.version,
                slot_state_text(st, s)
            ),
            Err(e) => format!("no bootable image ({e})"),
        };
        text += &format!("  slot {s}: {line}\n");
    }
    let (next, _) = next_boot(st);
    text += &format!(
        "  next boot: {}\n",
        next.map_or("none (recovery)".to_string(), |s| format!("slot {s}"))
    );
    let images: Vec<serde_json::Value> = out
        .checks
        .iter()
        .map(|c| match c {
            Ok(i) => json!({"verifies": true, "version": i.version.to_string(), "digest": hex(&i.digest)}),
            Err(e) => json!({"verifies": false, "error": e.to_string()}),
        })
        .collect();
    Ok(Report::new(
        text,
        json!({
            "command": "init",
            "file": m.path.display().to_string(),
            "seq": out.seq,
            "replaced": out.before.record.is_some(),
            "images": {"A": images[0], "B": images[1]},
            "next_boot": next,
            "status": status_value(&Status::from_state(st)),
        }),
    ))
}

// ---------------------------------------------------------------- stage

/// Bytes written (and read back) per step.
const CHUNK: usize = 64 * 1024;

struct Stage<'a> {
    path: &'a Path,
    a: &'a StageArgs,
    slots: &'a Slots,
    /// The whole image, read before the lock was taken.
    image: Vec<u8>,
}

struct Staged {
    slot: Slot,
    info: ImageInfo,
    state: BootState,
}

impl JournalTask for Stage<'_> {
    type Output = Staged;

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Staged, Error> {
        let Stage {
            path,
            a,
            slots,
            image,
        } = self;
        let Opened {
            journal, geometry, ..
        } = opened;
        let sf = SlotFlash::open(slots, true)?;
        let layout = layout(geometry, &sf, slots);
        let regions = sf.regions();
        let keys = slots.keys.clone();
        let meta_err = |e: abboot::Error| Error::file(path, e);
        let refused = |e: abboot::Error| match e {
            abboot::Error::Image(e) => {
                Error::file(&a.image, format_args!("refused: {e}; nothing changed"))
            }
            abboot::Error::Refused(machine::Refusal::RunningSlotUnknown) => Error::file(
                path,
                "holds no state that says which slot runs: give it with --running a|b (from \
                 the kernel command line), or run abboot init; nothing changed",
            ),
            abboot::Error::Refused(r) => {
                Error::file(&a.image, format_args!("refused: {r}; nothing changed"))
            }
            e => meta_err(e),
        };
        let mut up = Updater::new(journal.into_inner(), sf, layout, check(&keys, slots))
            .map_err(meta_err)?;
        if let Some(r) = a.running {
            up = up.running(r.into());
        }
        let target_file = |s: Slot| &slots.files[s.index()];
        let target = up.target().map_err(refused)?;
        // The whole image, checked as the bootloader will check it in the
        // target slot (header, signature, payload digest, fit, hardware
        // id, load address) before that slot, which may hold the fallback
        // image, is erased.
        let region = regions[target.index()];
        check_in_memory(&image, target, region.len, slots, &keys).map_err(|why| {
            Error::file(
                &a.image,
                format_args!(
                    "refused: {why} (the bootloader's check for slot {target}); nothing changed"
                ),
            )
        })?;
        let total = image.len() as u64;
        // Refusals of the state (known bad, downgrade, already installed)
        // come before anything is written too.
        let target = up
            .stage_begin(&StageOptions {
                tries: a.tries,
                tag: a.tag.as_bytes(),
                force: a.force,
                expected_digest: None,
                header: Some(&image),
            })
            .map_err(refused)?;
        let mut readback = FileFlash::<1, SLOT_ERASE>::open_read_only(target_file(target))
            .map_err(|e| Error::file(target_file(target), format_args!("cannot read: {e}")))?;
        let bar = progress(total);
        let mut back = vec![0u8; CHUNK];
        let mut done: u64 = 0;
        for chunk in image.chunks(CHUNK) {
            let n = chunk.len();
            up.stage_write(done as u32, chunk).map_err(|e| {
                Error::file(
                    target_file(target),
                    format_args!("cannot write slot {target}: {e}"),
                )
            })?;
            readback.read(done as u32, &mut back[..n]).map_err(|e| {
                Error::file(target_file(target), format_args!("cannot read back: {e}"))
            })?;
            if back[..n] != *chunk {
                let _ = up.abort();
                return Err(Error::file(
                    target_file(target),
                    format_args!(
                        "slot {target} did not read back as written at byte {done}; the update is \
                         dropped"
                    ),
                ));
            }
            done += n as u64;
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let info = up.stage_finish(a.tries).map_err(|e| match e {
            abboot::Error::Image(e) => Error::file(
                &a.image,
                format_args!("written to slot {target} but does not verify from there: {e}; the slot is marked failed"),
            ),
            abboot::Error::Refused(r) => Error::file(&a.image, format_args!("refused: {r}")),
            e => meta_err(e),
        })?;
        let (mut meta, _, _) = up.into_parts();
        let state = Journal::new(&mut meta, geometry)
            .ok()
            .and_then(|mut j| j.read().record)
            .map(|r| r.state)
            .unwrap_or_default();
        Ok(Staged {
            slot: target,
            info,
            state,
        })
    }
}

/// The bootloader's check of `slot`, a slot of `slot_len` bytes, with
/// `image` written at its start and the rest erased: the [`ImageCheck`]
/// the device runs, on the image in memory. `Err`: why it would not boot,
/// with the values behind it.
fn check_in_memory(
    image: &[u8],
    slot: Slot,
    slot_len: u32,
    slots: &Slots,
    keys: &[TrustedKey],
) -> Result<ImageInfo, String> {
    let mut mem = MemFlash::erased_to(image, slot_len as usize, slots.erased);
    let region = Region::new(0, slot_len);
    check(keys, slots)
        .check(&mut mem, slot, region)
        .map_err(|e| {
            let checked = verify::Checked {
                slot,
                slot_len,
                profile: &slots.profile,
                keys,
                file_len: u32::try_from(image.len()).unwrap_or(u32::MAX),
                slot_size_given: true,
            };
            match read_header(&mut mem, region) {
                Ok(h) => verify::explain(e, &h, &checked),
                Err(_) => e.to_string(),
            }
        })
}

/// Reads the whole signed image from `file`, a file or a pipe: the fixed
/// header, then the bytes it describes (what follows them is not read).
/// An image larger than `max`, the larger slot, is read no further than
/// its header: the check refuses it from there.
fn read_image(path: &Path, file: &mut File, max: u32) -> Result<Vec<u8>, Error> {
    let cannot = |e: std::io::Error| Error::file(path, format_args!("cannot read: {e}"));
    let mut bytes = Vec::with_capacity(FIXED_LEN);
    file.by_ref()
        .take(FIXED_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    let got = bytes.len();
    let h = ImageHeader::parse(&bytes).map_err(|e| {
        Error::file(
            path,
            format_args!(
                "not a signed image: {e} (the file has {got} bytes at least, the fixed header \
                 {FIXED_LEN})"
            ),
        )
    })?;
    let total = u64::from(h.header_len) + u64::from(h.payload_len);
    if let Ok(md) = file.metadata() {
        if md.is_file() && md.len() < total {
            return Err(Error::file(
                path,
                format_args!(
                    "file truncated: the header describes {total} bytes, the file holds {}; \
                     nothing changed",
                    md.len()
                ),
            ));
        }
    }
    if total > u64::from(max) {
        return Ok(bytes);
    }
    bytes.reserve_exact((total as usize).saturating_sub(got));
    file.by_ref()
        .take(total.saturating_sub(got as u64))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if (bytes.len() as u64) < total {
        return Err(Error::file(
            path,
            format_args!(
                "ended after {} of the {total} bytes its header describes (a download cut \
                 short?); nothing changed",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Refuses an image that is one of the device's own files: a slot (stage
/// erases the target slot before it writes it, and the running slot is
/// not an image file) or the metadata.
fn refuse_own_file(image: &Path, file: &File, m: &Metadata, slots: &Slots) -> Result<(), Error> {
    let own = [
        (&slots.files[0], "the file of slot A"),
        (&slots.files[1], "the file of slot B"),
        (&m.path, "the metadata file"),
    ];
    for (path, what) in own {
        if same_file(image, file, path) {
            return Err(Error::file(
                image,
                format_args!(
                    "is {what} ({}), not an image file: stage erases a slot before it writes \
                     it; copy the image to a file of its own first; nothing changed",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `file`, opened from `image`, is the file or device at `path`:
/// the same path once resolved (`./b.img`, a symlink), the same inode (a
/// hard link, `/dev/stdin` redirected from it), or the same device.
fn same_file(image: &Path, file: &File, path: &Path) -> bool {
    if crate::output::same_file(image, path) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let (Ok(a), Ok(b)) = (file.metadata(), std::fs::metadata(path)) else {
            return false;
        };
        if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
            return true;
        }
        // Two nodes of one device: the same kind (block or character) and
        // the same device number.
        let device = |m: &std::fs::Metadata| {
            let t = m.file_type();
            (t.is_block_device() || t.is_char_device()).then(|| (t.is_block_device(), m.rdev()))
        };
        device(&a).is_some() && device(&a) == device(&b)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

/// A progress bar on standard error, only on a terminal and without --json.
fn progress(total: u64) -> Option<indicatif::ProgressBar> {
    let json = crate::JSON.load(std::sync::atomic::Ordering::Relaxed);
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "staging [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Writes a signed image into the slot the device does not run from.
pub fn stage(a: &StageArgs) -> Result<Report, Error> {
    let (m, slots) = config::device(&a.metadata, &a.slots)?;
    // The whole image first, from a file or a pipe: an image that is not
    // whole, or not an image, is refused before the lock is taken or
    // anything is written.
    let mut file = File::open(&a.image)
        .map_err(|e| Error::file(&a.image, format_args!("cannot read: {e}")))?;
    if file.metadata().is_ok_and(|md| md.is_dir()) {
        return Err(Error::file(&a.image, "is a directory, not an image"));
    }
    refuse_own_file(&a.image, &file, &m, &slots)?;
    let max = SlotFlash::open(&slots, false)?
        .regions()
        .iter()
        .map(|r| r.len)
        .max()
        .unwrap_or(0);
    let image = read_image(&a.image, &mut file, max)?;
    drop(file);
    let total = image.len() as u64;
    let out = journal_file::open(
        &m,
        Access::Write,
        Stage {
            path: &m.path,
            a,
            slots: &slots,
            image,
        },
    )?;
    let s = out.slot;
    let tries = out.state.slot(s).state.tries();
    let text = format!(
        "staged {} into slot {s} ({}): version {}, {total} bytes written, read back and verified\n\
         pending with {tries} {}: the next boot tries it; confirm it from the new image\n",
        a.image.display(),
        slots.files[s.index()].display(),
        out.info.version,
        if tries == 1 { "try" } else { "tries" },
    );
    Ok(Report::new(
        text,
        json!({
            "command": "stage",
            "image": a.image.display().to_string(),
            "slot": s,
            "slot_file": slots.files[s.index()].display().to_string(),
            "version": out.info.version.to_string(),
            "digest": hex(&out.info.digest),
            "bytes": total,
            "tries": tries,
            "next_boot": next_boot(&out.state).0,
            "status": status_value(&Status::from_state(&out.state)),
        }),
    ))
}

// ---------------------------------------------------------------- select

struct Select<'a> {
    path: &'a Path,
    slots: &'a Slots,
}

impl JournalTask for Select<'_> {
    type Output = (abboot::Decision, BootState);

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Self::Output, Error> {
        let Opened {
            journal, geometry, ..
        } = opened;
        let sf = SlotFlash::open(self.slots, false)?;
        let layout = layout(geometry, &sf, self.slots);
        let keys = self.slots.keys.clone();
        let mut b = Bootloader::new(
            journal.into_inner(),
            sf,
            layout,
            check(&keys, self.slots),
            Policy::default(),
        )
        .map_err(|e| Error::file(self.path, e))?;
        let d = b.select();
        let (mut meta, _, _) = b.into_parts();
        let st = Journal::new(&mut meta, geometry)
            .ok()
            .and_then(|mut j| j.read().record)
            .map(|r| r.state)
            .unwrap_or_default();
        Ok((d, st))
    }
}

/// The bootloader's decision on the device's files.
pub fn select(a: &SelectArgs) -> Result<Report, Error> {
    let (m, slots) = config::device(&a.metadata, &a.slots)?;
    let (d, st) = journal_file::open(
        &m,
        Access::Write,
        Select {
            path: &m.path,
            slots: &slots,
        },
    )?;
    let json = json!({
        "command": "select",
        "slot": d.slot,
        "kind": d.kind,
        "reason": d.reason,
        "tries_left": d.tries_left,
        "version": d.slot.map(|_| d.version.to_string()),
        "fault": d.fault.map(|f| f.to_string()),
        "last_update": outcome_text(&st),
    });
    let Some(slot) = d.slot else {
        return Err(Error::file(
            &m.path,
            "no slot holds an image that may boot: recovery (serial, USB or network)",
        )
        .with_json(json));
    };
    let why = match d.kind {
        abboot::state::BootKind::Trial => format!(
            "trial boot of {}, {} {} left after this one",
            d.version,
            d.tries_left,
            if d.tries_left == 1 { "try" } else { "tries" }
        ),
        abboot::state::BootKind::Rollback => {
            format!("{} (rollback: {})", d.version, outcome_text(&st))
        }
        abboot::state::BootKind::Fallback => {
            format!(
                "{} (fallback: the primary image does not verify)",
                d.version
            )
        }
        abboot::state::BootKind::Fresh => format!("{} (state rebuilt from the images)", d.version),
        _ => format!("{}, confirmed", d.version),
    };
    let mut text = format!("{slot}: {why}\n");
    if let Some(f) = d.fault {
        text += &format!("warning: the boot could not be recorded: {f}\n");
    }
    Ok(Report::new(text, json))
}

// ---------------------------------------------------------------- mark-active

struct MarkActive<'a> {
    path: &'a Path,
    slots: &'a Slots,
    slot: Slot,
    tries: u8,
    force: bool,
}

impl JournalTask for MarkActive<'_> {
    type Output = (BootState, BootState);

    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Self::Output, Error> {
        let Opened { mut journal, .. } = opened;
        let s = self.slot;
        let file = &self.slots.files[s.index()];
        let before = journal.read();
        let Some(old) = before.record.map(|r| r.state) else {
            return Err(Error::file(
                self.path,
                "holds no state to change; run abboot init (it verifies both slots); nothing changed",
            ));
        };
        let mut sf = SlotFlash::open(self.slots, false)?;
        let keys = self.slots.keys.clone();
        let region = sf.regions()[s.index()];
        let info = check(&keys, self.slots)
            .check(&mut sf, s, region)
            .map_err(|e| {
                Error::file(
                    file,
                    format_args!("slot {s} does not verify: {e}; nothing changed"),
                )
            })?;
        if info.security_counter < old.min_security_counter {
            return Err(Error::file(
                file,
                format_args!(
                    "slot {s}'s image has security counter {}, below the minimum {}; it may never boot",
                    info.security_counter, old.min_security_counter
                ),
            ));
        }
        // The slot on trial runs now: re-arming it would make it pending
        // again, so that nothing is on trial, the state names the other
        // slot as running, `confirm` from it says "already confirmed" and
        // the next `stage` writes the slot the system runs from.
        if matches!(old.slot(s).state, ImageState::Trial { .. }) {
            return Err(Error::file(
                self.path,
                format_args!(
                    "slot {s} is on trial ({}); confirm or mark-bad it, or give it more tries \
                     with set-tries; nothing changed",
                    slot_state_text(&old, s)
                ),
            ));
        }
        // Promise 6: a rolled-back image is armed again only when forced,
        // as `stage` refuses it.
        if old.was_rejected(&info.digest) && !self.force {
            return Err(Error::file(
                file,
                format_args!(
                    "slot {s}'s image was rolled back before (last reason: {}); give --force to \
                     arm it again; nothing changed",
                    reason_text(old.last_reason)
                ),
            ));
        }
        if let Some(c) = machine::candidate(&old).filter(|&c| c != s) {
            return Err(Error::file(
                self.path,
                format_args!(
                    "an update in slot {c} is {}; confirm, mark-bad or abort it first; nothing \
                     changed",
                    slot_state_text(&old, c)
                ),
            ));
        }
        let mut new = old;
        let cur = old.slot(s);
        if cur.state == ImageState::Confirmed && cur.digest == info.digest {
            if old.primary == Some(s) {
                return Ok((old, old));
            }
            new.rollback = old
                .primary
                .filter(|&p| old.slot(p).state == ImageState::Confirmed);
            new.primary = Some(s);
        } else {
            *new.slot_mut(s) = SlotInfo {
                state: ImageState::Pending { tries: self.tries },
                version: info.version,
                digest: info.digest,
                attempts: 0,
                security_counter: info.security_counter,
                data_epoch: info.data_epoch,
            };
            new.update = UpdateState::Staged;
            // A new update starts, as at `stage`: the last one's reason
            // and check error are no longer its story.
            new.last_reason = Reason::None;
            new.check_error = 0;
            if new.rollback == Some(s) {
                new.rollback = None;
            }
        }
        journal.append(&new).map_err(|e| {
            Error::file(
                self.path,
                format_args!("cannot write the state: {}", abboot::Error::from(e)),
            )
        })?;
        match journal.read().record {
            Some(r) if r.state == new => Ok((old, new)),
            _ => Err(Error::file(
                self.path,
                "the state did not read back as written",
            )),
        }
    }
}

/// Makes a slot boot next.
pub fn mark_active(a: &MarkActiveArgs) -> Result<Report, Error> {
    let (m, slots) = config::device(&a.metadata, &a.slots)?;
    let s = Slot::from(a.slot);
    let (old, new) = journal_file::open(
        &m,
        Access::Write,
        MarkActive {
            path: &m.path,
            slots: &slots,
            slot: s,
            tries: a.tries,
            force: a.force,
        },
    )?;
    let changed = old != new;
    let text = if !changed {
        format!("slot {s} is already the active, confirmed slot; nothing changed\n")
    } else {
        match new.slot(s).state {
            ImageState::Confirmed => format!(
                "slot {s} is the primary now (confirmed, version {}); the next boot takes it\n",
                new.slot(s).version
            ),
            _ => format!(
                "slot {s} (version {}) boots next on trial: {}; confirm it from there, or it \
                 returns to the primary\n",
                new.slot(s).version,
                slot_state_text(&new, s)
            ),
        }
    };
    Ok(Report::new(
        text,
        json!({
            "command": "mark-active",
            "slot": s,
            "changed": changed,
            "next_boot": next_boot(&new).0,
            "status": status_value(&Status::from_state(&new)),
        }),
    ))
}
