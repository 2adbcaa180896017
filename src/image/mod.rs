//! Images in slots: what the boot decision needs to know about a slot's
//! content, and the checks that find it out.
//!
//! The decision code only sees the [`ImageCheck`] trait: "is the image in
//! this slot valid, and what are its version, digest, security counter and
//! data epoch?". Two checks implement it: a plain SHA-256 digest check
//! ([`digest::DigestCheck`]) and the signed-image check ([`signed`]).
//! Policy that depends on the stored state (minimum security counter,
//! downgrades, remembered rejected digests) stays in the decision layer.

use embedded_storage::nor_flash::ReadNorFlash;

use crate::flash::Region;
use crate::state::Slot;
use crate::version::Version;

pub mod digest;
pub mod ed25519;
pub mod header;
pub mod sha256;
#[cfg(feature = "std")]
pub mod sign;
pub mod signed;

/// What a successful check learned about an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ImageInfo {
    /// Version of the image.
    pub version: Version,
    /// SHA-256 that identifies the image (of the payload for signed images).
    pub digest: [u8; 32],
    /// Anti-rollback security counter (0 when the format has none).
    pub security_counter: u32,
    /// Data/config schema epoch the image expects (0 when unknown).
    pub data_epoch: u16,
    /// Bytes from the slot start to the payload.
    pub header_len: u32,
    /// Length of the payload in bytes.
    pub payload_len: u32,
    /// Where the payload is linked to run (execute-in-place: slot address
    /// plus `header_len`; copy-to-RAM: the RAM address).
    pub load_address: u32,
}

impl ImageInfo {
    /// What a checked header says, with the payload digest that was
    /// computed from flash.
    pub fn from_header(h: &header::ImageHeader, digest: [u8; 32]) -> Self {
        Self {
            version: h.version,
            digest,
            security_counter: h.security_counter,
            data_epoch: h.data_epoch,
            header_len: h.header_len,
            payload_len: h.payload_len,
            load_address: h.load_address,
        }
    }
}

/// Why an image failed its check. Every variant is a specific refusal, so
/// the status record can say exactly what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum ImageError {
    /// The flash could not be read.
    Flash,
    /// The slot is erased: no image at all.
    Blank,
    /// The header does not start with the image magic.
    BadMagic,
    /// The header format version is not one this build reads.
    UnsupportedFormat,
    /// The header length field is out of range.
    BadHeaderLength,
    /// Header plus payload do not fit in the slot.
    TooLarge,
    /// A header field holds a value that is not allowed.
    BadField,
    /// No trusted key has the header's key id.
    UnknownKey,
    /// The Ed25519 signature over the header does not verify.
    BadSignature,
    /// The payload's SHA-256 differs from the one the header promises.
    DigestMismatch,
    /// The image was linked for another address (for example, the other slot).
    WrongLoadAddress,
    /// The image was built for other hardware.
    WrongHardware,
    /// The slot or buffer ends before the fixed image header does.
    Truncated,
    /// The payload's entry is not one the board can start: a board check
    /// (such as boards/common's vector table check: a stack pointer in the
    /// board's RAM, a reset vector inside the signed payload) refused it.
    BadEntry,
}

impl ImageError {
    /// Every error, in code order (code = index + 1).
    pub const ALL: [ImageError; 14] = [
        ImageError::Flash,
        ImageError::Blank,
        ImageError::BadMagic,
        ImageError::UnsupportedFormat,
        ImageError::BadHeaderLength,
        ImageError::TooLarge,
        ImageError::BadField,
        ImageError::UnknownKey,
        ImageError::BadSignature,
        ImageError::DigestMismatch,
        ImageError::WrongLoadAddress,
        ImageError::WrongHardware,
        ImageError::Truncated,
        ImageError::BadEntry,
    ];

    /// The byte the status record stores for this error (1..=14; 0 is "none").
    pub fn code(self) -> u8 {
        // Its index in `ALL` plus one: `ALL` lists the variants in their
        // declaration order (checked at compile time below), so the index
        // is the discriminant, with no search of `ALL` at run time.
        self as u8 + 1
    }

    /// The error for a stored byte, `None` for 0 or an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

// `ImageError::code` is the index in `ALL` plus one only while `ALL`
// lists the variants in declaration order.
const _: () = {
    let mut i = 0;
    while i < ImageError::ALL.len() {
        assert!(
            ImageError::ALL[i] as usize == i,
            "ImageError::ALL out of order"
        );
        i += 1;
    }
};

impl core::fmt::Display for ImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ImageError::Flash => "flash read failed",
            ImageError::Blank => "slot is blank",
            ImageError::BadMagic => "bad image magic",
            ImageError::UnsupportedFormat => "unsupported header format version",
            ImageError::BadHeaderLength => "header length out of range",
            ImageError::TooLarge => "image larger than its slot",
            ImageError::BadField => "header field out of range",
            ImageError::UnknownKey => "no trusted key with this key id",
            ImageError::BadSignature => "signature does not verify",
            ImageError::DigestMismatch => "payload digest mismatch",
            ImageError::WrongLoadAddress => "image linked for another load address",
            ImageError::WrongHardware => "image built for other hardware",
            ImageError::Truncated => "image header truncated",
            ImageError::BadEntry => {
                "payload entry (stack pointer, reset vector) not one the board can start"
            }
        })
    }
}

/// Checks the image in a slot.
///
/// Implementations read the slot through a fixed buffer (no heap, no copy
/// of the image) and must never panic, whatever the slot holds.
pub trait ImageCheck<F: ReadNorFlash> {
    /// Checks the image of `slot`, stored in `region` of `flash`.
    fn check(&mut self, flash: &mut F, slot: Slot, region: Region)
        -> Result<ImageInfo, ImageError>;

    /// [`check`](Self::check) with its result written into `out`, where
    /// the caller keeps it (the bootloader's record of checks). The
    /// default calls `check`; a check that builds its result in place
    /// saves the copy of a returned one. An override must leave `out`
    /// holding `Some` of exactly what `check` would return, whatever
    /// `out` held before: the bootloader calls only this one.
    fn check_into(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
        out: &mut Option<Result<ImageInfo, ImageError>>,
    ) {
        *out = Some(self.check(flash, slot, region));
    }

    /// Checks an image's header before anything is written, so that an
    /// image that can only be refused never costs the target slot its
    /// content. `header` holds the first bytes of the image. Only ever
    /// used to *refuse*: what it returns is a claim until [`check`](Self::check)
    /// has hashed the payload on flash. `Ok(None)`: nothing to check from
    /// a header (the default).
    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let _ = (slot, region, header);
        Ok(None)
    }
}
