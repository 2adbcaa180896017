//! Small memory functions (`memcpy`, `memmove`, `memset`, `memcmp` and
//! their ARM EABI forms) for the boards' programs, feature `small-mem`.
//!
//! # Why
//!
//! `compiler_builtins` links about 1.5 KB of memory functions into every
//! bootloader: a `memcpy` that copies misaligned buffers by shifting whole
//! words (730 B on the nRF52840), three `__aeabi_memclr` variants of about
//! 200 B each, `__aeabi_memcpy4`, `memcmp`. A bootloader copies and clears
//! small values (records, field elements, hash blocks), nearly all of them
//! word-aligned. These loops copy and fill four words at a time between a
//! head and a tail of bytes (when source and destination are co-aligned),
//! and by bytes otherwise: 290 B in all on the nRF52840, and one Ed25519
//! verify or SHA-256 takes no more instructions than with
//! compiler_builtins' (benches/README.md, "Issue 14, sixth round").
//!
//! `compiler_builtins` defines its memory functions with weak linkage so
//! that a program can replace them, which is what the exports below do
//! (on the embedded targets only: a host test binary keeps its libc's).
//! A program that also links a C library's `memcpy` must leave the feature
//! off (the link would fail on the duplicate symbols, not misbehave).
//!
//! # Why volatile
//!
//! The loops read and write through `read_volatile`/`write_volatile`:
//! LLVM recognises a plain copy loop as `memcpy` and would compile the
//! body of `memcpy` into a call to itself. `compiler_builtins` avoids
//! that with `#![no_builtins]`, which only a whole crate can set.
use core::ptr::{read_volatile, write_volatile};

/// Whether `a` and `b` lie the same distance past a multiple of 4: once
/// the first is aligned, so is the second, and the word loop applies.
fn co_aligned(a: usize, b: usize) -> bool {
    (a ^ b) & 3 == 0
}

/// Copies `n` bytes from `s` to `d`, correct when the two overlap; returns
/// `d`.
///
/// Forwards, by words between a head and a tail of bytes when the two are
/// co-aligned; backwards byte by byte when `d` lies inside the source
/// (only a `memmove` to a higher address, which the boot path does not
/// make in bulk).
///
/// # Safety
///
/// `s` must be valid for `n` bytes of reads and `d` for `n` bytes of
/// writes (the C contract of `memmove`).
pub(crate) unsafe fn move_bytes(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
    let (da, sa) = (d as usize, s as usize);
    if da <= sa || da - sa >= n {
        let mut i = 0;
        if co_aligned(da, sa) {
            while i < n && !co_aligned(da + i, 0) {
                // SAFETY: `i < n`, inside the caller's ranges.
                unsafe { write_volatile(d.add(i), read_volatile(s.add(i))) };
                i += 1;
            }
            // Forwards is safe word by word too: co-aligned and `d` below
            // `s` means at least 4 bytes apart, so a word is read before
            // any write reaches it; four words are read before the four
            // are written, and the writes end below the next unread byte.
            // Four at a time: the loop's own instructions were half of
            // each word's cost (a 40-byte field element is the most
            // copied value of a verify).
            while n - i >= 16 {
                // SAFETY: the 16 bytes at `i` are inside the caller's
                // ranges, and both addresses are 4-aligned there.
                unsafe {
                    let (sw, dw) = (s.add(i).cast::<u32>(), d.add(i).cast::<u32>());
                    let w = [
                        read_volatile(sw),
                        read_volatile(sw.add(1)),
                        read_volatile(sw.add(2)),
                        read_volatile(sw.add(3)),
                    ];
                    write_volatile(dw, w[0]);
                    write_volatile(dw.add(1), w[1]);
                    write_volatile(dw.add(2), w[2]);
                    write_volatile(dw.add(3), w[3]);
                }
                i += 16;
            }
            while n - i >= 4 {
                // SAFETY: the 4 bytes at `i` are inside the caller's
                // ranges, and both addresses are 4-aligned there.
                unsafe {
                    let w = read_volatile(s.add(i).cast::<u32>());
                    write_volatile(d.add(i).cast::<u32>(), w);
                }
                i += 4;
            }
        }
        while i < n {
            // SAFETY: `i < n`, inside the caller's ranges.
            unsafe { write_volatile(d.add(i), read_volatile(s.add(i))) };
            i += 1;
        }
    } else {
        let mut i = n;
        while i > 0 {
            i -= 1;
            // SAFETY: `i < n`, inside the caller's ranges.
            unsafe { write_volatile(d.add(i), read_volatile(s.add(i))) };
        }
    }
    d
}

