//! The firmware: one image source, linked twice (for slot A and slot B).
//!
//! It takes the bootloader's hand-off (and clears it), feeds the watchdog,
//! prints what it is and where it runs, reads the status from the
//! metadata, does what the command line's `fw=` word says, and "reboots"
//! by ending the emulator (the test's next QEMU run is the next boot):
//!
//! * `status`: nothing more;
//! * `confirm`: the health checks passed: [`Updater::confirm`];
//! * `fail`: the health check failed: [`Updater::mark_bad`] with code 7;
//! * `hang`: on a trial boot, a hang: a loop that never feeds the
//!   watchdog, which resets the guest (in the same QEMU run: the
//!   bootloader runs again and counts the next try); on any other boot
//!   nothing, as `status`;
//! * `stage:FILE`: read a signed image from the host file `FILE` in 1 KiB
//!   chunks and stage it ([`Updater::stage_begin`], [`Updater::stage_write`],
//!   [`Updater::stage_finish`]).
//!
//! The running slot comes from the hand-off alone and is given to the
//! updater ([`Updater::running`]). The slot the image is linked for is
//! only checked against it: with no hand-off (garbage in its RAM) the
//! firmware does not know its slot, and staging is refused
//! (`RunningSlotUnknown`) unless the metadata names the running slot.

use core::cell::RefCell;

use abboot::app::{StageOptions, Updater};
use abboot::fence::Fenced;
use abboot::flash::Shared;
use abboot::handoff::{Handoff, HandoffError};
use abboot::image::signed::TrustedKeys;
use abboot::state::Slot;
use abboot_board_common::handoff;

use crate::args::{Args, Role};
use crate::config;
use crate::flash::FileFlash;
use crate::load::BoardCheck;
use crate::names;
use crate::sh::{self, Line};
use crate::watchdog;

/// Exit status of a firmware that finished its command ("reboot").
pub const EXIT_REBOOT: u32 = 0;
/// Exit status when the firmware runs from another slot than the metadata
/// says, or cannot reach its flash.
pub const EXIT_FW_ERROR: u32 = 6;
/// Tries a staged update gets.
pub const TRIES: u8 = 3;
/// The code `fail` reports to `mark_bad`.
pub const FAIL_CODE: u8 = 7;

