//! The two slot partitions (or files) as one slot flash for the library:
//! slot A at offset 0, slot B right after it. Each keeps the NOR rules of
//! [`FileFlash`]; an operation that would cross from one partition into
//! the other is refused (the library never makes one).

use std::path::{Path, PathBuf};

use abboot::flash::Region;
use abboot::sim::file::{FileFlash, FileFlashError};
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

use crate::config::Slots;
use crate::Error;

/// Erase unit of a slot partition: a block device's sector.
pub const SLOT_ERASE: usize = 512;

type Part = FileFlash<1, SLOT_ERASE>;

/// Slot A and slot B, side by side.
pub struct SlotFlash {
    parts: [Part; 2],
    lens: [u32; 2],
}

impl SlotFlash {
    /// Opens both slot files, for writing when `write`.
    pub fn open(slots: &Slots, write: bool) -> Result<Self, Error> {
        let open = |p: &PathBuf| -> Result<(Part, u32), Error> {
            let f = if write {
                Part::open(p)
                    .map_err(|e| Error::file(p, format_args!("cannot open for writing: {e}")))?
            } else {
                Part::open_read_only(p)
                    .map_err(|e| Error::file(p, format_args!("cannot read: {e}")))?
            };
            let f = f.erased_to(slots.erased);
            let len = f.capacity() as u32;
            check_len(p, len)?;
            Ok((f, len))
        };
        let (a, la) = open(&slots.files[0])?;
        let (b, lb) = open(&slots.files[1])?;
        if la.checked_add(lb).is_none() {
            return Err(Error::file(
                &slots.files[1],
                "the two slots together are larger than 4 GiB",
            ));
        }
        Ok(Self {
            parts: [a, b],
            lens: [la, lb],
        })
    }

    /// Where the slots lie in this flash.
    pub fn regions(&self) -> [Region; 2] {
        [
            Region::new(0, self.lens[0]),
            Region::new(self.lens[0], self.lens[1]),
        ]
    }

    /// The partition and offset in it of `offset..offset + len`.
    fn locate(&mut self, offset: u32, len: usize) -> Result<(&mut Part, u32), FileFlashError> {
        let (i, at) = if offset < self.lens[0] {
            (0, offset)
        } else {
            (1, offset - self.lens[0])
        };
        let end = u64::from(at) + len as u64;
        if end > u64::from(self.lens[i]) {
            return Err(FileFlashError::OutOfBounds);
        }
        Ok((&mut self.parts[i], at))
    }
}

fn check_len(p: &Path, len: u32) -> Result<(), Error> {
    if len == 0 || len as usize % SLOT_ERASE != 0 {
        return Err(Error::file(
            p,
            format_args!(
                "slot of {len} bytes: a slot must be a non-empty multiple of {SLOT_ERASE} bytes \
                 (a partition, or a file of that size)"
            ),
        ));
    }
    Ok(())
}

impl ErrorType for SlotFlash {
    type Error = FileFlashError;
}

impl ReadNorFlash for SlotFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FileFlashError> {
        let (p, at) = self.locate(offset, bytes.len())?;
        p.read(at, bytes)
    }

    fn capacity(&self) -> usize {
        self.lens[0] as usize + self.lens[1] as usize
    }
}

impl NorFlash for SlotFlash {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = SLOT_ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FileFlashError> {
        if from > to {
            return Err(FileFlashError::OutOfBounds);
        }
        let (p, at) = self.locate(from, (to - from) as usize)?;
        p.erase(at, at + (to - from))
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FileFlashError> {
        let (p, at) = self.locate(offset, bytes.len())?;
        p.write(at, bytes)
    }
}