/// Sets `n` bytes at `d` to `c`, by words between a head and a tail of
/// bytes; returns `d`.
///
/// # Safety
///
/// `d` must be valid for `n` bytes of writes.
// Always inlined: `__aeabi_memclr` is this loop with the value 0, not a
// call of it (see `exports`).
#[inline(always)]
pub(crate) unsafe fn fill(d: *mut u8, c: u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n && !co_aligned(d as usize + i, 0) {
        // SAFETY: `i < n`, inside the caller's range.
        unsafe { write_volatile(d.add(i), c) };
        i += 1;
    }
    let word = u32::from_ne_bytes([c; 4]);
    while n - i >= 16 {
        // SAFETY: the 16 bytes at `i` are inside the caller's range, and
        // 4-aligned.
        unsafe {
            let dw = d.add(i).cast::<u32>();
            write_volatile(dw, word);
            write_volatile(dw.add(1), word);
            write_volatile(dw.add(2), word);
            write_volatile(dw.add(3), word);
        }
        i += 16;
    }
    while n - i >= 4 {
        // SAFETY: the 4 bytes at `i` are inside the caller's range, and
        // 4-aligned.
        unsafe { write_volatile(d.add(i).cast::<u32>(), word) };
        i += 4;
    }
    while i < n {
        // SAFETY: `i < n`, inside the caller's range.
        unsafe { write_volatile(d.add(i), c) };
        i += 1;
    }
    d
}

