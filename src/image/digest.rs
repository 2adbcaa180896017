//! An integrity-only check: the image header is parsed and the payload's
//! SHA-256 compared with the header's, but no signature, hardware id or
//! load address is checked.
//!
//! For development boards and for tests of the boot decision; it detects
//! torn, truncated and bit-rotted images, not forged ones. Production
//! bootloaders use [`SignedCheck`](super::signed::SignedCheck).

use embedded_storage::nor_flash::ReadNorFlash;

use super::header::{field, ImageHeader, DIGEST_AT, FIXED_LEN};
use super::signed::{parse_raw, payload_matches, read_fixed};
use super::{ImageCheck, ImageError, ImageInfo};
use crate::flash::Region;
use crate::state::Slot;

/// Checks that a slot holds a complete image whose payload matches the
/// SHA-256 in its header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestCheck;

impl<F: ReadNorFlash> ImageCheck<F> for DigestCheck {
    fn check(
        &mut self,
        flash: &mut F,
        _slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        let mut raw = [0u8; FIXED_LEN];
        read_fixed(flash, region, &mut raw)?;
        // Straight-line, each refusal returned where it is found: the
        // result built through `and_then` and tested again cost a closure
        // and a second test of its tag.
        let header = parse_raw(&raw)?;
        if !header.image_len().is_some_and(|len| len <= region.len) {
            return Err(ImageError::TooLarge);
        }
        payload_matches(flash, region, &raw)?;
        // The digest is taken from the raw bytes, where `parse_raw` read
        // it too: the parsed header's copy is then never read, and its
        // 32-byte copy on the stack goes away.
        Ok(ImageInfo::from_header(&header, field(&raw, DIGEST_AT)))
    }

    fn precheck(
        &mut self,
        _slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let h = ImageHeader::parse(header)?;
        match h.image_len() {
            Some(len) if len <= region.len => {
                Ok(Some(ImageInfo::from_header(&h, h.payload_digest)))
            }
            _ => Err(ImageError::TooLarge),
        }
    }
}