/// Runs the firmware linked for `linked`.
pub fn run(linked: Slot) -> ! {
    // First the hand-off (read once, then cleared) and a feed: on a trial
    // boot the watchdog runs from the jump on.
    let found = handoff::take();
    watchdog::feed();
    let args = Args::read();
    let here = config::LOAD_ADDRESS[linked.index()];
    // SAFETY: reads the SCB's VTOR register.
    let vtor = unsafe { (*cortex_m::peripheral::SCB::PTR).vtor.read() };
    Line::new()
        .s("fw: image linked for slot ")
        .s(names::slot(Some(linked)))
        .s(" at ")
        .x(here)
        .s(", vtor ")
        .x(vtor)
        .print();
    print_handoff(&found);
    let running = found.ok().map(|h| h.slot);
    let trial = found.is_ok_and(|h| h.is_trial());

    let flash = match FileFlash::open(args.flash_name(), config::FLASH_LEN, Role::Fw) {
        Ok(f) => f
            .with_stop(args.stop(Role::Fw), args.has("trace"))
            .read_only(args.read_only(Role::Fw)),
        Err(e) => {
            Line::new().s("fw: ").s(e).print();
            sh::exit(EXIT_FW_ERROR)
        }
    };
    // Fenced to the metadata sectors and the slots: a write or an erase
    // anywhere else is refused before it reaches the file.
    let cell = RefCell::new(Fenced::for_layout(flash, &config::LAYOUT));
    // The bootloader's own check: an image it would not start is refused.
    let check = BoardCheck::new(TrustedKeys::new(&config::TRUSTED_KEYS), config::PROFILE);
    let mut up = match Updater::new(
        Shared::new(&cell),
        Shared::new(&cell),
        config::LAYOUT,
        check,
    ) {
        // The updater never stages into the slot the bootloader started.
        Ok(u) => match running {
            Some(slot) => u.running(slot),
            None => u,
        },
        Err(e) => {
            names::error(Line::new().s("fw: updater: "), e).print();
            sh::exit(EXIT_FW_ERROR)
        }
    };

    let st = up.status();
    watchdog::feed();
    let mut l = Line::new();
    l.s("fw: status running=")
        .s(names::slot(running))
        .s(" version=");
    match st.installed_version {
        Some(v) => l.version(v),
        None => l.s("none"),
    };
    l.s(" update=")
        .s(names::update(st.update))
        .s(" trial=")
        .s(if st.trial { "yes" } else { "no" })
        .s(" tries_left=")
        .u(st.tries_left as u32)
        .s(" failures=")
        .u(st.failure_count as u32)
        .s(" last_reason=");
    names::reason(&mut l, st.last_reason)
        .s(" metadata_running=")
        .s(names::slot(st.running))
        .print();
    // What the bootloader says, what the metadata says (when it says
    // anything) and where this code runs must agree.
    let disagree = |s: Option<Slot>| s.is_some_and(|s| s != linked);
    if disagree(running) || disagree(st.running) || vtor != here {
        Line::new()
            .s("fw: MISMATCH: linked for ")
            .s(names::slot(Some(linked)))
            .s(", hand-off says ")
            .s(names::slot(running))
            .s(", metadata says running ")
            .s(names::slot(st.running))
            .print();
        sh::exit(EXIT_FW_ERROR);
    }
    args.mark(Role::Fw, "started", None);

    let cmd = args.get("fw").unwrap_or(b"status");
    match cmd {
        b"status" => {}
        b"confirm" => report("confirm", up.confirm()),
        b"fail" => report("mark_bad", up.mark_bad(FAIL_CODE)),
        b"hang" => hang(trial),
        _ => match cmd.strip_prefix(b"stage:") {
            Some(file) => stage(&args, &mut up, file),
            None => Line::new().s("fw: unknown command ").bytes(cmd).print(),
        },
    }
    let st = up.status();
    Line::new()
        .s("fw: after: update=")
        .s(names::update(st.update))
        .s(" tries_left=")
        .u(st.tries_left as u32)
        .s(" failures=")
        .u(st.failure_count as u32)
        .print();
    let flash = cell.into_inner().into_inner();
    Line::new()
        .s("fw: reboot (flash ops ")
        .u(flash.ops())
        .s(")")
        .print();
    sh::exit(EXIT_REBOOT)
}

/// Prints the hand-off, and checks that its RAM now reads as cleared.
fn print_handoff(found: &Result<Handoff, HandoffError>) {
    let cleared = Handoff::decode(&handoff::read_bytes()) == Err(HandoffError::Absent);
    let mut l = Line::new();
    match found {
        Ok(h) => {
            l.s("fw: handoff slot=")
                .s(names::slot(Some(h.slot)))
                .s(" kind=")
                .s(names::kind(h.kind))
                .s(" reason=");
            names::reason(&mut l, h.reason)
                .s(" tries_left=")
                .u(h.tries_left as u32)
                .s(" version=")
                .version(h.version)
        }
        Err(e) => l.s("fw: handoff none (").s(names::handoff_error(*e)).s(")"),
    };
    l.s(if cleared {
        ", cleared"
    } else {
        ", NOT cleared"
    })
    .print();
}

/// `hang`: on a trial boot, loops without feeding the watchdog. Its NMI
/// (`watchdog_nmi`) comes after one period, the reset after the next.
fn hang(trial: bool) {
    if !trial {
        sh::println("fw: hang: not a trial boot (no watchdog runs): nothing to hang");
        return;
    }
    sh::println("fw: hang: trial boot, looping without feeding the watchdog");
    loop {
        cortex_m::asm::nop();
    }
}

/// The firmware's NMI: on this board only the watchdog raises it, one
/// period after the last feed. Its last word, then it waits for the reset
/// a period later (still not feeding).
pub fn watchdog_nmi() -> ! {
    sh::println("fw: watchdog: NMI, one period without a feed; the reset follows");
    loop {
        cortex_m::asm::nop();
    }
}

