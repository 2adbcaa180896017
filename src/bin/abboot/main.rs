//! `abboot`, the host tool: Ed25519 keys, signed images, inspection of
//! images and metadata dumps, and the boot state of a Linux device from a
//! running system: `init`, `stage`, `status`, `confirm`, `mark-bad`,
//! `mark-active`, `set-tries`, `abort`, and `select`, the bootloader's
//! decision for an initramfs.
//!
//! One interface style:
//!
//! * files are options (`--metadata FILE`, `--image FILE`, `--key FILE`);
//!   the metadata and slots come from options or the configuration file
//!   ([`config`]);
//! * every failure is one line on standard error, `error: FILE: what is
//!   wrong` (the option or configuration key named in it), with exit
//!   status 2 for a command line that cannot be right and 1 for a refusal
//!   or a failure;
//! * `--json` on every command: the report as one JSON document on
//!   standard output, and on failure `{"error": ..., "file": ...}` (or,
//!   for `status`, the status with `null`s);
//! * files are written whole or not at all (see [`output`]); what a
//!   command prints goes to standard output in one piece after it has
//!   succeeded.

mod config;
mod control;
mod device;
mod elf;
mod firmware;
mod geometry;
mod hex;
mod inspect;
mod journal_file;
mod keys;
mod lock;
mod mem;
mod num;
mod output;
mod sign;
mod slots;
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
    /// Print the report as JSON (on failure too).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generates an Ed25519 key pair (PKCS#8 secret key, SPKI public key).
    Keygen(keys::KeygenArgs),
    /// Prints the public key of a secret or public key PEM.
    Pubkey(keys::PubkeyArgs),
    /// Signs a raw binary, an ELF or an Intel HEX file into a slot image
    /// (or emits the bytes to sign, and splices a signature made elsewhere).
    Sign(sign::SignArgs),
    /// Verifies a signed image as the bootloader would for a slot.
    Verify(verify::VerifyArgs),
    /// Shows what an image or a metadata dump holds.
    Inspect(InspectArgs),
    /// Shows both slots side by side, which one boots next, and the last
    /// outcome; exit 1 when the metadata holds no usable state.
    Status(control::MetadataFile),
    /// Writes a fresh state for the images in the slots, verified first.
    Init(device::InitArgs),
    /// Writes a signed image, verified first, into the slot the device does
    /// not run from, reads it back, verifies it and marks it pending with N
    /// tries.
    Stage(device::StageArgs),
    /// Confirms the image on trial; succeeds, changing nothing, when the
    /// running image is already confirmed (run it at every boot).
    Confirm(control::ConfirmArgs),
    /// Rejects the image on trial: the next boot returns to the primary.
    MarkBad(control::MarkBadArgs),
    /// Makes a slot boot next, for service work: its image is verified
    /// first; an unconfirmed one boots on trial.
    MarkActive(device::MarkActiveArgs),
    /// Gives the pending or trial image N more trial boots.
    SetTries(control::SetTriesArgs),
    /// Drops a staged update that has not booted yet.
    Abort(control::MetadataFile),
    /// The bootloader's decision on these files: prints the slot to boot
    /// (for an initramfs, and for tests) and records the boot.
    Select(device::SelectArgs),
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
    Metadata(inspect::InspectMetadataArgs),
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
    /// A command line that cannot be right (exit 2), not a refusal.
    usage: bool,
    /// What `--json` prints instead of the error object.
    json: Option<serde_json::Value>,
}

impl Error {
    /// Something is wrong with `file`.
    pub fn file(file: &Path, message: impl fmt::Display) -> Self {
        Self {
            file: Some(file.to_path_buf()),
            message: message.to_string(),
            usage: false,
            json: None,
        }
    }

    /// An option value or a combination of options that cannot be right.
    pub fn usage(message: impl fmt::Display) -> Self {
        Self {
            file: None,
            message: message.to_string(),
            usage: true,
            json: None,
        }
    }

    /// The same error, printing `json` under `--json`.
    pub fn with_json(mut self, json: serde_json::Value) -> Self {
        self.json = Some(json);
        self
    }

    fn to_json(&self) -> serde_json::Value {
        match &self.json {
            Some(j) => j.clone(),
            None => serde_json::json!({
                "error": one_line(&self.message),
                "file": self.file.as_ref().map(|f| f.display().to_string()),
            }),
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

/// Whether `--json` was given: the output is for a script, so nothing is
/// drawn on the terminal (the `stage` progress bar).
pub static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What a command that succeeded prints: text, or JSON under `--json`.
pub struct Report {
    /// For a person.
    pub text: String,
    /// For a script.
    pub json: serde_json::Value,
}

impl Report {
    /// A report in both forms.
    pub fn new(text: impl Into<String>, json: serde_json::Value) -> Self {
        Self {
            text: text.into(),
            json,
        }
    }

    /// A report whose JSON form is `value`.
    pub fn of(text: impl Into<String>, value: &impl serde::Serialize) -> Self {
        Self::new(
            text,
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        )
    }
}

fn run(command: Command) -> Result<Report, Error> {
    match command {
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
        Command::Init(a) => device::init(&a),
        Command::Stage(a) => device::stage(&a),
        Command::Confirm(a) => control::confirm(&a),
        Command::MarkBad(a) => control::mark_bad(&a),
        Command::MarkActive(a) => device::mark_active(&a),
        Command::SetTries(a) => control::set_tries(&a),
        Command::Abort(a) => control::abort(&a),
        Command::Select(a) => device::select(&a),
    }
}

/// Writes `text` to standard output; a closed pipe (`abboot ... | head`)
/// is not an error of the command.
fn print(text: &str) -> Result<(), std::io::Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".to_string());
    s.push('\n');
    s
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let json = cli.json;
    JSON.store(json, std::sync::atomic::Ordering::Relaxed);
    match run(cli.command) {
        Ok(report) => {
            let text = if json {
                pretty(&report.json)
            } else {
                report.text
            };
            match print(&text) {
                Err(e) => {
                    eprintln!("error: standard output: {e}");
                    ExitCode::FAILURE
                }
                Ok(()) => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            if json {
                let _ = print(&pretty(&e.to_json()));
            }
            eprintln!("error: {e}");
            ExitCode::from(if e.usage { 2 } else { 1 })
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
            if !line.contains("--help") {
                line.push_str(" (see --help)");
            }
            eprintln!("{line}");
            ExitCode::from(2)
        }
    }
}
