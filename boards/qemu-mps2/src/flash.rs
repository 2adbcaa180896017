//! A NOR flash kept in a host file, through semihosting.
//!
//! It behaves like NOR, not like a file:
//!
//! * **erase** sets whole 4 KiB sectors to `0xFF`; the range must be
//!   sector-aligned;
//! * **write** can only clear bits: it reads the old bytes, ANDs the new
//!   ones in and writes the result back, so writing `0xFF` over data
//!   changes nothing and writing twice without an erase gives the AND of
//!   both; offset and length must be multiples of [`WRITE_SIZE`] (4);
//! * **read** takes any offset and length (`READ_SIZE` 1);
//! * every access is bounds-checked: an error, never a panic.
//!
//! Each write reaches the host file before the call returns (QEMU does an
//! unbuffered `write(2)`), so the content survives a guest reset, the end
//! of the emulator and a `SIGKILL` of it.
//!
//! `readonly=WHO` on the command line makes every write and erase of that
//! program fail with [`FlashError::Io`], as a part that cannot be written
//! would, before anything is counted or changed.
//!
//! For the kill tests every mutating operation (one `write` call, or one
//! sector of an `erase` call) is counted, and the command line can make
//! the program stop before the `N`th one, or after doing half of it (a
//! torn write or a half-erased sector, as a power cut leaves on real NOR),
//! and wait to be killed; see [`crate::args`].

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

use crate::args::{Role, Stop};
use crate::sh::{self, Handle, Line, Mode};

/// Bytes of one write unit.
pub const WRITE_SIZE: usize = 4;
/// Bytes of one erase sector.
pub const ERASE_SIZE: usize = 4096;
/// Bytes moved per semihosting call.
const CHUNK: usize = 256;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// The host file could not be read or written.
    Io,
    /// Offset or length not a multiple of the write or erase size.
    NotAligned,
    /// Outside the device.
    OutOfBounds,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::Io => NorFlashErrorKind::Other,
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
        }
    }
}

/// The file-backed flash.
pub struct FileFlash {
    handle: Handle,
    capacity: u32,
    role: Role,
    ops: u32,
    stop: Option<Stop>,
    trace: bool,
    read_only: bool,
}

