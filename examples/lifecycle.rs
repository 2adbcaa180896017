//! The whole abboot update lifecycle on simulated flash, for a first read.
//!
//! ```sh
//! cargo run --example lifecycle
//! ```
//!
//! A device with slots A and B boots its factory image, updates to a new
//! version and confirms it, receives a version whose health check fails and
//! rolls back, refuses that version when it comes again, refuses a forged
//! and a tampered image, and survives a power cut in the middle of staging.
//! Each step is one row of a table; a legend explains the words, and a
//! closing summary checks the promises the run exercised.

use std::io::IsTerminal;

use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKey, TrustedKeys};
use abboot::sim::device::{test_public_key, TestImage};
use abboot::sim::{CutMode, Device, Stop};
use abboot::state::{BootKind, BootState, ImageState, Reason, Slot, UpdateState};
use abboot::{Decision, StageOptions, Version};

const SLOT_SIZE: u32 = 16 * 1024;
const HARDWARE_ID: u32 = 0x0AB0_0001;

type Dev = Device<SignedCheck<'static>>;

/// Colour on a terminal only.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn good(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn warn(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn bad(&self, t: &str) -> String {
        self.paint("31", t)
    }
}

/// An image of `version` linked to run from `slot`, signed with the
/// release key.
fn image(dev: &Dev, version: Version, slot: Slot, fill: u8) -> TestImage {
    let mut img = TestImage::new(version, 3000, fill);
    img.header.hardware_id = HARDWARE_ID;
    img.header.load_address = dev.layout().slots[slot.index()].offset + img.header.header_len;
    img.header.security_counter = 1;
    img
}

/// `1.2.0` (the build number only when there is one).
fn v(version: Version) -> String {
    let s = version.to_string();
    s.strip_suffix("+0").map(str::to_string).unwrap_or(s)
}

/// A slot's state in a few words.
fn slot_cell(st: &Option<BootState>, slot: Slot) -> String {
    let Some(st) = st else {
        return "(no state yet)".to_string();
    };
    let i = st.slot(slot);
    let word = match i.state {
        ImageState::Empty => return "empty".to_string(),
        ImageState::Pending { tries } => format!("pending ({tries} tries)"),
        ImageState::Trial { tries } => format!("on trial ({tries} left)"),
        ImageState::Confirmed => "confirmed".to_string(),
        ImageState::Rejected => "rejected".to_string(),
    };
    format!("v{} {word}", v(i.version))
}

/// Why the bootloader chose what it chose.
fn why(d: &Decision, tries_given: u8) -> String {
    match d.kind {
        BootKind::Fresh => "no state on flash yet: built from the images that verify".into(),
        BootKind::Normal => "the confirmed image; nothing written".into(),
        BootKind::Trial => {
            let used = tries_given.saturating_sub(d.tries_left);
            format!("trial boot {used} of {tries_given}, counted on flash before the jump")
        }
        BootKind::Rollback => match d.reason {
            Reason::TriesExhausted => {
                "the update used all its tries unconfirmed: rolled back".into()
            }
            Reason::App(c) => format!("the firmware rejected the update (reason {c})"),
            r => format!("the update was refused ({r:?}): rolled back"),
        },
        BootKind::Fallback => "the primary image is damaged: the other confirmed one".into(),
        BootKind::Recovery => "nothing verifies: recovery".into(),
        BootKind::None => String::new(),
    }
}

struct Run {
    dev: Dev,
    style: Style,
    /// Failure count before the current step, to mark the steps that add one.
    failures: u16,
}

impl Run {
    fn header(&self) {
        let h = format!(
            "{:<42}| {:<25}| {:<25}| {:<6}| {}",
            "step", "slot A", "slot B", "boots", "why"
        );
        println!("{}", self.style.bold(&h));
        println!("{}", "-".repeat(h.len() + 30));
    }

