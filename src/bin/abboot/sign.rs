//! `abboot sign`: a raw binary or an ELF file, a secret key and the header
//! fields in; a signed slot image out.

use std::path::PathBuf;

use abboot::image::header::{ImageHeader, FIXED_LEN, HEADER_ALIGN, MAX_HEADER_LEN};
use abboot::image::sign::{sign_image, SignError};
use abboot::image::ImageError;
use abboot::Version;
use clap::Args;

use crate::elf;
use crate::keys;
use crate::num::{self, hex};
use crate::output::{read_input, same_file, Access, Outputs, Overwrite};
use crate::{Error, Report};

/// `abboot sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Secret key (PKCS#8 PEM, as from `abboot keygen` or
    /// `openssl genpkey -algorithm ed25519`).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    /// The firmware: a raw binary, or an ELF file (told by its magic), whose
    /// loadable segments are laid out flat from the lowest physical address
    /// with 0xFF in the gaps.
    #[arg(long = "in", value_name = "FIRMWARE")]
    pub input: PathBuf,
    /// Where to write the signed image (replaced atomically).
    #[arg(long, value_name = "SIGNED.bin")]
    pub out: PathBuf,
    /// Image version, MAJOR.MINOR.PATCH[+BUILD].
    #[arg(long, value_parser = num::version_value)]
    pub version: Version,
    /// Anti-rollback security counter.
    #[arg(long, value_parser = num::u32_value, default_value = "0", value_name = "N")]
    pub security_counter: u32,
    /// Hardware id of the board the image is for.
    #[arg(long, value_parser = num::u32_value, value_name = "ID")]
    pub hardware_id: u32,
    /// Address the payload's first byte runs at (for execute-in-place: the
    /// slot's address plus --header-len). Required for a raw binary; for an
    /// ELF file it defaults to, and must equal, the lowest segment address.
    #[arg(long, value_parser = num::u32_value, value_name = "ADDR")]
    pub load_address: Option<u32>,
    /// Data/config schema epoch the image expects.
    #[arg(long, value_parser = num::u16_value, default_value = "0", value_name = "N")]
    pub data_epoch: u16,
    /// Bytes from the slot's start to the payload: a multiple of 8 from
    /// 0x90 to 0x10000, chosen to keep the payload aligned (0x200 keeps a
    /// Cortex-M vector table aligned).
    #[arg(long, value_parser = num::u32_value, value_name = "LEN")]
    pub header_len: u32,
}

/// Signs the input into the output file.
pub fn sign(a: &SignArgs) -> Result<Report, Error> {
    // Option values first: they are wrong whatever the files hold.
    if a.header_len < FIXED_LEN as u32
        || a.header_len > MAX_HEADER_LEN
        || a.header_len % HEADER_ALIGN != 0
    {
        return Err(Error::usage(format_args!(
            "--header-len 0x{:x}: must be a multiple of {HEADER_ALIGN} from 0x{FIXED_LEN:x} to 0x{MAX_HEADER_LEN:x}",
            a.header_len
        )));
    }
    for (what, path) in [("input", &a.input), ("key", &a.key)] {
        if same_file(path, &a.out) {
            return Err(Error::file(
                &a.out,
                format_args!("is the {what} file; refusing to overwrite it"),
            ));
        }
    }
    let key = keys::load_secret(&a.key)?;
    let input = read_input(&a.input)?;

    let (payload, load_address, layout) = if elf::is_elf(&input) {
        let flat = elf::flatten(&input)
            .map_err(|e| Error::file(&a.input, format_args!("malformed ELF: {e}")))?;
        // A header that names another address than the one the code is
        // linked for passes every check and then crashes on the device.
        if let Some(given) = a.load_address.filter(|&l| l != flat.base) {
            return Err(Error::file(
                &a.input,
                format_args!(
                    "--load-address 0x{given:08x} differs from 0x{:08x}, the lowest segment \
                     address, where the payload's first byte is linked",
                    flat.base
                ),
            ));
        }
        let layout = format!(
            "input: ELF, {} loadable segment(s) laid out from 0x{:08x}, {} bytes\n{}",
            flat.segments.len(),
            flat.base,
            flat.data.len(),
            flat.describe()
        );
        (flat.data, flat.base, layout)
    } else {
        let load = a.load_address.ok_or_else(|| {
            Error::file(
                &a.input,
                "raw binary needs --load-address (only an ELF file says where it is linked)",
            )
        })?;
        let layout = format!("input: raw binary, {} bytes\n", input.len());
        (input, load, layout)
    };
    if payload.is_empty() {
        return Err(Error::file(&a.input, "is empty: an image needs a payload"));
    }

    let template = ImageHeader {
        version: a.version,
        security_counter: a.security_counter,
        hardware_id: a.hardware_id,
        load_address,
        data_epoch: a.data_epoch,
        ..ImageHeader::default()
    };
    let image = sign_image(&template, &payload, &key, a.header_len).map_err(|e| match e {
        SignError::Key(e) => Error::file(
            &a.key,
            format_args!("key does not verify its own signature: {e}"),
        ),
        SignError::PayloadTooLarge | SignError::Header(ImageError::TooLarge) => Error::file(
            &a.input,
            format_args!(
                "payload of {} bytes plus the header is larger than 4 GiB",
                payload.len()
            ),
        ),
        SignError::Header(e) => Error::file(&a.input, format_args!("cannot sign: {e}")),
    })?;
    let header = ImageHeader::parse(&image)
        .map_err(|e| Error::file(&a.out, format_args!("signed header does not parse: {e}")))?;

    let mut outputs = Outputs::new();
    outputs.stage(&a.out, &image, Overwrite::Allow, Access::Public)?;
    outputs.commit()?;

    let json = serde_json::json!({
        "input": a.input.display().to_string(),
        "out": a.out.display().to_string(),
        "version": header.version.to_string(),
        "security_counter": header.security_counter,
        "hardware_id": header.hardware_id,
        "load_address": header.load_address,
        "data_epoch": header.data_epoch,
        "header_len": header.header_len,
        "payload_len": header.payload_len,
        "bytes": image.len(),
        "digest": hex(&header.payload_digest),
        "key_id": keys::key_id(&key.pk),
    });
    let text = format!(
        "signed {} -> {}\n\
         {layout}\
         version {}, security counter {}, hardware id 0x{:08x}, load address 0x{:08x}, data epoch {}\n\
         header 0x{:x} + payload {} = {} bytes\n\
         payload sha256 {}\n\
         key id {}\n",
        a.input.display(),
        a.out.display(),
        header.version,
        header.security_counter,
        header.hardware_id,
        header.load_address,
        header.data_epoch,
        header.header_len,
        header.payload_len,
        image.len(),
        hex(&header.payload_digest),
        keys::key_id(&key.pk),
    );
    Ok(Report::new(text, json))
}
