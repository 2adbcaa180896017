//! Writing output files whole or not at all.
//!
//! A command stages every file it produces into a temporary file in the
//! target's own directory (a rename is atomic only within one file
//! system), flushed to disk, and renames them into place only once every
//! one of them is ready. A command that fails before [`Outputs::commit`]
//! leaves no trace: the temporaries are removed when [`Outputs`] is
//! dropped, and the targets are untouched. So a script never finds a
//! half-written image or a secret key without its public half.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Error;

/// Whether an existing target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace it (a rebuilt image).
    Allow,
    /// Refuse: the command fails before anything is written (a key).
    Refuse,
}

/// Who may read a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The usual permissions.
    Public,
    /// Only the owner (mode 0600 on Unix): secret keys. Set when the
    /// temporary is created, so the secret is never readable by others,
    /// not even for a moment.
    Secret,
}

struct Staged {
    temp: PathBuf,
    target: PathBuf,
    existed: bool,
}

/// The files a command is writing; see the [module documentation](self).
#[derive(Default)]
pub struct Outputs {
    staged: Vec<Staged>,
}

impl Outputs {
    /// No files yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` to a temporary next to `target`, to become `target`
    /// at [`Outputs::commit`].
    pub fn stage(
        &mut self,
        target: &Path,
        bytes: &[u8],
        overwrite: Overwrite,
        access: Access,
    ) -> Result<(), Error> {
        let existed = target.exists();
        if existed && overwrite == Overwrite::Refuse {
            return Err(Error::file(
                target,
                "already exists; refusing to overwrite it (use --force)",
            ));
        }
        if target.is_dir() {
            return Err(Error::file(target, "is a directory"));
        }
        if self.staged.iter().any(|s| same_file(&s.target, target)) {
            return Err(Error::file(target, "given for two outputs"));
        }
        let temp = temp_path(target)?;
        // Registered before the file exists so that Drop removes it even if
        // the write below fails halfway.
        self.staged.push(Staged {
            temp: temp.clone(),
            target: target.to_path_buf(),
            existed,
        });
        let write = || -> std::io::Result<()> {
            let mut file = create_new(&temp, access)?;
            file.write_all(bytes)?;
            file.sync_all()
        };
        write().map_err(|e| Error::file(target, format_args!("cannot write: {e}")))
    }

    /// Renames every staged file into place. If a rename fails, the targets
    /// already renamed that did not exist before are removed again, so the
    /// command leaves all or nothing of what it made new.
    pub fn commit(mut self) -> Result<(), Error> {
        let staged = std::mem::take(&mut self.staged);
        for (i, s) in staged.iter().enumerate() {
            if let Err(e) = fs::rename(&s.temp, &s.target) {
                for done in &staged[..i] {
                    if !done.existed {
                        let _ = fs::remove_file(&done.target);
                    }
                }
                for rest in &staged[i..] {
                    let _ = fs::remove_file(&rest.temp);
                }
                return Err(Error::file(&s.target, format_args!("cannot write: {e}")));
            }
        }
        for s in &staged {
            sync_dir(&s.target);
        }
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for s in &self.staged {
            let _ = fs::remove_file(&s.temp);
        }
    }
}

/// A name for a temporary beside `target`, unique within this process
/// (the process id makes it unique between processes).
fn temp_path(target: &Path) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target
        .file_name()
        .ok_or_else(|| Error::file(target, "is not a file name"))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".abboot-tmp-{}-{n}", std::process::id()));
    Ok(target.with_file_name(temp_name))
}

fn create_new(path: &Path, access: Access) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if access == Access::Secret {
            options.mode(0o600);
        }
    }
    #[cfg(not(unix))]
    let _ = access;
    options.open(path)
}

/// Makes a rename durable: on Unix the new directory entry reaches the
/// disk only when the directory itself is synced. Best effort: the file's
/// content is already synced, and failing here would report an error for
/// a file that was written.
fn sync_dir(target: &Path) {
    #[cfg(unix)]
    {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = target;
}

/// Reads a whole input file, with an error that names it.
pub fn read_input(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| Error::file(path, format_args!("cannot read: {e}")))
}

/// Whether `a` and `b` name the same file, existing or about to be made
/// (`k.pem` and `./k.pem`, or a symlink and its target).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((resolve(a), resolve(b)), (Some(a), Some(b)) if a == b)
}

/// The absolute path `path` names: canonical if the file exists, else its
/// canonical directory joined with its name.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Some(p);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(dir).ok()?.join(path.file_name()?))
}
