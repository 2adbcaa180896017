//! The bootloader's hand-off to the firmware: which slot it started, what
//! kind of boot it was, and why.
//!
//! The firmware must know the slot it runs from — it stages into the other
//! one — and must never guess it: with no state on flash (a board
//! programmed by a debugger, or a first boot whose metadata write failed)
//! the journal cannot tell it. The bootloader knows, so it writes a
//! [`Handoff`] where the firmware can read it after the jump: a few bytes
//! of RAM that neither the bootloader's nor the firmware's startup code
//! clears (a `.noinit` section at an address both link scripts reserve),
//! or a retained register file where the part has one. This is MCUboot's
//! shared boot data, reduced to what the firmware needs.
//!
//! A hand-off is only as trustworthy as the bytes it is read from, so it
//! carries a magic, a format version and a CRC. RAM that held something
//! else (a cold start without the bootloader, a debugger's load) fails the
//! check and reads as "no hand-off", never as a slot. The bootloader
//! rewrites it at every reset; the firmware should [`clear`](Handoff::CLEARED)
//! it once read, so a warm reset that bypasses the bootloader cannot hand
//! on a stale one.
//!
//! # Byte layout
//!
//! All integers little-endian; [`HANDOFF_LEN`] = 32 bytes.
//!
//! | offset | size | field | meaning |
//! |---:|---:|---|---|
//! | 0x00 | 4 | magic | `0x41 0x42 0x48 0x4F` (`"ABHO"`) |
//! | 0x04 | 1 | format | [`HANDOFF_FORMAT`] (1) |
//! | 0x05 | 1 | slot | slot started: `0` A, `1` B |
//! | 0x06 | 1 | kind | [`BootKind`] tag: `1` normal, `2` trial, `3` rollback, `4` fallback, `5` fresh |
//! | 0x07 | 1 | reason | [`Reason`] code of a rollback or fallback (`0` none) |
//! | 0x08 | 1 | tries left | trial boots left after this one (`0` for confirmed images) |
//! | 0x09 | 3 | reserved | `0` |
//! | 0x0C | 8 | version | the started image's version (major, minor, patch LE, build LE) |
//! | 0x14 | 2 | image epoch | data schema epoch the image expects |
//! | 0x16 | 2 | data epoch | data schema epoch the device's data is at |
//! | 0x18 | 4 | reserved | `0` |
//! | 0x1C | 4 | crc | CRC-32/ISO-HDLC (zlib's `crc32`) of bytes 0x00..0x1C |

use crate::boot::Decision;
use crate::record::crc32;
use crate::state::{BootKind, Reason, Slot};
use crate::version::Version;

/// Length of an encoded hand-off.
pub const HANDOFF_LEN: usize = 32;
/// Format version written at offset 0x04.
pub const HANDOFF_FORMAT: u8 = 1;
const MAGIC: [u8; 4] = *b"ABHO";
const OFF_CRC: usize = 0x1C;

/// What the bootloader tells the firmware it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handoff {
    /// The slot the firmware runs from.
    pub slot: Slot,
    /// What kind of boot it was (never [`BootKind::Recovery`] or `None`:
    /// those start no slot).
    pub kind: BootKind,
    /// Why, for rollbacks and fallbacks.
    pub reason: Reason,
    /// Trial boots left after this one (0 for confirmed images).
    pub tries_left: u8,
    /// The started image's version.
    pub version: Version,
    /// Data schema epoch the started image expects.
    pub image_epoch: u16,
    /// Data schema epoch the device's data was migrated to.
    pub data_epoch: u16,
}

/// Why bytes are not a hand-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandoffError {
    /// No magic: the memory never held a hand-off, or it was cleared.
    Absent,
    /// A format this code does not know.
    Format,
    /// The CRC does not match: stale or overwritten memory.
    BadCrc,
    /// The CRC matches but a field holds an impossible value.
    BadField,
}

impl Handoff {
    /// Bytes a firmware writes over the hand-off once it has read it: they
    /// decode as [`HandoffError::Absent`].
    pub const CLEARED: [u8; HANDOFF_LEN] = [0; HANDOFF_LEN];

    /// The hand-off for a decision that starts a slot; `None` for recovery.
    pub fn from_decision(d: &Decision) -> Option<Self> {
        Some(Self {
            slot: d.slot?,
            kind: d.kind,
            reason: d.reason,
            tries_left: d.tries_left,
            version: d.version,
            image_epoch: d.image_epoch,
            data_epoch: d.data_epoch,
        })
    }

    /// Whether the firmware runs on trial and must confirm or reject.
    pub fn is_trial(&self) -> bool {
        self.kind == BootKind::Trial
    }