fn report(what: &str, r: Result<(), abboot::Error>) {
    let mut l = Line::new();
    l.s("fw: ").s(what).s(" ");
    match r {
        Ok(()) => l.s("ok"),
        Err(e) => names::error(l.s("failed: "), e),
    };
    l.print();
}

type Fw = Fenced<FileFlash, 4>;
type Up<'a> = Updater<Shared<'a, Fw>, Shared<'a, Fw>, BoardCheck<'static>>;

/// Stages the image in the host file `file`, read in 1 KiB chunks.
fn stage(args: &Args, up: &mut Up<'_>, file: &[u8]) {
    let Some(h) = sh::open(file, sh::Mode::Read) else {
        Line::new().s("fw: stage: cannot open ").bytes(file).print();
        return;
    };
    let len = sh::flen(h).unwrap_or(0);
    Line::new()
        .s("fw: stage: ")
        .bytes(file)
        .s(", ")
        .u(len)
        .s(" bytes")
        .print();
    // The first chunk is read before anything is erased: its header lets
    // `stage_begin` refuse a forged, foreign, oversized, known-bad or
    // downgrading image while the target slot still holds its image.
    let mut buf = [0xFFu8; 1024];
    let Some(mut n) = read_chunk(h, &mut buf, 0, len) else {
        sh::close(h);
        return;
    };
    let opts = StageOptions {
        tries: TRIES,
        tag: b"qemu-e2e",
        header: buf.get(..n),
        ..StageOptions::default()
    };
    let target = match up.stage_begin(&opts) {
        Ok(s) => s,
        Err(e) => {
            names::error(Line::new().s("fw: stage: refused: "), e)
                .s(" (from the header, nothing erased)")
                .print();
            sh::close(h);
            return;
        }
    };
    Line::new()
        .s("fw: stage: into slot ")
        .s(names::slot(Some(target)))
        .print();
    let mut at = 0u32;
    let mut chunk = 0u32;
    while n > 0 {
        // The tail is padded with 0xFF (erased) to the write size.
        let padded = n.div_ceil(4) * 4;
        if let Err(e) = up.stage_write(at, buf.get(..padded).unwrap_or(&[])) {
            names::error(Line::new().s("fw: stage: write failed: "), e).print();
            sh::close(h);
            return;
        }
        chunk += 1;
        at += n as u32;
        args.mark(Role::Fw, "chunk", Some(chunk));
        // `pace=N`: a slow download, N x 100,000 delay-loop turns per chunk.
        if let Some(p) = args.get("pace").and_then(crate::args::parse_u32) {
            cortex_m::asm::delay(p.saturating_mul(100_000));
        }
        watchdog::feed();
        n = match read_chunk(h, &mut buf, at, len) {
            Some(n) => n,
            None => {
                sh::close(h);
                return;
            }
        };
    }
    sh::close(h);
    match up.stage_finish(TRIES) {
        Ok(info) => {
            Line::new()
                .s("fw: stage: ok, slot ")
                .s(names::slot(Some(target)))
                .s(" v")
                .version(info.version)
                .s(" pending, ")
                .u(TRIES as u32)
                .s(" tries, sha256 ")
                .hex(info.digest.get(..8).unwrap_or(&[]))
                .print();
            args.mark(Role::Fw, "staged", None);
        }
        Err(e) => names::error(Line::new().s("fw: stage: refused: "), e).print(),
    }
}

/// Reads the chunk of the image file at `at` into `buf`, the rest of it
/// 0xFF: its length (0 at the end of the file), or `None` after printing
/// a read error.
fn read_chunk(h: sh::Handle, buf: &mut [u8; 1024], at: u32, len: u32) -> Option<usize> {
    let n = len.saturating_sub(at).min(buf.len() as u32) as usize;
    buf.fill(0xFF);
    if n > 0 && buf.get_mut(..n).and_then(|b| sh::read(h, b)) != Some(n) {
        Line::new().s("fw: stage: read error at ").u(at).print();
        return None;
    }
    Some(n)
}
