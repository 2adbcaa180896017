//! The bootloader's flow: [`select`] picks and checks the payload to
//! run, and [`Entry::jump`] writes the [hand-off](crate::handoff) and
//! runs it. The board calls them between its HAL init and its recovery,
//! and starts its watchdog for a trial boot only:
//!
//! ```ignore
//! match boot::select::<board::Board>(flash, board::counter()) {
//!     Some(entry) => {
//!         if entry.is_trial() {
//!             watchdog_start();
//!         }
//!         led_off();
//!         entry.jump()
//!     }
//!     None => recovery(),
//! }
//! ```

use core::cell::RefCell;

use abboot::boot::{Bootloader, Policy, VerifyPolicy};
use abboot::counter::SecurityCounter;
use abboot::flash::{ReadsCannotFail, Shared};
use abboot::handoff::Handoff;
use embedded_storage::nor_flash::NorFlash;

use crate::check::BoardCheck;
use crate::{handoff, XipBoard};

/// Verify the image that boots at every boot (bit rot in the primary is
/// caught and the other slot takes over), at the cost of hashing it.
pub const POLICY: Policy = Policy {
    verify: VerifyPolicy::Always,
    fresh_tries: 3,
};

/// A payload verified to run: the address of its vector table, and the
/// hand-off for it. Only [`select`] makes one, and it takes the flash
/// driver, so the slot cannot be written between the check and the
/// [jump](Entry::jump).
#[derive(Debug)]
pub struct Entry {
    vector_table: u32,
    nvic_words: usize,
    handoff: Handoff,
}

/// At every reset: [`Bootloader::select`] over `flash` (metadata and slots
/// on the one device, shared through [`Shared`], and read through
/// [`ReadsCannotFail`] where `B` declares [`XipBoard::READS_CANNOT_FAIL`])
/// with board `B`'s
/// [`XipBoard::CHECK`] and [`POLICY`], then the vector table check of the
/// chosen payload.
///
/// `counter` is the board's hardware security counter
/// ([`abboot::counter`]; [`abboot::counter::NoCounter`] where the part has
/// none): nothing below the higher of it and the journal's floor boots,
/// and a raise that a power cut kept from the firmware's confirm is
/// caught up here, before the jump.
///
/// `None`: nothing verified to boot, the layout does not fit the device (a
/// build mistake), or the payload's first words are not a vector table for
/// this board. The board then runs its recovery and never jumps.
pub fn select<B: XipBoard>(flash: impl NorFlash, counter: impl SecurityCounter) -> Option<Entry> {
    let flash = RefCell::new(flash);
    select_with::<B>(Shared::new(&flash), Shared::new(&flash), counter)
}

/// [`select`] over two handles to the one device, `meta` for the
/// metadata and `slots` for the slots, each addressing the whole device
/// (offsets are the device's), for a board whose flash driver can be had
/// twice: a driver of registers that holds no state between calls, such
/// as the nRF52840's NVMC (`boards/nrf52840`'s `Nvmc`). abboot calls one
/// handle at a time and never from inside a call of the other, so two
/// such handles need no [`Shared`]: its borrow test and its `Busy` error
/// are left out of the bootloader (90 B of abboot's own code and 80 B of
/// flash in the signed nRF52840 bootloader, issue 14).
///
/// A driver that owns its peripheral or keeps state between calls (a
/// HAL's flash, a cache, a driver that leaves the part in write mode
/// after a call) is one device: give it to [`select`], which shares it.
pub fn select_with<B: XipBoard>(
    meta: impl NorFlash,
    slots: impl NorFlash,
    counter: impl SecurityCounter,
) -> Option<Entry> {
    // A constant: the other arm is never built into the bootloader.
    if B::READS_CANNOT_FAIL {
        select_on::<B>(ReadsCannotFail(meta), ReadsCannotFail(slots), counter)
    } else {
        select_on::<B>(meta, slots, counter)
    }
}

/// [`select_with`] once the handles are wrapped as `B` declares.
// Inlined into `select_with`'s one arm that is built: one function, as
// before the choice.
#[inline(always)]
fn select_on<B: XipBoard>(
    meta: impl NorFlash,
    slots: impl NorFlash,
    counter: impl SecurityCounter,
) -> Option<Entry> {
    let mut bootloader = Bootloader::new(meta, slots, B::LAYOUT, BoardCheck::<B>::new(), POLICY)
        .ok()?
        .with_counter(counter);
    let decision = bootloader.select();
    // `select` has verified the image of the slot it returns (signature
    // unless `digest-only`, payload digest, hardware id, load address,
    // header length, and the vector table: `BoardCheck`) and, for a trial
    // boot, counted the try on flash.
    // Under `VerifyPolicy::Always` it also returns what that check found.
    // `decision.image` is that check's result, so the vector table it
    // accepted is the payload's start: not read again here. The check
    // accepted its load address, the slot's address plus the header
    // length (`check::runs_in_place`, asserted at compile time).
    decision.slot?;
    let image = decision.image?;
    let handoff = Handoff::from_decision(&decision)?;
    Some(Entry {
        vector_table: image.load_address,
        nvic_words: B::NVIC_WORDS,
        handoff,
    })
}

