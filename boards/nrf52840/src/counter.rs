//! The hardware security counter: a thermometer code in the UICR customer
//! words ([`abboot::counter::Thermometer`] over [`UicrWords`]), on the
//! registers (nrf-pac's `nrf_pac::UICR`, at `0x1000_1000`: `CUSTOMER[n]`
//! `+0x080 + 4n`; programmed through `nrf_pac::NVMC` like the flash).
//!
//! # The code
//!
//! [`COUNTER_WORDS`] = 16 words, `CUSTOMER[16]` to `CUSTOMER[31]`
//! (`0x1000_10C0 .. 0x1000_1100`); `CUSTOMER[0..16]` stay free for the
//! product (serial number, calibration). An erased word reads
//! `0xFFFF_FFFF`; a step programs the next word to `0x0000_0000`. The
//! value is the number of leading programmed words, so the counter holds
//! 0 to 16: sign images with `--security-counter` 0..=16 and raise it only
//! for releases that fix a vulnerability (a raise is one word, for the
//! life of the device). A word is written once (the nRF52840 allows two
//! writes of a word between erases), and nothing here erases.
//!
//! A word that a power cut tore reads neither erased nor zero; it counts
//! as programmed (any bit at 0), so a cut never lowers the counter, and it
//! is written no more.
//!
//! # Who can lower it
//!
//! Nothing in software can program a bit back to 1: only `ERASEUICR` or
//! `ERASEALL` can, and they erase the whole UICR. With access port
//! protection on (`UICR.APPROTECT`, the README's production settings),
//! `ERASEUICR` is refused to the CPU too, so a compromised firmware cannot
//! lower the counter; `ERASEALL` (a debugger's "recover") erases the
//! whole flash with it, the bootloader included. Without APPROTECT (a
//! development kit), a firmware that writes `ERASEUICR` resets the counter
//! to 0.
//!
//! # Not in a digest-only build
//!
//! With feature `digest-only` the board has no hardware counter
//! ([`abboot::counter::NoCounter`]; the journal's floor still holds). A
//! digest-only image's header is not signed: whoever can write a slot can
//! give an old image any security counter and a digest that matches, so a
//! counter in OTP would stop no downgrade. It would only let such an image,
//! once confirmed, burn the 16 words for good — after which no image signed
//! with a lower counter boots again.

use abboot::counter::{CounterError, OtpWords};
use nrf_pac::nvmc::vals::Wen;

/// Steps of the counter: `CUSTOMER[16..32]`.
pub const COUNTER_WORDS: usize = 16;
/// The first `CUSTOMER[n]` the counter uses.
const FIRST: usize = 32 - COUNTER_WORDS;
/// The erased value of a UICR word.
const ERASED: u32 = 0xFFFF_FFFF;

/// The board's hardware security counter.
#[cfg(not(feature = "digest-only"))]
pub type Counter = abboot::counter::Thermometer<UicrWords, COUNTER_WORDS>;
/// The board's hardware security counter: none in a digest-only build
/// (see the module's documentation).
#[cfg(feature = "digest-only")]
pub type Counter = abboot::counter::NoCounter;

/// The counter over `UICR.CUSTOMER[16..32]`.
///
/// # Safety
///
/// As [`crate::nvmc::Nvmc::new`]'s: nothing else drives the NVMC during
/// one of its calls (it switches `CONFIG.WEN` to write a word, and back).
#[cfg(not(feature = "digest-only"))]
pub const unsafe fn counter() -> Counter {
    abboot::counter::Thermometer::new(UicrWords { _private: () })
}

/// No counter (feature `digest-only`; see the module's documentation).
///
/// # Safety
///
/// None needed; `unsafe` only to keep the signature of the signed build.
#[cfg(feature = "digest-only")]
pub const unsafe fn counter() -> Counter {
    abboot::counter::NoCounter
}

/// `UICR.CUSTOMER[16..32]` as [`OtpWords`]: read with a volatile load,
/// programmed through the NVMC (`CONFIG.WEN = Wen`, one word store, wait
/// for `READY`, `CONFIG.WEN = Ren`).
#[derive(Debug)]
pub struct UicrWords {
    _private: (),
}

impl UicrWords {
    /// `CUSTOMER[FIRST + i]`, when `i` is a word of the counter.
    fn word(i: usize) -> Option<nrf_pac::common::Reg<u32, nrf_pac::common::RW>> {
        (i < COUNTER_WORDS).then(|| nrf_pac::UICR.customer(FIRST + i))
    }

    fn wait_ready() {
        while !nrf_pac::NVMC.ready().read().ready() {}
    }
}

impl OtpWords for UicrWords {
    fn is_erased(&mut self, i: usize) -> Result<bool, CounterError> {
        let word = Self::word(i).ok_or(CounterError::Unreadable)?;
        Ok(word.read() == ERASED)
    }

    fn program(&mut self, i: usize) -> Result<(), CounterError> {
        let word = Self::word(i).ok_or(CounterError::Write)?;
        if word.read() != ERASED {
            // Programmed already (or torn): never written twice.
            return Ok(());
        }
        nrf_pac::NVMC.config().write(|w| w.set_wen(Wen::Wen));
        Self::wait_ready();
        // With `CONFIG.WEN = Wen`, the (volatile) store is the NVMC's write
        // command for the word.
        word.write_value(0);
        // The UICR is Normal memory and READY a Device register: the
        // barrier keeps the store ahead of the poll.
        cortex_m::asm::dmb();
        Self::wait_ready();
        nrf_pac::NVMC.config().write(|w| w.set_wen(Wen::Ren));
        Self::wait_ready();
        match word.read() {
            ERASED => Err(CounterError::Write),
            _ => Ok(()),
        }
    }
}
