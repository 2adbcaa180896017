//! The bootloader: choose a slot with [`Bootloader::select`], copy the
//! chosen payload to where it is linked to run, check the copy, write the
//! hand-off, start the watchdog for a trial boot, jump.

use core::cell::RefCell;

use abboot::boot::{Bootloader, Decision, Policy, VerifyPolicy};
use abboot::flash::Shared;
use abboot::handoff::Handoff;
use abboot::image::signed::TrustedKeys;
use abboot_board_common::handoff;

use crate::args::{Args, Role};
use crate::config;
use crate::flash::FileFlash;
use crate::load::{self, BoardCheck};
use crate::names;
use crate::sh::{self, Line};
use crate::stack;
use crate::watchdog;

/// Exit status of the recovery path: nothing verified to boot.
pub const EXIT_RECOVERY: u32 = 3;
/// Exit status when the chosen image's copy is refused (it never runs).
pub const EXIT_REFUSED: u32 = 4;
/// Exit status when the flash file or the layout is unusable.
pub const EXIT_SETUP: u32 = 5;

/// The bootloader's policy: check the image that boots at every boot.
pub const POLICY: Policy = Policy {
    verify: VerifyPolicy::Always,
    fresh_tries: 3,
};

/// The check the bootloader runs.
pub fn check() -> BoardCheck<'static> {
    BoardCheck::new(TrustedKeys::new(&config::TRUSTED_KEYS), config::PROFILE)
}

/// Opens the flash file named on the command line, or ends the run.
pub fn open_flash(args: &Args) -> FileFlash {
    match FileFlash::open(args.flash_name(), config::FLASH_LEN, Role::Boot) {
        Ok(f) => f
            .with_stop(args.stop(Role::Boot), args.has("trace"))
            .read_only(args.read_only(Role::Boot)),
        Err(e) => {
            Line::new().s("boot: ").s(e).print();
            sh::exit(EXIT_SETUP)
        }
    }
}

/// Prints a decision on one line.
pub fn print_decision(d: &Decision) {
    let mut l = Line::new();
    l.s("boot: decision slot=")
        .s(names::slot(d.slot))
        .s(" kind=")
        .s(names::kind(d.kind))
        .s(" reason=");
    names::reason(&mut l, d.reason)
        .s(" tries_left=")
        .u(d.tries_left as u32)
        .s(" version=")
        .version(d.version)
        .s(" fault=");
    match d.fault {
        None => l.s("none"),
        Some(e) => names::error(&mut l, e),
    };
    l.s(" skipped_records=").u(d.findings.invalid).print();
}

/// Reset to jump (or recovery), in two frames that are never on the stack
/// together: `decide` (the flash and the bootloader, what `select` needs;
/// the command line is read in a frame gone before `select`) and `start`
/// (the copy, the hand-off and the jump, with their print buffers). The stack is painted first thing, so
/// the high-water mark printed after `select` covers the decision and
/// every image verification it did.
pub fn run() -> ! {
    stack::paint();
    let decided = decide();
    start(decided)
}

/// What `decide` gives `start`.
struct Decided {
    decision: Decision,
    flash: FileFlash,
    /// Stack in use when `select` was called, and its high-water mark.
    stack: (u32, u32),
}

/// The flash and the bootloader, then `select`. Never inlined: its frame
/// holds only what `select` needs, not the printing and copying after it.
#[inline(never)]
fn decide() -> Decided {
    let cell = RefCell::new(open());
    // The bootloader borrows the flash; it is done with it at the end of
    // this block.
    let (decision, stack) = {
        let mut bl = match Bootloader::new(
            Shared::new(&cell),
            Shared::new(&cell),
            config::LAYOUT,
            check(),
            POLICY,
        ) {
            Ok(b) => b,
            Err(e) => unusable_layout(e),
        };
        let before = stack::in_use();
        let decision = bl.select();
        (decision, (before, stack::high_water()))
    };
    Decided {
        decision,
        flash: cell.into_inner(),
        stack,
    }
}

