//! abboot on QEMU's `mps2-an385` (Cortex-M3): the board support shared by
//! the bootloader (`src/bin/boot.rs`) and the firmware (`src/bin/fw-a.rs`,
//! `src/bin/fw-b.rs`): semihosting, the file-backed NOR flash, the command
//! line, and the two programs' logic.
#![no_std]
// The size probes leave parts of the real check unused.
#![cfg_attr(
    any(feature = "size-probe-digest-only", feature = "size-probe-no-crypto"),
    allow(unused)
)]

pub mod args;
#[cfg(feature = "bench")]
pub mod bench;
pub mod boot;
pub mod config;
pub mod firmware;
pub mod flash;
pub mod load;
pub mod names;
pub mod sh;
pub mod stack;
