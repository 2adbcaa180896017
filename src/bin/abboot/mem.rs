//! A read-only flash over bytes in memory, so an image file can be checked
//! by the very code a bootloader runs on its slot (`verify_image`,
//! `read_header`).

use embedded_storage::nor_flash::{ErrorType, NorFlashErrorKind, ReadNorFlash};

/// An image file as the content of a flash device, padded with `0xFF`
/// (erased flash) up to the capacity asked for.
pub struct MemFlash {
    bytes: Vec<u8>,
}

impl MemFlash {
    /// `bytes`, followed by `0xFF` up to `capacity` if that is longer.
    pub fn new(mut bytes: Vec<u8>, capacity: usize) -> Self {
        if bytes.len() < capacity {
            bytes.resize(capacity, 0xFF);
        }
        Self { bytes }
    }
}

impl ErrorType for MemFlash {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for MemFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Self::Error> {
        let start = offset as usize;
        let src = start
            .checked_add(out.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}
