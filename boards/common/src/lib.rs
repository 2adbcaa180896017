//! What the execute-in-place board crates (`boards/stm32l4`,
//! `boards/nrf52840`, `boards/rp2040`) share.
//!
//! A board describes itself once, as the constants of an [`XipBoard`]:
//! its flash map, the header length and hardware id its images are signed
//! with, its trusted keys, its RAM and its NVIC. From those this crate
//! derives the abboot [`Layout`], the [`BoardProfile`] and the image
//! check, and runs the bootloader's flow ([`boot::select`], then
//! [`boot::Entry::jump`], which writes the [`handoff`]) and the
//! firmware's ([`firmware::start`], after [`handoff::take`]). The board
//! keeps what differs: HAL init, its flash driver, its watchdog, its LED
//! and recovery, its memory maps (which reserve the hand-off's RAM).
//!
//! Both slots execute in place: an image is linked for its slot, right
//! after a header of [`XipBoard::HEADER_LEN`] bytes, and signed with that
//! load address. The profile requires that header length, so
//! [`abboot::image::signed::SignedCheck`] refuses an image
//! signed with another one
//! ([`abboot::image::ImageError::BadHeaderLength`]) in `check` and in
//! `precheck`: `select` never chooses it, and [`abboot::Updater`] refuses
//! it before erasing anything (so does the `digest-only` check).
//!
//! Feature `digest-only` swaps the check ([`Check`]) for
//! `digest::ProfiledDigestCheck`: the payload's SHA-256 and the same
//! profile checks (fit, header length, hardware id, load address), no
//! signature, no Ed25519 linked. It detects damaged and misplaced images,
//! not forged ones: for a bootloader that must fit a small slot.
//!
//! Everything derived is an associated constant, so after
//! monomorphisation the layout and the check are compile-time constants
//! (abboot's layout validation folds away), as they were when each board
//! wrote them out.
#![no_std]

use abboot::context::Layout;
use abboot::flash::Region;
use abboot::image::signed::{BoardProfile, TrustedKey};
#[cfg(not(feature = "digest-only"))]
use abboot::image::signed::{SignedCheck, TrustedKeys};
use abboot::journal::Geometry;

pub mod boot;
pub mod check;
#[cfg(feature = "digest-only")]
pub mod digest;
pub mod firmware;
pub mod handoff;
#[cfg(any(test, feature = "small-mem"))]
mod mem;
#[cfg(test)]
mod read_glitch_tests;
#[cfg(test)]
mod reads_cannot_fail_tests;
#[cfg(test)]
mod test_board;

/// The image check of the bootloader and the firmware's updater
/// ([`XipBoard::CHECK`]): [`SignedCheck`] with the board's keys and
/// profile.
#[cfg(not(feature = "digest-only"))]
pub type Check = SignedCheck<'static>;

/// The image check of the bootloader and the firmware's updater
/// ([`XipBoard::CHECK`]): with feature `digest-only`, the payload's SHA-256
/// and the board profile, no signature ([`digest::ProfiledDigestCheck`]).
#[cfg(feature = "digest-only")]
pub type Check = digest::ProfiledDigestCheck;

