//! A read-only flash over bytes in memory, so an image file can be checked
//! by the very code a bootloader runs on its slot (`verify_image`,
//! `read_header`, the [`ImageCheck`](abboot::image::ImageCheck) of
//! `stage`).

use embedded_storage::nor_flash::{ErrorType, NorFlashErrorKind, ReadNorFlash};

/// An image file as the content of a flash device: its bytes, then the
/// erased value up to the capacity asked for (not stored: a slot can be
/// much larger than its image).
pub struct MemFlash<'a> {
    bytes: &'a [u8],
    capacity: usize,
    erased: u8,
}

impl<'a> MemFlash<'a> {
    /// `bytes`, followed by `0xFF` up to `capacity` if that is longer.
    pub fn new(bytes: &'a [u8], capacity: usize) -> Self {
        Self::erased_to(bytes, capacity, 0xFF)
    }

    /// `bytes`, followed by `erased` up to `capacity` if that is longer:
    /// a slot of a part that erases to `erased`, with the image written at
    /// its start.
    pub fn erased_to(bytes: &'a [u8], capacity: usize, erased: u8) -> Self {
        Self {
            bytes,
            capacity: capacity.max(bytes.len()),
            erased,
        }
    }
}

impl ErrorType for MemFlash<'_> {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for MemFlash<'_> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Self::Error> {
        let start = offset as usize;
        start
            .checked_add(out.len())
            .filter(|&end| end <= self.capacity)
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        // The part of `out` the stored bytes cover, then erased flash.
        let stored = self.bytes.get(start..).unwrap_or_default();
        let n = stored.len().min(out.len());
        out[..n].copy_from_slice(&stored[..n]);
        out[n..].fill(self.erased);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bytes_then_the_erased_value() {
        let bytes = [1u8, 2, 3];
        let mut f = MemFlash::erased_to(&bytes, 8, 0x00);
        assert_eq!(f.capacity(), 8);
        let mut out = [0xAA; 4];
        f.read(1, &mut out).unwrap();
        assert_eq!(out, [2, 3, 0, 0]);
        f.read(5, &mut out[..3]).unwrap();
        assert_eq!(out[..3], [0, 0, 0]);
        assert_eq!(
            f.read(6, &mut out[..3]),
            Err(NorFlashErrorKind::OutOfBounds)
        );
        assert_eq!(
            f.read(u32::MAX, &mut out),
            Err(NorFlashErrorKind::OutOfBounds)
        );
        // A capacity below the bytes is the bytes.
        let mut f = MemFlash::new(&bytes, 0);
        assert_eq!(f.capacity(), 3);
        f.read(0, &mut out[..3]).unwrap();
        assert_eq!(out[..3], bytes);
        let mut g = MemFlash::new(&bytes, 5);
        g.read(2, &mut out[..3]).unwrap();
        assert_eq!(out[..3], [3, 0xFF, 0xFF]);
    }
}
