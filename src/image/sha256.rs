//! SHA-256 of the payload: `sha2`'s compression function with the
//! initial value and padding of FIPS 180-4, fed straight from the read
//! chunks.
//!
//! The compression (the cryptography) is `sha2`'s; this module holds the
//! 20 lines around it that `sha2`'s block-level API keeps private, held
//! to `sha2::Sha256` at every length and alignment by its tests. In the
//! footprint figures it counts with SHA-256, not with abboot's own code
//! (`benches/README.md`, "Footprint").

use sha2::block_api::compress256;
use sha2::digest::array::Array;
use sha2::digest::consts::U64;

/// Whether the SHA-256 of `bytes` is `digest`, computed as the payload
/// check computes it. For a bootloader that also checks a copy of the
/// payload (in RAM, say): one SHA-256 in its code rather than this one and
/// `sha2::Sha256`'s.
pub fn sha256_matches(bytes: &[u8], digest: &[u8; 32]) -> bool {
    let mut hash = PayloadHash::new();
    hash.update(bytes);
    hash.matches(bytes.len() as u64, digest)
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The payload's SHA-256 on `sha2`'s compression function, fed the chunks
/// of the payload check's reads: whole 64-byte blocks go from the chunk straight to
/// [`compress256`], and only a partial block is copied, into `tail`.
///
/// The initial value and the padding are written here ([`SHA256_H0`],
/// [`sha256_pad`]): `sha2::Sha256` and its block-level core
/// (`Sha256VarCore`, which keeps its state private) pad through a generic
/// block buffer, whose update, copies and glue cost more. The nRF52840
/// digest-only bootloader is 9,352 B with this, 9,452 B with the core and
/// its padding, 9,484 B with `Sha256`.
pub(crate) struct PayloadHash {
    state: [u32; 8],
    /// The first `pos` bytes of a block not yet complete.
    tail: [u8; 64],
    /// Below 64 between calls.
    pos: usize,
}

impl PayloadHash {
    pub(crate) const fn new() -> Self {
        Self {
            state: SHA256_H0,
            tail: [0; 64],
            pos: 0,
        }
    }

    /// Hashes `data` after everything before it.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        // Whole blocks are hashed in place whenever no partial block is
        // open; bytes go through the partial block otherwise. There is one
        // only after a chunk whose length is not a multiple of 64: the
        // last, or the first where the payload does not start at a
        // multiple of the read size. One byte loop serves both the bytes
        // that complete an open block and those after the whole blocks.
        loop {
            if self.pos == 0 {
                let (blocks, rest) = Array::<u8, U64>::slice_as_chunks(data);
                compress256(&mut self.state, Array::cast_slice_to_core(blocks));
                data = rest;
            }
            let Some((&byte, rest)) = data.split_first() else {
                return;
            };
            self.push(byte);
            data = rest;
        }
    }

    /// Appends one byte to the partial block, and hashes the block once it
    /// is whole.
    fn push(&mut self, byte: u8) {
        // `pos` is below 64 between calls: `& 63` changes nothing, and
        // shows the optimiser that the byte is always there (the `get_mut`
        // folds away: no test, no panic path), with `pos` read once.
        let pos = self.pos & 63;
        if let Some(b) = self.tail.get_mut(pos) {
            *b = byte;
        }
        if pos == 63 {
            compress256(&mut self.state, core::slice::from_ref(&self.tail));
            self.pos = 0;
        } else {
            self.pos = pos + 1;
        }
    }

    /// Whether the SHA-256 of the bytes hashed is `digest`; `len` is their
    /// number, which the caller knows (the payload check's reads feed exactly
    /// the bytes asked for, or fail).
    pub(crate) fn matches(&mut self, len: u64, digest: &[u8; 32]) -> bool {
        let state = &mut self.state;
        sha256_pad(&mut self.tail, self.pos, len, |block| {
            compress256(state, core::slice::from_ref(block));
        });
        state
            .iter()
            .zip(digest.chunks_exact(4))
            .all(|(word, bytes)| {
                <[u8; 4]>::try_from(bytes).is_ok_and(|bytes| u32::from_be_bytes(bytes) == *word)
            })
    }
}

