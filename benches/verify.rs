//! Signed-image verification of a 256 KiB image, for instruction counting
//! with callgrind (counted, not timed):
//!
//! ```sh
//! cargo bench --bench verify --no-run
//! B=$(ls -t target/release/deps/verify-* | grep -v '\.d$' | head -1)
//! for f in verify sha256 ed25519; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$f --toggle-collect="*measured_$f*" $B
//! done
//! ```
//!
//! `measured_verify` is `verify_image` from flash (header, key, signature,
//! SHA-256 streamed through the 256-byte buffer); `measured_sha256` is a
//! raw SHA-256 of the same payload bytes in memory; `measured_ed25519` one
//! raw Ed25519 verify of the same signed header bytes.

use std::hint::black_box;

use abboot::flash::Region;
use abboot::image::header::ImageHeader;
use abboot::image::header::SIGNED_LEN;
use abboot::image::sign::{keypair_from_seed, sign_image};
use abboot::image::signed::{verify_image, BoardProfile, TrustedKey, TrustedKeys};
use abboot::sim::SimFlash;
use abboot::{Slot, Version};
use sha2::{Digest, Sha256};

const PAYLOAD: usize = 256 * 1024;

#[inline(never)]
fn measured_verify(
    flash: &mut SimFlash<1, 4, 4096>,
    region: Region,
    keys: &TrustedKeys<'_>,
    profile: &BoardProfile,
) -> bool {
    black_box(verify_image(flash, region, Slot::A, keys, profile)).is_ok()
}

#[inline(never)]
fn measured_sha256(payload: &[u8]) -> [u8; 32] {
    black_box(Sha256::digest(black_box(payload)).into())
}

#[inline(never)]
fn measured_ed25519(
    pk: &ed25519_compact::PublicKey,
    msg: &[u8],
    sig: &ed25519_compact::Signature,
) -> bool {
    black_box(pk.verify(black_box(msg), sig)).is_ok()
}

fn main() {
    let key = keypair_from_seed([9; 32]).unwrap();
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 7 + 3) as u8).collect();
    let header = ImageHeader {
        version: Version::new(1, 0, 0, 0),
        header_len: 0x200,
        ..ImageHeader::default()
    };
    let image = sign_image(&header, &payload, &key, 0x200).unwrap();
    let region = Region::new(0, 272 * 1024);
    let mut flash = SimFlash::<1, 4, 4096>::new(region.len as usize);
    flash.set_contents(0, &image);
    let keys_raw = [TrustedKey::new(*key.pk)];
    let keys = TrustedKeys::new(&keys_raw);
    let profile = BoardProfile {
        header_len: None,
        hardware_id: 0,
        load_address: [0, 0],
    };

    assert!(measured_verify(&mut flash, region, &keys, &profile));
    let digest = measured_sha256(&payload);
    let sig = ed25519_compact::Signature::from_slice(&image[SIGNED_LEN..SIGNED_LEN + 64]).unwrap();
    assert!(measured_ed25519(&key.pk, &image[..SIGNED_LEN], &sig));
    println!(
        "verified a {} KiB image; payload SHA-256 {:02x}{:02x}..",
        PAYLOAD / 1024,
        digest[0],
        digest[1]
    );
}