    /// Prints one row: what happened, both slots now, what booted and why.
    fn row(&mut self, step: &str, boots: &str, why: &str) {
        let st = self.dev.read_state();
        let now = st.as_ref().map_or(0, |s| s.failure_count);
        let why = if now > self.failures {
            format!("{why} [failure #{now}]")
        } else {
            why.to_string()
        };
        self.failures = now;
        let boots = match boots {
            "A" | "B" => self.style.good(&format!("{boots:<6}")),
            "-" => format!("{boots:<6}"),
            other => self.style.bad(&format!("{other:<6}")),
        };
        println!(
            "{step:<42}| {:<25}| {:<25}| {boots}| {why}",
            slot_cell(&st, Slot::A),
            slot_cell(&st, Slot::B),
        );
    }

    fn boot(&mut self, step: &str, tries_given: u8) -> Result<Decision, Stop> {
        let d = self.dev.boot()?;
        let slot = d.slot.map_or("none".to_string(), |s| s.to_string());
        self.row(step, &slot, &why(&d, tries_given));
        Ok(d)
    }

    fn refused(&mut self, step: &str, result: Result<impl std::fmt::Debug, Stop>) {
        let text = match result {
            Err(Stop::Error(e)) => {
                let e = e.to_string();
                let e = e.strip_prefix("refused: ").unwrap_or(&e).to_string();
                self.style.warn(&format!("refused: {e}"))
            }
            other => self.style.bad(&format!("NOT refused: {other:?}")),
        };
        self.row(step, "-", &text);
    }
}

