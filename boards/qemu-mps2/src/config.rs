//! The board's constants: flash map, load addresses, hardware id and the
//! trusted key. Shared with the host tool, which includes this file, so
//! the images it signs and the flash files it writes match the bootloader.
//!
//! # The flash file (`flash.bin`, 776 KiB)
//!
//! | offset | size | what |
//! |---:|---:|---|
//! | `0x00000` | 8 KiB | metadata journal, two 4 KiB sectors |
//! | `0x02000` | 384 KiB | slot A: header (`0x200` bytes) then payload |
//! | `0x62000` | 384 KiB | slot B: header (`0x200` bytes) then payload |
//!
//! # Execution memory (the an385's 4 MiB code SSRAM at `0x0`)
//!
//! | address | what |
//! |---:|---|
//! | `0x0000_0000` | the bootloader (QEMU `-kernel`), up to 1 MiB |
//! | `0x0010_0000` | slot A's payload, copied here by the bootloader |
//! | `0x0020_0000` | slot B's payload, copied here by the bootloader |

use abboot::context::Layout;
use abboot::flash::Region;
use abboot::image::signed::{BoardProfile, TrustedKey};
use abboot::journal::Geometry;

/// Erase sector of the flash file.
pub const SECTOR: u32 = 4096;
/// The two metadata sectors.
pub const META_LEN: u32 = 2 * SECTOR;
/// Bytes of each slot.
pub const SLOT_LEN: u32 = 384 * 1024;
/// Where slot A and slot B start in the flash file.
pub const SLOT_OFFSET: [u32; 2] = [META_LEN, META_LEN + SLOT_LEN];
/// Size of the flash file.
pub const FLASH_LEN: u32 = META_LEN + 2 * SLOT_LEN;
/// Header length the board's images are signed with: keeps the payload
/// (a vector table) 512-byte aligned inside the slot.
pub const HEADER_LEN: u32 = 0x200;
/// Where slot A's and slot B's payloads are linked to run.
pub const LOAD_ADDRESS: [u32; 2] = [0x0010_0000, 0x0020_0000];
/// Bytes of execution memory reserved for each slot's payload at its load
/// address.
pub const EXEC_WINDOW: u32 = 0x0010_0000;
/// Hardware id of this board's images.
pub const HARDWARE_ID: u32 = 0x0A38_5001;
/// Name of the flash file in QEMU's working directory.
pub const FLASH_FILE: &str = "flash.bin";

/// Metadata and slots.
pub const LAYOUT: Layout = Layout::new(
    Geometry::contiguous(0, SECTOR),
    [
        Region::new(SLOT_OFFSET[0], SLOT_LEN),
        Region::new(SLOT_OFFSET[1], SLOT_LEN),
    ],
);

/// What an image for this board must say: the hardware id and each
/// slot's load address. The bootloader copies the payload there and jumps
/// to it, wherever the header ends, so the header length does not matter
/// ([`BoardProfile::copied_to`], the explicit opt-out from the
/// execute-in-place header-length guard).
pub const PROFILE: BoardProfile = BoardProfile::copied_to(HARDWARE_ID, LOAD_ADDRESS);

/// The public keys images may be signed with, each with its key id
/// computed on the host (the host tool checks both before it signs). Test
/// key: its secret seed is `TEST_KEY_SEED` in the host tool; never use it
/// for a real product.
pub const TRUSTED_KEYS: [TrustedKey; 1] = [TrustedKey::with_id(
    [
        0x84, 0x0a, 0x41, 0x94, 0xc1, 0x69, 0x5a, 0x51, 0x07, 0x30, 0x50, 0xc4, 0x36, 0x8f, 0xc7,
        0xc5, 0xae, 0x7d, 0x66, 0x8a, 0xb8, 0xf8, 0x99, 0xe2, 0x2a, 0x76, 0x9e, 0xc2, 0x5d, 0xc8,
        0xe8, 0x16,
    ],
    [0xe3, 0x51, 0x2b, 0x13, 0x33, 0xb0, 0x4d, 0x4c],
)];
