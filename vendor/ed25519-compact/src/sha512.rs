//! A small, self-contained SHA512 implementation
//! (C) Frank Denis, public domain

#![allow(
    non_snake_case,
    clippy::cast_lossless,
    clippy::eq_op,
    clippy::identity_op,
    clippy::many_single_char_names,
    clippy::unreadable_literal
)]

use core::convert::TryFrom;

const ROUND_CONSTANTS: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

struct W([u64; 16]);

#[derive(Copy, Clone)]
struct State([u64; 8]);

impl W {
    // abboot: a fixed-size block and `chunks_exact`, so no index can be
    // out of bounds (the link-time no-panic proof).
    fn new(block: &[u8; 128]) -> Self {
        let mut w = [0u64; 16];
        for (e, word) in w.iter_mut().zip(block.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            for (b, x) in bytes.iter_mut().zip(word) {
                *b = *x;
            }
            *e = u64::from_be_bytes(bytes);
        }
        W(w)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn Ch(x: u64, y: u64, z: u64) -> u64 {
        (x & y) ^ (!x & z)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn Maj(x: u64, y: u64, z: u64) -> u64 {
        (x & y) ^ (x & z) ^ (y & z)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn Sigma0(x: u64) -> u64 {
        x.rotate_right(28) ^ x.rotate_right(34) ^ x.rotate_right(39)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn Sigma1(x: u64) -> u64 {
        x.rotate_right(14) ^ x.rotate_right(18) ^ x.rotate_right(41)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn sigma0(x: u64) -> u64 {
        x.rotate_right(1) ^ x.rotate_right(8) ^ (x >> 7)
    }

    // abboot: always inlined: each has one caller (`F` or `M`), which
    // `opt_size` keeps out of line.
    #[inline(always)]
    fn sigma1(x: u64) -> u64 {
        x.rotate_right(19) ^ x.rotate_right(61) ^ (x >> 6)
    }

    // abboot: always inlined: its one caller is a loop.
    #[inline(always)]
    fn M(&mut self, a: usize, b: usize, c: usize, d: usize) {
        let w = &mut self.0;
        // abboot: every caller passes indices below 16; the masks let the
        // optimiser see it when `opt_size` keeps this function out of line.
        let (a, b, c, d) = (a & 15, b & 15, c & 15, d & 15);
        w[a] = w[a]
            .wrapping_add(Self::sigma1(w[b]))
            .wrapping_add(w[c])
            .wrapping_add(Self::sigma0(w[d]));
    }

    // abboot: always inlined: it has one caller.
    #[inline(always)]
    fn expand(&mut self) {
        // abboot: a loop, not sixteen unrolled calls (size; same order).
        for i in 0..16 {
            self.M(i, (i + 14) & 15, (i + 9) & 15, (i + 1) & 15);
        }
    }

    // abboot: always inlined: its one caller is a loop.
    #[inline(always)]
    fn F(&mut self, state: &mut State, i: usize, k: u64) {
        // abboot: `i` is below 16 at every call; see `M`.
        let i = i & 15;
        let t = &mut state.0;
        t[(16 - i + 7) & 7] = t[(16 - i + 7) & 7]
            .wrapping_add(Self::Sigma1(t[(16 - i + 4) & 7]))
            .wrapping_add(Self::Ch(
                t[(16 - i + 4) & 7],
                t[(16 - i + 5) & 7],
                t[(16 - i + 6) & 7],
            ))
            .wrapping_add(k)
            .wrapping_add(self.0[i]);
        t[(16 - i + 3) & 7] = t[(16 - i + 3) & 7].wrapping_add(t[(16 - i + 7) & 7]);
        t[(16 - i + 7) & 7] = t[(16 - i + 7) & 7]
            .wrapping_add(Self::Sigma0(t[(16 - i + 0) & 7]))
            .wrapping_add(Self::Maj(
                t[(16 - i + 0) & 7],
                t[(16 - i + 1) & 7],
                t[(16 - i + 2) & 7],
            ));
    }

    // abboot: the sixteen rounds of one group of round constants, as a
    // loop over them rather than sixteen unrolled calls (size; same order).
    fn G(&mut self, state: &mut State, rc: &[u64; 16]) {
        for (i, &k) in rc.iter().enumerate() {
            self.F(state, i, k);
        }
    }
}

impl State {
    fn new() -> Self {
        const IV: [u64; 8] = [
            0x6a09e667f3bcc908,
            0xbb67ae8584caa73b,
            0x3c6ef372fe94f82b,
            0xa54ff53a5f1d36f1,
            0x510e527fade682d1,
            0x9b05688c2b3e6c1f,
            0x1f83d9abfb41bd6b,
            0x5be0cd19137e2179,
        ];
        State(IV)
    }

    // abboot: always inlined: it has one caller.
    #[inline(always)]
    fn add(&mut self, x: &State) {
        // abboot: a loop rather than eight unrolled additions (size).
        for (s, e) in self.0.iter_mut().zip(x.0.iter()) {
            *s = s.wrapping_add(*e);
        }
    }

    fn store(&self, out: &mut [u8; 64]) {
        for (bytes, e) in out.chunks_exact_mut(8).zip(self.0.iter()) {
            for (b, x) in bytes.iter_mut().zip(e.to_be_bytes()) {
                *b = x;
            }
        }
    }

    /// Absorbs the whole 128-byte blocks of `input`; returns how many
    /// bytes are left over.
    // abboot: blocks come from `chunks_exact`, so nothing here can index
    // out of bounds (the link-time no-panic proof).
    #[cfg(not(feature = "opt_size"))]
    fn blocks(&mut self, input: &[u8]) -> usize {
        let blocks = input.chunks_exact(128);
        let rest = blocks.remainder().len();
        for block in blocks {
            let block: &[u8; 128] = match <&[u8; 128]>::try_from(block) {
                Ok(block) => block,
                // `chunks_exact(128)` yields 128 bytes.
                Err(_) => break,
            };
            self.block(block);
        }
        rest
    }

    /// Absorbs one 128-byte block.
    // abboot: `opt_size`'s `Hash::push` compresses its buffer here
    // directly, without `blocks`' iteration over whole blocks.
    fn block(&mut self, block: &[u8; 128]) {
        let mut t = *self;
        let mut w = W::new(block);
        // abboot: the five groups of rounds as a loop, the message
        // schedule expanded between two groups (size; same order).
        for (group, rc) in ROUND_CONSTANTS.chunks_exact(16).enumerate() {
            let rc: &[u64; 16] = match <&[u64; 16]>::try_from(rc) {
                Ok(rc) => rc,
                // `chunks_exact(16)` yields 16 constants.
                Err(_) => break,
            };
            if group > 0 {
                w.expand();
            }
            w.G(&mut t, rc);
        }
        t.add(self);
        self.0 = t.0;
    }
}

#[derive(Copy, Clone)]
pub struct Hash {
    state: State,
    w: [u8; 128],
    r: usize,
    len: usize,
}

impl Hash {
    pub fn new() -> Hash {
        Hash {
            state: State::new(),
            r: 0,
            w: [0u8; 128],
            len: 0,
        }
    }

    /// Absorb content
    // abboot: with `opt_size`, one byte at a time into the block buffer,
    // the block compressed when it fills: one small loop instead of
    // `update`'s and `finalize`'s block-and-remainder paths (368 bytes less
    // in abboot's nRF52840 bootloader). A verification hashes R, A and the message (a
    // few hundred bytes), so the per-byte cost is small beside the scalar
    // multiplication; a signer that hashes large messages builds without
    // `opt_size`.
    #[cfg(feature = "opt_size")]
    pub fn update<T: AsRef<[u8]>>(&mut self, input: T) {
        let input = input.as_ref();
        self.len = self.len.wrapping_add(input.len());
        for &x in input {
            self.push(x);
        }
    }

    // abboot: appends one byte to the block buffer and compresses a full
    // block. `r & 127` lets the optimiser see that the index is in bounds
    // (`r < 128` always holds).
    #[cfg(feature = "opt_size")]
    fn push(&mut self, x: u8) {
        let r = self.r & 127;
        self.w[r] = x;
        self.r = r + 1;
        if self.r == 128 {
            self.state.block(&self.w);
            self.r = 0;
        }
    }

    /// Compute SHA512(absorbed content)
    // abboot: with `opt_size`, the padding goes through `push` too: 0x80,
    // zeros up to byte 112 of a block, then the 128-bit length in bits.
    #[cfg(feature = "opt_size")]
    pub fn finalize(mut self) -> [u8; 64] {
        let bits = (self.len as u64).wrapping_mul(8);
        self.push(0x80);
        while self.r != 112 {
            self.push(0);
        }
        for x in u128::from(bits).to_be_bytes().iter() {
            self.push(*x);
        }
        let mut out = [0u8; 64];
        self.state.store(&mut out);
        out
    }

    /// Absorb content
    // abboot: written without slicing that the optimiser cannot prove in
    // bounds (the link-time no-panic proof); `r < 128` always holds.
    #[cfg(not(feature = "opt_size"))]
    pub fn update<T: AsRef<[u8]>>(&mut self, input: T) {
        let mut input = input.as_ref();
        self.len = self.len.wrapping_add(input.len());
        if self.r != 0 {
            let free = self.w.iter_mut().skip(self.r);
            let mut taken = 0;
            for (b, x) in free.zip(input) {
                *b = *x;
                taken += 1;
            }
            self.r += taken;
            input = input.get(taken..).unwrap_or_default();
            if self.r < 128 {
                return;
            }
            self.state.blocks(&self.w);
            self.r = 0;
        }
        let rest = self.state.blocks(input);
        let tail = input
            .get(input.len().saturating_sub(rest)..)
            .unwrap_or_default();
        for (b, x) in self.w.iter_mut().zip(tail) {
            *b = *x;
        }
        self.r = rest;
    }

    /// Compute SHA512(absorbed content)
    #[cfg(not(feature = "opt_size"))]
    pub fn finalize(mut self) -> [u8; 64] {
        let mut padded = [0u8; 256];
        // `r < 128`; the `min` lets the optimiser see it.
        let r = self.r.min(127);
        for (b, x) in padded.iter_mut().zip(self.w.iter().take(r)) {
            *b = *x;
        }
        padded[r] = 0x80;
        let bits = (self.len as u64).wrapping_mul(8).to_be_bytes();
        let end = if r < 112 { 128 } else { 256 };
        let (blocks, _) = padded.split_at_mut(end);
        for (b, x) in blocks.iter_mut().skip(end - 8).zip(bits) {
            *b = x;
        }
        self.state.blocks(blocks);
        let mut out = [0u8; 64];
        self.state.store(&mut out);
        out
    }

    /// Compute SHA512(`input`)
    pub fn hash<T: AsRef<[u8]>>(input: T) -> [u8; 64] {
        let mut h = Hash::new();
        h.update(input);
        h.finalize()
    }
}

impl Default for Hash {
    fn default() -> Self {
        Self::new()
    }
}
