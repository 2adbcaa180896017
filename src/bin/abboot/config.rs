//! Where the metadata and the slots are: options on the command line, a
//! configuration file, or both (an option wins over the file).
//!
//! The configuration file is in the habit of `fw_env.config`: one file
//! per device that says where everything lies, so that every command —
//! from a shell, a systemd unit or an initramfs — uses the same geometry.
//! It is found, in this order, at `--config FILE`, at `$ABBOOT_CONFIG`, or
//! at `/etc/abboot.toml` when that exists. Relative paths in it are taken
//! from the file's own directory.
//!
//! ```toml
//! [metadata]
//! device = "/dev/mmcblk0p3"     # the journal's file or block device
//! offset = 0                    # first journal sector
//! second-offset = "4K"          # optional: when it does not follow the first
//! sector-size = "4K"            # 1K .. 128K, a power of two
//! erased = 0xff                 # optional: 0xff (default) or 0x00
//! lock-timeout = 10             # optional: seconds a writer waits for the lock
//!
//! [slots]
//! a = "/dev/mmcblk0p1"          # slot A's partition or file
//! b = "/dev/mmcblk0p2"          # slot B's
//! erased = 0xff                 # optional
//!
//! [images]
//! keys = ["/etc/abboot/release.pub.pem"]   # trusted public keys
//! hardware-id = 0x0ab00001
//! load-address-a = 0x0
//! load-address-b = 0x0
//! ```
//!
//! Numbers are integers or strings with `K`/`M` suffixes (`"4K"`, `"0x1000"`).
//! An unknown key is an error, so a typo never silently falls back to a
//! default. Every error names the file and the key, or the option.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use abboot::image::signed::{BoardProfile, TrustedKey};
use abboot::journal::Geometry;
use clap::Args;
use serde::Deserialize;

use crate::keys;
use crate::num;
use crate::Error;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "ABBOOT_CONFIG";
/// The configuration file used when neither `--config` nor the environment
/// variable names one, if it exists.
pub const DEFAULT_CONFIG: &str = "/etc/abboot.toml";

/// Where the metadata is (options; the configuration file fills the rest).
#[derive(Clone, Debug, Default, Args)]
pub struct MetadataArgs {
    /// Configuration file [default: $ABBOOT_CONFIG, else /etc/abboot.toml
    /// if it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The metadata: a block device holding the journal (/dev/mmcblk0p3,
    /// /dev/mtdblock2; not a raw /dev/mtdN), or a file.
    #[arg(long, value_name = "FILE")]
    pub metadata: Option<PathBuf>,
    /// Size of one journal sector: a power of two from 1K to 128K.
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub sector_size: Option<u32>,
    /// Offset of the first journal sector in the file [default: 0].
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub offset: Option<u32>,
    /// Offset of the second sector, when it does not follow the first.
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub second_offset: Option<u32>,
    /// What the parts read after an erase: 0xff (most NOR flash) or 0x00
    /// [default: 0xff].
    #[arg(long, value_parser = erased_value, value_name = "0xff|0x00")]
    pub erased: Option<u8>,
    /// Seconds a writing command waits for another one to finish [default: 10].
    #[arg(long, value_parser = num::u32_value, value_name = "SECONDS")]
    pub lock_timeout: Option<u32>,
}

/// Where the slots are and what images may boot from them.
#[derive(Clone, Debug, Default, Args)]
pub struct SlotArgs {
    /// Slot A: a partition or file.
    #[arg(long, value_name = "FILE")]
    pub slot_a: Option<PathBuf>,
    /// Slot B: a partition or file.
    #[arg(long, value_name = "FILE")]
    pub slot_b: Option<PathBuf>,
    /// A trusted public key (SubjectPublicKeyInfo PEM); repeat for several.
    #[arg(long = "pub", value_name = "PUB.pem")]
    pub public: Vec<PathBuf>,
    /// Hardware id images for this device carry.
    #[arg(long, value_parser = num::u32_value, value_name = "ID")]
    pub hardware_id: Option<u32>,
    /// Load address an image in slot A carries.
    #[arg(long, value_parser = num::u32_value, value_name = "ADDR")]
    pub load_address_a: Option<u32>,
    /// Load address an image in slot B carries.
    #[arg(long, value_parser = num::u32_value, value_name = "ADDR")]
    pub load_address_b: Option<u32>,
}

