//! `abboot sign`: a raw binary, an ELF file or an Intel HEX file, a secret
//! key (or a signature made elsewhere) and the header fields in; a signed
//! slot image out.
//!
//! Signing in a release pipeline whose key never leaves an HSM or a cloud
//! KMS takes two runs with the same header fields (like imgtool's
//! `--vector-to-sign` and `--fix-sig`):
//!
//! ```sh
//! abboot sign --pub release.pub.pem --in fw.elf --emit-tbs tbs.bin ...
//! openssl pkeyutl -sign -inkey release.pem -rawin -in tbs.bin -out sig.bin
//! abboot sign --pub release.pub.pem --in fw.elf --signature sig.bin --out signed.bin ...
//! ```
//!
//! The bytes to be signed are the header's signed part (its first
//! `SIGNED_LEN` bytes: every field but the signature, the payload digest
//! and the key id included). A spliced signature is checked with the
//! public key before the image is written.

use std::path::PathBuf;

use abboot::image::header::{
    key_id_of, ImageHeader, FIXED_LEN, HEADER_ALIGN, MAX_HEADER_LEN, SIGNATURE_LEN,
};
use abboot::image::sign::{sign_image, SignError};
use abboot::image::ImageError;
use abboot::Version;
use clap::Args;
use sha2::{Digest, Sha256};

use crate::elf::{self, Arch};
use crate::hex as ihex_input;
use crate::keys;
use crate::num::{self, hex};
use crate::output::{read_input, same_file, Access, Outputs, Overwrite};
use crate::{Error, Report};

/// `abboot sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Secret key (PKCS#8 PEM, as from `abboot keygen` or
    /// `openssl genpkey -algorithm ed25519`).
    #[arg(long, value_name = "KEY.pem", conflicts_with_all = ["public", "emit_tbs", "signature"])]
    pub key: Option<PathBuf>,
    /// Public key of a signing key kept elsewhere (with --emit-tbs or
    /// --signature): it gives the key id, and checks the signature.
    #[arg(long = "pub", value_name = "PUB.pem")]
    pub public: Option<PathBuf>,
    /// Write the exact bytes to be signed (the header's signed part) to
    /// FILE, for an HSM, a cloud KMS or `openssl pkeyutl -rawin`.
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub emit_tbs: Option<PathBuf>,
    /// The 64-byte Ed25519 signature of the bytes --emit-tbs wrote, made
    /// elsewhere; spliced into the header after it verifies.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// The firmware: a raw binary, an ELF file or an Intel HEX file (told
    /// by their content); ELF segments and HEX records are laid out flat
    /// from the lowest address with 0xFF in the gaps.
    #[arg(long = "in", value_name = "FIRMWARE")]
    pub input: PathBuf,
    /// The machine an ELF file must be built for [default: arm or riscv32].
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Where to write the signed image (replaced atomically).
    #[arg(long, value_name = "SIGNED.bin")]
    pub out: Option<PathBuf>,
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

