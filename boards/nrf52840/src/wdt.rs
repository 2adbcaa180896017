//! The WDT on its registers (nrf-pac's `nrf_pac::WDT`, at `0x4001_0000`:
//! `TASKS_START` `+0x000`, `RUNSTATUS` `+0x400`, `CRV` `+0x504`, `RREN`
//! `+0x508`, `CONFIG` `+0x50C`, `RR[n]` `+0x600 + 4n`), with no HAL, so
//! that the bootloader keeps its no-panic proof.
//!
//! # When it runs
//!
//! The bootloader [`start`]s it for a trial boot only, right before the
//! jump: a trial image that hangs is reset, and the reset counts as its
//! try (the bootloader counted it on flash before the jump). A confirmed
//! image is never started under it, so an image that does not feed it is
//! not reset forever.
//!
//! Once started, the nRF52840's WDT cannot be stopped or reconfigured:
//! only its own reset, a pin reset, a brown-out or power-on stop it. A
//! soft reset (`SYSRESETREQ`, what `mark_bad` ends with) and a CPU
//! lockup do **not**. So:
//!
//! * the firmware [`feed`]s it, at start and then at least every
//!   [`TIMEOUT_MS`], for as long as it runs (after `confirm` too);
//! * the bootloader feeds it at reset, in case a soft reset left it
//!   running, so its `select` gets a whole period;
//! * after a soft reset from a trial (`mark_bad`), the image rolled back to
//!   starts with the WDT still running. If that image does not feed it,
//!   the WDT resets the chip once, which stops it, and the next boot
//!   starts the image without it.
//!
//! The WDT keeps counting while the CPU sleeps (`CONFIG.SLEEP = Run`) and
//! pauses while a debugger halts it (`CONFIG.HALT = Pause`). It runs from
//! the 32.768 kHz LFCLK, which it starts itself (the RC oscillator) if
//! nothing else did.

use nrf_pac::wdt::regs::{Config, Rr};
use nrf_pac::wdt::vals::{self, Halt, Sleep};

/// Time from the last feed to the reset, in milliseconds.
pub const TIMEOUT_MS: u32 = 8_000;
/// The WDT's clock (LFCLK).
const LFCLK_HZ: u32 = 32_768;
/// Counter reload value: timeout = (`CRV` + 1) / 32768 s.
const CRV: u32 = TIMEOUT_MS / 1000 * LFCLK_HZ - 1;
/// Reload request registers (`RR[0..8]`).
const RR_COUNT: usize = 8;

/// Starts the WDT with [`TIMEOUT_MS`] and one reload register (`RR[0]`),
/// if it is not already running (then its configuration is locked, and it
/// is only fed).
pub fn start() {
    let wdt = nrf_pac::WDT;
    if !running() {
        let mut config = Config(0);
        config.set_sleep(Sleep::Run);
        config.set_halt(Halt::Pause);
        wdt.config().write_value(config);
        wdt.crv().write_value(CRV);
        wdt.rren().write(|w| w.set_rr(0, true));
        wdt.tasks_start().write_value(1);
    }
    feed();
}

/// Whether the WDT runs.
pub fn running() -> bool {
    nrf_pac::WDT.runstatus().read().runstatus()
}

/// Feeds the WDT: a reload request in every enabled reload register (one,
/// if [`start`] started it; all that are enabled, if a firmware of another
/// kind did). Harmless when the WDT is not running.
pub fn feed() {
    let wdt = nrf_pac::WDT;
    let enabled = wdt.rren().read();
    for n in 0..RR_COUNT {
        if enabled.rr(n) {
            wdt.rr(n).write_value(Rr(vals::Rr::Reload.to_bits()));
        }
    }
}