/// An erase value: `0xff` or `0x00`.
pub fn erased_value(text: &str) -> Result<u8, String> {
    match num::u32_value(text)? {
        0xFF => Ok(0xFF),
        0x00 => Ok(0x00),
        _ => Err(format!("{text}: must be 0xff or 0x00")),
    }
}

/// Where a setting came from, to name it in an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line option (`--sector-size`).
    Option(&'static str),
    /// A key of the configuration file (`metadata.sector-size`).
    Config(PathBuf, &'static str),
    /// Not given: the default.
    Default(&'static str),
}

impl Source {
    /// An error about the value `shown` of this setting.
    pub fn error(&self, shown: impl fmt::Display, what: impl fmt::Display) -> Error {
        match self {
            Source::Option(o) => Error::usage(format_args!("{o} {shown}: {what}")),
            Source::Config(file, key) => Error::file(file, format_args!("{key} = {shown}: {what}")),
            Source::Default(o) => Error::usage(format_args!("{o} (default {shown}): {what}")),
        }
    }

    /// How to change the setting, for a message: `--offset` or
    /// `metadata.offset in FILE`.
    pub fn name(&self) -> String {
        match self {
            Source::Option(o) | Source::Default(o) => o.to_string(),
            Source::Config(file, key) => format!("{key} in {}", file.display()),
        }
    }
}

/// A setting and where it came from.
#[derive(Clone, Debug)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// The metadata, resolved.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// The file or device.
    pub path: PathBuf,
    /// The journal's sectors and erased value.
    pub geometry: Geometry,
    /// The sector size and where it came from.
    pub sector_size: Setting<u32>,
    /// The first offset's source (for errors).
    pub offset: Setting<u32>,
    /// The second offset's source (for errors).
    pub second_offset: Setting<u32>,
    /// The erased value's source.
    pub erased: Setting<u8>,
    /// How long a writer waits for the lock.
    pub lock_timeout: Duration,
}

/// The slots and the image check, resolved.
#[derive(Clone, Debug)]
pub struct Slots {
    /// Slot A's and slot B's file or device.
    pub files: [PathBuf; 2],
    /// What the slot parts read after an erase.
    pub erased: u8,
    /// The trusted public keys.
    pub keys: Vec<TrustedKey>,
    /// What the board expects of an image.
    pub profile: BoardProfile,
}

// ---------------------------------------------------------------- the file

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    metadata: MetadataSection,
    #[serde(default)]
    slots: SlotsSection,
    #[serde(default)]
    images: ImagesSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MetadataSection {
    device: Option<PathBuf>,
    offset: Option<Num>,
    second_offset: Option<Num>,
    sector_size: Option<Num>,
    erased: Option<Num>,
    lock_timeout: Option<Num>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SlotsSection {
    a: Option<PathBuf>,
    b: Option<PathBuf>,
    erased: Option<Num>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ImagesSection {
    keys: Option<Vec<PathBuf>>,
    hardware_id: Option<Num>,
    load_address_a: Option<Num>,
    load_address_b: Option<Num>,
}

/// A number in the file: an integer, or a string with a size suffix.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Text(String),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// A configuration file, read.
struct Loaded {
    path: PathBuf,
    file: ConfigFile,
}

impl Loaded {
    fn source(&self, key: &'static str) -> Source {
        Source::Config(self.path.clone(), key)
    }

    /// A path of the file, relative to its directory.
    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            return p.to_path_buf();
        }
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn number(
        &self,
        key: &'static str,
        n: &Num,
        parse: fn(&str) -> Result<u32, String>,
    ) -> Result<u32, Error> {
        let text = match n {
            Num::Int(i) => i.to_string(),
            Num::Text(t) => t.clone(),
        };
        parse(&text).map_err(|e| {
            // The parsers repeat the value; the key and value lead already.
            let why = e
                .strip_prefix(&format!("{text}: "))
                .map(str::to_string)
                .unwrap_or(e);
            self.source(key).error(n, why)
        })
    }
}

/// Finds and reads the configuration file, if any.
fn load(explicit: Option<&Path>) -> Result<Option<Loaded>, Error> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        },
    };
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| Error::file(&path, "configuration file is not UTF-8 text"))?,
        Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::file(
                &path,
                format_args!("cannot read the configuration file: {e}"),
            ))
        }
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let what = e.message().trim_end_matches('.').replace('\n', " ");
        match line {
            Some(l) => Error::file(&path, format_args!("line {l}: {what}")),
            None => Error::file(&path, what),
        }
    })?;
    Ok(Some(Loaded { path, file }))
}

