//! Simulation for host tests (feature `std`): a NOR flash that follows the
//! `NorFlash` contract, counts every operation and cuts power in the middle
//! of a chosen write or erase, with torn writes, half erases and unstable
//! bits. See [`flash`] for the model.

pub mod file;
pub mod flash;

pub use flash::*;
pub mod device;
pub mod harness;

pub use device::{
    Access, Device, DeviceFlash, DeviceUpdater, OnePart, Part, Rig, SimPart, Stop, TwoParts, Wire,
};
pub use harness::{Fault, Harness, ReadScope, Report, Violation};
