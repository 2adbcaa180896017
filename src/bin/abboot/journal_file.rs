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
use embedded_storage::nor_flash::ReadNorFlash;

use crate::config::Metadata;
use crate::geometry::{self, Mismatch};
use crate::lock::{self, Lock};
use crate::Error;

/// How the file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reading only: inspection and status work on read-only files and
    /// devices too.
    Read,
    /// Reading and writing: the commands that change the state. Takes the
    /// lock and refuses a geometry the scan proves wrong.
    Write,
    /// As `Write`, without the check of the erased value (`init`, which
    /// erases the sectors it writes).
    Init,
}

/// The journal file a [`JournalTask`] works on.
pub struct Opened<const ERASE: usize> {
    /// The journal, over the file.
    pub journal: Journal<FileFlash<1, ERASE>>,
    /// Where its sectors are (checked against the file).
    pub geometry: Geometry,
    /// What the scan of the whole file says of the geometry; a writing
    /// task only runs when it found nothing wrong.
    pub scan: Result<(), Mismatch>,
}

/// What to do with the journal once the file is open.
pub trait JournalTask {
    /// What the task gives back.
    type Output;

    /// Runs on the journal in `opened`, whatever its sector size `ERASE`.
    fn run<const ERASE: usize>(self, opened: Opened<ERASE>) -> Result<Self::Output, Error>;
}

/// Opens the journal that `m` locates and runs `task` on it.
pub fn open<T: JournalTask>(m: &Metadata, access: Access, task: T) -> Result<T::Output, Error> {
    let open = Open { m, access };
    match m.sector_size.value {
        0x400 => open.with::<0x400, T>(task),
        0x800 => open.with::<0x800, T>(task),
        0x1000 => open.with::<0x1000, T>(task),
        0x2000 => open.with::<0x2000, T>(task),
        0x4000 => open.with::<0x4000, T>(task),
        0x8000 => open.with::<0x8000, T>(task),
        0x1_0000 => open.with::<0x1_0000, T>(task),
        0x2_0000 => open.with::<0x2_0000, T>(task),
        n => Err(m
            .sector_size
            .source
            .error(n, "must be 1K, 2K, 4K, 8K, 16K, 32K, 64K or 128K")),
    }
}

/// What [`open`] was asked to open.
struct Open<'a> {
    m: &'a Metadata,
    access: Access,
}

impl Open<'_> {
    /// Opens the file as a flash with `ERASE`-byte sectors and runs `task`.
    fn with<const ERASE: usize, T: JournalTask>(self, task: T) -> Result<T::Output, Error> {
        let Open { m, access } = self;
        let file = m.path.as_path();
        if file.is_dir() {
            return Err(Error::file(
                file,
                "is a directory, not a metadata file or device",
            ));
        }
        // The lock comes first: the journal is read only once no other
        // writer can change it.
        // Held until the task has run ([`Access::Write`], [`Access::Init`]).
        let _lock: Option<Lock> = match access {
            Access::Read => None,
            Access::Write | Access::Init => Some(lock::exclusive(file, m.lock_timeout)?),
        };
        let flash = match access {
            Access::Read => FileFlash::<1, ERASE>::open_read_only(file)
                .map_err(|e| Error::file(file, format_args!("cannot read: {e}")))?,
            // A read-only file, file system or device fails here, before
            // anything is read or written.
            Access::Write | Access::Init => FileFlash::<1, ERASE>::open(file)
                .map_err(|e| Error::file(file, format_args!("cannot open for writing: {e}")))?,
        };
        let mut flash = flash.erased_to(m.erased.value);
        let capacity = flash.capacity() as u64;
        let geometry = m.geometry;
        if let Err(e) = Journal::new(&mut flash, geometry) {
            return Err(geometry_error(file, e, m, capacity));
        }
        let mut scan = geometry::check(&mut flash, &geometry, access != Access::Init);
        if scan.is_ok() {
            // The library's scan is the authority on its records' homes.
            if let Ok(mut j) = Journal::new(&mut flash, geometry) {
                let foreign = j.read().findings.foreign;
                if foreign > 0 {
                    scan = Err(Mismatch::Foreign { count: foreign });
                }
            }
        }
        if access != Access::Read {
            if let Err(e) = scan {
                return Err(Error::file(
                    file,
                    format_args!("{e} ({}); nothing changed", fix_hint(&e, m)),
                ));
            }
        }
        let journal =
            Journal::new(flash, geometry).map_err(|e| geometry_error(file, e, m, capacity))?;
        task.run(Opened {
            journal,
            geometry,
            scan,
        })
    }
}

/// Which settings to check for a mismatch the scan found.
pub fn fix_hint(e: &Mismatch, m: &Metadata) -> String {
    match e {
        Mismatch::ErasedValue { .. } => format!("check {}", m.erased.source.name()),
        _ => format!(
            "check {}, {}",
            m.sector_size.source.name(),
            m.offset.source.name()
        ),
    }
}

fn geometry_error(file: &Path, e: GeometryError, m: &Metadata, capacity: u64) -> Error {
    let [first, second] = m.geometry.sectors.map(|s| s.offset);
    let size = m.sector_size.value;
    let need = u64::from(first.max(second)) + u64::from(size);
    match e {
        GeometryError::OutOfBounds => Error::file(
            file,
            format_args!(
                "too short for the journal: sectors at 0x{first:x} and 0x{second:x} of \
                 0x{size:x} bytes need {need} bytes, the file has {capacity} (check {}, {})",
                m.offset.source.name(),
                m.sector_size.source.name()
            ),
        ),
        GeometryError::Misaligned => {
            let bad = if first % size != 0 {
                &m.offset
            } else {
                &m.second_offset
            };
            bad.source.error(
                format_args!("0x{:x}", bad.value),
                format_args!("must be a multiple of the sector size 0x{size:x}"),
            )
        }
        GeometryError::Overlap => m.second_offset.source.error(
            format_args!("0x{second:x}"),
            format_args!("the sectors at 0x{first:x} and 0x{second:x} of 0x{size:x} bytes overlap"),
        ),
        GeometryError::EraseValue => m.erased.source.error(
            format_args!("0x{:02x}", m.erased.value),
            "must be 0xff or 0x00",
        ),
        GeometryError::TooSmall | GeometryError::WordSize => m.sector_size.source.error(
            format_args!("0x{size:x}"),
            format_args!("cannot hold a {RECORD_SIZE}-byte record"),
        ),
    }
}
