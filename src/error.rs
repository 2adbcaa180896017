//! The errors of the two faces.

use embedded_storage::nor_flash::NorFlashErrorKind;

use crate::image::ImageError;
use crate::journal;
use crate::machine::Refusal;

/// What kind of flash error a driver reported: the driver's
/// [`NorFlashErrorKind`], kept as abboot's own type so that one error type
/// serves any pair of metadata and slot devices (and formats with defmt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlashFault {
    /// The driver refused an unaligned offset or length.
    NotAligned,
    /// The driver refused an access outside the device.
    OutOfBounds,
    /// Any other driver error (a failed program or erase, a power loss).
    Other,
}

impl From<NorFlashErrorKind> for FlashFault {
    fn from(k: NorFlashErrorKind) -> Self {
        match k {
            NorFlashErrorKind::NotAligned => FlashFault::NotAligned,
            NorFlashErrorKind::OutOfBounds => FlashFault::OutOfBounds,
            _ => FlashFault::Other,
        }
    }
}

/// Why a call of [`crate::boot`] or [`crate::app`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The metadata flash returned an error.
    MetadataFlash(FlashFault),
    /// A metadata record or erase did not read back as written: the state
    /// is not on flash.
    MetadataVerify,
    /// A metadata position that may hold a newer record could not be
    /// read: nothing was written, so that nothing newer is hidden or erased.
    MetadataUnreadable,
    /// The metadata holds records written under another geometry (sector
    /// size or offset): nothing was written.
    MetadataForeign,
    /// A metadata sector reads uniformly as the other erased value: the
    /// part's erased value is declared wrong. Nothing was erased.
    MetadataEraseValue,
    /// The slot flash returned an error.
    SlotFlash(FlashFault),
    /// The image failed its check.
    Image(ImageError),
    /// The call is not allowed in the current state; nothing changed.
    Refused(Refusal),
    /// The layout does not fit the flash devices.
    Layout(LayoutError),
}

/// Why a [`crate::context::Layout`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayoutError {
    /// The metadata geometry is unusable.
    Metadata(journal::GeometryError),
    /// A slot lies outside its device.
    SlotOutOfBounds,
    /// A slot is not aligned to the slot flash's erase size.
    SlotMisaligned,
    /// The two slots overlap.
    SlotsOverlap,
    /// A metadata sector overlaps a slot on the same part: staging would
    /// erase the journal (see [`crate::context::Layout::separate_parts`]).
    MetadataOverlapsSlot,
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

impl From<ImageError> for Error {
    fn from(e: ImageError) -> Self {
        Error::Image(e)
    }
}

impl<E: embedded_storage::nor_flash::NorFlashError> From<journal::Error<E>> for Error {
    fn from(e: journal::Error<E>) -> Self {
        match e {
            journal::Error::Flash(e) => Error::MetadataFlash(e.kind().into()),
            journal::Error::Verify | journal::Error::Erase => Error::MetadataVerify,
            journal::Error::Unreadable => Error::MetadataUnreadable,
            journal::Error::Foreign => Error::MetadataForeign,
            journal::Error::EraseValue => Error::MetadataEraseValue,
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::MetadataFlash(k) => write!(f, "metadata flash error: {k:?}"),
            Error::MetadataVerify => f.write_str("metadata did not read back as written"),
            Error::MetadataUnreadable => {
                f.write_str("metadata that may be newer could not be read; nothing written")
            }
            Error::MetadataForeign => {
                f.write_str("metadata was written with another geometry; nothing written")
            }
            Error::MetadataEraseValue => f.write_str(
                "metadata sector reads as the other erased value (erase value declared wrong); nothing erased",
            ),
            Error::SlotFlash(k) => write!(f, "slot flash error: {k:?}"),
            Error::Image(e) => write!(f, "image check failed: {e}"),
            Error::Refused(r) => write!(f, "refused: {r}"),
            Error::Layout(l) => write!(f, "unusable layout: {l:?}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