/// Compares `n` bytes at `a` and `b` as unsigned bytes: the difference of
/// the first pair that differs, or 0.
///
/// # Safety
///
/// `a` and `b` must be valid for `n` bytes of reads.
pub(crate) unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: `i < n`, inside the caller's ranges.
        let (x, y) = unsafe { (read_volatile(a.add(i)), read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// The symbols the compiler calls. The ARM EABI forms the boards call
/// (`__aeabi_memcpy`, `__aeabi_memclr` and their `4`/`8` variants, whose
/// suffix only promises alignment, which the loops find out for
/// themselves) are the loops themselves, under several names; the C forms
/// and `__aeabi_memset` (which takes the length before the value) are
/// functions that call them.
#[cfg(target_os = "none")]
mod exports {
    use super::{compare, fill, move_bytes};

    // SAFETY (every function here): the compiler calls these with the C
    // and ARM EABI contracts of the functions they are named after, which
    // are the safety conditions of the loop each one calls.

    /// [`move_bytes`] as a symbol: the body of every copy. It returns its
    /// destination, as the C `memcpy` and `memmove` do (the EABI forms
    /// return nothing, and their callers ignore `r0`).
    #[no_mangle]
    unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
        unsafe { move_bytes(d, s, n) }
    }
    /// [`fill`] with the value 0, as a symbol: the body of every clear,
    /// a copy of the loop of its own (the value is a constant there, not
    /// spread to four bytes at each call).
    #[no_mangle]
    unsafe extern "C" fn __aeabi_memclr(d: *mut u8, n: usize) {
        unsafe { fill(d, 0, n) };
    }

    // The other names of these two are aliases, not functions that branch
    // to them: each such branch cost 12 bytes (the frame pointer is saved
    // and restored even around a tail call), and the compiler calls both
    // `__aeabi_memcpy` and `__aeabi_memcpy4`, both `__aeabi_memclr` and
    // `__aeabi_memclr4`. The boards link with LTO into one object, where
    // the assembler resolves each alias; it overrides compiler_builtins'
    // weak definition like the functions above.
    core::arch::global_asm!(
        ".global memcpy",
        ".thumb_set memcpy, memmove",
        ".global __aeabi_memcpy",
        ".thumb_set __aeabi_memcpy, memmove",
        ".global __aeabi_memcpy4",
        ".thumb_set __aeabi_memcpy4, memmove",
        ".global __aeabi_memcpy8",
        ".thumb_set __aeabi_memcpy8, memmove",
        ".global __aeabi_memmove",
        ".thumb_set __aeabi_memmove, memmove",
        ".global __aeabi_memmove4",
        ".thumb_set __aeabi_memmove4, memmove",
        ".global __aeabi_memmove8",
        ".thumb_set __aeabi_memmove8, memmove",
        ".global __aeabi_memclr4",
        ".thumb_set __aeabi_memclr4, __aeabi_memclr",
        ".global __aeabi_memclr8",
        ".thumb_set __aeabi_memclr8, __aeabi_memclr",
    );

    #[no_mangle]
    unsafe extern "C" fn memset(d: *mut u8, c: i32, n: usize) -> *mut u8 {
        // C converts the value to `unsigned char`: the truncation is the
        // contract.
        unsafe { fill(d, c as u8, n) }
    }
    #[no_mangle]
    unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        unsafe { compare(a, b, n) }
    }
    #[no_mangle]
    unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        unsafe { compare(a, b, n) }
    }
    #[no_mangle]
    unsafe extern "C" fn __aeabi_memset(d: *mut u8, n: usize, c: i32) {
        unsafe { fill(d, c as u8, n) };
    }
    #[no_mangle]
    unsafe extern "C" fn __aeabi_memset4(d: *mut u8, n: usize, c: i32) {
        unsafe { fill(d, c as u8, n) };
    }
    #[no_mangle]
    unsafe extern "C" fn __aeabi_memset8(d: *mut u8, n: usize, c: i32) {
        unsafe { fill(d, c as u8, n) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose start is 8-aligned, so that offsets 0..8 give every
    /// alignment.
    #[repr(C, align(8))]
    struct Buf([u8; 96]);

    fn pattern() -> Buf {
        let mut b = Buf([0; 96]);
        for (i, x) in b.0.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        b
    }

    /// The word loop is taken exactly when the two addresses lie the
    /// same distance past a multiple of 4 (the tests below check the
    /// results of every path; this, that the fast one is not lost).
    #[test]
    fn co_aligned_only_at_the_same_distance() {
        for a in 0x2000_0000..0x2000_0008 {
            for b in 0x2000_0100..0x2000_0108 {
                assert_eq!(co_aligned(a, b), a % 4 == b % 4, "{a:#x} {b:#x}");
            }
        }
    }

    /// Every alignment of both ends and every length up to 40, apart and
    /// overlapping in both directions, against `copy_within`.
    #[test]
    fn move_bytes_is_memmove() {
        for n in 0..40 {
            for from in 0..48 {
                for to in 0..48 {
                    let mut ours = pattern();
                    let mut want = pattern();
                    want.0.copy_within(from..from + n, to);
                    let p = ours.0.as_mut_ptr();
                    // SAFETY: both ranges end inside the 96-byte buffer.
                    let r = unsafe { move_bytes(p.add(to), p.add(from), n) };
                    assert_eq!(r, p.wrapping_add(to));
                    assert_eq!(ours.0, want.0, "n {n} from {from} to {to}");
                }
            }
        }
    }

    /// Every alignment and length up to 40, with a value whose four bytes
    /// make a word unlike its byte (so the word loop's value is checked),
    /// touching nothing outside the range.
    #[test]
    fn fill_sets_exactly_the_range() {
        for n in 0..40 {
            for at in 0..16 {
                for c in [0x00, 0xA5, 0xFF] {
                    let mut ours = pattern();
                    let mut want = pattern();
                    want.0[at..at + n].fill(c);
                    let p = ours.0.as_mut_ptr();
                    // SAFETY: the range ends inside the buffer.
                    let r = unsafe { fill(p.add(at), c, n) };
                    assert_eq!(r, p.wrapping_add(at));
                    assert_eq!(ours.0, want.0, "n {n} at {at} c {c:#x}");
                }
            }
        }
    }

    /// The sign and value of the first difference, as unsigned bytes, at
    /// every position; equal ranges and the empty range give 0.
    #[test]
    fn compare_is_memcmp() {
        for n in 0..40 {
            let (l, r) = (pattern(), pattern());
            // SAFETY: `n` bytes inside both buffers.
            assert_eq!(unsafe { compare(l.0.as_ptr(), r.0.as_ptr(), n) }, 0);
            for at in 0..n {
                for (x, y) in [(0x01u8, 0xFEu8), (0xFE, 0x01), (0x80, 0x7F)] {
                    let mut l = pattern();
                    let mut r = pattern();
                    l.0[at] = x;
                    r.0[at] = y;
                    // A later difference that must not count.
                    r.0[at + 1] ^= 0xFF;
                    // SAFETY: `n` bytes inside both buffers.
                    let got = unsafe { compare(l.0.as_ptr(), r.0.as_ptr(), n) };
                    assert_eq!(got, i32::from(x) - i32::from(y), "n {n} at {at}");
                }
            }
        }
    }
}
