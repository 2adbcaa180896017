//! A board for the host tests: a 64 KiB flash at `0x0800_0000` with two
//! 20 KiB slots (a free page after each, which no one may write), abboot's
//! test key, and signed images for it whose payloads start with a vector
//! table.

extern crate std;
use std::vec::Vec;

use abboot::image::header::ImageHeader;
use abboot::image::sign::{keypair_from_seed, sign_image};
use abboot::image::signed::TrustedKey;
use abboot::sim::device::{test_public_key, TEST_KEY_SEED};
use abboot::{Slot, Version};

use crate::XipBoard;

/// The test board (an [`XipBoard`] with Cortex-M4-like constants).
pub struct Board;

/// abboot's test key ([`TEST_KEY_SEED`]) and its key id, as `abboot
/// pubkey --format rust` writes them for a board.
pub const TEST_KEY: TrustedKey = TrustedKey::with_id(
    [
        0x0d, 0x75, 0x50, 0x75, 0x4e, 0x08, 0x00, 0xa5, 0xd2, 0x37, 0xee, 0xf5, 0x82, 0x60, 0x35,
        0x76, 0x6b, 0x9b, 0x3e, 0x5a, 0x15, 0x86, 0x8a, 0x94, 0x0a, 0xb2, 0x89, 0x95, 0x87, 0x88,
        0xe3, 0xb0,
    ],
    [0x79, 0x09, 0x01, 0xb8, 0x2a, 0x89, 0xfe, 0x50],
);

impl XipBoard for Board {
    const FLASH_BASE: u32 = 0x0800_0000;
    const FLASH_SIZE: u32 = 0x1_0000;
    const PAGE: u32 = 4096;
    const BOOT_LEN: u32 = 8192;
    const META_OFFSET: u32 = 8192;
    const SLOT_OFFSET: [u32; 2] = [0x4000, 0xA000];
    const SLOT_LEN: u32 = 0x5000;
    const HEADER_LEN: u32 = 256;
    const HARDWARE_ID: u32 = 0x7E57_B0A4;
    const TRUSTED_KEYS: &'static [TrustedKey] = &[TEST_KEY];
    const RAM_START: u32 = 0x2000_0000;
    const RAM_END: u32 = 0x2001_0000;
    const NVIC_WORDS: usize = 2;
}

/// A signed image for `slot` of [`Board`], version 1.`minor`, whose
/// payload is `len` bytes starting with the stack pointer `sp` and the
/// reset handler `reset` (as many of those 8 bytes as fit).
pub fn image_for(slot: Slot, minor: u8, sp: u32, reset: u32, len: u32) -> Vec<u8> {
    image_with_counter(slot, minor, 0, sp, reset, len)
}

/// A 1 KiB image for `slot` that the vector table check accepts (stack
/// at the top of RAM below the hand-off, reset handler just past the
/// table), version
/// 1.`minor`, security counter `counter`.
pub fn bootable(slot: Slot, minor: u8, counter: u32) -> Vec<u8> {
    let reset = Board::LOAD_ADDRESS[slot.index()] + 0x41;
    let sp = Board::RAM_END - abboot::handoff::HANDOFF_LEN as u32;
    image_with_counter(slot, minor, counter, sp, reset, 1024)
}

/// [`image_for`] with security counter `counter`.
pub fn image_with_counter(
    slot: Slot,
    minor: u8,
    counter: u32,
    sp: u32,
    reset: u32,
    len: u32,
) -> Vec<u8> {
    let mut payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let words = [sp.to_le_bytes(), reset.to_le_bytes()].concat();
    let n = payload.len().min(8);
    payload[..n].copy_from_slice(&words[..n]);
    let header = ImageHeader {
        version: Version::new(1, minor, 0, 0),
        header_len: Board::HEADER_LEN,
        hardware_id: Board::HARDWARE_ID,
        load_address: Board::LOAD_ADDRESS[slot.index()],
        security_counter: counter,
        ..ImageHeader::default()
    };
    let key = keypair_from_seed(TEST_KEY_SEED).expect("test key");
    sign_image(&header, &payload, &key, Board::HEADER_LEN).expect("signed")
}

/// The key and its id both: an id computed at build time that is not its
/// key's would refuse every image signed with the key.
#[test]
fn the_test_key_is_abboots() {
    assert_eq!(TEST_KEY, TrustedKey::new(test_public_key()));
}

/// Each board's `src/key.rs` (written by `abboot pubkey --format rust`, or
/// edited by hand) carries the id of its key: a key pasted without its id
/// would make the board refuse every image signed with it.
#[test]
fn every_boards_key_id_is_its_keys() {
    mod nrf52840 {
        include!("../../nrf52840/src/key.rs");
    }
    mod stm32l4 {
        include!("../../stm32l4/src/key.rs");
    }
    mod rp2040 {
        include!("../../rp2040/src/key.rs");
    }
    for key in [nrf52840::KEY, stm32l4::KEY, rp2040::KEY] {
        assert_eq!(key, TrustedKey::new(*key.key()));
    }
}