impl Entry {
    /// What the firmware is told: its slot, the kind of boot, why, tries
    /// left, version.
    pub fn handoff(&self) -> &Handoff {
        &self.handoff
    }

    /// Whether this is a trial boot of an unconfirmed image (its try is
    /// already counted on flash): the one kind of boot the board starts
    /// its watchdog for.
    pub fn is_trial(&self) -> bool {
        self.handoff.is_trial()
    }

    /// Runs the payload: writes the [hand-off](crate::handoff) to its
    /// RAM, disables and clears the NVIC interrupts, sets `VTOR`, loads
    /// MSP and branches to the reset handler (`cortex_m::asm::bootload`).
    /// Never returns.
    // Inlined into the board's one call: the Entry is not passed through
    // memory, and the NVIC word count is the board's constant (no test
    // against the length of the register array). The hand-off's encoding
    // stays out of line (`handoff::write`), its buffer off the frame of
    // the board's `main`.
    #[inline(always)]
    pub fn jump(self) -> ! {
        handoff::write(&self.handoff);
        // SAFETY: `vector_table` is the first byte of the payload `select`
        // just verified (an `Entry` is made nowhere else, and the flash
        // driver went with it, so the slot is as checked), linked to run
        // exactly there (its signed load address, checked equal), and its
        // first words are a stack pointer in RAM and a Thumb reset handler
        // inside the signed payload. No code of the bootloader runs after
        // the jump, so taking the core peripherals and resetting MSP cannot
        // break anything still in use; the interrupts the HAL may have
        // enabled are disabled and cleared first, so none reaches the
        // firmware before it sets up its own.
        unsafe {
            let core = cortex_m::Peripherals::steal();
            let nvic = core.NVIC.icer.iter().zip(&core.NVIC.icpr);
            for (icer, icpr) in nvic.take(self.nvic_words) {
                icer.write(u32::MAX);
                icpr.write(u32::MAX);
            }
            core.SCB.vtor.write(self.vector_table);
            cortex_m::asm::dsb();
            cortex_m::asm::isb();
            cortex_m::asm::bootload(self.vector_table as *const u32)
        }
    }
}

