//! `abboot`, the host tool: Ed25519 keys, signed images, inspection of
//! images and metadata dumps, and control of the boot state on a metadata
//! file or block device from a running system (status, confirm, mark-bad,
//! set-tries, abort).
//!
//! Every failure is reported as one line on standard error, `error: FILE:
//! what is wrong`, with a non-zero exit status (1 for a failed operation, 2
//! for a command line clap refuses). Files are written whole or not at all
//! (see [`output`]). What a command prints goes to standard output in one
//! piece after it has succeeded, so a failing command prints nothing there.

mod control;
mod elf;
mod inspect;
mod journal_file;
mod keys;
mod mem;
mod num;
mod output;
mod sign;
mod verify;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Power-loss-safe A/B boot: keys, signed images, image and metadata
/// inspection, boot state control.
#[derive(Debug, Parser)]
#[command(name = "abboot", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generates an Ed25519 key pair (PKCS#8 secret key, SPKI public key).
    Keygen(keys::KeygenArgs),
    /// Prints the public key of a secret or public key PEM.
    Pubkey(keys::PubkeyArgs),
    /// Signs a raw binary or an ELF file into a slot image.
    Sign(sign::SignArgs),
    /// Verifies a signed image as the bootloader would for a slot.
    Verify(verify::VerifyArgs),
    /// Shows what an image or a metadata dump holds.
    Inspect(InspectArgs),
    /// Shows the boot status recorded in the metadata (a block device or a
    /// dump).
    Status(control::StatusArgs),
    /// Confirms the image on trial; succeeds, changing nothing, when the
    /// running image is already confirmed (run it at every boot).
    Confirm(control::MetadataFile),
    /// Rejects the image on trial: the next boot returns to the primary.
    MarkBad(control::MarkBadArgs),
    /// Gives the pending or trial image N more trial boots.
    SetTries(control::SetTriesArgs),
    /// Drops a staged update that has not booted yet.
    Abort(control::MetadataFile),
}

#[derive(Debug, Args)]
struct InspectArgs {
    #[command(subcommand)]
    what: InspectCommand,
}

#[derive(Debug, Subcommand)]
enum InspectCommand {
    /// Header fields of a signed image, and whether its payload digest matches.
    Image(inspect::ImageArgs),
    /// Every journal position of a metadata dump, and the state it decodes to.
    Metadata(inspect::MetadataArgs),
}

/// A slot on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SlotArg {
    /// Slot A.
    A,
    /// Slot B.
    B,
}

impl From<SlotArg> for abboot::Slot {
    fn from(s: SlotArg) -> Self {
        match s {
            SlotArg::A => abboot::Slot::A,
            SlotArg::B => abboot::Slot::B,
        }
    }
}

/// A failed command: which file (if any) and what is wrong with it.
#[derive(Debug)]
pub struct Error {
    file: Option<PathBuf>,
    message: String,
}

impl Error {
    /// Something is wrong with `file`.
    pub fn file(file: &Path, message: impl fmt::Display) -> Self {
        Self {
            file: Some(file.to_path_buf()),
            message: message.to_string(),
        }
    }

    /// Something is wrong that is not about one file (an option value).
    pub fn usage(message: impl fmt::Display) -> Self {
        Self {
            file: None,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages can quote the OS or a library; newlines there would
        // break the one-line promise that scripts grep for.
        let message = one_line(&self.message);
        match &self.file {
            Some(file) => write!(f, "{}: {message}", file.display()),
            None => f.write_str(&message),
        }
    }
}

/// Joins the non-empty lines of `text` with single spaces.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a command that succeeded prints on standard output.
pub type Report = String;

fn run(cli: Cli) -> Result<Report, Error> {
    match cli.command {
        Command::Keygen(a) => keys::keygen(&a),
        Command::Pubkey(a) => keys::pubkey(&a),
        Command::Sign(a) => sign::sign(&a),
        Command::Verify(a) => verify::verify(&a),
        Command::Inspect(InspectArgs {
            what: InspectCommand::Image(a),
        }) => inspect::image(&a),
        Command::Inspect(InspectArgs {
            what: InspectCommand::Metadata(a),
        }) => inspect::metadata(&a),
        Command::Status(a) => control::status(&a),
        Command::Confirm(a) => control::confirm(&a),
        Command::MarkBad(a) => control::mark_bad(&a),
        Command::SetTries(a) => control::set_tries(&a),
        Command::Abort(a) => control::abort(&a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match run(cli) {
        Ok(report) => {
            // A closed pipe (`abboot inspect ... | head`) is not an error
            // of the command; anything else on stdout is.
            let mut out = std::io::stdout().lock();
            match out.write_all(report.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: standard output: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reports a command line clap refused, on one line like every other error.
/// Help and version requests print as clap renders them.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
        _ => {
            let rendered = e.render().to_string();
            // Drop the usage block; the first part says what is wrong.
            let what = rendered.split("\n\nUsage:").next().unwrap_or_default();
            let mut line = one_line(what);
            if !line.starts_with("error:") {
                line.insert_str(0, "error: ");
            }
            eprintln!("{line} (see --help)");
            ExitCode::from(2)
        }
    }
}
