//! A `NorFlash` over a file or a block device (feature `std`), so the host
//! tool can read and change a metadata dump, or the metadata partition of a
//! device, with the same [`Journal`](crate::journal::Journal) code the
//! firmware runs.
//!
//! [`FileFlash`] keeps the NOR rules a real part has, so what works on it
//! works on flash:
//!
//! * **Read** any byte range inside the file.
//! * **Write** works on `WRITE`-byte words and can only move bits away from
//!   their erased value: on a part that erases to `0xFF` (the default) the
//!   stored byte becomes `old & new`; on one that erases to `0x00`
//!   ([`FileFlash::erased_to`]) it becomes `old | new` (read, merge, write
//!   back).
//! * **Erase** works on whole `ERASE`-byte sectors and sets every byte to
//!   the erased value.
//!
//! Offsets and lengths must be multiples of those sizes and lie inside the
//! file, or the call fails with [`FileFlashError::NotAligned`] or
//! [`FileFlashError::OutOfBounds`] and changes nothing. The capacity is the
//! file's size when it is opened (for a block device, the device's size);
//! the file is never grown.
//!
//! # Durability
//!
//! Every write and erase is followed by `fsync` (`File::sync_data`) unless
//! turned off with [`FileFlash::sync`]: the journal reads a record back and
//! reports success, and a tool that says "confirmed" must not leave the
//! record in the page cache only to lose it at the next power cut.
//!
//! # What it supports
//!
//! A regular file (a dump taken with `dd`, or one made by
//! [`FileFlash::create_blank`]) and a block device (`/dev/mmcblk0p3`,
//! `/dev/mtdblock2`, ...). A *raw* MTD character device (`/dev/mtdN`) is
//! **not** supported: writing `0xFF` does not erase NOR flash, which needs
//! the `MEMERASE` ioctl, and this type does not issue it. Use the
//! `mtdblock` device (the kernel erases behind it) or dump, change and
//! write back with `flash_erase` and `nandwrite`/`mtd_debug`.
//!
//! `NorFlash` offsets are `u32`, so a file or device larger than 4 GiB is
//! refused: open the metadata partition, not the whole disk.

use core::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Why a [`FileFlash`] operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFlashError {
    /// An offset or length is not a multiple of the operation's unit.
    NotAligned,
    /// The range does not lie inside the file, or an erase has `from > to`.
    OutOfBounds,
    /// The flash was opened read-only ([`FileFlash::open_read_only`]).
    ReadOnly,
    /// The operating system refused the read, write, seek or sync.
    Io(io::ErrorKind),
}

impl NorFlashError for FileFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FileFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FileFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FileFlashError::ReadOnly | FileFlashError::Io(_) => NorFlashErrorKind::Other,
        }
    }
}

impl fmt::Display for FileFlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileFlashError::NotAligned => f.write_str("flash offset or length is not aligned"),
            FileFlashError::OutOfBounds => f.write_str("flash range is outside the file"),
            FileFlashError::ReadOnly => f.write_str("flash file is opened read-only"),
            FileFlashError::Io(kind) => write!(f, "flash file I/O failed: {kind}"),
        }
    }
}

impl std::error::Error for FileFlashError {}

impl From<io::Error> for FileFlashError {
    fn from(e: io::Error) -> Self {
        FileFlashError::Io(e.kind())
    }
}

/// A NOR flash stored in a file or block device, with `WRITE`-byte words
/// and `ERASE`-byte sectors; reads are byte-granular. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct FileFlash<const WRITE: usize, const ERASE: usize> {
    file: File,
    capacity: u32,
    writable: bool,
    sync: bool,
    erased: u8,
}

/// Bytes written per call when erasing, so a 128 KiB sector does not need
/// a 128 KiB buffer.
const ERASE_CHUNK: usize = 4096;

impl<const WRITE: usize, const ERASE: usize> FileFlash<WRITE, ERASE> {
    /// Rejects impossible geometries at compile time, when the type is used.
    const GEOMETRY_OK: () = assert!(
        WRITE > 0 && ERASE > 0 && ERASE % WRITE == 0,
        "FileFlash: WRITE and ERASE must be non-zero and ERASE a multiple of WRITE"
    );