fn main() -> Result<(), Stop> {
    let style = Style {
        on: std::io::stdout().is_terminal(),
    };
    // The bootloader trusts one release key; images must be built for this
    // hardware and linked for the slot they are in.
    let keys: &'static [TrustedKey] = Box::leak(Box::new([TrustedKey::new(test_public_key())]));
    let probe = Device::new(
        SLOT_SIZE,
        SignedCheck::new(
            TrustedKeys::new(keys),
            BoardProfile {
                header_len: None,
                hardware_id: 0,
                load_address: [0; 2],
            },
        ),
    );
    let load = |s: Slot| probe.layout().slots[s.index()].offset + 256;
    let profile = BoardProfile {
        header_len: None,
        hardware_id: HARDWARE_ID,
        load_address: [load(Slot::A), load(Slot::B)],
    };
    let dev = Device::new(SLOT_SIZE, SignedCheck::new(TrustedKeys::new(keys), profile));

    println!(
        "{}\n",
        style.bold("abboot: a device with two firmware slots, A and B, on simulated flash")
    );
    println!(
        "A new version is written into the slot the device is not running from,\n\
         booted \"on trial\" a limited number of times, and kept only once the\n\
         firmware says it is healthy (\"confirm\"). Otherwise the device returns\n\
         to the version before. Every step below is one row.\n"
    );
    println!("{}", style.bold("Words used"));
    for (w, d) in [
        (
            "confirmed",
            "passed its health check; the device can always return to it",
        ),
        (
            "pending (n tries)",
            "written and verified; will boot on trial at most n times",
        ),
        (
            "on trial (n left)",
            "booted, not confirmed yet; n boots left before the rollback",
        ),
        (
            "rejected",
            "rolled back or refused; its digest is remembered",
        ),
        ("empty", "no image, or a write that did not finish"),
        (
            "[failure #n]",
            "the step counted as a failed update in the status record",
        ),
        (
            "fresh (a boot)",
            "no state on flash: rebuilt from the images that verify",
        ),
    ] {
        println!("  {w:<20}{d}");
    }
    println!();

    let mut run = Run {
        dev,
        style,
        failures: 0,
    };
    run.header();

    // 1. Factory.
    let a = image(&run.dev, Version::new(1, 0, 0, 0), Slot::A, 1).build();
    run.dev.factory(Slot::A, &a);
    run.boot("factory: v1.0.0 in A, no state; power on", 0)?;
    let ops = run.dev.flash().mutating_ops();
    run.boot("power on again", 0)?;
    let quiet_boot_writes = run.dev.flash().mutating_ops() - ops;

    // 2. A good update.
    let b = image(&run.dev, Version::new(1, 1, 0, 0), Slot::B, 2).build();
    let tag = b"5d1c7e0a-6b9f-4c42-9e4b-1f0d2a7c9e11";
    run.dev.stage(
        &b,
        &StageOptions {
            tries: 3,
            tag,
            ..StageOptions::default()
        },
    )?;
    run.row(
        "stage v1.1.0 with 3 tries",
        "-",
        "written to the slot not running, read back, verified",
    );
    run.boot("reboot", 3)?;
    run.dev.confirm()?;
    run.row(
        "health check passes: confirm",
        "-",
        "B is the primary now; A is kept as the way back",
    );
    run.boot("reboot", 3)?;

    // 3. A bad update: it never confirms (it crashes before its health
    // check), so each boot uses one of its tries.
    let c = image(&run.dev, Version::new(1, 2, 0, 0), Slot::A, 3).build();
    run.dev.stage(
        &c,
        &StageOptions {
            tries: 2,
            ..StageOptions::default()
        },
    )?;
    run.row(
        "stage v1.2.0 with 2 tries",
        "-",
        "written into A (B is running)",
    );
    let mut unconfirmed_boots = 0;
    for step in [
        "reboot (v1.2.0 crashes)",
        "reboot (crashes again)",
        "reboot",
    ] {
        let d = run.boot(step, 2)?;
        if d.kind == BootKind::Trial {
            unconfirmed_boots += 1;
        }
    }

    // 4. The same bad image again, a forged one and a tampered one.
    let again = run.dev.stage(&c, &StageOptions::default());
    let known_bad_refused = matches!(again, Err(Stop::Error(_)));
    run.refused("stage v1.2.0 again", again);
    let mut forged = image(&run.dev, Version::new(9, 0, 0, 0), Slot::A, 4);
    forged.key_seed = [0x66; 32];
    let forged = run.dev.stage(&forged.build(), &StageOptions::default());
    let forged_refused = matches!(forged, Err(Stop::Error(_)));
    run.refused("stage v9.0.0 signed with another key", forged);
    let mut tampered = image(&run.dev, Version::new(1, 3, 0, 0), Slot::A, 5).build();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let tampered = run.dev.stage(&tampered, &StageOptions::default());
    let tampered_refused = matches!(tampered, Err(Stop::Error(_)));
    run.refused("stage v1.3.0 with one bit flipped", tampered);

    // 5. Power cut while an update is written.
    let d = image(&run.dev, Version::new(1, 3, 0, 0), Slot::A, 6).build();
    let before_cut = run.dev.read_state();
    let op = run.dev.flash().mutating_ops() + 6;
    run.dev.flash_mut().cut_at(op, CutMode::Torn);
    let cut = run.dev.stage(&d, &StageOptions::default());
    let was_cut = matches!(cut, Err(Stop::PowerCut));
    run.dev.power_on();
    run.row(
        "stage v1.3.0: power cut while writing",
        "-",
        &format!("power lost at flash operation {op}, mid-write (torn)"),
    );
    let after_cut = run.boot("power on", 0)?;

    // The status record, as the firmware reports it to its backend.
    let s = run.dev.status()?;
    let st = run.dev.read_state().unwrap_or_default();
    println!(
        "\n{}",
        run.style
            .bold("Status record (what the fleet backend sees)")
    );
    let line = |k: &str, v: String| println!("  {k:<22}{v}");
    line(
        "running",
        format!(
            "slot {}, v{}",
            s.running.map_or("none".to_string(), |r| r.to_string()),
            v(s.installed_version.unwrap_or_default())
        ),
    );
    line(
        "confirmed",
        if s.trial { "no, on trial" } else { "yes" }.to_string(),
    );
    line(
        "last update",
        match st.update {
            UpdateState::Staged if abboot::machine::candidate(&st).is_none() => {
                "interrupted while being written (the power cut)".to_string()
            }
            other => format!("{other:?}"),
        },
    );
    line(
        "its reason",
        match s.last_reason {
            Reason::None => "none (an interrupted write is not a refusal)".to_string(),
            r => format!("{r:?}"),
        },
    );
    let rollback = s
        .events
        .iter()
        .rev()
        .find(|e| e.kind() == Some(BootKind::Rollback));
    line(
        "last rollback",
        rollback.map_or("none".to_string(), |e| {
            format!(
                "to slot {}, {:?} (v1.2.0 never confirmed)",
                e.slot().map_or("none".to_string(), |x| x.to_string()),
                e.reason().unwrap_or_default()
            )
        }),
    );
    line(
        "failed updates",
        format!("{} (the rows marked [failure #n])", s.failure_count),
    );
    line(
        "update tag",
        if s.update_tag.is_empty() {
            "none (each staging replaces the tag of the one before)".to_string()
        } else {
            String::from_utf8_lossy(&s.update_tag).into_owned()
        },
    );
    println!("  recent boots, oldest first:");
    // Every event here was written by this build, so each field is known
    // (`BootEvent`'s accessors answer `None` only for one a later abboot
    // wrote).
    for e in &s.events {
        let kind = e.kind().unwrap_or_default();
        println!(
            "    {:<10} slot {:<5} {}",
            format!("{kind:?}").to_lowercase(),
            e.slot().map_or("none".to_string(), |x| x.to_string()),
            match (kind, e.reason().unwrap_or_default()) {
                (BootKind::Trial, _) => format!(
                    "{} {} left after it",
                    e.tries(),
                    if e.tries() == 1 { "try" } else { "tries" }
                ),
                (_, Reason::None) => String::new(),
                (_, r) => format!("reason {r:?}"),
            }
        );
    }
    println!("  (the same record as JSON: abboot::status::Status::to_json)");

    // What the run showed, promise by promise (DESIGN.md).
    // A promise the run did not keep fails the example (and the test
    // command that runs it), not only its line of output.
    let all_kept = std::cell::Cell::new(true);
    let check = |ok: bool| {
        all_kept.set(all_kept.get() && ok);
        if ok {
            run.style.good("kept")
        } else {
            run.style.bad("NOT KEPT")
        }
    };
    println!("\n{}", run.style.bold("Promises this run exercised"));
    let back = after_cut.slot == Some(Slot::B) && st.primary == Some(Slot::B);
    println!(
        "  {} always a way back: after the failed update and the power cut, v1.1.0 in B still boots",
        check(back)
    );
    println!(
        "  {} bounded trial: v1.2.0 booted {unconfirmed_boots} times unconfirmed, its 2 tries, then rolled back",
        check(unconfirmed_boots == 2)
    );
    println!(
        "  {} atomic state: the cut left the state as before the write began (plus the empty target slot)",
        check(was_cut && before_cut.as_ref().map(|b| b.primary) == Some(st.primary))
    );
    println!(
        "  {} verified before trusted: the forged and the tampered image were refused",
        check(forged_refused && tampered_refused)
    );
    println!(
        "  {} no failure loops: the rolled-back v1.2.0 was refused when offered again",
        check(known_bad_refused)
    );
    println!(
        "  {} no wear when nothing happens: a normal boot wrote and erased {quiet_boot_writes} times",
        check(quiet_boot_writes == 0)
    );

    let f = run.dev.flash().stats();
    println!(
        "\nFlash operations in all: {} reads ({} bytes), {} writes ({} bytes), {} erases",
        f.reads, f.bytes_read, f.writes, f.bytes_written, f.erases
    );
    if !all_kept.get() {
        eprintln!("lifecycle: a promise was not kept (see above)");
        std::process::exit(1);
    }
    Ok(())
}
