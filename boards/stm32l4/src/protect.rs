//! The bootloader protects itself: write protection (WRP) over its own
//! pages, kept in the option bytes, on the registers (embassy-stm32's
//! `pac::FLASH`, at `0x4002_2000`: `KEYR` `+0x08`, `OPTKEYR` `+0x0C`, `SR`
//! `+0x10`, `CR` `+0x14`, `WRP1AR` `+0x2C`).
//!
//! # What it locks
//!
//! The option bytes' bank-1 area A (`WRP1AR`: `WRP1A_STRT` = 0,
//! `WRP1A_END` = 29) covers pages 0 to 29 of bank 1, `0x0800_0000 ..
//! 0x0800_F000` (60 KiB): the bootloader's code, its constants and the
//! public keys it trusts. The flash controller refuses to write or erase
//! them (`SR.WRPERR`) for anyone, the bootloader included, until the
//! option bytes say otherwise. The metadata pages (30, 31) and the slots
//! stay writable. Areas `WRP1B`, `WRP2A` and `WRP2B` are left as they are.
//!
//! Unlike the nRF52840's ACL, WRP lives in the option bytes: it survives
//! resets and power cycles. [`ensure_wrp`] runs at every boot, before
//! `select`, and changes the option bytes only when they do not already
//! say this: once in a device's life, or after something changed them.
//!
//! # What it does not stop
//!
//! At RDP level 0 or 1 the option bytes themselves can be rewritten by any
//! code that knows the (public) unlock keys: a compromised firmware can
//! clear WRP (then its flash writes reach the bootloader) — but new option
//! bytes take effect only at an option-byte load (`OBL_LAUNCH`, a power-on
//! reset, a wake-up from Standby), and each of those runs the bootloader
//! first, which puts WRP back before it jumps (so WRP holds against the
//! firmware for as long as the bootloader runs at every reset). What it cannot undo: a
//! firmware that sets `BFB2` (boot from bank 2, through the system
//! memory) and writes its own code at the start of bank 2 (slot B) skips
//! the bootloader at the next boot; and RDP level 1 → 0 mass-erases the
//! flash. Only **RDP level 2** freezes the option bytes (WRP and BFB2
//! included) and the debug port for good. That is a production step, done
//! once with a programmer and irreversible; this code never sets it (see
//! the README).

use embassy_stm32::pac;

use abboot_board_common::XipBoard;

use crate::Board;

/// The last page the bootloader occupies (pages count from 0 in bank 1).
const LAST_PAGE: u8 = {
    let pages = Board::BOOT_LEN / Board::PAGE;
    assert!(pages >= 1 && pages <= 256 && Board::BOOT_LEN % Board::PAGE == 0);
    (pages - 1) as u8
};

/// Flash unlock keys (RM0351, `FLASH_KEYR`).
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
/// Option bytes unlock keys (`FLASH_OPTKEYR`).
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

/// What [`ensure_wrp`] found, when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrp {
    /// The bootloader's pages are write-protected.
    Protected,
    /// They are not, and the option bytes cannot be changed (they stayed
    /// locked after the unlock sequence: RDP level 2, or a wrong sequence
    /// earlier in this boot) or their programming reported an error. The
    /// boot goes on unprotected rather than reset in a loop.
    Failed,
}

/// Whether `WRP1AR` covers exactly the bootloader's pages.
pub fn bootloader_protected() -> bool {
    let wrp = pac::FLASH.wrp1ar().read();
    wrp.wrp1a_strt() == 0 && wrp.wrp1a_end() == LAST_PAGE
}

/// Makes the bootloader's pages write-protected: if `WRP1AR` does not
/// already cover them, programs the option bytes (unlock, `WRP1AR`,
/// `OPTSTRT`, wait for `BSY`) and loads them (`OBL_LAUNCH`), which resets
/// the chip; the next boot finds them protected and returns at once. Call
/// it first, before `select` (so that the reset does not cost a trial
/// image a try) and before any flash driver is in use.
///
/// It has no retry budget that a firmware could spend: a firmware that
/// clears WRP and reloads the option bytes gets the bootloader putting it
/// back before the next jump. It returns [`Wrp::Failed`] instead of
/// resetting when the option bytes stay locked or report an error. If they
/// programmed without error and still did not load as written (a fault of
/// the part), every boot would program them again: a reset loop, not an
/// unprotected boot.
///
/// A power loss while the option bytes are programmed can leave them
/// inconsistent (`OPTVERR`; RM0351 loads safe defaults then). Setting WRP
/// at the factory with the programmer (the README) makes this a check
/// only.
pub fn ensure_wrp() -> Wrp {
    if bootloader_protected() {
        return Wrp::Protected;
    }
    let flash = pac::FLASH;
    while flash.sr().read().bsy() {}
    // Unlock `CR`, then the option bytes; each only if locked (a second
    // unlock sequence is a wrong sequence, which locks them until reset).
    if flash.cr().read().lock() {
        flash.keyr().write_value(KEY1);
        flash.keyr().write_value(KEY2);
    }
    if flash.cr().read().optlock() {
        flash.optkeyr().write_value(OPTKEY1);
        flash.optkeyr().write_value(OPTKEY2);
    }
    if flash.cr().read().optlock() {
        return Wrp::Failed;
    }
    // Error flags are write-1-to-clear: clear any left over.
    flash.sr().modify(|_| {});
    flash.wrp1ar().modify(|w| {
        w.set_wrp1a_strt(0);
        w.set_wrp1a_end(LAST_PAGE);
    });
    flash.cr().modify(|w| w.set_optstrt(true));
    while flash.sr().read().bsy() {}
    let sr = flash.sr().read();
    let failed = sr.operr()
        || sr.progerr()
        || sr.wrperr()
        || sr.pgaerr()
        || sr.sizerr()
        || sr.pgserr()
        || sr.miserr()
        || sr.fasterr()
        || sr.optverr();
    if !failed {
        // Loads the option bytes: a reset, which does not return.
        flash.cr().modify(|w| w.set_obl_launch(true));
        // Should it not reset within about a millisecond, go on.
        cortex_m::asm::delay(crate::CORE_HZ / 1000);
    }
    flash.sr().modify(|_| {});
    // Setting LOCK sets OPTLOCK too.
    flash.cr().modify(|w| w.set_lock(true));
    Wrp::Failed
}
