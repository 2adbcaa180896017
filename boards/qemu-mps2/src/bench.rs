//! Instruction counts (feature `bench`): run under `-icount shift=0`, where
//! QEMU retires one instruction per nanosecond of virtual time, and read
//! SysTick on the core clock (25 MHz on the an385): one tick is 40
//! instructions. `bench=calib` checks that factor with a loop of a known
//! instruction count.
//!
//! Semihosting calls (the flash file reads) cost the guest only the few
//! instructions around their `bkpt`; real flash reads cost bus cycles
//! instead, which instruction counts do not show either way.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use abboot::boot::{Bootloader, Policy, VerifyPolicy};
use abboot::flash::Shared;
use abboot::image::signed::read_header;
use abboot::image::ImageInfo;
use abboot::state::Slot;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;

use crate::args::Args;
use crate::boot;
use crate::config;
use crate::flash::FileFlash;
use crate::load;
use crate::names;
use crate::sh::{self, Line};
use crate::stack;

/// Instructions per SysTick tick under `-icount shift=0` (1 GHz virtual
/// instruction clock, 25 MHz core clock).
pub const INSNS_PER_TICK: u64 = 40;
const RELOAD: u32 = 0x00FF_FFFF;

static WRAPS: AtomicU32 = AtomicU32::new(0);

/// The SysTick handler's work.
pub fn tick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

fn start() {
    // SAFETY: the bootloader is the only user of SysTick; bench runs never
    // jump to an image.
    let mut p = unsafe { cortex_m::Peripherals::steal() };
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(RELOAD);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
    // The counter reads 0 until its first reload; start from a live value.
    while SYST::get_current() == 0 {}
}

fn now() -> u64 {
    loop {
        let w = WRAPS.load(Ordering::Relaxed);
        let cur = SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == w {
            return ((w as u64) << 24) + (RELOAD - cur) as u64;
        }
    }
}

/// Ticks taken by `f`.
fn ticks<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let t0 = now();
    let r = f();
    (r, now() - t0)
}

fn report(what: &str, ticks: u64) -> Line {
    let mut l = Line::new();
    l.s("bench ")
        .s(what)
        .s(" ticks=")
        .u64(ticks)
        .s(" insns=")
        .u64(ticks * INSNS_PER_TICK);
    l
}

/// Runs the bench `what` and ends the run.
pub fn run(args: &Args, flash: FileFlash, what: &[u8]) -> ! {
    start();
    match what {
        b"calib" => calib(),
        b"select" => select(args, flash),
        b"raw" => raw(flash),
        _ => sh::println("bench: unknown bench"),
    }
    sh::exit(0)
}

/// 1,000,000 turns of a two-instruction loop: 2,000,000 instructions.
fn calib() {
    let (_, t) = ticks(|| {
        let n: u32 = 1_000_000;
        // SAFETY: a register-only countdown loop.
        unsafe {
            core::arch::asm!(
                "1:",
                "subs {n}, #1",
                "bne 1b",
                n = inout(reg) n => _,
                options(nomem, nostack),
            );
        }
    });
    report("calib loop_insns=2000000", t).print();
}

/// `select` as the bootloader runs it, under the policy on the command line.
fn select(args: &Args, flash: FileFlash) {
    let trial_only = args.get("policy") == Some(b"trialonly");
    let policy = Policy {
        verify: if trial_only {
            VerifyPolicy::TrialOnly
        } else {
            VerifyPolicy::Always
        },
        ..boot::POLICY
    };
    let cell = RefCell::new(flash);
    let Ok(mut bl) = Bootloader::new(
        Shared::new(&cell),
        Shared::new(&cell),
        config::LAYOUT,
        boot::check(),
        policy,
    ) else {
        sh::println("bench: unusable layout");
        return;
    };
    stack::paint();
    let before = stack::in_use();
    let (d, t) = ticks(|| bl.select());
    let used = stack::high_water().saturating_sub(before);
    let _ = bl.into_parts();
    let ops = cell.into_inner().ops();
    boot::print_decision(&d);
    report("select", t)
        .s(" policy=")
        .s(if trial_only { "trialonly" } else { "always" })
        .s(" kind=")
        .s(names::kind(d.kind))
        .s(" slot=")
        .s(names::slot(d.slot))
        .s(" stack=")
        .u(used)
        .s(" flash_ops=")
        .u(ops)
        .print();
}

/// The raw work of one verification of slot A's image: SHA-256 of its
/// payload (from RAM) and one Ed25519 verify of its header.
fn raw(mut flash: FileFlash) {
    let region = config::LAYOUT.slots[Slot::A.index()];
    let header = match read_header(&mut flash, region) {
        Ok(h) => h,
        Err(e) => {
            Line::new()
                .s("bench: slot A: ")
                .s(names::image_error(e))
                .print();
            return;
        }
    };
    let image = ImageInfo::from_header(&header, header.payload_digest);
    let addr = match load::copy_payload(&mut flash, Slot::A, &image) {
        Ok(a) => a,
        Err(e) => {
            Line::new().s("bench: ").s(e).print();
            return;
        }
    };
    stack::paint();
    let before = stack::in_use();
    let (ok, t) =
        ticks(|| load::ram_digest_matches(addr, header.payload_len, &header.payload_digest));
    let used = stack::high_water().saturating_sub(before);
    report("sha256", t)
        .s(" bytes=")
        .u(header.payload_len)
        .s(" stack=")
        .u(used)
        .s(" ok=")
        .s(if ok { "yes" } else { "no" })
        .print();
    #[cfg(not(feature = "ed25519-salty"))]
    let pk = ed25519_compact::PublicKey::new(*config::TRUSTED_KEYS[0].key());
    #[cfg(not(feature = "ed25519-salty"))]
    let sig = ed25519_compact::Signature::new(header.signature);
    let signed = header.signed_bytes();
    stack::paint();
    let before = stack::in_use();
    #[cfg(not(feature = "ed25519-salty"))]
    let (ok, t) = ticks(|| pk.verify(signed, &sig).is_ok());
    // The size-first build: salty behind abboot's encoding checks, as the
    // signed-image check calls it.
    #[cfg(feature = "ed25519-salty")]
    let (ok, t) = ticks(|| {
        abboot::image::ed25519::verify(config::TRUSTED_KEYS[0].key(), &signed, &header.signature)
    });
    let used = stack::high_water().saturating_sub(before);
    report("ed25519_verify", t)
        .s(" stack=")
        .u(used)
        .s(" ok=")
        .s(if ok { "yes" } else { "no" })
        .print();
}
