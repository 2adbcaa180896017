//! Tests of the Ed25519 backends: RFC 8032 vectors for each, and (with the
//! `ed25519-salty` feature) a cross-check that runs both on the same keys,
//! messages and signatures, honest and crafted.

use super::*;
use std::vec::Vec;

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let v = hex_vec(s);
    <[u8; N]>::try_from(v).unwrap()
}

fn hex_vec(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 8032 section 7.1: TEST 1, 2, 3 and SHA(abc) as (key, message,
/// signature).
fn rfc8032() -> [([u8; 32], Vec<u8>, [u8; 64]); 4] {
    [
        (
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
            hex_vec(""),
            hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ),
        (
            hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
            hex_vec("72"),
            hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ),
        (
            hex("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"),
            hex_vec("af82"),
            hex("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
        ),
        (
            hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf"),
            hex_vec("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
            hex("dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
        ),
    ]
}

/// A verifier: key, message, signature.
type Verifier = fn(&[u8; 32], &[u8], &[u8; 64]) -> bool;

/// The verifiers this build has, by name.
fn backends() -> Vec<(&'static str, Verifier)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, Verifier)> =
        std::vec![("ed25519-compact", verify_compact), ("build", verify)];
    #[cfg(feature = "ed25519-salty")]
    v.push(("salty", verify_salty));
    v
}

#[test]
fn rfc8032_vectors_pass_with_every_backend() {
    for (name, verify) in backends() {
        for (i, (key, message, signature)) in rfc8032().iter().enumerate() {
            assert!(verify(key, message, signature), "{name}: TEST {i}");
            let mut bad = *signature;
            bad[63] ^= 0x01;
            assert!(!verify(key, message, &bad), "{name}: TEST {i} altered");
        }
    }
}

#[test]
fn encoding_checks() {
    let mut l_minus_1 = L;
    l_minus_1[0] -= 1;
    assert!(less_than(&l_minus_1, &L));
    assert!(!less_than(&L, &L));
    let mut l_plus_256 = L;
    l_plus_256[1] += 1;
    assert!(!less_than(&l_plus_256, &L));
    assert!(less_than(&[0; 32], &L));
    assert!(!less_than(&[0xff; 32], &L));
    // y = p - 1 is the order-2 point; p - 2 is no small-order y.
    let mut y = P;
    y[0] = 0xeb;
    assert!(acceptable_point(&y));
    y[31] |= 0x80;
    assert!(acceptable_point(&y));
    for bad in SMALL_ORDER_Y.iter().chain([&P]) {
        let mut y = *bad;
        assert!(!acceptable_point(&y));
        y[31] |= 0x80;
        assert!(!acceptable_point(&y));
    }
    assert!(!acceptable_point(&[0xff; 32]));
}

#[cfg(feature = "ed25519-salty")]
mod cross_check {
    use super::*;
    use ed25519_compact::{KeyPair, Seed};
    use salty::{CompressedY, EdwardsPoint, Scalar};
    use sha2::{Digest, Sha512};

    /// The signature by `seed`'s key pair of `message`, with ed25519-compact.
    fn sign(seed: [u8; 32], message: &[u8]) -> ([u8; 32], [u8; 64]) {
        let kp = KeyPair::from_seed(Seed::new(seed));
        (*kp.pk, *kp.sk.sign(message, None))
    }

    /// Seed `i` of a test (deterministic).
    fn seed(i: u32) -> [u8; 32] {
        sha2::Sha256::digest(i.to_le_bytes()).into()
    }

    /// Both backends' answer, asserted equal.
    fn both(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        let c = verify_compact(key, message, signature);
        let s = verify_salty(key, message, signature);
        assert_eq!(
            c, s,
            "ed25519-compact {c}, salty {s}: key {key:02x?} message {message:02x?} signature {signature:02x?}"
        );
        c
    }

    /// salty alone, without abboot's encoding checks.
    fn salty_unchecked(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(key) = salty::PublicKey::try_from(key) else {
            return false;
        };
        key.verify(message, &salty::Signature::from(signature))
            .is_ok()
    }

    /// `x mod L`, for any 256-bit `x`.
    fn reduce(x: &[u8; 32]) -> Scalar {
        let mut wide = [0u8; 64];
        wide[..32].copy_from_slice(x);
        Scalar::from_u512_le(&wide)
    }

    /// The secret scalar of `seed` (RFC 8032 5.1.5), reduced.
    fn secret(seed: [u8; 32]) -> Scalar {
        let h = Sha512::digest(seed);
        let mut a = [0u8; 32];
        a.copy_from_slice(&h[..32]);
        a[0] &= 248;
        a[31] &= 127;
        a[31] |= 64;
        reduce(&a)
    }

    /// The challenge `H(R || A || M) mod L`, with the `sha2` crate.
    fn challenge(r: &[u8; 32], key: &[u8; 32], message: &[u8]) -> Scalar {
        let h = Sha512::new()
            .chain_update(r)
            .chain_update(key)
            .chain_update(message)
            .finalize();
        let mut wide = [0u8; 64];
        wide.copy_from_slice(&h);
        Scalar::from_u512_le(&wide)
    }

    fn point(encoded: &[u8; 32]) -> EdwardsPoint {
        CompressedY(*encoded).decompressed().unwrap()
    }

    fn encode(p: &EdwardsPoint) -> [u8; 32] {
        p.compressed().0
    }

    fn signature(r: &[u8; 32], s: &Scalar) -> [u8; 64] {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r);
        sig[32..].copy_from_slice(&s.0);
        sig
    }

    /// `[8] P` is the identity.
    fn has_small_order(p: &EdwardsPoint) -> bool {
        let mut q = *p;
        for _ in 0..3 {
            q = &q + &q;
        }
        q == EdwardsPoint::neutral_element()
    }

    /// The eight small-order points, as canonical encodings (both signs of
    /// each small-order `y` that decodes; `x = 0` has one).
    fn small_order_points() -> Vec<[u8; 32]> {
        let mut points = Vec::new();
        for y in SMALL_ORDER_Y {
            for sign in [0u8, 0x80] {
                let mut e = y;
                e[31] |= sign;
                if let Ok(p) = CompressedY(e).decompressed() {
                    assert!(has_small_order(&p));
                    let canonical = encode(&p);
                    if !points.contains(&canonical) {
                        points.push(canonical);
                    }
                }
            }
        }
        assert_eq!(points.len(), 8);
        points
    }

    /// Every other encoding of the small-order points: `x = 0` with the sign
    /// bit set, and `y + p` (for `y` = 0 and 1) with either sign bit.
    fn non_canonical_small_order() -> Vec<[u8; 32]> {
        let mut v = Vec::new();
        let one = SMALL_ORDER_Y[1];
        let minus_one = SMALL_ORDER_Y[2];
        for mut e in [one, minus_one] {
            e[31] |= 0x80;
            v.push(e);
        }
        for add in [0u8, 1] {
            for sign in [0u8, 0x80] {
                let mut e = P;
                e[0] += add;
                e[31] |= sign;
                v.push(e);
            }
        }
        v
    }

    /// The 38 encodings whose `y` is not below `p` (`p` to `2^255 - 1`,
    /// either sign bit).
    fn non_canonical_y() -> Vec<[u8; 32]> {
        let mut v = Vec::new();
        for add in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut e = P;
                e[0] += add;
                e[31] |= sign;
                v.push(e);
            }
        }
        v
    }

    #[test]
    fn honest_signatures_agree_and_flipped_bits_are_refused_by_both() {
        for (key, message, sig) in rfc8032() {
            assert!(both(&key, &message, &sig));
        }
        // Messages of every length around the SHA-512 block boundaries.
        for len in 0..300usize {
            let message: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let (key, sig) = sign(seed(len as u32), &message);
            assert!(both(&key, &message, &sig), "length {len}");
            if len > 0 {
                let mut m = message.clone();
                m[len * 7 % len] ^= 1 << (len % 8);
                assert!(!both(&key, &m, &sig));
            }
            let mut longer = message.clone();
            longer.push(0);
            assert!(!both(&key, &longer, &sig));
        }
        // Every bit of the signature and of the key, and of a message.
        let message = b"abboot image header";
        let (key, sig) = sign(seed(1000), message);
        for bit in 0..512 {
            let mut s = sig;
            s[bit / 8] ^= 1 << (bit % 8);
            assert!(!both(&key, message, &s), "signature bit {bit}");
        }
        for bit in 0..256 {
            let mut k = key;
            k[bit / 8] ^= 1 << (bit % 8);
            assert!(!both(&k, message, &sig), "key bit {bit}");
        }
        for bit in 0..message.len() * 8 {
            let mut m = *message;
            m[bit / 8] ^= 1 << (bit % 8);
            assert!(!both(&key, &m, &sig), "message bit {bit}");
        }
    }

    #[test]
    fn crafted_signatures_verify_with_both() {
        // The crafting below is right: an R = rB, S = r + kA signature
        // made here verifies with both.
        for i in 0..16 {
            let sd = seed(2000 + i);
            let a = secret(sd);
            let key = sign(sd, b"").0;
            assert_eq!(encode(&(&a * &EdwardsPoint::basepoint())), key);
            let r = reduce(&seed(3000 + i));
            let r_enc = encode(&(&r * &EdwardsPoint::basepoint()));
            let message = i.to_le_bytes();
            let k = challenge(&r_enc, &key, &message);
            let s = &r + &(&k * &a);
            assert!(both(&key, &message, &signature(&r_enc, &s)));
        }
    }

    #[test]
    fn non_canonical_s_is_refused_by_both() {
        for i in 0..32 {
            let message = [i as u8; 40];
            let (key, sig) = sign(seed(4000 + i), &message);
            // S + nL for every n that stays below 2^256.
            let mut s = [0u8; 32];
            s.copy_from_slice(&sig[32..]);
            let mut n = 0;
            loop {
                let mut carry = 0u16;
                for (x, l) in s.iter_mut().zip(L) {
                    let t = *x as u16 + l as u16 + carry;
                    *x = t as u8;
                    carry = t >> 8;
                }
                if carry != 0 {
                    break;
                }
                n += 1;
                let mut forged = sig;
                forged[32..].copy_from_slice(&s);
                // salty alone takes S + nL for S: the check in front of it
                // is what refuses it.
                assert!(salty_unchecked(&key, &message, &forged), "S + {n}L");
                assert!(!both(&key, &message, &forged), "S + {n}L");
            }
            assert!(n >= 14, "{n}");
        }
        // S = L and S all ones, with an honest R.
        let (key, sig) = sign(seed(4100), b"m");
        for s in [L, [0xff; 32]] {
            let mut forged = sig;
            forged[32..].copy_from_slice(&s);
            assert!(!both(&key, b"m", &forged));
        }
    }

    #[test]
    fn small_order_keys_are_refused_by_both() {
        let identity = encode(&EdwardsPoint::neutral_element());
        let mut keys = small_order_points();
        keys.extend(non_canonical_small_order());
        for key in &keys {
            // R = identity, S = 0: SB - kA = -kA, the identity whenever
            // the order of A divides k; salty alone accepts those.
            let forged = signature(&identity, &Scalar([0; 32]));
            let mut salty_took = 0;
            for i in 0..64u32 {
                let message = i.to_le_bytes();
                if salty_unchecked(key, &message, &forged) {
                    salty_took += 1;
                }
                assert!(!both(key, &message, &forged));
            }
            // At least one order-8 multiple in 64 tries (2^-12 to miss for
            // any key decoded to an order-8 point; sure for the others).
            assert!(salty_took > 0, "{key:02x?}");
            // And an honest signature with the key's bytes swapped in.
            let (_, sig) = sign(seed(5000), b"m");
            assert!(!both(key, b"m", &sig));
        }
    }

    #[test]
    fn small_order_r_is_refused_by_both() {
        let sd = seed(6000);
        let a = secret(sd);
        let key = sign(sd, b"").0;
        let mut rs = small_order_points();
        rs.extend(non_canonical_small_order());
        for r_enc in &rs {
            for i in 0..8u32 {
                let message = i.to_le_bytes();
                // S = ka: SB - kA is the identity.
                let k = challenge(r_enc, &key, &message);
                let sig = signature(r_enc, &(&k * &a));
                let identity = *r_enc == encode(&EdwardsPoint::neutral_element());
                assert_eq!(salty_unchecked(&key, &message, &sig), identity);
                assert!(!both(&key, &message, &sig));
            }
        }
    }

    #[test]
    fn non_canonical_encodings_are_refused_by_both() {
        let sd = seed(7000);
        let a = secret(sd);
        let (key, sig) = sign(sd, b"m");
        for e in non_canonical_y() {
            // As the key, with an honest signature and a forged one.
            assert!(!both(&e, b"m", &sig));
            let forged = signature(&encode(&EdwardsPoint::neutral_element()), &Scalar([0; 32]));
            assert!(!both(&e, b"m", &forged));
            // As R, with the S that makes SB - kA the point R decodes to
            // when it decodes to the identity (y = p + 1).
            let k = challenge(&e, &key, b"m");
            assert!(!both(&key, b"m", &signature(&e, &(&k * &a))));
            let mut r_sig = sig;
            r_sig[..32].copy_from_slice(&e);
            assert!(!both(&key, b"m", &r_sig));
        }
    }

    /// Mixed-order keys and R (a prime-order point plus a small-order one):
    /// ed25519-compact checks the cofactored equation, salty the
    /// cofactorless one. Where they differ salty refuses and
    /// ed25519-compact accepts, never the reverse.
    #[test]
    fn mixed_order_keys_and_r_differ_only_towards_refusal() {
        let torsion: Vec<EdwardsPoint> = small_order_points()
            .iter()
            .map(point)
            .filter(|t| *t != EdwardsPoint::neutral_element())
            .collect();
        let mut compact_only = 0;
        let mut both_accept = 0;
        for (j, t) in torsion.iter().enumerate() {
            let sd = seed(8000 + j as u32);
            let a = secret(sd);
            let honest_key = sign(sd, b"").0;
            let mixed_key = encode(&(&(&a * &EdwardsPoint::basepoint()) + t));
            for i in 0..32u32 {
                let message = i.to_le_bytes();
                let r = reduce(&seed(9000 + i));
                let rb = &r * &EdwardsPoint::basepoint();
                // Mixed-order key A + T, signed with a: SB - kA' = R - kT.
                let r_enc = encode(&rb);
                let k = challenge(&r_enc, &mixed_key, &message);
                let sig = signature(&r_enc, &(&r + &(&k * &a)));
                // Mixed-order R' = R + T, honest key: SB - kA = R != R'.
                let r_mixed = encode(&(&rb + t));
                let k2 = challenge(&r_mixed, &honest_key, &message);
                let sig2 = signature(&r_mixed, &(&r + &(&k2 * &a)));
                for (key, sig) in [(mixed_key, sig), (honest_key, sig2)] {
                    let c = verify_compact(&key, &message, &sig);
                    let s = verify_salty(&key, &message, &sig);
                    assert!(c, "cofactored: always accepted");
                    assert!(!s || c, "salty accepts only what compact accepts");
                    assert_eq!(s, salty_unchecked(&key, &message, &sig));
                    if s {
                        both_accept += 1;
                    } else {
                        compact_only += 1;
                    }
                }
            }
        }
        // Both outcomes occur: salty takes the mixed key when the order of
        // T divides k, and never a mixed R.
        assert!(compact_only > 0 && both_accept > 0);
    }

    /// salty's SHA-512 (patched in vendor/salty) against the `sha2` crate's,
    /// over every length 0-300 and every split into two updates.
    #[test]
    fn salty_sha512_matches_sha2() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..=300 {
            let m = &data[..len];
            let want: [u8; 64] = Sha512::digest(m).into();
            for split in 0..=len {
                let got = salty::Sha512::new()
                    .updated(&m[..split])
                    .updated(&m[split..])
                    .finalize();
                assert_eq!(got, want, "len {len} split {split}");
            }
            let three = salty::Sha512::new()
                .updated(&m[..len / 3])
                .updated(&m[len / 3..2 * len / 3])
                .updated(&m[2 * len / 3..])
                .finalize();
            assert_eq!(three, want, "len {len} in three");
        }
    }
}
