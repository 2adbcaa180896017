//! An integrity-only check: the image header is parsed and the payload's
//! SHA-256 compared with the header's, but no signature, hardware id or
//! load address is checked.
//!
//! For development boards and for tests of the boot decision; it detects
//! torn, truncated and bit-rotted images, not forged ones. Production
//! bootloaders use [`SignedCheck`](super::signed::SignedCheck).

use embedded_storage::nor_flash::ReadNorFlash;

use super::header::{info_of, put_checked, ImageHeader, FIXED_LEN};
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
        verify(flash, region, &mut raw)?;
        Ok(info_of(&raw))
    }

    fn check_into(
        &mut self,
        flash: &mut F,
        _slot: Slot,
        region: Region,
        out: &mut Option<Result<ImageInfo, ImageError>>,
    ) {
        let mut raw = [0u8; FIXED_LEN];
        let checked = verify(flash, region, &mut raw);
        put_checked(&raw, checked, out);
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

/// The header read into `raw`, parsed, its image within `region`, and the
/// payload's SHA-256 the header's: what both ways of the check share.
// Always inlined, so each way is the straight-line code it was.
#[inline(always)]
fn verify<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    raw: &mut [u8; FIXED_LEN],
) -> Result<(), ImageError> {
    read_fixed(flash, region, raw)?;
    // Straight-line, each refusal returned where it is found: the result
    // built through `and_then` and tested again cost a closure and a
    // second test of its tag.
    let header = parse_raw(raw)?;
    if !header.image_len().is_some_and(|len| len <= region.len) {
        return Err(ImageError::TooLarge);
    }
    payload_matches(flash, region, raw)
}
