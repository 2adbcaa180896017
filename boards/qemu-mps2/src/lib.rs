//! abboot on QEMU's `mps2-an385` (Cortex-M3): the board support shared by
//! the bootloader (`src/bin/boot.rs`) and the firmware (`src/bin/fw-a.rs`,
//! `src/bin/fw-b.rs`): semihosting, the file-backed NOR flash, the command
//! line, the watchdog, and the two programs' logic. The hand-off from the
//! bootloader to the firmware is `boards/common`'s (`handoff`), at
//! `0x2000_FFE0` (`link/*/memory.x`).
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
pub mod vectors;
pub mod watchdog;
