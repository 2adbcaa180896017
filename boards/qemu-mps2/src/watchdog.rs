//! The an385's watchdog: Arm's CMSDK APB watchdog (Cortex-M System Design
//! Kit, ARM DDI 0479, "APB watchdog") at `0x4000_8000`, on its registers.
//! QEMU models it (`cmsdk-apb-watchdog` in `info mtree`): clocked by the
//! 25 MHz system clock, its interrupt `WDOGINT` wired to the NMI, its
//! reset `WDOGRES` QEMU's watchdog action, a system reset by default. A
//! system reset runs the bootloader again in the same QEMU process (the
//! `-kernel` image is loaded again; the flash file is as the guest left
//! it), and resets the watchdog itself, stopped.
//!
//! It counts `WDOGLOAD` down while `WDOGCONTROL.INTEN` is set. Reaching
//! zero the first time raises `WDOGINT` (the NMI) and reloads; reaching
//! it again with the interrupt still pending resets the system, if
//! `RESEN` is set. A feed (a write to `WDOGINTCLR`) clears the interrupt
//! and reloads. So the reset comes two periods after the last feed, and
//! the NMI half-way is the firmware's last word ([`TIMEOUT_MS`] is both
//! periods). Its registers are written only after `0x1ACC_E551` in
//! `WDOGLOCK`; every access here locks them again.
//!
//! The bootloader [`start`]s it for a trial boot only, right before the
//! jump; the firmware [`feed`]s it. Unlike the hardware boards' watchdogs,
//! this one can be [`stop`]ped. Only the test harness does: a program
//! waiting at a kill point (`sh::hold`) stands for a power cut at that
//! instant, which the test ends with `SIGKILL`, not for a hang.

use core::ptr;

/// Base address.
const BASE: usize = 0x4000_8000;
/// Count reloaded at each feed.
const WDOGLOAD: usize = 0x000;
/// `INTEN` (bit 0): count, interrupt. `RESEN` (bit 1): reset.
const WDOGCONTROL: usize = 0x008;
/// Any write: clear the interrupt, reload the count (a feed).
const WDOGINTCLR: usize = 0x00C;
/// `0x1ACC_E551` unlocks writes to the other registers; any other value
/// locks them.
const WDOGLOCK: usize = 0xC00;
const UNLOCK: u32 = 0x1ACC_E551;
const INTEN: u32 = 1 << 0;
const RESEN: u32 = 1 << 1;

/// The watchdog's clock: the an385's system clock.
pub const CLOCK_HZ: u32 = 25_000_000;
/// Time from the last feed to the reset, in milliseconds: two periods of
/// [`PERIOD`] counts (the NMI after the first). Under `-icount shift=0`
/// a count is 40 instructions, so the reset comes 2 × [`PERIOD`] × 40
/// instructions after the last feed.
pub const TIMEOUT_MS: u32 = 200;
/// `WDOGLOAD`: the counts of one period, half of [`TIMEOUT_MS`].
pub const PERIOD: u32 = CLOCK_HZ / 1000 * TIMEOUT_MS / 2;

fn write(offset: usize, value: u32) {
    // SAFETY: `BASE + offset` is one of the watchdog's 32-bit registers
    // (the offsets above), a device register the an385 maps at `BASE`;
    // the watchdog is this module's alone.
    unsafe { ptr::write_volatile((BASE + offset) as *mut u32, value) }
}

fn read(offset: usize) -> u32 {
    // SAFETY: as in `write`; reading `WDOGCONTROL` has no side effect.
    unsafe { ptr::read_volatile((BASE + offset) as *const u32) }
}

/// Writes `value` to `offset` between an unlock and a lock.
fn write_unlocked(offset: usize, value: u32) {
    write(WDOGLOCK, UNLOCK);
    write(offset, value);
    write(WDOGLOCK, 0);
}

/// Starts the watchdog: a reset [`TIMEOUT_MS`] after the last feed.
pub fn start() {
    write(WDOGLOCK, UNLOCK);
    write(WDOGLOAD, PERIOD);
    write(WDOGINTCLR, 1);
    write(WDOGCONTROL, INTEN | RESEN);
    write(WDOGLOCK, 0);
}

/// Feeds it: clears its interrupt and reloads the count. Harmless when it
/// is stopped.
pub fn feed() {
    write_unlocked(WDOGINTCLR, 1);
}

/// Stops it (test harness only: see the [module](self)).
pub fn stop() {
    write_unlocked(WDOGCONTROL, 0);
}

/// Whether it runs.
pub fn running() -> bool {
    read(WDOGCONTROL) & INTEN != 0
}
