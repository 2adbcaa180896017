//! Where the metadata journal lies in a file or block device, and opening
//! it there: shared by `abboot inspect metadata` and the control commands
//! (`status`, `confirm`, `mark-bad`, `set-tries`, `abort`).
//!
//! The journal takes its erase size from the flash type, so each sector
//! size is its own instance of [`FileFlash`]. [`open`] picks the instance
//! once, here, and hands the opened journal to a [`JournalTask`], whose
//! `run` is generic over the sector size.

use std::path::Path;

use abboot::journal::{Geometry, GeometryError, Journal};
use abboot::record::RECORD_SIZE;
use abboot::sim::file::FileFlash;
use clap::Args;
use embedded_storage::nor_flash::ReadNorFlash;

use crate::num;
use crate::Error;

/// Where the journal's two sectors lie in the file.
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Size of one journal sector: a power of two from 1K to 128K.
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub sector_size: u32,
    /// Offset of the first journal sector in the file.
    #[arg(long, value_parser = num::size_value, default_value = "0", value_name = "N")]
    pub offset: u32,
    /// Offset of the second sector, when it does not follow the first.
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub second_offset: Option<u32>,
}

/// How the file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reading only: inspection and status work on read-only files and
    /// devices too.
    Read,
    /// Reading and writing: the commands that change the state.
    Write,
}

/// The journal file a [`JournalTask`] works on.
pub struct Opened<const ERASE: usize> {
    /// The journal, over the file.
    pub journal: Journal<FileFlash<1, ERASE>>,
    /// Where its sectors are (checked against the file).
    pub geometry: Geometry,
}

/// What to do with the journal once the file is open.
pub trait JournalTask {
    /// What the task gives back.
    type Output;

    /// Runs on the journal in `opened`, whatever its sector size `ERASE`.
    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Self::Output, Error>;
}

/// Journal sector sizes the tool knows: the range the design supports.
const SECTOR_SIZES: &str = "1K, 2K, 4K, 8K, 16K, 32K, 64K or 128K";

/// Opens the journal that `args` locate in `file` and runs `task` on it.
pub fn open<T: JournalTask>(
    file: &Path,
    args: &JournalArgs,
    access: Access,
    task: T,
) -> Result<T::Output, Error> {
    let open = Open { file, args, access };
    match args.sector_size {
        0x400 => open.with::<0x400, T>(task),
        0x800 => open.with::<0x800, T>(task),
        0x1000 => open.with::<0x1000, T>(task),
        0x2000 => open.with::<0x2000, T>(task),
        0x4000 => open.with::<0x4000, T>(task),
        0x8000 => open.with::<0x8000, T>(task),
        0x1_0000 => open.with::<0x1_0000, T>(task),
        0x2_0000 => open.with::<0x2_0000, T>(task),
        n => Err(Error::usage(format_args!(
            "--sector-size {n}: must be {SECTOR_SIZES}"
        ))),
    }
}

/// What [`open`] was asked to open.
struct Open<'a> {
    file: &'a Path,
    args: &'a JournalArgs,
    access: Access,
}

impl Open<'_> {
    /// Opens the file as a flash with `ERASE`-byte sectors and runs `task`.
    fn with<const ERASE: usize, T: JournalTask>(self, task: T) -> Result<T::Output, Error> {
        let Open { file, args, access } = self;
        let flash = match access {
            Access::Read => FileFlash::<1, ERASE>::open_read_only(file)
                .map_err(|e| Error::file(file, format_args!("cannot read: {e}")))?,
            // A read-only file, file system or device fails here, before
            // anything is read or written.
            Access::Write => FileFlash::<1, ERASE>::open(file)
                .map_err(|e| Error::file(file, format_args!("cannot open for writing: {e}")))?,
        };
        let capacity = flash.capacity() as u64;
        let size = args.sector_size;
        let first = args.offset;
        let second = match args.second_offset {
            Some(s) => s,
            None => first
                .checked_add(size)
                .ok_or_else(|| Error::usage(format_args!("--offset 0x{first:x} is past 4 GiB")))?,
        };
        let geometry = Geometry::new(first, second, size);
        let journal = Journal::new(flash, geometry)
            .map_err(|e| geometry_error(file, e, first, second, size, capacity))?;
        task.run(Opened { journal, geometry })
    }
}

fn geometry_error(
    file: &Path,
    e: GeometryError,
    first: u32,
    second: u32,
    size: u32,
    capacity: u64,
) -> Error {
    let need = u64::from(first.max(second)) + u64::from(size);
    match e {
        GeometryError::OutOfBounds => Error::file(
            file,
            format_args!(
                "too short for the journal: sectors at 0x{first:x} and 0x{second:x} of \
                 0x{size:x} bytes need {need} bytes, the file has {capacity}"
            ),
        ),
        GeometryError::Misaligned => Error::usage(format_args!(
            "sector offsets 0x{first:x} and 0x{second:x} must be multiples of the sector size 0x{size:x}"
        )),
        GeometryError::Overlap => Error::usage(format_args!(
            "sectors at 0x{first:x} and 0x{second:x} of 0x{size:x} bytes overlap"
        )),
        GeometryError::EraseValue => {
            Error::usage(format_args!("the erased value must be 0xff or 0x00"))
        }
        GeometryError::TooSmall | GeometryError::WordSize => Error::usage(format_args!(
            "sector size 0x{size:x} cannot hold a {RECORD_SIZE}-byte record"
        )),
    }
}
