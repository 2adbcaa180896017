//! Behaviour fingerprints: seeded hostile rigs replayed through the
//! journal and the bootloader, one line per case, hashed (SHA-256) and
//! compared with the fingerprint of the code they were taken from.
//!
//! The journal: random content on parts of 4- and 8-record sectors that
//! erase to 0xFF and to 0x00 — the journal's own records, then all-0xFF
//! and all-0x00 positions, torn tails, bit flips, random bytes, records of
//! the swapped geometry, far-off sequence numbers, the magic with random
//! contents — with permanent and transient read faults and write-protected
//! positions; each case records the read, `inspect` of every position,
//! six appends (one cut at a random point in a random mode) and a hash of
//! the flash at the end. The bootloader: random states (rejected digests,
//! update tags, events), damaged images, read faults on the slots, both
//! verify policies, three boots each.
//!
//! Written by the review of issue 14's eighth round, whose code-size
//! changes claimed to change no behaviour: the lines were byte-identical
//! before the round (dc0ab68) and after it. A change that alters any
//! verdict on these cases changes a fingerprint. One that means to must
//! say so: compare the lines of the two trees
//! (`ABBOOT_FINGERPRINT_OUT=FILE cargo test --test fingerprints`), then
//! update the constant in the same commit, saying why.

use std::cell::RefCell;
use std::fmt::Write as _;

use abboot::boot::{Bootloader, Policy, VerifyPolicy};
use abboot::context::Layout;
use abboot::flash::{Region, Shared};
use abboot::image::digest::DigestCheck;
use abboot::journal::{Geometry, Journal};
use abboot::record::{Record, RECORD_SIZE};
use abboot::sim::device::TestImage;
use abboot::sim::{ReadFault, SimFlash};
use abboot::state::{BootEvent, BootKind, BootState, ImageState, Reason, Slot, UpdateState};
use abboot::Version;
use embedded_storage::nor_flash::ReadNorFlash;

/// The fingerprints of the code at the commit that set them.
const JOURNAL: &str = "3a9a2ba8c23937f361186746e547f72d176c3d531ae19c2e09b702248b7d61f2";
const BOOT: &str = "ce931384edbacdea006ff0013006045b28a4a1212ca4e91b686682c0b84b3e9d";

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

fn slot(r: &mut Rng) -> Option<Slot> {
    match r.below(3) {
        0 => None,
        1 => Some(Slot::A),
        _ => Some(Slot::B),
    }
}

fn image_state(r: &mut Rng) -> ImageState {
    match r.below(5) {
        0 => ImageState::Empty,
        1 => ImageState::Confirmed,
        2 => ImageState::Rejected,
        3 => ImageState::Pending {
            tries: r.below(4) as u8,
        },
        _ => ImageState::Trial {
            tries: r.below(4) as u8,
        },
    }
}

/// A random state whose slots may name `digests` (the images on flash).
fn random_state(r: &mut Rng, digests: &[[u8; 32]; 2]) -> BootState {
    let mut s = BootState {
        primary: slot(r),
        rollback: slot(r),
        update: match r.below(3) {
            0 => UpdateState::default(),
            1 => UpdateState::Staged,
            _ => UpdateState::default(),
        },
        last_reason: if r.chance(2) {
            Reason::None
        } else {
            Reason::App(r.below(200) as u8)
        },
        failure_count: r.below(5) as u16,
        check_error: r.below(15) as u8,
        data_epoch: r.below(3) as u16,
        min_security_counter: r.below(4) as u32,
        ..BootState::default()
    };
    if r.chance(2) {
        let mut d = [0u8; 32];
        d[0] = r.next() as u8;
        s.rejected_digest = Some(if r.chance(2) { digests[0] } else { d });
    }
    if r.chance(2) {
        let mut d = [0u8; 16];
        d[r.below(16) as usize] = 1 + r.below(254) as u8;
        s.rejected_before = Some(d);
    }
    let tag_len = r.below(17) as usize;
    let tag: Vec<u8> = (0..tag_len).map(|_| r.next() as u8).collect();
    if let Ok(t) = abboot::state::UpdateTag::from_slice(&tag) {
        s.update_tag = t;
    }
    for _ in 0..r.below(6) {
        s.push_event(BootEvent::new(
            BootKind::Trial,
            slot(r),
            Reason::None,
            r.below(3) as u8,
        ));
    }
    for (i, info) in s.slots.iter_mut().enumerate() {
        info.state = image_state(r);
        info.attempts = r.below(3) as u8;
        info.version = Version::new(1, r.below(3) as u8, 0, 0);
        info.security_counter = r.below(4) as u32;
        info.digest = if r.chance(4) { [7; 32] } else { digests[i] };
    }
    s
}

