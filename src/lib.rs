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
//! | [`flash`] | the `NorFlash` geometry of the metadata sectors and slots |
//! | [`record`] | the fixed-size, CRC-protected metadata record and its byte layout |
//! | [`journal`] | the record journal over two erase sectors |
//! | [`state`] | the boot state the journal stores |
//! | [`version`] | image versions and their ordering |
//! | [`sim`] (feature `std`) | simulated NOR flash with power cuts |
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod flash;
pub mod image;
pub mod journal;
pub mod record;
pub mod state;
pub mod version;

#[cfg(feature = "std")]
pub mod sim;

pub use state::Slot;
pub use version::Version;