/// The flash file the command line names (or a bench run, which never
/// returns). Never inlined: the command line is not kept under `select`.
#[inline(never)]
fn open() -> FileFlash {
    let args = Args::read();
    let flash = open_flash(&args);
    #[cfg(feature = "bench")]
    if let Some(what) = args.get("bench") {
        crate::bench::run(&args, flash, what);
    }
    flash
}

#[inline(never)]
fn unusable_layout(e: abboot::error::Error) -> ! {
    names::error(Line::new().s("boot: unusable layout: "), e).print();
    sh::exit(EXIT_SETUP)
}

/// The decision printed, then the copy, its check, the hand-off and the
/// jump (or recovery).
#[inline(never)]
fn start(decided: Decided) -> ! {
    let Decided {
        decision: d,
        mut flash,
        stack: (before, stack_used),
    } = decided;
    let args = Args::read();
    print_decision(&d);
    Line::new()
        .s("boot: stack high-water ")
        .u(stack_used)
        .s(" bytes (select: ")
        .u(stack_used.saturating_sub(before))
        .s("), flash writes+erased sectors ")
        .u(flash.ops())
        .print();
    args.mark(Role::Boot, "decided", None);

    let Some(slot) = d.slot else {
        let mut l = Line::new();
        l.s("boot: RECOVERY: no verified image to boot (");
        names::reason(&mut l, d.reason)
            .s("); waiting for an image over serial/DFU")
            .print();
        sh::exit(EXIT_RECOVERY)
    };

    // `select` verified the slot it chose (`VerifyPolicy::Always` checks
    // the image that boots at every boot) and says what it found.
    let Some(image) = d.image else {
        refuse("select did not check the chosen slot")
    };
    let addr = match load::copy_payload(&mut flash, slot, &image) {
        Ok(a) => a,
        Err(e) => refuse(e),
    };
    // What runs is what was signed: the copy's digest against the signed one.
    // Its vector table is then the one the image check read from the slot
    // and accepted (`load::entry_ok`), so it is not checked again.
    if !load::ram_digest_matches(addr, image.payload_len, &image.digest) {
        refuse("copy in RAM does not match the signed digest");
    }
    Line::new()
        .s("boot: slot ")
        .s(names::slot(Some(slot)))
        .s(" payload ")
        .u(image.payload_len)
        .s(" bytes copied to ")
        .x(addr)
        .s(", sha256 of the copy matches the signed digest ")
        .hex(image.digest.get(..8).unwrap_or(&[]))
        .print();
    args.mark(Role::Boot, "jumping", None);

    // What the firmware is told: the slot, the kind of boot, why. It
    // learns its slot from this, never from a guess.
    let Some(h) = Handoff::from_decision(&d) else {
        refuse("no hand-off for the decision")
    };
    let mut bytes = h.encode();
    let corrupt = args.get("handoff") == Some(b"corrupt");
    if corrupt {
        // Test only: the firmware must take this for no hand-off at all.
        bytes[5] ^= 1;
    }
    handoff::write_bytes(&bytes);
    let mut l = Line::new();
    l.s("boot: hand-off at ")
        .x(handoff::address() as u32)
        .s(": slot=")
        .s(names::slot(Some(h.slot)))
        .s(" kind=")
        .s(names::kind(h.kind))
        .s(" tries_left=")
        .u(h.tries_left as u32);
    if corrupt {
        l.s(" CORRUPTED (handoff=corrupt)");
    }
    // Only a trial boot runs under the watchdog: a hang resets, and the
    // reset counts as the try (already counted on flash by `select`). A
    // confirmed image that does not feed it is never reset by it.
    if d.is_trial() {
        l.s("; watchdog started: reset ")
            .u(watchdog::TIMEOUT_MS)
            .s(" ms after the last feed")
            .print();
        watchdog::start();
    } else {
        l.s("; no watchdog (not a trial boot)").print();
    }
    load::jump(addr)
}

fn refuse(why: &str) -> ! {
    Line::new()
        .s("boot: REFUSED to start the image: ")
        .s(why)
        .print();
    sh::exit(EXIT_REFUSED)
}