/// How the signature is made.
enum Signer {
    /// With this secret key, here.
    Key(ed25519_compact::KeyPair),
    /// Elsewhere: write the bytes to be signed to this file.
    EmitTbs(ed25519_compact::PublicKey, PathBuf),
    /// Elsewhere: this signature, checked with this key.
    Splice(ed25519_compact::PublicKey, PathBuf),
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
    let (out, signer_kind) = match (&a.key, &a.public, &a.emit_tbs, &a.signature, &a.out) {
        (Some(_), _, _, _, Some(out)) => (Some(out), 0),
        (None, Some(_), Some(_), None, _) => (a.out.as_ref(), 1),
        (None, Some(_), None, Some(_), Some(out)) => (Some(out), 2),
        (Some(_), _, _, _, None) | (None, Some(_), None, Some(_), None) => {
            return Err(Error::usage("--out SIGNED.bin is required"))
        }
        (None, None, _, _, _) => {
            return Err(Error::usage(
                "give --key KEY.pem, or --pub PUB.pem with --emit-tbs FILE or --signature FILE",
            ))
        }
        (None, Some(_), None, None, _) => {
            return Err(Error::usage(
                "--pub signs nothing by itself: add --emit-tbs FILE or --signature FILE",
            ))
        }
        _ => {
            return Err(Error::usage(
                "--emit-tbs and --signature are two separate runs",
            ))
        }
    };
    if signer_kind == 1 && out.is_some() {
        return Err(Error::usage(
            "--emit-tbs writes the bytes to be signed, not an image: drop --out",
        ));
    }
    let mut inputs: Vec<(&str, &PathBuf)> = vec![("input", &a.input)];
    for (what, p) in [
        ("key", &a.key),
        ("public key", &a.public),
        ("signature", &a.signature),
    ] {
        if let Some(p) = p {
            inputs.push((what, p));
        }
    }
    for target in out.iter().copied().chain(a.emit_tbs.as_ref()) {
        for (what, path) in &inputs {
            if same_file(path, target) {
                return Err(Error::file(
                    target,
                    format_args!("is the {what} file; refusing to overwrite it"),
                ));
            }
        }
    }
    let signer = match signer_kind {
        0 => Signer::Key(keys::load_secret(a.key.as_ref().expect("given"))?),
        1 => Signer::EmitTbs(
            keys::load_public(a.public.as_ref().expect("given"))?,
            a.emit_tbs.clone().expect("given"),
        ),
        _ => Signer::Splice(
            keys::load_public(a.public.as_ref().expect("given"))?,
            a.signature.clone().expect("given"),
        ),
    };
    let input = read_input(&a.input)?;

