//! Stack high-water mark: paint the free stack with a pattern at reset,
//! later find the deepest word that changed.

/// The paint.
const PATTERN: u32 = 0xA5C3_5A3C;

extern "C" {
    /// Top of the stack (cortex-m-rt: the end of RAM).
    static _stack_start: u32;
    /// Lowest address the stack may reach (cortex-m-rt: end of `.bss`).
    static _stack_end: u32;
}

fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken (no unsafe needed).
    (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

/// Paints the stack below the current frame. Call first thing in `main`.
#[inline(never)]
pub fn paint() {
    let (low, _) = bounds();
    // Leave a margin below the live frames of this call.
    let sp = (cortex_m::register::msp::read() as usize).wrapping_sub(64);
    let mut p = low;
    while p + 4 <= sp {
        // SAFETY: `low..sp` is RAM between the end of the statics and the
        // live stack: no object lives there.
        unsafe { core::ptr::write_volatile(p as *mut u32, PATTERN) };
        p += 4;
    }
}

/// Bytes of stack used since [`paint`]: from the top of RAM down to the
/// deepest word that no longer holds the paint.
pub fn high_water() -> u32 {
    let (low, top) = bounds();
    let mut p = low;
    while p < top {
        // SAFETY: `low..top` is the stack region, readable RAM.
        if unsafe { core::ptr::read_volatile(p as *const u32) } != PATTERN {
            break;
        }
        p += 4;
    }
    (top - p) as u32
}

/// Bytes of stack in use at the current stack pointer (the caller's frames).
#[inline(always)]
pub fn in_use() -> u32 {
    let (_, top) = bounds();
    (top as u32).wrapping_sub(cortex_m::register::msp::read())
}
