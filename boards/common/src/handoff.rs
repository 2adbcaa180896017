//! The hand-off in RAM: what the bootloader tells the firmware it started
//! ([`abboot::handoff::Handoff`], 32 bytes with a CRC), at a fixed address
//! both sides agree on.
//!
//! Every link script of a board (`link/*/memory.x`) reserves the 32 bytes
//! as a `HANDOFF` memory region of their own, outside `RAM`, and names
//! their first byte `_abboot_handoff`:
//!
//! ```text
//! MEMORY
//! {
//!   RAM     : ORIGIN = 0x20000000, LENGTH = 256K - 32
//!   HANDOFF : ORIGIN = 0x2003FFE0, LENGTH = 32
//! }
//! _abboot_handoff = ORIGIN(HANDOFF);
//! ```
//!
//! Nothing the linker places goes there, so neither the bootloader's nor
//! the firmware's startup code (`.bss` zeroing, `.data` copy) nor a stack
//! touches it. A binary whose link script forgets the symbol does not
//! link.
//!
//! The bootloader [`write`](fn@write)s it right before the jump; the firmware
//! [`take`]s it once at start: it reads and decodes it, then clears it
//! with [`Handoff::CLEARED`], so that a reset that does not go through
//! the bootloader (a debugger's) cannot hand on a stale one. Bytes that
//! are not a hand-off (a cold start, a corrupted one) decode as an error,
//! never as a slot: the firmware then does not know its slot, and
//! [`abboot::Updater`] refuses to stage (`RunningSlotUnknown`) rather than
//! guess.

use core::sync::atomic::{compiler_fence, Ordering};

use abboot::handoff::{Handoff, HandoffError, HANDOFF_LEN};

extern "C" {
    /// The first of the hand-off's 32 bytes: `ORIGIN(HANDOFF)`, defined by
    /// the board's link scripts.
    static mut _abboot_handoff: [u8; HANDOFF_LEN];
}

/// Where the hand-off is (`_abboot_handoff`).
pub fn address() -> usize {
    core::ptr::addr_of_mut!(_abboot_handoff) as usize
}

/// Writes `bytes` over the hand-off (volatile: the firmware reads them
/// after a jump the compiler does not see through).
pub fn write_bytes(bytes: &[u8; HANDOFF_LEN]) {
    let base = core::ptr::addr_of_mut!(_abboot_handoff).cast::<u8>();
    for (i, b) in bytes.iter().enumerate() {
        // SAFETY: `base .. base + HANDOFF_LEN` is the region every link
        // script of the board reserves for the hand-off alone (outside
        // `RAM`, so no static or stack lives there), plain RAM, and `i <
        // HANDOFF_LEN`. Byte writes need no alignment.
        unsafe { core::ptr::write_volatile(base.add(i), *b) };
    }
    compiler_fence(Ordering::SeqCst);
}

/// Reads the hand-off's bytes as they are.
pub fn read_bytes() -> [u8; HANDOFF_LEN] {
    let base = core::ptr::addr_of!(_abboot_handoff).cast::<u8>();
    let mut bytes = [0u8; HANDOFF_LEN];
    compiler_fence(Ordering::SeqCst);
    for (i, b) in bytes.iter_mut().enumerate() {
        // SAFETY: as in `write_bytes`; reading RAM that holds anything
        // (even never written) is defined for `u8`.
        *b = unsafe { core::ptr::read_volatile(base.add(i)) };
    }
    bytes
}

/// The bootloader: writes `handoff` for the firmware it is about to start.
///
/// Never inlined: [`Entry::jump`](crate::boot::Entry::jump) is inlined
/// into the board's `main`, and the encoding's buffer would join the frame
/// of `main`, which is on the bootloader's deepest stack path.
#[inline(never)]
pub fn write(handoff: &Handoff) {
    write_bytes(&handoff.encode());
}

/// The firmware, once at start: the hand-off the bootloader wrote, or why
/// there is none; either way the RAM is cleared afterwards.
pub fn take() -> Result<Handoff, HandoffError> {
    let found = Handoff::decode(&read_bytes());
    write_bytes(&Handoff::CLEARED);
    found
}
