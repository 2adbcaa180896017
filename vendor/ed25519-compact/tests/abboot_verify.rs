//! abboot: signatures made by this crate over many keys and messages verify,
//! and a changed message, signature or key does not. This exercises the
//! double scalar multiplication with many scalars (its signed-digit windows
//! were changed for the stack; see ABBOOT.md).

use ed25519_compact::{KeyPair, PublicKey, Seed};

fn bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn many_keys_and_messages() {
    for i in 0..300u32 {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes(i, 32));
        let kp = KeyPair::from_seed(Seed::new(seed));
        let msg = bytes(i + 1_000_000, (i % 97) as usize);
        let sig = kp.sk.sign(&msg, None);
        assert!(kp.pk.verify(&msg, &sig).is_ok(), "key {i}");

        let mut other = msg.clone();
        other.push(i as u8);
        assert!(
            kp.pk.verify(&other, &sig).is_err(),
            "message changed, key {i}"
        );

        let mut bad = *sig;
        bad[(i % 64) as usize] ^= 1 << (i % 8);
        let bad = ed25519_compact::Signature::new(bad);
        assert!(
            kp.pk.verify(&msg, &bad).is_err(),
            "signature changed, key {i}"
        );

        let mut seed2 = seed;
        seed2[0] ^= 1;
        let pk2: PublicKey = KeyPair::from_seed(Seed::new(seed2)).pk;
        assert!(pk2.verify(&msg, &sig).is_err(), "other key, key {i}");
    }
}
