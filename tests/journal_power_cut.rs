//! A power cut at every mutating flash operation of a long sequence of
//! journal updates, in every cut mode, on three part geometries.
//!
//! After each cut and power-on the journal must read exactly the state
//! before or the state after the interrupted update (never older, never a
//! mix, never nothing), read it the same way on every later read once an
//! update has gone through, and the next update must succeed.

use abboot::journal::{Geometry, Journal};
use abboot::record::Record;
use abboot::sim::{CutMode, OpKind, SimFlash};
use abboot::state::{BootState, ImageState, Slot};
use abboot::Version;
use embedded_storage::nor_flash::NorFlash;

/// Updates per run; every geometry crosses at least one sector switch.
const UPDATES: u32 = 60;

fn state(i: u32) -> BootState {
    let mut s = BootState {
        primary: Some(if i % 3 == 0 { Slot::B } else { Slot::A }),
        failure_count: i as u16,
        min_security_counter: i * 7,
        ..BootState::default()
    };
    s.slots[1].version = Version::new(2, 0, 0, i);
    s.slots[1].state = ImageState::Trial {
        tries: (i % 4) as u8,
    };
    s.slots[0].digest = [i as u8; 32];
    s
}

struct Outcome {
    runs: u64,
}

fn sweep<const R: usize, const W: usize, const E: usize>(
    write_once: bool,
    prefill: u32,
    wrap: bool,
    seed: u64,
) -> Outcome {
    let sector = E as u32;
    let geometry = Geometry::contiguous(0, sector);
    let fresh = || {
        SimFlash::<R, W, E>::new(2 * E)
            .write_once(write_once)
            .seed(seed)
    };

    // The device before the sequence: `prefill` updates already done, so
    // the sequence crosses a sector switch even on large sectors.
    let mut flash = fresh();
    let mut start = 0;
    if wrap {
        // Start four updates short of sequence-number wraparound.
        let r = Record {
            seq: u32::MAX - 3,
            state: state(0),
        };
        flash.write(0, &r.encode()).unwrap();
        start = 1;
    }
    let mut j = Journal::new(flash, geometry).unwrap();
    for i in start..prefill {
        j.append(&state(i)).unwrap();
    }
    let base = j.into_inner();
    let first_op = base.mutating_ops();

    // A dry run counts the operations of the sequence and records which
    // update each operation belongs to and what kind it is.
    let mut dry = Journal::new(base.clone(), geometry).unwrap();
    let mut ops: Vec<(u32, OpKind)> = Vec::new();
    for u in 0..UPDATES {
        let s0 = dry.flash().stats();
        dry.append(&state(prefill + u)).unwrap();
        let d = dry.flash().stats().since(&s0);
        // An append erases (at most one sector here) before it writes.
        ops.extend((0..d.erases).map(|_| (u, OpKind::Erase)));
        ops.extend((0..d.writes).map(|_| (u, OpKind::Write)));
        assert_eq!(
            ops.len() as u64,
            dry.flash().mutating_ops() - first_op,
            "op count"
        );
    }
    assert!(
        ops.iter().any(|o| o.1 == OpKind::Erase),
        "sequence must cross a sector switch"
    );

    let mut runs = 0;
    for (k, &(u, kind)) in ops.iter().enumerate() {
        let op = first_op + k as u64;
        for mode in CutMode::ALL {
            if !mode.applies_to(kind) {
                continue;
            }
            runs += 1;
            let mut flash = base.clone().seed(seed ^ (op << 8) ^ mode as u64);
            flash.cut_at(op, mode);
            let mut j = Journal::new(flash, geometry).unwrap();
            let mut cut_in = None;
            for v in 0..UPDATES {
                if j.append(&state(prefill + v)).is_err() {
                    cut_in = Some(v);
                    break;
                }
            }
            assert_eq!(
                cut_in,
                Some(u),
                "cut at op {op} ({mode:?}) fired in the wrong update"
            );
            let mut flash = j.into_inner();
            assert!(flash.cut_happened());
            flash.power_on();

            let before = if u == 0 {
                state(prefill - 1)
            } else {
                state(prefill + u - 1)
            };
            let after = state(prefill + u);
            let ctx = format!("W{W} E{E} wo={write_once} op {op} update {u} {mode:?} seed {seed}");
            let mut j = Journal::new(flash, geometry).unwrap();
            // Weak bits may read differently each time: every read must
            // still be one of the two allowed states.
            for _ in 0..3 {
                let got = j.read().record.map(|r| r.state);
                assert!(
                    got.as_ref() == Some(&before) || got.as_ref() == Some(&after),
                    "{ctx}: read {got:?}"
                );
            }
            // The next update goes through and is what every read sees.
            let next = state(10_000 + u);
            j.append(&next)
                .unwrap_or_else(|e| panic!("{ctx}: next update failed: {e:?}"));
            for _ in 0..3 {
                assert_eq!(j.read().record.map(|r| r.state), Some(next), "{ctx}");
            }
            // And a reboot agrees.
            let mut j = Journal::new(j.into_inner(), geometry).unwrap();
            assert_eq!(
                j.read().record.map(|r| r.state),
                Some(next),
                "{ctx}: after reboot"
            );
        }
    }
    Outcome { runs }
}

/// Seeds per geometry (each draws other torn bits, half-erased bits and
/// weak-bit reads): 4, or 64 with `ABBOOT_EXHAUSTIVE=1`.
fn seeds() -> u64 {
    if std::env::var_os("ABBOOT_EXHAUSTIVE").is_some() {
        64
    } else {
        4
    }
}

fn report(name: &str, o: Outcome) {
    println!("{name}: {} cut runs, all invariants held", o.runs);
}

#[test]
fn every_cut_w4_e4k() {
    for seed in 0..seeds() {
        report(
            "W4/E4K",
            sweep::<1, 4, 4096>(false, 5, false, 1 + (seed << 8)),
        );
    }
}

#[test]
fn every_cut_w8_e2k_write_once() {
    for seed in 0..seeds() {
        report(
            "W8/E2K write-once",
            sweep::<8, 8, 2048>(true, 3, false, 2 + (seed << 8)),
        );
    }
}

#[test]
fn every_cut_w16_e128k() {
    // 512 records per sector: start close to the middle of the second
    // sector, where the first one is erased before the move back to it.
    for seed in 0..seeds() {
        report(
            "W16/E128K",
            sweep::<1, 16, 131072>(false, 765, false, 3 + (seed << 8)),
        );
    }
}

#[test]
fn every_cut_w32_e1k_from_wraparound() {
    for seed in 0..seeds() {
        report(
            "W32/E1K",
            sweep::<32, 32, 1024>(false, 2, true, 4 + (seed << 8)),
        );
    }
}