impl FileFlash {
    /// Opens the flash file `name` of `capacity` bytes. A missing file is
    /// created erased (a factory-fresh part); a file of another size is
    /// refused.
    pub fn open(name: &[u8], capacity: u32, role: Role) -> Result<Self, &'static str> {
        let handle = match sh::open(name, Mode::ReadWrite) {
            Some(h) => h,
            None => {
                let h = sh::open(name, Mode::Create).ok_or("cannot create the flash file")?;
                let ff = [0xFFu8; CHUNK];
                let mut at = 0;
                while at < capacity {
                    if !sh::write(h, &ff) {
                        return Err("cannot write the new flash file");
                    }
                    at += CHUNK as u32;
                }
                h
            }
        };
        if sh::flen(handle) != Some(capacity) {
            sh::close(handle);
            return Err("flash file has the wrong size");
        }
        Ok(Self {
            handle,
            capacity,
            role,
            ops: 0,
            stop: None,
            trace: false,
            read_only: false,
        })
    }

    /// Stops at `stop` (from the command line).
    pub fn with_stop(mut self, stop: Option<Stop>, trace: bool) -> Self {
        self.stop = stop;
        self.trace = trace;
        self
    }

    /// Makes every write and erase fail (`readonly=WHO`).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Mutating operations done so far.
    pub fn ops(&self) -> u32 {
        self.ops
    }

    /// The file handle, for bulk reads into memory.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    fn span(&self, offset: u32, len: usize) -> Result<(), FlashError> {
        let len = u32::try_from(len).map_err(|_| FlashError::OutOfBounds)?;
        match offset.checked_add(len) {
            Some(end) if end <= self.capacity => Ok(()),
            _ => Err(FlashError::OutOfBounds),
        }
    }

    /// Counts an operation; how many of its `len` units to do, and whether
    /// to stop afterwards.
    fn begin(&mut self, what: &str, offset: u32, len: u32) -> (u32, bool) {
        self.ops = self.ops.wrapping_add(1);
        let stop = self.stop.filter(|s| s.op == self.ops);
        if self.trace || stop.is_some() {
            let mut l = Line::new();
            l.s("@op ")
                .s(self.role.name())
                .s(" ")
                .u(self.ops)
                .s(" ")
                .s(what)
                .s(" ")
                .x(offset)
                .s(" ")
                .u(len);
            if let Some(s) = stop {
                l.s(if s.tear { " TEAR" } else { " KILL" });
            }
            l.print();
        }
        match stop {
            None => (len, false),
            Some(Stop { tear: false, .. }) => {
                Line::new()
                    .s("@hold ")
                    .s(self.role.name())
                    .s(" before op ")
                    .u(self.ops)
                    .print();
                sh::hold()
            }
            // Half the words of a write, half the bytes of a sector.
            Some(Stop { tear: true, .. }) => {
                (len / 2 / WRITE_SIZE as u32 * WRITE_SIZE as u32, true)
            }
        }
    }

    /// Refuses a write or erase when the flash is read-only.
    fn writable(&self, what: &str, offset: u32) -> Result<(), FlashError> {
        if !self.read_only {
            return Ok(());
        }
        if self.trace {
            Line::new()
                .s("@op ")
                .s(self.role.name())
                .s(" - ")
                .s(what)
                .s(" ")
                .x(offset)
                .s(" REFUSED (readonly)")
                .print();
        }
        Err(FlashError::Io)
    }

    fn torn(&self) -> ! {
        Line::new()
            .s("@hold ")
            .s(self.role.name())
            .s(" after tearing op ")
            .u(self.ops)
            .print();
        sh::hold()
    }

    fn read_at(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        if !sh::seek(self.handle, offset) {
            return Err(FlashError::Io);
        }
        match sh::read(self.handle, bytes) {
            Some(n) if n == bytes.len() => Ok(()),
            _ => Err(FlashError::Io),
        }
    }

    fn write_at(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        if sh::seek(self.handle, offset) && sh::write(self.handle, bytes) {
            Ok(())
        } else {
            Err(FlashError::Io)
        }
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.span(offset, bytes.len())?;
        if bytes.is_empty() {
            return Ok(());
        }
        self.read_at(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if from > to || to > self.capacity {
            return Err(FlashError::OutOfBounds);
        }
        let e = ERASE_SIZE as u32;
        if from % e != 0 || to % e != 0 {
            return Err(FlashError::NotAligned);
        }
        self.writable("erase", from)?;
        let ff = [0xFFu8; CHUNK];
        let mut sector = from;
        while sector < to {
            let (len, stop) = self.begin("erase", sector, e);
            let mut done = 0;
            while done < len {
                let n = (len - done).min(CHUNK as u32);
                self.write_at(sector + done, ff.get(..n as usize).unwrap_or(&[]))?;
                done += n;
            }
            if stop {
                self.torn();
            }
            sector += e;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.span(offset, bytes.len())?;
        if offset as usize % WRITE_SIZE != 0 || bytes.len() % WRITE_SIZE != 0 {
            return Err(FlashError::NotAligned);
        }
        self.writable("write", offset)?;
        let (len, stop) = self.begin("write", offset, bytes.len() as u32);
        let mut old = [0u8; CHUNK];
        for (i, new) in bytes
            .get(..len as usize)
            .unwrap_or(&[])
            .chunks(CHUNK)
            .enumerate()
        {
            let at = offset + (i * CHUNK) as u32;
            let old = old.get_mut(..new.len()).ok_or(FlashError::Io)?;
            self.read_at(at, old)?;
            // NOR programming only clears bits.
            for (o, n) in old.iter_mut().zip(new) {
                *o &= *n;
            }
            self.write_at(at, old)?;
        }
        if stop {
            self.torn();
        }
        Ok(())
    }
}