/// SHA-256's padding (FIPS 180-4, 5.1.1) of a `len`-byte message whose
/// last `pos` bytes (`pos` below 64) begin `block`: `0x80`, zeros, and the
/// message's length in bits, 64-bit big-endian, in the last 8 bytes of the
/// last block. Hands `compress` one block, or two when fewer than 9 bytes
/// follow the message in `block` (`pos` 56 or more).
///
/// Written here rather than taken from `sha2`: see [`PayloadHash`].
fn sha256_pad(block: &mut [u8; 64], pos: usize, len: u64, mut compress: impl FnMut(&[u8; 64])) {
    for (i, b) in block.iter_mut().enumerate() {
        if i >= pos {
            *b = if i == pos { 0x80 } else { 0 };
        }
    }
    if pos >= 56 {
        compress(block);
        *block = [0; 64];
    }
    if let Some((_, end)) = block.split_last_chunk_mut::<8>() {
        *end = len.wrapping_mul(8).to_be_bytes();
    }
    compress(block);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sha256_matches` (a slice in one piece, the same hash as the
    /// payload check) against `sha2::Sha256`.
    #[test]
    fn sha256_matches_is_sha256() {
        use sha2::{Digest, Sha256};
        let data: std::vec::Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in (0..=300).chain([1000, 4096 + 13, 65_537]) {
            let bytes = &data[..len];
            let mut digest: [u8; 32] = Sha256::digest(bytes).into();
            assert!(sha256_matches(bytes, &digest), "length {len}");
            digest[len % 32] ^= 0x10;
            assert!(!sha256_matches(bytes, &digest), "length {len}");
        }
    }

    /// `sha256_pad` is FIPS 180-4's padding (5.1.1): after the message's
    /// last `pos` bytes, `0x80`, zeros, and the length in bits as a 64-bit
    /// big-endian number, in one block when it fits (`pos` up to 55), else
    /// two; what the block held after `pos` does not show.
    #[test]
    fn sha256_pad_is_the_fips_padding() {
        for pos in 0..64usize {
            // The length in bits is taken modulo 2^64, as FIPS 180-4's
            // lengths are below 2^64 bits: the last one wraps.
            let pos64 = pos as u64;
            for len in [
                pos64,
                pos64 + 64,
                pos64 + 0x1234_5640,
                u64::from(u32::MAX) - 63 + pos64,
                u64::MAX - 63 + pos64,
            ] {
                let mut block = [0xA5u8; 64];
                block
                    .iter_mut()
                    .take(pos)
                    .enumerate()
                    .for_each(|(i, b)| *b = i as u8);
                let mut got = std::vec::Vec::new();
                sha256_pad(&mut block, pos, len, |b| got.extend_from_slice(b));
                let mut want: std::vec::Vec<u8> = (0..pos as u8).collect();
                want.push(0x80);
                let blocks = if pos <= 55 { 1 } else { 2 };
                want.resize(64 * blocks - 8, 0);
                want.extend_from_slice(&len.wrapping_mul(8).to_be_bytes());
                assert_eq!(got, want, "pos {pos} len {len}");
            }
        }
        // FIPS 180-2's example: "abc" is one block, 61 bytes of padding.
        let mut block = [0u8; 64];
        block[..3].copy_from_slice(b"abc");
        let mut state = SHA256_H0;
        sha256_pad(&mut block, 3, 3, |b| {
            compress256(&mut state, core::slice::from_ref(b))
        });
        let digest: std::vec::Vec<u8> = state.iter().flat_map(|w| w.to_be_bytes()).collect();
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: std::string::String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
    }
}
