//! A flash handle that can write and erase only where abboot's layout
//! says: the metadata sectors and the two slots.
//!
//! The firmware stages updates through a `NorFlash` driver that, left to
//! itself, accepts any page — the bootloader's own code and its keys
//! included. [`Fenced`] wraps that driver and refuses, with
//! [`FenceError::Outside`] and without touching the part, every write or
//! erase that is not wholly inside one of the regions it was given. Reads
//! pass through (the bootloader and its public keys are not secret).
//!
//! One part holding everything: [`Fenced::for_layout`]. Metadata on
//! another part than the slots ([`Layout::separate_parts`]): each part its
//! own fence, [`Fenced::for_slots`] and [`Fenced::for_metadata`] — the
//! metadata's offsets on the slot part may well be the bootloader's.
//!
//! This guards against a firmware *bug* (a wrong offset, a corrupt
//! download index) for every user of the library. It is not a defence
//! against a compromised firmware, which can talk to the flash controller
//! without the wrapper: that takes the part's own write protection, set by
//! the bootloader before the jump (nRF52840 ACL, STM32L4 WRP; see the
//! board crates and the threat model in the README).

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

use crate::context::Layout;
use crate::flash::Region;

/// A `NorFlash` that writes and erases only inside `N` regions.
pub struct Fenced<F, const N: usize> {
    inner: F,
    regions: [Region; N],
}

/// An error through a [`Fenced`] handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FenceError<E> {
    /// The write or erase reaches outside every allowed region; nothing
    /// was done.
    Outside,
    /// The write or erase is not aligned to the part's `WRITE_SIZE` or
    /// `ERASE_SIZE`; nothing was done. The `NorFlash` contract makes that
    /// an error, but a driver that rounds instead (erasing "the sector
    /// that holds `from`") would reach past the region.
    NotAligned,
    /// The device's own error.
    Flash(E),
}

impl<E: NorFlashError> NorFlashError for FenceError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FenceError::Outside => NorFlashErrorKind::OutOfBounds,
            FenceError::NotAligned => NorFlashErrorKind::NotAligned,
            FenceError::Flash(e) => e.kind(),
        }
    }
}

impl<F, const N: usize> Fenced<F, N> {
    /// `inner`, writable only inside `regions`.
    pub const fn new(inner: F, regions: [Region; N]) -> Self {
        Self { inner, regions }
    }

    /// Gives the device back.
    pub fn into_inner(self) -> F {
        self.inner
    }

    /// Whether `from..to` lies wholly inside one allowed region.
    fn allows(&self, from: u32, to: u32) -> bool {
        from <= to
            && self.regions.iter().any(|r| match r.end() {
                Some(end) => from >= r.offset && to <= end,
                None => false,
            })
    }
}

impl<F> Fenced<F, 4> {
    /// `inner` holding both the metadata and the slots of `layout` (one
    /// part): writable in the two metadata sectors and the two slots only.
    ///
    /// On a layout whose metadata lives on another part
    /// ([`Layout::separate_parts`]), the metadata's offsets mean nothing on
    /// this one — there they may be the bootloader — so only the slots are
    /// writable, as with [`Fenced::for_slots`]; fence the metadata part
    /// with [`Fenced::for_metadata`].
    pub const fn for_layout(inner: F, layout: &Layout) -> Self {
        let [a, b] = layout.slots;
        let [m0, m1] = if layout.separate_parts {
            [a, b]
        } else {
            layout.metadata.sectors
        };
        Self::new(inner, [m0, m1, a, b])
    }
}

impl<F> Fenced<F, 2> {
    /// `inner` holding the slots of `layout`: writable in the two slots
    /// only (the slot part of a layout on separate parts).
    pub const fn for_slots(inner: F, layout: &Layout) -> Self {
        Self::new(inner, layout.slots)
    }

    /// `inner` holding the metadata of `layout`: writable in the two
    /// metadata sectors only (the metadata part of a layout on separate
    /// parts).
    pub const fn for_metadata(inner: F, layout: &Layout) -> Self {
        Self::new(inner, layout.metadata.sectors)
    }
}

impl<F: ErrorType, const N: usize> ErrorType for Fenced<F, N> {
    type Error = FenceError<F::Error>;
}

impl<F: ReadNorFlash, const N: usize> ReadNorFlash for Fenced<F, N> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.read(offset, bytes).map_err(FenceError::Flash)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

/// Whether `offset` is a multiple of `size` (a size of 0 aligns nothing).
fn aligned(offset: u32, size: usize) -> bool {
    u32::try_from(size).is_ok_and(|n| n != 0 && offset % n == 0)
}

impl<F: NorFlash, const N: usize> NorFlash for Fenced<F, N> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if !self.allows(from, to) {
            return Err(FenceError::Outside);
        }
        if !aligned(from, F::ERASE_SIZE) || !aligned(to, F::ERASE_SIZE) {
            return Err(FenceError::NotAligned);
        }
        // Nothing to erase, and nothing passed on: a driver that erases
        // the sector holding `from` would erase the one past the region.
        if from == to {
            return Ok(());
        }
        self.inner.erase(from, to).map_err(FenceError::Flash)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let end = u32::try_from(bytes.len())
            .ok()
            .and_then(|n| offset.checked_add(n));
        match end {
            Some(end) if self.allows(offset, end) => {
                if !aligned(offset, F::WRITE_SIZE) || !aligned(end, F::WRITE_SIZE) {
                    return Err(FenceError::NotAligned);
                }
                self.inner.write(offset, bytes).map_err(FenceError::Flash)
            }
            _ => Err(FenceError::Outside),
        }
    }
}