/// A number parser of the command line, reused for the file.
type Parse = fn(&str) -> Result<u32, String>;

/// A key of the file, its value and how to parse it.
type FileKey<'a> = (&'a Loaded, &'static str, &'a Num, Parse);

/// Picks the option if given, else the file's key, else the default.
fn pick<T: Copy>(
    option: (Option<T>, &'static str),
    file: Option<FileKey<'_>>,
    default: Option<T>,
    convert: impl Fn(u32) -> Option<T>,
) -> Result<Option<Setting<T>>, Error> {
    if let Some(v) = option.0 {
        return Ok(Some(Setting {
            value: v,
            source: Source::Option(option.1),
        }));
    }
    if let Some((cfg, key, n, parse)) = file {
        let v = cfg.number(key, n, parse)?;
        let value = convert(v).ok_or_else(|| cfg.source(key).error(n, "out of range"))?;
        return Ok(Some(Setting {
            value,
            source: cfg.source(key),
        }));
    }
    Ok(default.map(|value| Setting {
        value,
        source: Source::Default(option.1),
    }))
}

fn no_config_hint(cfg: &Option<Loaded>) -> String {
    match cfg {
        Some(c) => format!("(nor in {})", c.path.display()),
        None => format!("(and no configuration file: --config, ${CONFIG_ENV} or {DEFAULT_CONFIG})"),
    }
}

fn erased_parse(text: &str) -> Result<u32, String> {
    erased_value(text).map(u32::from)
}

/// Resolves where the metadata is.
pub fn metadata(a: &MetadataArgs) -> Result<Metadata, Error> {
    let cfg = load(a.config.as_deref())?;
    resolve_metadata(a, &cfg)
}

fn resolve_metadata(a: &MetadataArgs, cfg: &Option<Loaded>) -> Result<Metadata, Error> {
    let m = cfg.as_ref().map(|c| (c, &c.file.metadata));
    let path = match (
        &a.metadata,
        m.and_then(|(c, s)| Some((c, s.device.as_ref()?))),
    ) {
        (Some(p), _) => p.clone(),
        (None, Some((c, p))) => c.path(p),
        (None, None) => {
            return Err(Error::usage(format_args!(
                "no metadata given: --metadata FILE or metadata.device {}",
                no_config_hint(cfg)
            )))
        }
    };
    let key = |k: &'static str, get: fn(&MetadataSection) -> Option<&Num>, parse: Parse| {
        m.and_then(|(c, s)| get(s).map(|n| (c, k, n, parse)))
    };
    let sector_size = pick(
        (a.sector_size, "--sector-size"),
        key(
            "metadata.sector-size",
            |s| s.sector_size.as_ref(),
            num::size_value,
        ),
        None,
        Some,
    )?
    .ok_or_else(|| {
        Error::usage(format_args!(
            "no journal sector size given: --sector-size N or metadata.sector-size {}",
            no_config_hint(cfg)
        ))
    })?;
    if !(0x400..=0x2_0000).contains(&sector_size.value) || !sector_size.value.is_power_of_two() {
        return Err(sector_size.source.error(
            sector_size.value,
            "must be 1K, 2K, 4K, 8K, 16K, 32K, 64K or 128K",
        ));
    }
    let offset = pick(
        (a.offset, "--offset"),
        key("metadata.offset", |s| s.offset.as_ref(), num::size_value),
        Some(0),
        Some,
    )?
    .expect("has a default");
    let second = pick(
        (a.second_offset, "--second-offset"),
        key(
            "metadata.second-offset",
            |s| s.second_offset.as_ref(),
            num::size_value,
        ),
        None,
        Some,
    )?;
    let second = match second {
        Some(s) => s,
        None => Setting {
            value: offset.value.checked_add(sector_size.value).ok_or_else(|| {
                offset
                    .source
                    .error(format_args!("0x{:x}", offset.value), "is past 4 GiB")
            })?,
            source: offset.source.clone(),
        },
    };
    let erased = pick(
        (a.erased, "--erased"),
        key("metadata.erased", |s| s.erased.as_ref(), erased_parse),
        Some(0xFF),
        |v| u8::try_from(v).ok(),
    )?
    .expect("has a default");
    let timeout = pick(
        (a.lock_timeout, "--lock-timeout"),
        key(
            "metadata.lock-timeout",
            |s| s.lock_timeout.as_ref(),
            num::u32_value,
        ),
        Some(10),
        Some,
    )?
    .expect("has a default");
    Ok(Metadata {
        path,
        geometry: Geometry::new(offset.value, second.value, sector_size.value)
            .erased_to(erased.value),
        sector_size,
        offset,
        second_offset: second,
        erased,
        lock_timeout: Duration::from_secs(u64::from(timeout.value)),
    })
}

