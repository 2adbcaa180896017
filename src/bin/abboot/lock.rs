//! One writer at a time: every command that changes the metadata holds an
//! exclusive `flock(2)` on the metadata file or device for as long as it
//! reads and writes it, as `fw_setenv` does.
//!
//! The lock is taken on a handle of its own before the journal is read, so
//! a second writer waits until the first has written and synced its record
//! and then reads the journal afresh: two processes can never append
//! records with the same sequence number. A writer waits at most the lock
//! timeout and then fails, changing nothing. The lock is advisory: it binds
//! every `abboot`, and any other tool that takes `flock` on the same file.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;

use crate::Error;

/// An exclusive lock, released when dropped (the handle closes).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// How often a waiting writer tries again.
const POLL: Duration = Duration::from_millis(20);

/// Takes the exclusive lock on `path`, waiting at most `timeout`.
pub fn exclusive(path: &Path, timeout: Duration) -> Result<Lock, Error> {
    let file = File::open(path).map_err(|e| Error::file(path, format_args!("cannot open: {e}")))?;
    let start = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(Errno::WOULDBLOCK) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::file(path, format_args!("cannot lock: {e}"))),
        }
        if start.elapsed() >= timeout {
            return Err(Error::file(
                path,
                format_args!(
                    "locked: another abboot is changing it; gave up after {} s (--lock-timeout); \
                     nothing changed",
                    timeout.as_secs_f32()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
}
