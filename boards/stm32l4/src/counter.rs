//! The hardware security counter: a thermometer code in the OTP area
//! ([`abboot::counter::Thermometer`] over [`OtpArea`]), on the registers
//! (embassy-stm32's `pac::FLASH`: `KEYR` `+0x08`, `SR` `+0x10`, `CR`
//! `+0x14`).
//!
//! # The code
//!
//! The STM32L476's OTP area is 1 KiB at `0x1FFF_7000`: 128 double words of
//! 8 bytes, erased (all ones) from the factory, each programmable once and
//! never erasable (a double word with any bit at 0 cannot be programmed
//! again). The counter takes the upper half, [`COUNTER_WORDS`] = 64
//! double words at `0x1FFF_7200 .. 0x1FFF_7400`, and leaves the lower
//! 512 bytes to the product. A step programs the next double word to
//! zero; the value is the number of leading programmed double words, 0 to
//! 64. Sign images with `--security-counter` 0..=64 and raise it only for
//! releases that fix a vulnerability.
//!
//! Programmed like the main flash (`CR.PG`, two 32-bit stores, wait for
//! `BSY`, check the error flags), through the same controller as the
//! board's flash driver, so not while that driver is in the middle of an
//! operation (nothing here runs from an interrupt).
//!
//! # Torn and unreadable words
//!
//! A double word that a power cut tore may read back with a two-bit ECC
//! error, which raises the NMI ([`crate::on_nmi`] clears it and notes it).
//! Such a word counts as **programmed**: its program was started, a cut
//! never lowers the counter, and it is never programmed again. A word that
//! reads neither all ones nor zero counts as programmed too.
//!
//! # Who can lower it
//!
//! Nobody: OTP cannot be erased, not by a mass erase, not by an RDP
//! regression. Any code that runs can *raise* it (program more words),
//! which only refuses older images sooner; it cannot lower it.

use core::ptr;
use core::sync::atomic::Ordering;

use abboot::counter::{CounterError, OtpWords, Thermometer};
use embassy_stm32::pac;

use crate::ECC_ERROR;

/// Steps of the counter: the OTP area's upper 64 double words.
pub const COUNTER_WORDS: usize = 64;
/// Where the counter's double words start.
const BASE: usize = 0x1FFF_7200;
/// Bytes per OTP double word.
const DOUBLE_WORD: usize = 8;
/// Flash unlock keys (RM0351, `FLASH_KEYR`).
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;

// The counter stays inside the 1 KiB OTP area.
const _: () = assert!(BASE + COUNTER_WORDS * DOUBLE_WORD <= 0x1FFF_7400);

/// The board's hardware security counter.
pub type Counter = Thermometer<OtpArea, COUNTER_WORDS>;

/// The counter over the OTP area's upper half.
///
/// # Safety
///
/// No other code drives the flash controller while a raise programs a
/// double word: the board's flash driver is not in the middle of an
/// operation (true between calls of a blocking driver on one core), and no
/// interrupt handler writes flash.
pub const unsafe fn counter() -> Counter {
    Thermometer::new(OtpArea { _private: () })
}

/// The OTP area's upper half as [`OtpWords`].
#[derive(Debug)]
pub struct OtpArea {
    _private: (),
}

impl OtpArea {
    /// The address of double word `i`, when it is one of the counter's.
    fn address(i: usize) -> Option<usize> {
        (i < COUNTER_WORDS).then_some(BASE + i * DOUBLE_WORD)
    }

    /// Reads double word `i`: `None` on a two-bit ECC error.
    fn read(addr: usize) -> Option<[u32; 2]> {
        ECC_ERROR.store(false, Ordering::SeqCst);
        // SAFETY: `addr` and `addr + 4` are inside the OTP area (`address`),
        // memory-mapped and always readable, outside every Rust
        // allocation; nothing writes them meanwhile (`counter`'s contract).
        let words = unsafe {
            [
                ptr::read_volatile(ptr::with_exposed_provenance::<u32>(addr)),
                ptr::read_volatile(ptr::with_exposed_provenance::<u32>(addr + 4)),
            ]
        };
        (!ECC_ERROR.swap(false, Ordering::SeqCst)).then_some(words)
    }

    /// Waits for the controller, then whether it reported no error.
    fn wait_ok() -> bool {
        let flash = pac::FLASH;
        while flash.sr().read().bsy() {}
        let sr = flash.sr().read();
        !(sr.operr()
            || sr.progerr()
            || sr.wrperr()
            || sr.pgaerr()
            || sr.sizerr()
            || sr.pgserr()
            || sr.miserr()
            || sr.fasterr())
    }
}

impl OtpWords for OtpArea {
    fn is_erased(&mut self, i: usize) -> Result<bool, CounterError> {
        let addr = Self::address(i).ok_or(CounterError::Unreadable)?;
        // An ECC error: a started program (see the module).
        Ok(Self::read(addr) == Some([u32::MAX; 2]))
    }

    fn program(&mut self, i: usize) -> Result<(), CounterError> {
        let addr = Self::address(i).ok_or(CounterError::Write)?;
        if Self::read(addr) != Some([u32::MAX; 2]) {
            // Programmed already (or torn): never programmed twice.
            return Ok(());
        }
        let flash = pac::FLASH;
        if !Self::wait_ok() {
            // Flags left over from an earlier operation: clear them first.
            flash.sr().modify(|_| {});
        }
        let was_locked = flash.cr().read().lock();
        if was_locked {
            flash.keyr().write_value(KEY1);
            flash.keyr().write_value(KEY2);
        }
        flash.sr().modify(|_| {});
        flash.cr().modify(|w| w.set_pg(true));
        // SAFETY: a double word of the OTP area (`address`), 8-aligned,
        // with `CR.PG` set: the two stores are the controller's program
        // command for it, outside every Rust allocation.
        unsafe {
            ptr::write_volatile(ptr::with_exposed_provenance_mut::<u32>(addr), 0);
            ptr::write_volatile(ptr::with_exposed_provenance_mut::<u32>(addr + 4), 0);
        }
        cortex_m::asm::dsb();
        let ok = Self::wait_ok();
        flash.cr().modify(|w| w.set_pg(false));
        flash.sr().modify(|_| {});
        if was_locked {
            flash.cr().modify(|w| w.set_lock(true));
        }
        match (ok, Self::read(addr)) {
            (true, Some([0, 0])) => Ok(()),
            _ => Err(CounterError::Write),
        }
    }
}