/// `select` on the host over a simulated flash: the whole path a board
/// runs before its jump (the journal, the image check of this build, the
/// vector table check), for an image whose first words are varied around
/// each bound of the vector table check.
#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::test_board::{bootable, image_for, Board};
    use abboot::counter::NoCounter;
    use abboot::sim::SimFlash;
    use abboot::state::BootKind;
    use abboot::Slot;

    /// Where slot A's payload (its vector table) is linked.
    const ENTRY: u32 = 0x0800_4100;
    const LEN: u32 = 1024;
    /// The top of the stack: the end of RAM, below the hand-off.
    const SP: u32 = Board::RAM_END - abboot::handoff::HANDOFF_LEN as u32;
    const RESET: u32 = ENTRY + 0x41;

    /// A signed image for slot A whose payload is `len` bytes starting
    /// with the stack pointer `sp` and the reset handler `reset`.
    fn image(sp: u32, reset: u32, len: u32) -> Vec<u8> {
        image_for(Slot::A, 0, sp, reset, len)
    }

    /// `select` on a device whose slot A holds `image` (metadata blank).
    fn boot(image: &[u8]) -> Option<Entry> {
        let mut flash = SimFlash::<4, 4, 4096>::new(Board::FLASH_SIZE as usize);
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, image);
        select::<Board>(flash, NoCounter)
    }

    #[test]
    fn a_payload_linked_here_boots_from_its_vector_table() {
        let entry = boot(&image(SP, RESET, LEN)).expect("boots");
        assert_eq!(entry.vector_table, ENTRY);
        assert_eq!(entry.nvic_words, Board::NVIC_WORDS);
        assert_eq!(entry.handoff().slot, Slot::A);
        assert_eq!(entry.handoff().kind, BootKind::Fresh);
        assert!(!entry.is_trial());
    }

    /// The reset handler must lie inside the signed payload: its last
    /// Thumb address boots, the first past it (the slot's unsigned rest)
    /// does not, nor does the vector table's own address or below.
    #[test]
    fn the_reset_handler_lies_inside_the_signed_payload() {
        let end = ENTRY + LEN;
        assert!(boot(&image(SP, end - 1, LEN)).is_some());
        assert!(boot(&image(SP, end + 1, LEN)).is_none());
        assert!(boot(&image(SP, ENTRY + 1, LEN)).is_some());
        assert!(boot(&image(SP, ENTRY - 1, LEN)).is_none());
        // An odd length: the last Thumb address whose first two bytes are
        // inside boots; the next one would be the payload's last byte and
        // one past it.
        assert!(boot(&image(SP, ENTRY + LEN - 3, LEN - 1)).is_some());
        assert!(boot(&image(SP, ENTRY + LEN - 1, LEN - 1)).is_none());
    }

    /// A newer image in slot B beside A on a blank journal is on trial:
    /// the one boot the board starts its watchdog for.
    #[test]
    fn a_trial_boot_says_so() {
        let b_entry = Board::LOAD_ADDRESS[1];
        let mut flash = SimFlash::<4, 4, 4096>::new(Board::FLASH_SIZE as usize);
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, &image(SP, RESET, LEN));
        let b = bootable(Slot::B, 1, 0);
        flash.set_contents(Board::SLOT_OFFSET[1] as usize, &b);
        let entry = select::<Board>(flash, NoCounter).expect("boots");
        assert_eq!(entry.vector_table, b_entry);
        assert_eq!(entry.handoff().slot, Slot::B);
        assert_eq!(entry.handoff().kind, BootKind::Trial);
        assert!(entry.is_trial());
    }

    /// A newer image in slot B that the vector table check refuses (its
    /// reset vector past its payload; validly signed) beside A on a blank
    /// journal: rejected before its trial, A boots at every reset (it was
    /// tried, its try counted, and the board sat in recovery three resets
    /// in a row).
    #[test]
    fn an_update_with_a_bad_vector_table_is_rejected_before_its_trial() {
        let mut flash = SimFlash::<4, 4, 4096>::new(Board::FLASH_SIZE as usize);
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, &image(SP, RESET, LEN));
        let b_entry = Board::LOAD_ADDRESS[1];
        let b = image_for(Slot::B, 1, SP, b_entry + LEN + 1, LEN);
        flash.set_contents(Board::SLOT_OFFSET[1] as usize, &b);
        for _ in 0..4 {
            let entry = select::<Board>(&mut flash, NoCounter).expect("boots");
            assert_eq!((entry.handoff().slot, entry.is_trial()), (Slot::A, false));
        }
    }

    #[test]
    fn the_reset_handler_is_thumb_code() {
        assert!(boot(&image(SP, RESET - 1, LEN)).is_none());
    }

    /// The stack pointer: above the RAM's start, at most the hand-off's
    /// start (a stack above it would overwrite the hand-off with its first
    /// push), 8-aligned.
    #[test]
    fn the_stack_pointer_points_into_ram_below_the_handoff() {
        assert!(boot(&image(Board::RAM_START + 8, RESET, LEN)).is_some());
        assert!(boot(&image(Board::RAM_START, RESET, LEN)).is_none());
        assert!(boot(&image(SP, RESET, LEN)).is_some());
        assert!(boot(&image(SP + 8, RESET, LEN)).is_none());
        assert!(boot(&image(Board::RAM_END, RESET, LEN)).is_none());
        assert!(boot(&image(Board::RAM_END + 8, RESET, LEN)).is_none());
        assert!(boot(&image(SP - 4, RESET, LEN)).is_none());
    }

    /// A payload too short to hold both words is refused, even when the
    /// bytes after it (unsigned) would make a vector table.
    #[test]
    fn a_payload_shorter_than_two_words_is_refused() {
        let mut short = image(SP, RESET, 7);
        short.extend_from_slice(&[0xAA; 16]);
        assert!(boot(&short).is_none());
        assert!(boot(&image(SP, ENTRY + 1, 8)).is_some());
    }

    #[test]
    fn an_image_linked_for_another_address_is_refused() {
        let mut img = image(SP, RESET, LEN);
        // Slot A's image placed in slot B: its load address is not B's.
        let mut flash = SimFlash::<4, 4, 4096>::new(Board::FLASH_SIZE as usize);
        flash.set_contents(Board::SLOT_OFFSET[1] as usize, &img);
        assert!(select::<Board>(flash, NoCounter).is_none());
        // And a blank device boots nothing.
        img.fill(0xFF);
        assert!(boot(&img).is_none());
    }

    /// A driver smaller than the board's layout (the wrong part, or the
    /// wrong driver): nothing is read as a slot, nothing boots.
    #[test]
    fn a_flash_smaller_than_the_layout_boots_nothing() {
        let mut flash = SimFlash::<4, 4, 4096>::new(Board::SLOT_OFFSET[1] as usize);
        flash.set_contents(Board::SLOT_OFFSET[0] as usize, &image(SP, RESET, LEN));
        assert!(select::<Board>(flash, NoCounter).is_none());
    }
}