/// An execute-in-place board: where its flash is and how it is divided,
/// what its images must say, and what its jump needs. Offsets count from
/// the start of the flash driver; addresses are where the core sees them.
/// Lengths are in bytes.
///
/// A board gives the first group of constants; the second is derived. A
/// map that does not hold together (see [`XipBoard::LAYOUT`]) is a build
/// error.
pub trait XipBoard {
    /// Where flash offset 0 is mapped: the slots run from there.
    const FLASH_BASE: u32;
    /// Size of the flash.
    const FLASH_SIZE: u32;
    /// Erase page (sector).
    const PAGE: u32;
    /// Bytes reserved for the bootloader at the start of flash.
    const BOOT_LEN: u32;
    /// Offset of the two metadata pages.
    const META_OFFSET: u32;
    /// Offsets of slot A and slot B.
    const SLOT_OFFSET: [u32; 2];
    /// Bytes of each slot.
    const SLOT_LEN: u32;
    /// Header length the images are signed with (`abboot sign
    /// --header-len`): the payload, vector table first, starts this far
    /// into its slot, and the bootloader jumps there. A multiple of the
    /// vector table's alignment.
    const HEADER_LEN: u32;
    /// Hardware id the images carry (`abboot sign --hardware-id`).
    const HARDWARE_ID: u32;
    /// The public keys images may be signed with (unused with feature
    /// `digest-only`).
    const TRUSTED_KEYS: &'static [TrustedKey];
    /// Start of the RAM where an image's initial stack pointer must point.
    const RAM_START: u32;
    /// One past the last byte of that RAM.
    const RAM_END: u32;
    /// Words of the NVIC's enable and pending bitmaps in use.
    const NVIC_WORDS: usize;
    /// Whether the board's flash driver reads by loads from the mapped
    /// flash, failing only on arguments abboot never passes: the
    /// bootloader then reads through [`abboot::flash::ReadsCannotFail`],
    /// and abboot's answers to read faults are left out of it. `false`
    /// unless the board says, where it sets it, why its reads cannot
    /// fail.
    const READS_CANNOT_FAIL: bool = false;

    /// Metadata pages and slots, as offsets of the flash driver. Its
    /// evaluation checks that the map holds together (pages aligned,
    /// nothing overlaps, all inside the flash and the address space) and
    /// fails the build if not. (The bootloader's own size is checked by
    /// the linker against the board's `link/boot/memory.x`.)
    const LAYOUT: Layout = {
        let (page, [a, b], len) = (Self::PAGE, Self::SLOT_OFFSET, Self::SLOT_LEN);
        assert!(Self::BOOT_LEN % page == 0 && Self::META_OFFSET >= Self::BOOT_LEN);
        assert!(a % page == 0 && b % page == 0 && len % page == 0);
        assert!(a >= Self::META_OFFSET + 2 * page);
        assert!(b >= a + len);
        assert!(b + len <= Self::FLASH_SIZE);
        assert!(Self::FLASH_BASE.checked_add(Self::FLASH_SIZE).is_some());
        assert!(Self::HEADER_LEN < len);
        Layout::new(
            Geometry::contiguous(Self::META_OFFSET, page),
            [Region::new(a, len), Region::new(b, len)],
        )
    };

    /// Where slot A and slot B start, as the core sees them (the header's
    /// first byte).
    const SLOT_ADDRESS: [u32; 2] = [
        Self::FLASH_BASE + Self::SLOT_OFFSET[0],
        Self::FLASH_BASE + Self::SLOT_OFFSET[1],
    ];

    /// Where the payload of slot A and slot B is linked to run (execute in
    /// place: slot address + header length), as [`Self::PROFILE`] derives
    /// it.
    const LOAD_ADDRESS: [u32; 2] = Self::PROFILE.load_address;

    /// What an image for this board must say: the hardware id, and the
    /// header length the bootloader jumps past, from which
    /// [`BoardProfile::execute_in_place`] derives each slot's load address
    /// (slot address + header length). An image signed with another header
    /// length or load address is refused.
    const PROFILE: BoardProfile =
        BoardProfile::execute_in_place(Self::HARDWARE_ID, Self::SLOT_ADDRESS, Self::HEADER_LEN);

    /// abboot's image check of the board: the signed image check with the
    /// trusted keys and [`Self::PROFILE`]. The bootloader and the firmware
    /// run it inside [`check::BoardCheck`], which adds the vector table.
    #[cfg(not(feature = "digest-only"))]
    const CHECK: Check = SignedCheck::new(TrustedKeys::new(Self::TRUSTED_KEYS), Self::PROFILE);

    /// abboot's image check of the board: with feature `digest-only`, the
    /// payload's SHA-256 and [`Self::PROFILE`], no signature. The
    /// bootloader and the firmware run it inside [`check::BoardCheck`],
    /// which adds the vector table.
    #[cfg(feature = "digest-only")]
    const CHECK: Check = digest::ProfiledDigestCheck::new(Self::PROFILE);
}
