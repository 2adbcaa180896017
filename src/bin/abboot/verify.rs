//! `abboot verify`: the bootloader's check of a slot, run on an image file.
//!
//! The file is placed at the start of a slot of `--slot-size` bytes (the
//! rest erased, `0xFF`) and checked by `verify_image`, the same function a
//! bootloader calls, with the given keys and board profile. The answer is
//! the bootloader's: OK, or the first check that fails, with the values
//! that made it fail.

use std::path::PathBuf;

use abboot::flash::Region;
use abboot::image::header::ImageHeader;
use abboot::image::signed::{read_header, verify_image, BoardProfile, TrustedKey, TrustedKeys};
use abboot::image::ImageError;
use abboot::Slot;
use clap::Args;

use crate::keys;
use crate::mem::MemFlash;
use crate::num::{self, hex};
use crate::output::read_input;
use crate::{Error, Report, SlotArg};

/// `abboot verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A trusted public key (SubjectPublicKeyInfo PEM); repeat for several.
    #[arg(long = "pub", value_name = "PUB.pem", required = true)]
    pub public: Vec<PathBuf>,
    /// The signed image.
    #[arg(long, value_name = "SIGNED.bin")]
    pub image: PathBuf,
    /// The slot the image is meant for: its load address is checked.
    #[arg(long, value_enum, default_value = "a")]
    pub slot: SlotArg,
    /// Size of the slot in bytes (K and M suffixes allowed); the image must
    /// fit. Defaults to the file's size.
    #[arg(long, value_parser = num::size_value, value_name = "N")]
    pub slot_size: Option<u32>,
    /// Hardware id of the board.
    #[arg(long, value_parser = num::u32_value, value_name = "ID")]
    pub hardware_id: u32,
    /// Load address an image in slot A must carry.
    #[arg(long, value_parser = num::u32_value, value_name = "ADDR")]
    pub load_address_a: Option<u32>,
    /// Load address an image in slot B must carry.
    #[arg(long, value_parser = num::u32_value, value_name = "ADDR")]
    pub load_address_b: Option<u32>,
}

/// Verifies the image; `Err` when it would not boot.
pub fn verify(a: &VerifyArgs) -> Result<Report, Error> {
    let slot = Slot::from(a.slot);
    let load_address = match (slot, a.load_address_a, a.load_address_b) {
        (Slot::A, Some(address), _) | (Slot::B, _, Some(address)) => address,
        _ => {
            return Err(Error::usage(format_args!(
                "--load-address-{} is required to verify for slot {slot}",
                if slot == Slot::A { "a" } else { "b" }
            )))
        }
    };
    let mut keys = Vec::with_capacity(a.public.len());
    for path in &a.public {
        keys.push(TrustedKey::new(*keys::load_public(path)?));
    }
    let bytes = read_input(&a.image)?;
    let file_len =
        u32::try_from(bytes.len()).map_err(|_| Error::file(&a.image, "is larger than 4 GiB"))?;
    let slot_len = a.slot_size.unwrap_or(file_len);
    if file_len > slot_len {
        return Err(Error::file(
            &a.image,
            format_args!(
                "image larger than its slot: the file has {file_len} bytes, the slot {slot_len}"
            ),
        ));
    }

    let mut flash = MemFlash::new(&bytes, slot_len as usize);
    let region = Region::new(0, slot_len);
    // The other slot's address is never looked at for this slot.
    let profile = BoardProfile {
        header_len: None,
        hardware_id: a.hardware_id,
        load_address: [load_address; 2],
    };
    let trusted = TrustedKeys::new(&keys);
    match verify_image(&mut flash, region, slot, &trusted, &profile) {
        Ok((h, info)) => Ok(Report::new(
            format!(
                "OK: {} verifies for slot {slot}\n\
             version {}, security counter {}, data epoch {}\n\
             hardware id 0x{:08x}, load address 0x{:08x}\n\
             header 0x{:x} + payload {} bytes, slot {slot_len} bytes\n\
             payload sha256 {}\n\
             key id {}\n",
                a.image.display(),
                info.version,
                info.security_counter,
                info.data_epoch,
                h.hardware_id,
                h.load_address,
                h.header_len,
                h.payload_len,
                hex(&info.digest),
                hex(&h.key_id),
            ),
            serde_json::json!({
                "image": a.image.display().to_string(),
                "verifies": true,
                "slot": slot,
                "version": info.version.to_string(),
                "security_counter": info.security_counter,
                "data_epoch": info.data_epoch,
                "hardware_id": h.hardware_id,
                "load_address": h.load_address,
                "header_len": h.header_len,
                "payload_len": h.payload_len,
                "digest": hex(&info.digest),
                "key_id": hex(&h.key_id),
            }),
        )),
        Err(e) => {
            // verify_image only says which check failed; the header (read
            // again, unverified, only to explain) says with which values.
            let checked = Checked {
                slot,
                slot_len,
                profile: &profile,
                keys: &keys,
                file_len,
                slot_size_given: a.slot_size.is_some(),
            };
            let message = match read_header(&mut flash, region) {
                Ok(h) => explain(e, &h, &checked),
                Err(_) => e.to_string(),
            };
            Err(Error::file(&a.image, message))
        }
    }
}

/// What an image was checked against, to explain a refusal.
pub struct Checked<'a> {
    /// The slot it was checked for.
    pub slot: Slot,
    /// The slot's size.
    pub slot_len: u32,
    /// The board: hardware id and load addresses.
    pub profile: &'a BoardProfile,
    /// The trusted keys.
    pub keys: &'a [TrustedKey],
    /// The bytes the file holds.
    pub file_len: u32,
    /// Whether the slot's size was given; else the slot is the file.
    pub slot_size_given: bool,
}

/// The refusal with the values behind it: the check that failed, `e`,
/// explained from the (unverified) header `h`.
pub fn explain(e: ImageError, h: &ImageHeader, c: &Checked<'_>) -> String {
    let Checked {
        slot,
        slot_len,
        profile,
        keys,
        file_len,
        slot_size_given,
    } = *c;
    let load_address = profile.load_address[slot.index()];
    let image_len = u64::from(h.header_len) + u64::from(h.payload_len);
    let truncated = image_len > u64::from(file_len);
    // Without --slot-size the slot is the file, so an image that does not
    // fit it is a file cut short, not an oversized image; with it, the
    // missing bytes read as erased flash and fail the digest.
    let cut_short = match e {
        ImageError::TooLarge => truncated && !slot_size_given,
        ImageError::DigestMismatch => truncated,
        _ => false,
    };
    if cut_short {
        return format!(
            "file truncated: the header describes {image_len} bytes, the file holds only \
             {file_len}"
        );
    }
    let detail = match e {
        ImageError::TooLarge => format!(": image {image_len} bytes, slot {slot_len} bytes"),
        ImageError::WrongHardware => format!(
            ": image 0x{:08x}, board 0x{:08x}",
            h.hardware_id, profile.hardware_id
        ),
        ImageError::WrongLoadAddress => format!(
            ": image 0x{:08x}, slot {slot} expects 0x{load_address:08x}",
            h.load_address
        ),
        ImageError::UnknownKey => {
            let ids: Vec<String> = keys.iter().map(|k| hex(&k.id())).collect();
            format!(
                ": image key id {}, trusted key ids {}",
                hex(&h.key_id),
                ids.join(", ")
            )
        }
        ImageError::BadSignature => format!(" with key id {}", hex(&h.key_id)),
        _ => String::new(),
    };
    format!("{e}{detail}")
}