/// The SHA-256 of the lines, in hex; the lines also go where
/// `ABBOOT_FINGERPRINT_OUT` says, to compare two trees.
fn fingerprint(name: &str, lines: &str) -> String {
    use sha2::{Digest, Sha256};
    if let Ok(path) = std::env::var("ABBOOT_FINGERPRINT_OUT") {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, old + lines).unwrap();
    }
    let hex: String = Sha256::digest(lines.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("{name}: {} lines, sha256 {hex}", lines.lines().count());
    hex
}

/// Random journal content on a part of sectors of `E` bytes erasing to
/// `erased`, read, inspected and appended to with read faults armed.
fn journal_case<const W: usize, const E: usize>(seed: u64, erased: u8, out: &mut String) {
    type F<const W: usize, const E: usize> = SimFlash<1, W, E>;
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let sector = E as u32;
    let geometry = Geometry::contiguous(0, sector).erased_to(erased);
    // Records of another geometry: the sectors swapped.
    let swapped = Geometry::new(sector, 0, sector).erased_to(erased);
    let cap = 2 * E;
    let digests = [[1u8; 32], [2u8; 32]];
    let per = (E / RECORD_SIZE) as u64;
    // A history written by the journal itself.
    let mut j = Journal::new(F::<W, E>::new(cap).erased_to(erased), geometry).unwrap();
    let n = r.below(3 * per + 2);
    for _ in 0..n {
        let s = random_state(&mut r, &digests);
        let _ = j.append(&s);
    }
    let mut flash = j.into_inner();
    let mut foreign = Journal::new(F::<W, E>::new(cap).erased_to(erased), swapped).unwrap();
    let _ = foreign.append(&random_state(&mut r, &digests));
    let foreign = foreign.into_inner();
    // Damage.
    for _ in 0..r.below(4) {
        let pos = r.below(2 * per) as usize * RECORD_SIZE;
        let mut b = [0u8; RECORD_SIZE];
        flash.read(pos as u32, &mut b).unwrap();
        match r.below(8) {
            0 => b = [0xFF; RECORD_SIZE],
            1 => b = [0x00; RECORD_SIZE],
            2 => {
                // Torn: the tail erased.
                let cut = r.below(RECORD_SIZE as u64) as usize;
                b[cut..].fill(erased);
            }
            3 => {
                let bit = r.below(RECORD_SIZE as u64 * 8) as usize;
                b[bit / 8] ^= 1 << (bit % 8);
            }
            4 => b.iter_mut().for_each(|x| *x = r.next() as u8),
            5 => {
                let at = if r.chance(2) { sector as usize } else { 0 };
                b.copy_from_slice(&foreign.contents()[at..at + RECORD_SIZE]);
            }
            6 => {
                // A valid record claiming a far sequence number.
                let rec = Record {
                    seq: r.next() as u32,
                    state: random_state(&mut r, &digests),
                };
                b = rec.encode();
            }
            _ => {
                // Magic kept, the rest random (a raw sequence claim).
                let keep = b[..4].to_vec();
                b.iter_mut().for_each(|x| *x = r.next() as u8);
                b[..4].copy_from_slice(&keep);
            }
        }
        flash.set_contents(pos, &b);
    }
    // Read faults.
    for _ in 0..r.below(3) {
        let pos = r.below(2 * per) as u32 * RECORD_SIZE as u32;
        let off = r.below(RECORD_SIZE as u64) as u32;
        let len = 1 + r.below(64) as u32;
        let fault = if r.chance(2) {
            ReadFault::Permanent
        } else {
            ReadFault::Transient(1 + r.below(6) as u32)
        };
        flash.fail_reads(pos + off..pos + off + len, fault);
    }
    // Positions that refuse programs (a torn ECC word, a locked range).
    if r.chance(3) {
        let pos = r.below(2 * per) as u32 * RECORD_SIZE as u32;
        let len = RECORD_SIZE as u32 * (1 + r.below(per) as u32);
        flash.protect(pos..pos + len);
    }
    let mut j = Journal::new(flash, geometry).unwrap();
    let loaded = j.read();
    let _ = writeln!(
        out,
        "J{seed} e{erased:02x} E{E} W{W}: read {:?} {} {} {:?}",
        loaded.record.as_ref().map(|x| (x.seq, x.state)),
        loaded.blank(),
        loaded.uncertain,
        loaded.findings
    );
    let mut positions = String::new();
    j.inspect(|p| {
        let _ = write!(positions, "{:?};", p.content);
    });
    let _ = writeln!(out, "  inspect {positions}");
    for k in 0..6 {
        let s = random_state(&mut r, &digests);
        if k == 3 {
            // A power cut at a random later operation, then power again.
            let mut f = j.into_inner();
            let modes = abboot::sim::CutMode::ALL;
            let mode = modes[r.below(modes.len() as u64) as usize];
            f.cut_at(f.mutating_ops() + r.below(4), mode);
            j = Journal::new(f, geometry).unwrap();
            let a = j.append(&s);
            let mut f = j.into_inner();
            f.power_on();
            f.disarm();
            j = Journal::new(f, geometry).unwrap();
            let _ = writeln!(out, "  cut append {a:?}");
            continue;
        }
        let a = j.append(&s);
        let l = j.read();
        let _ = writeln!(
            out,
            "  append {a:?} then {:?} {} {:?}",
            l.record.map(|x| (x.seq, x.state == s)),
            l.uncertain,
            l.findings
        );
    }
    let mut flash = j.into_inner();
    flash.clear_read_faults();
    let _ = writeln!(out, "  contents {:?}", hash(flash.contents()));
}