/// Resolves the metadata and the slots.
pub fn device(a: &MetadataArgs, s: &SlotArgs) -> Result<(Metadata, Slots), Error> {
    let cfg = load(a.config.as_deref())?;
    let metadata = resolve_metadata(a, &cfg)?;
    let slots = resolve_slots(a, s, &cfg)?;
    for f in &slots.files {
        if crate::output::same_file(f, &metadata.path) {
            return Err(Error::file(
                f,
                "is the metadata file too; a slot needs its own",
            ));
        }
    }
    if crate::output::same_file(&slots.files[0], &slots.files[1]) {
        return Err(Error::file(
            &slots.files[1],
            "names slot A's file for slot B too; each slot needs its own",
        ));
    }
    Ok((metadata, slots))
}

fn resolve_slots(a: &MetadataArgs, s: &SlotArgs, cfg: &Option<Loaded>) -> Result<Slots, Error> {
    let sl = cfg.as_ref().map(|c| (c, &c.file.slots));
    let im = cfg.as_ref().map(|c| (c, &c.file.images));
    let file =
        |opt: &Option<PathBuf>, name: &str, get: fn(&SlotsSection) -> Option<&PathBuf>| match (
            opt,
            sl.and_then(|(c, s)| Some((c, get(s)?))),
        ) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some((c, p))) => Ok(c.path(p)),
            (None, None) => Err(Error::usage(format_args!(
                "no slot {name} given: --slot-{name} FILE or slots.{name} {}",
                no_config_hint(cfg)
            ))),
        };
    let files = [
        file(&s.slot_a, "a", |s| s.a.as_ref())?,
        file(&s.slot_b, "b", |s| s.b.as_ref())?,
    ];
    let erased = pick(
        (a.erased, "--erased"),
        sl.and_then(|(c, s)| {
            s.erased
                .as_ref()
                .map(|n| (c, "slots.erased", n, erased_parse as Parse))
        }),
        Some(0xFF),
        |v| u8::try_from(v).ok(),
    )?
    .expect("has a default")
    .value;
    let keys_paths: Vec<PathBuf> = if !s.public.is_empty() {
        s.public.clone()
    } else {
        match im.and_then(|(c, i)| Some((c, i.keys.as_ref()?))) {
            Some((c, list)) => list.iter().map(|p| c.path(p)).collect(),
            None => Vec::new(),
        }
    };
    if keys_paths.is_empty() {
        return Err(Error::usage(format_args!(
            "no trusted key given: --pub PUB.pem or images.keys {}",
            no_config_hint(cfg)
        )));
    }
    let mut keys = Vec::new();
    for p in &keys_paths {
        keys.push(TrustedKey::new(*keys::load_public(p)?));
    }
    let image_key = |opt: Option<u32>,
                     o: &'static str,
                     k: &'static str,
                     get: fn(&ImagesSection) -> Option<&Num>| {
        pick(
            (opt, o),
            im.and_then(|(c, i)| get(i).map(|n| (c, k, n, num::u32_value as Parse))),
            None,
            Some,
        )?
        .map(|s| s.value)
        .ok_or_else(|| {
            Error::usage(format_args!(
                "no {} given: {o} N or {k} {}",
                &o[2..],
                no_config_hint(cfg)
            ))
        })
    };
    let hardware_id = image_key(s.hardware_id, "--hardware-id", "images.hardware-id", |i| {
        i.hardware_id.as_ref()
    })?;
    let load_a = image_key(
        s.load_address_a,
        "--load-address-a",
        "images.load-address-a",
        |i| i.load_address_a.as_ref(),
    )?;
    let load_b = image_key(
        s.load_address_b,
        "--load-address-b",
        "images.load-address-b",
        |i| i.load_address_b.as_ref(),
    )?;
    Ok(Slots {
        files,
        erased,
        keys,
        profile: BoardProfile {
            hardware_id,
            load_address: [load_a, load_b],
            header_len: None,
        },
    })
}
