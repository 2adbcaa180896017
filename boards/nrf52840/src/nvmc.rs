//! The NVMC (the 1 MiB internal flash) without a HAL: [`Nvmc`] implements
//! `embedded_storage`'s [`ReadNorFlash`] and [`NorFlash`] over the whole
//! flash, mapped at address 0 (an offset is an address), erased in 4 KiB
//! pages and written in 4-byte words.
//!
//! # Why
//!
//! The bootloader's link-time proof (feature `prove-no-panic`) needs every
//! call it makes to be free of panic paths. embassy-nrf 0.11.0's `Nvmc`
//! keeps one: its `read` ends in `copy_from_slice`, whose length check is
//! not inlined at opt-level "z". Here every argument check returns
//! [`NorFlashErrorKind::OutOfBounds`] or [`NorFlashErrorKind::NotAligned`]
//! (`embedded_storage`'s `check_read`, `check_write`, `check_erase`: `from >
//! to` is out of bounds), and the copies index nothing.
//!
//! # How
//!
//! The registers are nrf-pac's (`nrf_pac::NVMC`, at `0x4001_E000`:
//! `READY` `+0x400`, `CONFIG` `+0x504`, `ERASEPAGE` `+0x508`).
//!
//! * `read`: a volatile load of each byte from the flash itself.
//! * `write`: `CONFIG.WEN = Wen`, then each word as one volatile store,
//!   waiting for `READY` after each, then `CONFIG.WEN = Ren`.
//! * `erase`: `CONFIG.WEN = Een`, then each page's address into
//!   `ERASEPAGE`, waiting for `READY` after each, then `CONFIG.WEN = Ren`.
//!
//! # Limits
//!
//! * Nothing keeps the CPU off the flash during a write or an erase, and
//!   the chip needs nothing: the code runs from this flash, and the CPU is
//!   halted while the NVMC writes or erases (up to a page erase's time), so
//!   no fetch or read overlaps one. Interrupts wait the same way; they do
//!   not matter in the bootloader, which enables none, and no interrupt
//!   handler may use the NVMC (see [`Nvmc::new`]).
//! * No `MultiwriteNorFlash`: code that relies on it rewrites words with no
//!   count kept, and the nRF52840 allows at most two writes of a word
//!   between erases (nWRITE in the product specification), which a driver
//!   cannot check. abboot writes a word once.
//! * No read-back: a write or erase cut by a reset shows up in abboot's own
//!   checks (journal CRCs, image digests).

use core::ptr;

use abboot_board_common::XipBoard;
use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash,
};
use nrf_pac::nvmc::vals::Wen;

use crate::Board;

/// Flash size in bytes: from address 0 to `0x10_0000`.
const FLASH_SIZE: usize = Board::FLASH_SIZE as usize;
/// The erase unit.
const PAGE: usize = Board::PAGE as usize;
/// The write unit: one 32-bit word.
const WORD: usize = 4;

/// The NVMC, driven through its registers. See the [module](self).
#[derive(Debug)]
pub struct Nvmc {
    _private: (),
}

impl Nvmc {
    /// The driver of the whole flash.
    ///
    /// # Safety
    ///
    /// What it is given to write and erase is never the memory of the
    /// running program: its code, its `static`s and constants, which Rust
    /// takes as immutable. `write` and `erase` accept any page of the flash.
    /// abboot only writes the metadata pages and the slot that is not
    /// running, never the bootloader's own flash (below
    /// `Board::META_OFFSET`).
    ///
    /// Also, nothing else drives the NVMC during a call of this driver: no
    /// embassy-nrf `Nvmc`, no interrupt handler, no call of a second
    /// `Nvmc` from inside one of this one's. Another `CONFIG` change in
    /// the middle of a write or an erase would make it run in the wrong
    /// mode. Several handles used one call at a time are sound, as the
    /// bootloader's metadata and slot handles and its UICR counter are:
    /// the driver keeps no state, and every call leaves `CONFIG`
    /// read-only when it returns.
    pub const unsafe fn new() -> Self {
        Self { _private: () }
    }

    /// Waits until the NVMC has finished its write or erase.
    fn wait_ready(&self) {
        while !nrf_pac::NVMC.ready().read().ready() {}
    }

    /// Sets `CONFIG.WEN` (read only, write or erase enabled), then waits
    /// until the NVMC is ready.
    fn set_mode(&mut self, mode: Wen) {
        nrf_pac::NVMC.config().write(|w| w.set_wen(mode));
        self.wait_ready();
    }
}

impl ErrorType for Nvmc {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for Nvmc {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        check_read(self, offset, bytes.len())?;
        // `check_read` keeps `offset + bytes.len()` within FLASH_SIZE: the
        // address cannot wrap, and one counter (not a zip with a second
        // range, whose length is worked out again) walks the bytes.
        let mut addr = offset as usize;
        for byte in bytes.iter_mut() {
            // SAFETY: `addr` is below FLASH_SIZE (`check_read`), so it is in
            // the flash, which is mapped at 0 and always readable, with no
            // side effect. The metadata and the slots lie outside every Rust
            // allocation, where a volatile load needs no provenance (address
            // 0 included, as documented since Rust 1.90; abboot reads
            // nothing below the metadata); a byte of the program's own image
            // is read like any constant. Nothing writes it meanwhile: this
            // driver takes `&mut self` and is the only one (`new`'s
            // contract).
            *byte = unsafe { ptr::read_volatile(ptr::with_exposed_provenance::<u8>(addr)) };
            addr = addr.wrapping_add(1);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        FLASH_SIZE
    }
}

impl NorFlash for Nvmc {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        check_erase(self, from, to)?;
        self.set_mode(Wen::Een);
        for page in (from..to).step_by(PAGE) {
            nrf_pac::NVMC.erasepage().write_value(page);
            self.wait_ready();
        }
        self.set_mode(Wen::Ren);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        check_write(self, offset, bytes.len())?;
        let start = offset as usize;
        let end = start
            .checked_add(bytes.len())
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        self.set_mode(Wen::Wen);
        for (word, addr) in bytes.chunks_exact(WORD).zip((start..end).step_by(WORD)) {
            // `chunks_exact` gives 4 bytes: the `else` is never taken.
            let &[b0, b1, b2, b3] = word else { continue };
            // SAFETY: `addr` is word-aligned and the word is inside the
            // flash (`check_write`), and `CONFIG.WEN` is `Wen`: the store
            // is the NVMC's write command, outside every Rust allocation
            // (`new`'s contract keeps it off the program's own memory).
            unsafe {
                ptr::write_volatile(
                    ptr::with_exposed_provenance_mut::<u32>(addr),
                    u32::from_le_bytes([b0, b1, b2, b3]),
                );
            }
            // The flash is Normal memory and READY a Device register: the
            // barrier keeps the store ahead of the poll.
            cortex_m::asm::dmb();
            self.wait_ready();
        }
        self.set_mode(Wen::Ren);
        Ok(())
    }
}