    /// Opens `path` for reading and writing.
    ///
    /// # Errors
    ///
    /// The error of opening the file, or [`io::ErrorKind::InvalidInput`] if
    /// it is larger than 4 GiB (`NorFlash` offsets are `u32`).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Self::from_file(file, true)
    }

    /// Opens `path` for reading only: writes and erases fail with
    /// [`FileFlashError::ReadOnly`]. For tools that only look.
    ///
    /// # Errors
    ///
    /// As [`FileFlash::open`].
    pub fn open_read_only(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::from_file(File::open(path)?, false)
    }

    /// Creates a new file of `capacity` bytes at `path`, all `0xFF` (an
    /// erased part), and opens it for reading and writing. Fails if the
    /// file exists, so a dump is never overwritten by accident.
    ///
    /// # Errors
    ///
    /// The error of creating or writing the file, or
    /// [`io::ErrorKind::InvalidInput`] if `capacity` exceeds 4 GiB.
    pub fn create_blank(path: impl AsRef<Path>, capacity: u32) -> io::Result<Self> {
        Self::create_blank_erased_to(path, capacity, 0xFF)
    }

    /// As [`FileFlash::create_blank`], for a part whose erased bytes read
    /// `erased` (`0xFF` or `0x00`): the file is filled with it and the
    /// flash is returned [`erased_to`](FileFlash::erased_to) it.
    ///
    /// # Errors
    ///
    /// As [`FileFlash::create_blank`].
    pub fn create_blank_erased_to(
        path: impl AsRef<Path>,
        capacity: u32,
        erased: u8,
    ) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        let chunk = [erased; ERASE_CHUNK];
        let mut left = capacity as usize;
        while left > 0 {
            let n = left.min(ERASE_CHUNK);
            file.write_all(&chunk[..n])?;
            left -= n;
        }
        file.sync_all()?;
        Ok(Self::from_file(file, true)?.erased_to(erased))
    }

    /// Wraps an open file; `writable` says whether it was opened for
    /// writing. The capacity is the file's size now, found by seeking to
    /// its end (which also works for block devices, whose metadata says 0).
    ///
    /// # Errors
    ///
    /// The error of seeking, or [`io::ErrorKind::InvalidInput`] if the file
    /// is larger than 4 GiB.
    pub fn from_file(mut file: File, writable: bool) -> io::Result<Self> {
        let () = Self::GEOMETRY_OK;
        let len = file.seek(SeekFrom::End(0))?;
        let capacity = u32::try_from(len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "larger than 4 GiB, the most NorFlash offsets can address",
            )
        })?;
        Ok(Self {
            file,
            capacity,
            writable,
            sync: true,
            erased: 0xFF,
        })
    }

    /// The same flash on a part whose erased bytes read `value`: `0xFF`
    /// (the default; writes AND into the old content) or `0x00` (writes
    /// OR into it). Erasing fills sectors with `value`. Any other value is
    /// taken as `0xFF`'s rule for writes, since a NOR bit moves one way
    /// only.
    pub fn erased_to(mut self, value: u8) -> Self {
        self.erased = value;
        self
    }

    /// The value erased bytes read.
    pub fn erased(&self) -> u8 {
        self.erased
    }

    /// Turns the `fsync` after every write and erase on (the default) or
    /// off. Off is for scratch files in tests, where speed matters and
    /// durability does not.
    pub fn sync(mut self, on: bool) -> Self {
        self.sync = on;
        self
    }

    /// Gives the file back.
    pub fn into_inner(self) -> File {
        self.file
    }

    /// The range `offset..offset + len` as `u64`s, if it is aligned to
    /// `unit` and lies inside the file.
    fn check(&self, offset: u32, len: usize, unit: usize) -> Result<u64, FileFlashError> {
        if offset as usize % unit != 0 || len % unit != 0 {
            return Err(FileFlashError::NotAligned);
        }
        let end = u64::from(offset)
            .checked_add(len as u64)
            .ok_or(FileFlashError::OutOfBounds)?;
        if end > u64::from(self.capacity) {
            return Err(FileFlashError::OutOfBounds);
        }
        Ok(u64::from(offset))
    }

    fn writable(&self) -> Result<(), FileFlashError> {
        if self.writable {
            Ok(())
        } else {
            Err(FileFlashError::ReadOnly)
        }
    }

    fn read_at(&mut self, at: u64, bytes: &mut [u8]) -> Result<(), FileFlashError> {
        self.file.seek(SeekFrom::Start(at))?;
        self.file.read_exact(bytes)?;
        Ok(())
    }

    fn write_at(&mut self, at: u64, bytes: &[u8]) -> Result<(), FileFlashError> {
        self.file.seek(SeekFrom::Start(at))?;
        self.file.write_all(bytes)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), FileFlashError> {
        if self.sync {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

impl<const WRITE: usize, const ERASE: usize> ErrorType for FileFlash<WRITE, ERASE> {
    type Error = FileFlashError;
}

impl<const WRITE: usize, const ERASE: usize> ReadNorFlash for FileFlash<WRITE, ERASE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FileFlashError> {
        let at = self.check(offset, bytes.len(), 1)?;
        self.read_at(at, bytes)
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl<const WRITE: usize, const ERASE: usize> NorFlash for FileFlash<WRITE, ERASE> {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FileFlashError> {
        if from > to {
            return Err(FileFlashError::OutOfBounds);
        }
        let at = self.check(from, (to - from) as usize, ERASE)?;
        self.writable()?;
        self.file.seek(SeekFrom::Start(at))?;
        let chunk = [self.erased; ERASE_CHUNK];
        let mut left = (to - from) as usize;
        while left > 0 {
            let n = left.min(ERASE_CHUNK);
            self.file.write_all(&chunk[..n])?;
            left -= n;
        }
        self.flush()
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FileFlashError> {
        let at = self.check(offset, bytes.len(), WRITE)?;
        self.writable()?;
        if bytes.is_empty() {
            return Ok(());
        }
        // NOR programming moves bits one way only, away from the erased
        // value: what a real part would hold after this write is the old
        // content AND the new (erased 0xFF), or OR the new (erased 0x00).
        let mut merged = vec![0u8; bytes.len()];
        self.read_at(at, &mut merged)?;
        let or = self.erased == 0x00;
        for (m, b) in merged.iter_mut().zip(bytes) {
            if or {
                *m |= *b;
            } else {
                *m &= *b;
            }
        }
        self.write_at(at, &merged)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh path in the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "abboot-fileflash-{}-{tag}-{n}.bin",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&p);
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    type Small = FileFlash<4, 64>;

    fn read_vec(f: &mut Small, offset: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        f.read(offset, &mut v).unwrap();
        v
    }

    #[test]
    fn blank_write_and_erase_follow_nor_rules() {
        let s = Scratch::new("nor");
        let mut f = Small::create_blank(&s.0, 128).unwrap().sync(false);
        assert_eq!(f.capacity(), 128);
        assert_eq!(read_vec(&mut f, 0, 128), vec![0xFF; 128]);
        f.write(4, &[0xF0, 0x0F, 0x55, 0xFF]).unwrap();
        // A second write only clears more bits.
        f.write(4, &[0x3C, 0xFF, 0xFF, 0x00]).unwrap();
        assert_eq!(read_vec(&mut f, 4, 4), [0x30, 0x0F, 0x55, 0x00]);
        // Byte reads at any offset.
        assert_eq!(read_vec(&mut f, 5, 1), [0x0F]);
        f.write(64, &[0; 8]).unwrap();
        f.erase(0, 64).unwrap();
        assert_eq!(read_vec(&mut f, 0, 64), vec![0xFF; 64]);
        assert_eq!(read_vec(&mut f, 64, 8), vec![0; 8]);
        // What is on the file is what a reopen sees.
        drop(f);
        let mut again = Small::open(&s.0).unwrap();
        assert_eq!(
            read_vec(&mut again, 64, 9),
            [&[0u8; 8][..], &[0xFF]].concat()
        );
    }

    #[test]
    fn alignment_and_bounds() {
        let s = Scratch::new("bounds");
        let mut f = Small::create_blank(&s.0, 128).unwrap().sync(false);
        assert_eq!(f.write(2, &[0; 4]), Err(FileFlashError::NotAligned));
        assert_eq!(f.write(0, &[0; 3]), Err(FileFlashError::NotAligned));
        assert_eq!(f.write(128, &[0; 4]), Err(FileFlashError::OutOfBounds));
        assert_eq!(f.erase(0, 32), Err(FileFlashError::NotAligned));
        assert_eq!(f.erase(64, 0), Err(FileFlashError::OutOfBounds));
        assert_eq!(f.erase(64, 192), Err(FileFlashError::OutOfBounds));
        assert_eq!(f.read(127, &mut [0; 2]), Err(FileFlashError::OutOfBounds));
        assert_eq!(
            f.read(u32::MAX, &mut [0; 2]),
            Err(FileFlashError::OutOfBounds)
        );
        // Refused calls changed nothing, and the file did not grow.
        assert_eq!(read_vec(&mut f, 0, 128), vec![0xFF; 128]);
        assert_eq!(std::fs::metadata(&s.0).unwrap().len(), 128);
        f.erase(64, 64).unwrap();
        f.write(0, &[]).unwrap();
    }

    #[test]
    fn read_only_refuses_changes() {
        let s = Scratch::new("ro");
        drop(Small::create_blank(&s.0, 64).unwrap());
        let mut f = Small::open_read_only(&s.0).unwrap();
        assert_eq!(f.write(0, &[0; 4]), Err(FileFlashError::ReadOnly));
        assert_eq!(f.erase(0, 64), Err(FileFlashError::ReadOnly));
        assert_eq!(read_vec(&mut f, 0, 4), [0xFF; 4]);
        assert_eq!(f.write(1, &[0; 4]), Err(FileFlashError::NotAligned));
    }

    #[test]
    fn create_blank_never_overwrites() {
        let s = Scratch::new("exists");
        std::fs::write(&s.0, b"dump").unwrap();
        let e = Small::create_blank(&s.0, 64).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&s.0).unwrap(), b"dump");
    }

    #[test]
    fn a_part_that_erases_to_zero() {
        let s = Scratch::new("zero");
        let mut f = Small::create_blank_erased_to(&s.0, 128, 0x00)
            .unwrap()
            .sync(false);
        assert_eq!(f.erased(), 0x00);
        assert_eq!(read_vec(&mut f, 0, 128), vec![0x00; 128]);
        f.write(4, &[0xF0, 0x0F, 0x55, 0x00]).unwrap();
        // A second write only sets more bits.
        f.write(4, &[0x0C, 0x00, 0xAA, 0x01]).unwrap();
        assert_eq!(read_vec(&mut f, 4, 4), [0xFC, 0x0F, 0xFF, 0x01]);
        f.erase(0, 64).unwrap();
        assert_eq!(read_vec(&mut f, 0, 64), vec![0x00; 64]);
        // Opened again, the erase value is what the caller declares.
        drop(f);
        let mut again = Small::open(&s.0).unwrap().erased_to(0x00).sync(false);
        again.write(64, &[0x80; 4]).unwrap();
        again.write(64, &[0x01; 4]).unwrap();
        assert_eq!(read_vec(&mut again, 64, 4), [0x81; 4]);
    }

    #[test]
    fn runs_the_journal_on_a_part_that_erases_to_zero() {
        use crate::journal::{Geometry, Journal};
        use crate::state::{BootState, Slot};

        let s = Scratch::new("journal0");
        let flash = FileFlash::<1, 1024>::create_blank_erased_to(&s.0, 2048, 0x00)
            .unwrap()
            .sync(false);
        let geometry = Geometry::contiguous(0, 1024).erased_to(0x00);
        let mut j = Journal::new(flash, geometry).unwrap();
        assert!(j.read().blank());
        let state = BootState {
            primary: Some(Slot::A),
            ..BootState::default()
        };
        // More records than one sector holds: the journal erases and moves.
        for _ in 0..9 {
            j.append(&state).unwrap();
        }
        drop(j);
        let flash = FileFlash::<1, 1024>::open_read_only(&s.0)
            .unwrap()
            .erased_to(0x00);
        let mut j = Journal::new(flash, geometry).unwrap();
        let r = j.read().record.unwrap();
        assert_eq!((r.seq, r.state), (8, state));
    }

    #[test]
    fn runs_the_journal() {
        use crate::journal::{Geometry, Journal};
        use crate::state::{BootState, Slot};

        let s = Scratch::new("journal");
        let flash = FileFlash::<1, 1024>::create_blank(&s.0, 2048)
            .unwrap()
            .sync(false);
        let mut j = Journal::new(flash, Geometry::contiguous(0, 1024)).unwrap();
        assert!(j.read().blank());
        let state = BootState {
            primary: Some(Slot::B),
            ..BootState::default()
        };
        for _ in 0..6 {
            j.append(&state).unwrap();
        }
        drop(j);
        let flash = FileFlash::<1, 1024>::open_read_only(&s.0).unwrap();
        let mut j = Journal::new(flash, Geometry::contiguous(0, 1024)).unwrap();
        let r = j.read().record.unwrap();
        assert_eq!((r.seq, r.state), (5, state));
    }
}
