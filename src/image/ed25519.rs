//! The Ed25519 verifier behind [`signed`](crate::image::signed): one
//! function, [`verify`], over raw bytes, with its backend chosen at build
//! time.
//!
//! - By default: `ed25519-compact` (the copy patched for the no-panic proof
//!   in `vendor/ed25519-compact`).
//! - With the `ed25519-salty` feature: `salty`, the size-first build. On
//!   Cortex-M4/M33 targets (`thumbv7em`, `thumbv8m.main`) salty multiplies
//!   field elements with its bundled assembly, elsewhere (the host,
//!   Cortex-M3) in portable Rust.
//!
//! Both answer the same for the same key, message and signature, as far as
//! an honest signer can produce them: the wire format (raw 32-byte keys,
//! 64-byte `R || S` signatures, RFC 8032 Ed25519) is the same, so keys and
//! signed images do not change with the build.
//!
//! # What salty is made to refuse
//!
//! `ed25519-compact` refuses, before any curve arithmetic, a scalar `S`
//! that is not below the group order `L`, a key or `R` whose `y` is not
//! below `p = 2^255 - 19`, a key or `R` that encodes `x = 0` with the sign
//! bit set, and a key or `R` of small order. salty 0.3.0 checks none of
//! these, and some matter: it accepts `S + L` for `S`, and a small-order key
//! (such as the identity, for which one signature fits every message). So
//! the salty path checks the same encodings first, by plain byte
//! comparisons: `S < L`, and for the key and `R` a `y` (sign bit cleared)
//! below `p` and none of the five `y` values the eight small-order points
//! have (`0`, `1`, `p - 1` and the order-8 pair); those five also cover
//! the encodings of `x = 0` with the sign bit set.
//!
//! # Where the two still differ
//!
//! `ed25519-compact` checks the cofactored equation (`[8](SB - kA - R)` is
//! the identity), salty the cofactorless one (`SB - kA` encodes to `R`).
//! They differ only for a key or an `R` with a small-order component
//! (mixed order), which no key generation and no signer following RFC 8032
//! produces: there salty refuses some signatures `ed25519-compact` accepts,
//! never the reverse. The tests (`src/image/ed25519_tests.rs`) build such
//! cases and assert exactly that.

/// Whether `signature` (`R || S`) is a valid Ed25519 signature of `message`
/// by `key`, with the backend of this build.
#[cfg(not(feature = "ed25519-salty"))]
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    verify_compact(key, message, signature)
}

/// Whether `signature` (`R || S`) is a valid Ed25519 signature of `message`
/// by `key`, with the backend of this build.
#[cfg(feature = "ed25519-salty")]
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    verify_salty(key, message, signature)
}

/// [`verify`] with `ed25519-compact`.
#[cfg_attr(feature = "ed25519-salty", allow(dead_code))]
pub(crate) fn verify_compact(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    // Borrowed as they lie: no `PublicKey` or `Signature` copy on the
    // stack under the verification.
    ed25519_compact::verify_parts(key, message, signature).is_ok()
}

/// [`verify`] with `salty`, after the encoding checks of the [module
/// documentation](self).
#[cfg(feature = "ed25519-salty")]
pub(crate) fn verify_salty(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    // `R || S`: `copy` stops at the end of `r`.
    copy(&mut r, signature);
    copy(&mut s, signature.get(32..).unwrap_or(&[]));
    if !less_than(&s, &L) || !acceptable_point(key) || !acceptable_point(&r) {
        return false;
    }
    let mut raw = [0u8; 32];
    copy(&mut raw, key);
    let Ok(key) = salty::PublicKey::try_from(&raw) else {
        return false;
    };
    let signature = salty::Signature {
        r: salty::CompressedY(r),
        s: salty::Scalar(s),
    };
    key.verify(message, &signature).is_ok()
}

/// `dst` filled from `src`, element by element (no `copy_from_slice`: its
/// length check, and the general `memmove`).
#[cfg(any(test, feature = "ed25519-salty"))]
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// The group order `L = 2^252 + 27742317777372353535851937790883648493`,
/// little-endian.
#[cfg(any(test, feature = "ed25519-salty"))]
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The field prime `p = 2^255 - 19`, little-endian.
#[cfg(any(test, feature = "ed25519-salty"))]
const P: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// The `y` coordinates (little-endian, below `p`) of the eight points of
/// small order: the identity (`1`), the point of order 2 (`p - 1`), the two
/// of order 4 (`0`) and the four of order 8 (a `y` and its negation).
#[cfg(any(test, feature = "ed25519-salty"))]
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// `a < b`, both little-endian.
#[cfg(any(test, feature = "ed25519-salty"))]
fn less_than(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// A point encoding `ed25519-compact` would decode as a key or `R`, as far
/// as the bytes tell: `y` below `p` and not the `y` of a small-order point.
/// (Whether `y` is on the curve at all, salty's decoding and verification
/// decide, as `ed25519-compact`'s do.)
#[cfg(any(test, feature = "ed25519-salty"))]
fn acceptable_point(encoded: &[u8; 32]) -> bool {
    let mut y = [0u8; 32];
    copy(&mut y, encoded);
    if let Some(top) = y.last_mut() {
        *top &= 0x7f;
    }
    less_than(&y, &P) && !SMALL_ORDER_Y.contains(&y)
}

#[cfg(test)]
#[path = "ed25519_tests.rs"]
mod tests;