    /// The bytes the bootloader writes before the jump.
    pub fn encode(&self) -> [u8; HANDOFF_LEN] {
        let mut b = [0u8; HANDOFF_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = HANDOFF_FORMAT;
        b[5] = self.slot.index() as u8;
        b[6] = self.kind.tag();
        b[7] = self.reason.code();
        // Every byte written, the reserved ones as 0 with the words they
        // lie in (tries left and its three, the four before the CRC): the
        // zeroed array's stores then fold away instead of clearing 23 bytes
        // by a call.
        b[8..0x0C].copy_from_slice(&u32::from(self.tries_left).to_le_bytes());
        b[0x0C..0x14].copy_from_slice(&self.version.to_bytes());
        b[0x14..0x16].copy_from_slice(&self.image_epoch.to_le_bytes());
        b[0x16..0x18].copy_from_slice(&self.data_epoch.to_le_bytes());
        b[0x18..OFF_CRC].copy_from_slice(&[0; 4]);
        let crc = crc32(&b[..OFF_CRC]);
        b[OFF_CRC..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads a hand-off, checking magic, format, CRC and every field.
    pub fn decode(b: &[u8; HANDOFF_LEN]) -> Result<Self, HandoffError> {
        if b[0..4] != MAGIC {
            return Err(HandoffError::Absent);
        }
        if b[4] != HANDOFF_FORMAT {
            return Err(HandoffError::Format);
        }
        let (body, crc) = b.split_at(OFF_CRC);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32(body) != stored {
            return Err(HandoffError::BadCrc);
        }
        let slot = Slot::from_index(b[5]).ok_or(HandoffError::BadField)?;
        let kind = match BootKind::from_tag(b[6]) {
            Some(BootKind::None | BootKind::Recovery) | None => return Err(HandoffError::BadField),
            Some(k) => k,
        };
        let reason = Reason::from_code(b[7]).ok_or(HandoffError::BadField)?;
        if b[9..0x0C].iter().chain(&b[0x18..OFF_CRC]).any(|&x| x != 0) {
            return Err(HandoffError::BadField);
        }
        let mut version = [0u8; 8];
        version.copy_from_slice(&b[0x0C..0x14]);
        Ok(Self {
            slot,
            kind,
            reason,
            tries_left: b[8],
            version: Version::from_bytes(&version),
            image_epoch: u16::from_le_bytes([b[0x14], b[0x15]]),
            data_epoch: u16::from_le_bytes([b[0x16], b[0x17]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handoff {
        Handoff {
            slot: Slot::B,
            kind: BootKind::Trial,
            reason: Reason::None,
            tries_left: 2,
            version: Version::new(1, 2, 3, 4),
            image_epoch: 7,
            data_epoch: 6,
        }
    }

    #[test]
    fn round_trips() {
        let h = sample();
        assert_eq!(Handoff::decode(&h.encode()), Ok(h));
        let r = Handoff {
            slot: Slot::A,
            kind: BootKind::Rollback,
            reason: Reason::App(5),
            ..h
        };
        assert_eq!(Handoff::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let good = sample().encode();
        for i in 0..HANDOFF_LEN * 8 {
            let mut b = good;
            b[i / 8] ^= 1 << (i % 8);
            assert!(Handoff::decode(&b).is_err(), "bit {i} accepted");
        }
    }

    #[test]
    fn cleared_and_garbage_memory_are_no_handoff() {
        assert_eq!(
            Handoff::decode(&Handoff::CLEARED),
            Err(HandoffError::Absent)
        );
        assert_eq!(
            Handoff::decode(&[0xFF; HANDOFF_LEN]),
            Err(HandoffError::Absent)
        );
        let mut b = sample().encode();
        b[4] = 2;
        assert_eq!(Handoff::decode(&b), Err(HandoffError::Format));
    }

    #[test]
    fn fields_are_checked_even_under_a_valid_crc() {
        let reseal = |f: &dyn Fn(&mut [u8; HANDOFF_LEN])| {
            let mut b = sample().encode();
            f(&mut b);
            let crc = crc32(&b[..OFF_CRC]);
            b[OFF_CRC..].copy_from_slice(&crc.to_le_bytes());
            Handoff::decode(&b)
        };
        assert_eq!(reseal(&|b| b[5] = 2), Err(HandoffError::BadField));
        assert_eq!(reseal(&|b| b[6] = 6), Err(HandoffError::BadField));
        assert_eq!(reseal(&|b| b[6] = 0), Err(HandoffError::BadField));
        assert_eq!(reseal(&|b| b[6] = 9), Err(HandoffError::BadField));
        assert_eq!(reseal(&|b| b[9] = 1), Err(HandoffError::BadField));
        assert_eq!(reseal(&|b| b[0x1B] = 1), Err(HandoffError::BadField));
        assert!(reseal(&|b| b[8] = 9).is_ok_and(|h| h.tries_left == 9));
    }
}
