//! The bootloader protects itself before the jump: an ACL region over its
//! own flash, on the registers (nrf-pac's `nrf_pac::ACL`, at `0x4001_E000`:
//! `ACL[n].ADDR` `+0x800 + 16n`, `ACL[n].SIZE` `+0x804 + 16n`,
//! `ACL[n].PERM` `+0x808 + 16n`), with no HAL.
//!
//! # What it locks
//!
//! `ACL[0]` covers `0x0000_0000 .. Board::BOOT_LEN` (56 KiB, 14 pages): the
//! bootloader's code, its constants and the public keys it trusts
//! (`src/key.rs`, in its `.rodata`), with `PERM.WRITE = Disable`. From the
//! write on, every NVMC write or erase there is blocked (and raises a bus
//! fault) until the next reset, whoever asks: the firmware, through any
//! driver, or a debugger. A region's `ADDR`, `SIZE` and `PERM` cannot be
//! changed or cleared once written (writing `0` has no effect); only a
//! reset clears them, and a reset always runs the bootloader first, which
//! sets them again before the next jump.
//!
//! # What it does not lock
//!
//! * **Reads and execution** (`PERM.READ` stays `Enable`). The bootloader
//!   runs from this region up to the last instruction of the jump, so a
//!   read block set before the jump would fault its own next fetch; and
//!   nothing in it is secret (the keys are public keys).
//! * The metadata pages and the slots: the firmware must write them to
//!   confirm and to stage. (Its driver is fenced to them in software:
//!   `abboot_board_common::firmware::fence`.)
//! * The UICR: the ACL covers the code flash only, and the NVMC can still
//!   program UICR words and erase the UICR (`ERASEUICR`) unless access port
//!   protection is on (the README's production settings).
//! * `ERASEALL` from a debugger. That erases the whole chip, the
//!   bootloader with it, and leaves nothing to boot: no firmware runs
//!   unsigned through it.

use nrf_pac::acl::regs::Perm;
use nrf_pac::acl::vals::{Read, Write};

use abboot_board_common::XipBoard;

use crate::Board;

/// The ACL region this module uses (of 8).
const REGION: usize = 0;

// The region must be whole pages, and an ACL region is at most half the
// flash.
const _: () = {
    assert!(Board::BOOT_LEN % Board::PAGE == 0);
    assert!(Board::BOOT_LEN > 0 && Board::BOOT_LEN <= Board::FLASH_SIZE / 2);
};

/// Write-protects the bootloader's flash (`0 .. BOOT_LEN`) until the next
/// reset. Call it last before the jump: after it, not even the bootloader
/// can write or erase there. The metadata, the slots and the UICR stay
/// writable.
pub fn lock_bootloader() {
    let region = nrf_pac::ACL.acl(REGION);
    region.addr().write_value(0);
    region.size().write_value(Board::BOOT_LEN);
    let mut perm = Perm(0);
    perm.set_write(Write::Disable);
    perm.set_read(Read::Enable);
    region.perm().write_value(perm);
    // The region is in force before the firmware's first instruction.
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

/// Whether [`lock_bootloader`] is in force (the region reads back as it
/// was set). The firmware can check it; it cannot undo it.
pub fn bootloader_locked() -> bool {
    let region = nrf_pac::ACL.acl(REGION);
    region.addr().read() == 0
        && region.size().read() == Board::BOOT_LEN
        && region.perm().read().write() == Write::Disable
}

/// With feature `approtect` (production): makes sure access port
/// protection is on, `UICR.APPROTECT.PALL = Enabled` (`0x1000_1208`, the
/// whole word programmed to `0x0000_0000`). If it is not, programs it
/// through the NVMC and resets, since the UICR is read at reset; this
/// happens once in a device's life. If the word does not read back as
/// programmed, it does not reset (no reset loop) and boots on unprotected.
///
/// With it on, a debugger reaches nothing but `ERASEALL` (which erases the
/// bootloader too), and the CPU cannot erase the UICR (`ERASEUICR`), so the
/// security counter in the UICR cannot be lowered. On the build codes
/// with the "improved" APPROTECT (hardware-enabled at every reset unless
/// the firmware writes `APPROTECT.DISABLE`), the firmware must not unlock
/// it again: this crate's firmware passes `Debug::NotConfigured` to
/// `embassy_nrf::init` with the feature on.
///
/// # Safety
///
/// As [`crate::nvmc::Nvmc::new`]'s: nothing else drives the NVMC meanwhile.
#[cfg(feature = "approtect")]
pub unsafe fn enable_approtect() {
    use nrf_pac::nvmc::vals::Wen;
    use nrf_pac::uicr::regs::Approtect;

    let approtect = nrf_pac::UICR.approtect();
    if approtect.read().0 == 0 {
        return;
    }
    let wait = || while !nrf_pac::NVMC.ready().read().ready() {};
    nrf_pac::NVMC.config().write(|w| w.set_wen(Wen::Wen));
    wait();
    approtect.write_value(Approtect(0));
    cortex_m::asm::dmb();
    wait();
    nrf_pac::NVMC.config().write(|w| w.set_wen(Wen::Ren));
    wait();
    if approtect.read().0 == 0 {
        cortex_m::peripheral::SCB::sys_reset();
    }
}
