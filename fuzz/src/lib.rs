//! What the abboot fuzz targets share: the fixed key and board, the fixed
//! journal state, an independent reading of the record layout, and the seed
//! inputs.
//!
//! # Seeds
//!
//! No input files are committed. When the environment variable
//! [`SEED_DIR_ENV`] names a directory, a target's `init` writes its seed
//! inputs there (valid signed images, records and journals, built with
//! abboot's own encoder, signer and simulated flash) before libFuzzer reads
//! its corpus directories; `scripts/fuzz` passes that directory as a
//! second corpus directory. The seeds are deterministic, so rewriting them
//! each run changes nothing.

use std::path::PathBuf;

use abboot::image::header::ImageHeader;
use abboot::image::sign::{keypair_from_seed, sign_image};
use abboot::image::signed::BoardProfile;
use abboot::journal::{Geometry, Journal};
use abboot::record::{Record, RECORD_SIZE};
use abboot::sim::{CutMode, SimFlash};
use abboot::state::{BootEvent, BootKind, BootState, ImageState, Reason, Slot, UpdateState};
use abboot::Version;

/// Environment variable naming the directory a target writes its seeds to.
pub const SEED_DIR_ENV: &str = "ABBOOT_FUZZ_SEED_DIR";

// ---------------------------------------------------------------------------
// Signed images.

/// Seed of the one trusted signing key.
pub const TRUSTED_SEED: [u8; 32] = [0x42; 32];
/// Seed of a key the board does not trust.
pub const FOREIGN_SEED: [u8; 32] = [0x24; 32];
/// Hardware id of the fuzzed board.
pub const HARDWARE_ID: u32 = 0xAB00_F022;
/// Load address the board expects for both slots (the same for both, so
/// that one input verifies identically as slot A and as slot B).
pub const LOAD_ADDRESS: u32 = 0x0800_0200;
/// The board profile every image is checked against.
pub const PROFILE: BoardProfile = BoardProfile {
    header_len: None,
    hardware_id: HARDWARE_ID,
    load_address: [LOAD_ADDRESS, LOAD_ADDRESS],
};
/// Size of the fuzzed slot, the longest input of `image_verify`.
pub const SLOT_LEN: usize = 8192;

/// The trusted public key, raw.
pub fn trusted_key() -> [u8; 32] {
    *keypair_from_seed(TRUSTED_SEED).expect("fixed seed").pk
}

fn template(hardware_id: u32) -> ImageHeader {
    ImageHeader {
        version: Version::new(1, 4, 2, 77),
        security_counter: 3,
        hardware_id,
        load_address: LOAD_ADDRESS,
        data_epoch: 2,
        ..ImageHeader::default()
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

fn signed(seed: [u8; 32], hardware_id: u32, header_len: u32, payload_len: usize) -> Vec<u8> {
    let key = keypair_from_seed(seed).expect("fixed seed");
    sign_image(
        &template(hardware_id),
        &payload(payload_len),
        &key,
        header_len,
    )
    .expect("seed image signs")
}

/// Slot contents for `image_verify`: images that verify, and images that
/// fail late (foreign key, other hardware).
pub fn image_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "valid-0x200",
            signed(TRUSTED_SEED, HARDWARE_ID, 0x200, 1000),
        ),
        ("valid-min", signed(TRUSTED_SEED, HARDWARE_ID, 144, 1)),
        (
            "valid-full-slot",
            signed(TRUSTED_SEED, HARDWARE_ID, 0x100, SLOT_LEN - 0x100),
        ),
        ("foreign-key", signed(FOREIGN_SEED, HARDWARE_ID, 0x200, 300)),
        ("other-hardware", signed(TRUSTED_SEED, 0x0BAD, 0x200, 300)),
    ]
}

/// Headers for `header_parse`: the fixed part of each image seed.
pub fn header_seeds() -> Vec<(&'static str, Vec<u8>)> {
    image_seeds()
        .into_iter()
        .map(|(name, image)| (name, image[..ImageHeader::FIXED_LEN].to_vec()))
        .collect()
}

// ---------------------------------------------------------------------------
// Records and journals.

/// The state `journal_scan` appends: every field away from its default.
pub fn fixed_state() -> BootState {
    let mut state = BootState {
        primary: Some(Slot::A),
        rollback: Some(Slot::B),
        update: UpdateState::Trial,
        last_reason: Reason::App(5),
        failure_count: 2,
        data_epoch: 3,
        min_security_counter: 9,
        rejected_digest: Some([0xA5; 32]),
        ..BootState::default()
    };
    state.slots[0].state = ImageState::Confirmed;
    state.slots[0].version = Version::new(1, 0, 0, 1);
    state.slots[0].digest = [0x11; 32];
    state.slots[0].attempts = 4;
    state.slots[1].state = ImageState::Trial { tries: 2 };
    state.slots[1].version = Version::new(1, 1, 0, 0);
    state.slots[1].digest = [0x22; 32];
    state.slots[1].security_counter = 9;
    state.slots[1].data_epoch = 3;
    state
        .update_tag
        .extend_from_slice(b"fuzz-update-0001")
        .expect("tag fits");
    state.push_event(BootEvent::new(
        BootKind::Trial,
        Some(Slot::B),
        Reason::None,
        2,
    ));
    state
}