    let (payload, load_address, layout, kind) = if elf::is_elf(&input) {
        let e = elf::flatten(&input, a.arch)
            .map_err(|e| Error::file(&a.input, format_args!("ELF: {e}")))?;
        let flat = e.flat;
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
            "input: ELF for {}, {} loadable segment(s) laid out from 0x{:08x}, {} bytes\n{}",
            e.arch.name(),
            flat.segments.len(),
            flat.base,
            flat.data.len(),
            flat.describe()
        );
        (flat.data, flat.base, layout, "elf")
    } else if ihex_input::is_hex(&input) {
        let flat = ihex_input::flatten(&input)
            .map_err(|e| Error::file(&a.input, format_args!("Intel HEX: {e}")))?;
        if let Some(given) = a.load_address.filter(|&l| l != flat.base) {
            return Err(Error::file(
                &a.input,
                format_args!(
                    "--load-address 0x{given:08x} differs from 0x{:08x}, the lowest address in \
                     the HEX file",
                    flat.base
                ),
            ));
        }
        let layout = format!(
            "input: Intel HEX, {} piece(s) laid out from 0x{:08x}, {} bytes\n{}",
            flat.segments.len(),
            flat.base,
            flat.data.len(),
            flat.describe()
        );
        (flat.data, flat.base, layout, "ihex")
    } else {
        let load = a.load_address.ok_or_else(|| {
            Error::file(
                &a.input,
                "raw binary needs --load-address (only an ELF or HEX file says where it is linked)",
            )
        })?;
        let layout = format!("input: raw binary, {} bytes\n", input.len());
        (input, load, layout, "raw")
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
    let too_large = || {
        Error::file(
            &a.input,
            format_args!(
                "payload of {} bytes plus the header is larger than 4 GiB",
                payload.len()
            ),
        )
    };
    let (image, pk) = match &signer {
        Signer::Key(key) => {
            let image =
                sign_image(&template, &payload, key, a.header_len).map_err(|e| match e {
                    SignError::Key(e) => Error::file(
                        a.key.as_ref().expect("given"),
                        format_args!("key does not verify its own signature: {e}"),
                    ),
                    SignError::PayloadTooLarge | SignError::Header(ImageError::TooLarge) => {
                        too_large()
                    }
                    SignError::Header(e) => Error::file(&a.input, format_args!("cannot sign: {e}")),
                })?;
            (image, key.pk)
        }
        Signer::EmitTbs(pk, _) | Signer::Splice(pk, _) => {
            let payload_len = u32::try_from(payload.len()).map_err(|_| too_large())?;
            let mut header = ImageHeader {
                header_len: a.header_len,
                payload_len,
                payload_digest: Sha256::digest(&payload).into(),
                key_id: key_id_of(pk),
                signature: [0; SIGNATURE_LEN],
                ..template
            };
            let total = header.image_len().ok_or_else(too_large)?;
            let tbs = header.signed_bytes();
            if let Signer::EmitTbs(_, path) = &signer {
                let mut outputs = Outputs::new();
                outputs.stage(path, &tbs, Overwrite::Allow, Access::Public)?;
                outputs.commit()?;
                return Ok(Report::new(
                    format!(
                        "wrote {}: the {} bytes to sign (Ed25519, the raw bytes: openssl pkeyutl \
                         -sign -rawin), for key id {}, payload sha256 {}; then run sign again with \
                         --signature and the same fields\n",
                        path.display(),
                        tbs.len(),
                        keys::key_id(pk),
                        hex(&header.payload_digest)
                    ),
                    serde_json::json!({
                        "tbs": path.display().to_string(),
                        "bytes": tbs.len(),
                        "key_id": keys::key_id(pk),
                        "digest": hex(&header.payload_digest),
                        "input_kind": kind,
                    }),
                ));
            }
            let Signer::Splice(_, sig_path) = &signer else {
                unreachable!("EmitTbs returned above")
            };
            let sig = read_input(sig_path)?;
            let sig: [u8; SIGNATURE_LEN] = sig.as_slice().try_into().map_err(|_| {
                Error::file(
                    sig_path,
                    format_args!(
                        "is {} bytes; an Ed25519 signature is {SIGNATURE_LEN} raw bytes",
                        sig.len()
                    ),
                )
            })?;
            pk.verify(tbs, &ed25519_compact::Signature::new(sig))
                .map_err(|_| {
                    Error::file(
                        sig_path,
                        format_args!(
                            "does not verify with key id {} over these header fields and payload \
                         (signed with another key, or other fields than for --emit-tbs?)",
                            keys::key_id(pk)
                        ),
                    )
                })?;
            header.signature = sig;
            let mut image = Vec::with_capacity(total as usize);
            image.extend_from_slice(&header.encode());
            image.resize(a.header_len as usize, 0xFF);
            image.extend_from_slice(&payload);
            (image, *pk)
        }
    };
    let out = out.expect("checked above");
    let header = ImageHeader::parse(&image)
        .map_err(|e| Error::file(out, format_args!("signed header does not parse: {e}")))?;

    let mut outputs = Outputs::new();
    outputs.stage(out, &image, Overwrite::Allow, Access::Public)?;
    outputs.commit()?;

    let json = serde_json::json!({
        "input": a.input.display().to_string(),
        "input_kind": kind,
        "out": out.display().to_string(),
        "version": header.version.to_string(),
        "security_counter": header.security_counter,
        "hardware_id": header.hardware_id,
        "load_address": header.load_address,
        "data_epoch": header.data_epoch,
        "header_len": header.header_len,
        "payload_len": header.payload_len,
        "bytes": image.len(),
        "digest": hex(&header.payload_digest),
        "key_id": keys::key_id(&pk),
    });
    let text = format!(
        "signed {} -> {}\n\
         {layout}\
         version {}, security counter {}, hardware id 0x{:08x}, load address 0x{:08x}, data epoch {}\n\
         header 0x{:x} + payload {} = {} bytes\n\
         payload sha256 {}\n\
         key id {}\n",
        a.input.display(),
        out.display(),
        header.version,
        header.security_counter,
        header.hardware_id,
        header.load_address,
        header.data_epoch,
        header.header_len,
        header.payload_len,
        image.len(),
        hex(&header.payload_digest),
        keys::key_id(&pk),
    );
    Ok(Report::new(text, json))
}