/// The first 8 bytes of the SHA-256 of `b` (stable across toolchains,
/// unlike `std`'s `DefaultHasher`).
fn hash(b: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(b);
    u64::from_le_bytes(std::array::from_fn(|i| d[i]))
}

/// The journal's verdicts, appends and flash contents on 6,000 hostile
/// cases.
#[test]
fn journal_fingerprint() {
    let mut out = String::new();
    for seed in 0..1500 {
        for erased in [0xFF, 0x00] {
            journal_case::<4, 1024>(seed, erased, &mut out);
            journal_case::<8, 2048>(seed, erased, &mut out);
        }
    }
    assert_eq!(fingerprint("journal", &out), JOURNAL);
}

const SLOT: u32 = 16384;

fn boot_layout() -> Layout {
    Layout::new(
        Geometry::contiguous(0, 4096),
        [Region::new(8192, SLOT), Region::new(8192 + SLOT, SLOT)],
    )
}

type Part = SimFlash<1, 4, 4096>;

fn boot_case(seed: u64, out: &mut String) {
    let mut r = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    let mut flash = Part::new(8192 + 2 * SLOT as usize);
    let mut digests = [[0u8; 32]; 2];
    for (i, s) in Slot::ALL.into_iter().enumerate() {
        if r.chance(5) {
            continue;
        }
        let mut t = TestImage::new(
            Version::new(1, r.below(3) as u8, 0, 0),
            1000 + r.below(3000) as usize,
            r.next() as u8,
        );
        t.header.security_counter = r.below(4) as u32;
        let img = t.build();
        let region = boot_layout().slots[s.index()];
        flash.set_contents(region.offset as usize, &img);
        let mut check = DigestCheck;
        if let Ok(info) = abboot::image::ImageCheck::check(&mut check, &mut flash, s, region) {
            digests[i] = info.digest;
        }
        if r.chance(6) {
            let at = region.offset as usize + 300 + r.below(500) as usize;
            flash.flip_bit(at, (r.next() % 8) as u8);
        }
    }
    // A state on flash, or none.
    if !r.chance(5) {
        let mut j = Journal::new(&mut flash, boot_layout().metadata).unwrap();
        for _ in 0..1 + r.below(3) {
            let _ = j.append(&random_state(&mut r, &digests));
        }
    }
    if r.chance(4) {
        let s = r.below(2) as usize;
        let region = boot_layout().slots[s];
        let off = region.offset + r.below(4000) as u32;
        flash.fail_reads(off..off + 64, ReadFault::Transient(1 + r.below(4) as u32));
    }
    let verify = if r.chance(2) {
        VerifyPolicy::Always
    } else {
        VerifyPolicy::TrialOnly
    };
    let cell = RefCell::new(flash);
    for boot in 0..3 {
        let mut b = Bootloader::new(
            Shared::new(&cell),
            Shared::new(&cell),
            boot_layout(),
            DigestCheck,
            Policy {
                verify,
                ..Policy::default()
            },
        )
        .unwrap();
        let d = b.select();
        let _ = writeln!(out, "B{seed}.{boot} {verify:?}: {d:?}");
    }
    let mut flash = cell.into_inner();
    flash.clear_read_faults();
    let mut j = Journal::new(&mut flash, boot_layout().metadata).unwrap();
    let l = j.read();
    let _ = writeln!(out, "  state {:?}", l.record.map(|x| (x.seq, x.state)));
}

/// The bootloader's decisions and the states they leave on 1,500 hostile
/// cases.
#[test]
fn boot_fingerprint() {
    let mut out = String::new();
    for seed in 0..1500 {
        boot_case(seed, &mut out);
    }
    assert_eq!(fingerprint("boot", &out), BOOT);
}
