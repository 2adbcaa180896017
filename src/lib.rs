//! # abboot
//!
//! Power-loss-safe A/B slot selection for `no_std` bootloaders and firmware.
//!
//! At every reset a bootloader asks abboot *which of two firmware slots do I
//! boot?*; the firmware uses it to stage, confirm or reject an update. The
//! answer stays safe through power loss at any instant, broken images,
//! forged images and interrupted updates.
//!
//! The layers, from the bottom up (nothing lower knows anything higher):
//!
//! | module | holds |
//! |---|---|
//! | [`boot`] | the bootloader's face: [`Bootloader::select`] |
//! | [`app`] | the firmware's face: stage, confirm, mark bad, abort, status |
//! | [`handoff`] | what the bootloader tells the firmware it started |
//! | [`status`] | the status record for a fleet backend |
//! | [`machine`] | the pure state machine both faces ask |
//! | [`image`] | image headers, signature and digest checks |
//! | [`flash`] | flash regions and a shared-device handle |
//! | [`counter`] | the hardware security counter hook (anti-rollback no firmware can lower) |
//! | [`fence`] | a flash handle that writes only the metadata and the slots |
//! | [`record`] | the fixed-size, CRC-protected metadata record and its byte layout |
//! | [`journal`] | the record journal over two erase sectors |
//! | [`state`] | the boot state the journal stores |
//! | [`version`] | image versions and their ordering |
//! | [`sim`] (feature `std`) | simulated NOR flash with power cuts |
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod boot;
pub mod context;
pub mod counter;
pub mod error;
pub mod fence;
pub mod flash;
pub mod handoff;
pub mod image;
pub mod journal;
pub mod machine;
pub mod record;
pub mod state;
pub mod status;
pub mod version;

#[cfg(feature = "std")]
pub mod sim;

pub use app::{Control, StageOptions, Updater};
pub use boot::{Bootloader, Decision, Policy, VerifyPolicy};
pub use context::Layout;
pub use error::Error;
pub use handoff::Handoff;
pub use state::Slot;
pub use version::Version;

// The README's quick start is compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeQuickStart;