/// States for the record and journal seeds.
fn seed_states() -> Vec<BootState> {
    let mut pending = BootState::default();
    pending.slots[0].state = ImageState::Confirmed;
    pending.slots[1].state = ImageState::Pending { tries: 3 };
    pending.update = UpdateState::Staged;
    let mut full = fixed_state();
    for i in 0..8u8 {
        full.push_event(BootEvent::new(
            BootKind::from_tag(i % 7).expect("tag"),
            Slot::from_index(i % 2),
            Reason::from_code(i % 7).expect("code"),
            i,
        ));
    }
    full.update_tag.clear();
    full.update_tag
        .extend_from_slice(&[0x5E; 36])
        .expect("tag fits");
    vec![BootState::default(), pending, fixed_state(), full]
}

/// Records for `record_decode`.
pub fn record_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let names = ["default", "pending", "trial", "full"];
    let seqs = [0, 7, 0x7FFF_FFFF, u32::MAX];
    seed_states()
        .into_iter()
        .zip(names.iter().zip(seqs))
        .map(|(state, (&name, seq))| (name, Record { seq, state }.encode().to_vec()))
        .collect()
}

/// The flash `journal_scan` runs on: 1 KiB sectors, 4-byte words.
pub type JournalFlash = SimFlash<1, 4, 1024>;
/// Size of that flash, the longest input of `journal_scan`.
pub const JOURNAL_LEN: usize = 2048;
/// The journal's two sectors, four records each.
pub const JOURNAL_GEOMETRY: Geometry = Geometry::contiguous(0, 1024);

/// The flash after `appends` appends, the last one cut by `cut` if given.
fn journal_after(appends: usize, cut: Option<CutMode>) -> Vec<u8> {
    let mut journal =
        Journal::new(JournalFlash::new(JOURNAL_LEN), JOURNAL_GEOMETRY).expect("geometry");
    let states = seed_states();
    for i in 0..appends {
        if i + 1 == appends {
            if let Some(mode) = cut {
                let flash = journal.flash();
                let op = flash.mutating_ops();
                flash.cut_at(op, mode);
            }
        }
        let result = journal.append(&states[i % states.len()]);
        assert_eq!(result.is_err(), cut.is_some() && i + 1 == appends);
    }
    journal.into_inner().contents().to_vec()
}

/// Whole journal flashes for `journal_scan`.
pub fn journal_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("one", journal_after(1, None)),
        ("sector-full", journal_after(4, None)),
        ("both-sectors", journal_after(6, None)),
        ("wrapped", journal_after(11, None)),
        ("torn", journal_after(3, Some(CutMode::Torn))),
        ("torn-sector-1", journal_after(5, Some(CutMode::Torn))),
    ]
}

/// Writes `seeds` into the directory named by [`SEED_DIR_ENV`], if set, as
/// `seed-<name>`. Called from a target's `init`.
pub fn write_seeds(seeds: fn() -> Vec<(&'static str, Vec<u8>)>) {
    let Some(dir) = std::env::var_os(SEED_DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    for (name, bytes) in seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }
}

// ---------------------------------------------------------------------------
// An independent reading of the record layout (the table in
// `abboot::record`), to check the codec against.

/// CRC-32/ISO-HDLC, bit by bit (zlib's `crc32`), written apart from abboot's.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The bytes abboot writes for the record that `b` decodes to: `b` with
/// every byte the format says is ignored when read set to 0, and the CRC
/// recomputed. Only meaningful for bytes that decode.
///
/// Ignored when read: the reserved bytes (0x06..0x08, 0xF8..0xFC and
/// bytes 3, 18 and 19 of each slot entry), the rejected digest when flag
/// bit 0 is clear, tag bytes past `tag_len`, the tries byte of a slot
/// whose state is neither pending nor trial, and the home fields
/// (0xE0..0xE8), which `Record::encode` writes as 0. Byte 0x1B (the check
/// error) and 0xE8..0xF8 (the digest prefix rejected before the last) are
/// read; the event ring (0x1C..0x34) is carried whole, entries past
/// `ev_count` and unknown events included.
pub fn canonical_record(b: &[u8; RECORD_SIZE]) -> [u8; RECORD_SIZE] {
    let mut c = *b;
    c[0x06..0x08].fill(0);
    // The event ring's 24 bytes are carried whole, past its count too.
    for slot in 0..2 {
        let o = 0x34 + 52 * slot;
        if !matches!(c[o], 1 | 2) {
            c[o + 1] = 0;
        }
        c[o + 3] = 0;
        c[o + 18..o + 20].fill(0);
    }
    if c[0x18] & 1 == 0 {
        c[0x9C..0xBC].fill(0);
    }
    let tag_len = usize::from(c[0x19]).min(36);
    c[0xBC + tag_len..0xE0].fill(0);
    // The home fields (`Record::encode` writes none) and the reserved
    // tail; 0xE8..0xF8 is the digest prefix rejected before the last.
    c[0xE0..0xE8].fill(0);
    c[0xF8..0xFC].fill(0);
    let crc = crc32(&c[..0xFC]);
    c[0xFC..].copy_from_slice(&crc.to_le_bytes());
    c
}
