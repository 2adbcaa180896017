//! Regions of a `NorFlash` device: where the metadata sectors and the slots
//! live.
//!
//! abboot never assumes one flash device: the metadata may live on a
//! different part than the slots (an external SPI NOR for the journal, the
//! internal flash for code), so every region is an offset and a length
//! within *some* device, and each layer takes the device it needs. When
//! both live on one part, [`Shared`] hands each layer a handle to it.
//! [`ReadsCannotFail`] declares that a part's reads cannot fail (internal
//! flash read by loads), which takes abboot's answers to read faults out
//! of the bootloader.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// A contiguous byte range of a flash device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region {
    /// Offset of the first byte from the start of the device.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Region {
    /// A region of `len` bytes at `offset`.
    pub const fn new(offset: u32, len: u32) -> Self {
        Self { offset, len }
    }

    /// One past the last byte, or `None` if that overflows `u32`.
    // Inlined, as `overlaps` and `fits` are: left to the optimiser, the
    // boards kept their whole constant layout in `.rodata` (40 B on the
    // nRF52840) and copied the slots from it (-32 B on the default and
    // digest-only nRF52840 bootloaders, -48 B with salty, -40 B on the
    // STM32L476, -32 B on the RP2040).
    #[inline(always)]
    pub const fn end(&self) -> Option<u32> {
        self.offset.checked_add(self.len)
    }

    /// Whether the two regions share a byte.
    // Inlined so that the layout checks over constant regions fold away.
    #[inline(always)]
    pub const fn overlaps(&self, other: &Region) -> bool {
        let (a_end, b_end) = match (self.end(), other.end()) {
            (Some(a), Some(b)) => (a, b),
            // An overflowing region is rejected elsewhere; count it as
            // overlapping so it is never accepted by accident.
            _ => return true,
        };
        self.len != 0 && other.len != 0 && self.offset < b_end && other.offset < a_end
    }

    /// Whether the region lies inside a device of `capacity` bytes.
    #[inline(always)]
    pub const fn fits(&self, capacity: usize) -> bool {
        // Its end within both the device and `u32` (as `end` requires),
        // tested as a length and a start: no sum and no carry test.
        let cap = if capacity as u64 > u32::MAX as u64 {
            u32::MAX
        } else {
            capacity as u32
        };
        self.len <= cap && self.offset <= cap - self.len
    }

    /// Whether the byte at `offset` lies in the region (never in one
    /// whose end overflows `u32`).
    pub const fn contains(&self, offset: u32) -> bool {
        match self.end() {
            Some(end) => offset >= self.offset && offset < end,
            None => false,
        }
    }

    /// The absolute offset of `rel` bytes into the region, if `rel..rel+n`
    /// lies inside it (`None` too when that span would reach past
    /// `u32::MAX`).
    pub const fn at(&self, rel: u32, n: u32) -> Option<u32> {
        match rel.checked_add(n) {
            // `offset + end` fits, so `offset + rel` does too.
            Some(end) if end <= self.len => match self.offset.checked_add(end) {
                Some(_) => Some(self.offset + rel),
                None => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rules() {
        let a = Region::new(0, 4096);
        assert!(!a.overlaps(&Region::new(4096, 4096)));
        assert!(a.overlaps(&Region::new(4095, 2)));
        assert!(!a.overlaps(&Region::new(100, 0)));
        assert!(a.overlaps(&Region::new(u32::MAX, 2)));
    }

    #[test]
    fn bounds() {
        let r = Region::new(100, 50);
        assert_eq!(r.at(0, 50), Some(100));
        assert_eq!(r.at(1, 50), None);
        assert_eq!(r.at(u32::MAX, 2), None);
        // A region whose end overflows: no span that reaches past u32::MAX.
        let wraps = Region::new(u32::MAX - 1, 16);
        assert_eq!(wraps.at(0, 1), Some(u32::MAX - 1));
        assert_eq!(wraps.at(0, 4), None);
        assert_eq!(wraps.at(4, 4), None);
        assert!(r.contains(100) && r.contains(149));
        assert!(!r.contains(99) && !r.contains(150));
        assert!(!Region::new(100, 0).contains(100));
        assert!(!wraps.contains(u32::MAX));
        assert!(r.fits(150));
        assert!(!r.fits(149));
        // A region whose end overflows `u32` fits no device, however large.
        assert!(!wraps.fits(usize::MAX));
        assert!(Region::new(u32::MAX - 16, 16).fits(usize::MAX));
    }

    /// A device larger than `u32` addresses: clamped to `u32::MAX`, not
    /// cut to its low 32 bits (2^32 + 16 would be a 16-byte device).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn fits_a_device_past_4_gib() {
        let big = (1usize << 32) + 16;
        assert!(Region::new(1 << 20, 4096).fits(big));
        assert!(Region::new(u32::MAX - 16, 16).fits(big));
        assert!(!Region::new(u32::MAX - 1, 16).fits(big));
    }
}

/// A handle to a flash device shared by several owners, for when the
/// metadata sectors and the slots live on the same part.
///
/// The journal and the slot code each want to own "their" flash; on most
/// microcontrollers both are the one internal flash. `Shared` lends a
/// `RefCell`'d device to each of them: every call borrows it for the
/// length of that call only, so the borrows never overlap.
pub struct Shared<'a, F> {
    cell: &'a core::cell::RefCell<F>,
}

impl<'a, F> Shared<'a, F> {
    /// A handle to the device in `cell`.
    pub const fn new(cell: &'a core::cell::RefCell<F>) -> Self {
        Self { cell }
    }
}

impl<F> Clone for Shared<'_, F> {
    fn clone(&self) -> Self {
        Self { cell: self.cell }
    }
}

/// An error through a [`Shared`] handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SharedError<E> {
    /// The device was already borrowed: a flash call from inside a flash
    /// call, which abboot never makes. An error rather than a panic.
    Busy,
    /// The device's own error.
    Flash(E),
}

impl<E: NorFlashError> NorFlashError for SharedError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SharedError::Busy => NorFlashErrorKind::Other,
            SharedError::Flash(e) => e.kind(),
        }
    }
}

impl<F: ErrorType> ErrorType for Shared<'_, F> {
    type Error = SharedError<F::Error>;
}

impl<F: ReadNorFlash> ReadNorFlash for Shared<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let mut f = self.cell.try_borrow_mut().map_err(|_| SharedError::Busy)?;
        f.read(offset, bytes).map_err(SharedError::Flash)
    }

    fn capacity(&self) -> usize {
        self.cell.try_borrow().map_or(0, |f| f.capacity())
    }
}

impl<F: NorFlash> NorFlash for Shared<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let mut f = self.cell.try_borrow_mut().map_err(|_| SharedError::Busy)?;
        f.erase(from, to).map_err(SharedError::Flash)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let mut f = self.cell.try_borrow_mut().map_err(|_| SharedError::Busy)?;
        f.write(offset, bytes).map_err(SharedError::Flash)
    }
}

/// What a read through [`ReadsCannotFail`] that fails anyway leaves in
/// every byte it was given: neither erased value abboot knows (0xFF, 0x00)
/// nor the first byte of a record or an image header, so the journal takes
/// the bytes for damage and the image check for no image.
pub const UNREADABLE: u8 = 0xA5;
const _: () = assert!(
    UNREADABLE != 0xFF
        && UNREADABLE != 0x00
        && UNREADABLE != crate::record::MAGIC[0]
        && UNREADABLE != crate::image::header::MAGIC[0]
);

/// A flash whose reads cannot fail, declared so by the bootloader's
/// author: reads that are loads from memory-mapped flash (the nRF52840's
/// NVMC, the RP2040's XIP window), which fail only on an argument out of
/// bounds or a [`Shared`] device already borrowed,
/// and abboot passes neither (`Bootloader::new` and `Journal::new` check
/// that every region fits the device, and abboot never nests flash calls).
///
/// Through it, `read` always returns `Ok`, and the optimiser removes
/// abboot's answers to read faults from the bootloader: the retries, the
/// unreadable journal position that blocks every write over it, the torn
/// ECC word read word by word, the slot read error that is not a verdict
/// (234 B of abboot's own code in the nRF52840 bootloader, issue 14). Writes
/// and erases, and their errors, pass through unchanged.
///
/// **Do not wrap a part whose reads can fail** (an SPI NOR, a part whose
/// ECC reports through the driver, as the STM32L476 board's `EccFlash`
/// does for a double word a cut tore): a read that fails anyway is not
/// reported but reads as [`UNREADABLE`] bytes, damage, so an unreadable
/// newest record is passed over for the one before it and an unreadable
/// slot is judged as a broken image. Nothing panics, and nothing that
/// fails its check boots, but the journal may write over what it could
/// not read and an image may be rejected for a glitch.
///
/// ```
/// use core::cell::RefCell;
/// use abboot::flash::{ReadsCannotFail, Shared};
/// use abboot::sim::SimFlash;
/// use embedded_storage::nor_flash::ReadNorFlash;
///
/// let cell = RefCell::new(SimFlash::<4, 4, 4096>::new(8192));
/// // The metadata and the slots on one internal flash, both declared.
/// let (mut meta, _slots) = (ReadsCannotFail(Shared::new(&cell)), ReadsCannotFail(Shared::new(&cell)));
/// let mut b = [0u8; 4];
/// assert!(meta.read(0, &mut b).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct ReadsCannotFail<F>(pub F);

impl<F: ErrorType> ErrorType for ReadsCannotFail<F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> ReadNorFlash for ReadsCannotFail<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        // Filled, not left as they were: a caller's buffer may still hold
        // an earlier record, which must not reappear at another position.
        if self.0.read(offset, bytes).is_err() {
            bytes.fill(UNREADABLE);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: NorFlash> NorFlash for ReadsCannotFail<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes)
    }
}

/// A blocking `NorFlash` over an async one (feature `async`).
///
/// Embassy's HALs expose their flash through `embedded-storage-async`.
/// abboot's decision code is blocking — a bootloader has nothing else to
/// run, and one code path is one thing to test — so rather than a second,
/// async copy of `select`, `confirm` and the journal, the async driver is
/// driven to completion here, one operation at a time, with
/// `embassy_futures::block_on` (no executor, no heap).
#[cfg(feature = "async")]
pub struct Blocking<F>(pub F);

#[cfg(feature = "async")]
impl<F: embedded_storage_async::nor_flash::ReadNorFlash> ErrorType for Blocking<F> {
    type Error = F::Error;
}

#[cfg(feature = "async")]
impl<F: embedded_storage_async::nor_flash::ReadNorFlash> ReadNorFlash for Blocking<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        embassy_futures::block_on(self.0.read(offset, bytes))
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

#[cfg(feature = "async")]
impl<F: embedded_storage_async::nor_flash::NorFlash> NorFlash for Blocking<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        embassy_futures::block_on(self.0.erase(from, to))
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        embassy_futures::block_on(self.0.write(offset, bytes))
    }
}
