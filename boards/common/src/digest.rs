//! The digest-only image check of feature `digest-only`: abboot's
//! [`DigestCheck`] (the payload's SHA-256 against the header's, no
//! signature) plus the board checks [`SignedCheck`] makes from the
//! [`BoardProfile`]: the image fits its slot and has the board's header
//! length, hardware id and the slot's load address.
//!
//! It detects torn, truncated, bit-rotted and misplaced images (one built
//! for the other slot, another board or another header length), not forged
//! ones: anyone who can write a slot can boot anything. For a bootloader
//! that must fit a small slot, where images are trusted by other means.
//!
//! [`SignedCheck`]: abboot::image::signed::SignedCheck

use abboot::flash::Region;
use abboot::image::digest::DigestCheck;
use abboot::image::header::{ImageHeader, HARDWARE_ID_AT};
use abboot::image::signed::{read_header, BoardProfile};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::Slot;
use embedded_storage::nor_flash::ReadNorFlash;

const HARDWARE_ID_OFFSET: u32 = HARDWARE_ID_AT as u32;

/// [`DigestCheck`] with the board profile's checks, as an [`ImageCheck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfiledDigestCheck {
    /// What this board expects of an image.
    pub profile: BoardProfile,
}

impl ProfiledDigestCheck {
    /// A digest-only check for this board.
    pub const fn new(profile: BoardProfile) -> Self {
        Self { profile }
    }

    /// The profile's checks, with the errors (and in the order) of the
    /// signed check.
    fn board(&self, slot: Slot, info: &ImageInfo, hardware_id: u32) -> Result<(), ImageError> {
        if self
            .profile
            .header_len
            .is_some_and(|len| len != info.header_len)
        {
            return Err(ImageError::BadHeaderLength);
        }
        if hardware_id != self.profile.hardware_id {
            return Err(ImageError::WrongHardware);
        }
        match self.profile.load_address.get(slot.index()) {
            Some(&address) if address == info.load_address => Ok(()),
            _ => Err(ImageError::WrongLoadAddress),
        }
    }
}

impl<F: ReadNorFlash> ImageCheck<F> for ProfiledDigestCheck {
    /// [`DigestCheck::check`] (header, fit, payload digest), then the
    /// profile's checks on the header it read. Unlike the signed check, a
    /// misplaced image is hashed before it is refused: the same refusal,
    /// later.
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        let info = DigestCheck.check(flash, slot, region)?;
        self.board(slot, &info, hardware_id(flash, region)?)?;
        Ok(info)
    }

    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let h = ImageHeader::parse(header)?;
        match h.image_len() {
            Some(len) if len <= region.len => {}
            _ => return Err(ImageError::TooLarge),
        }
        let info = ImageInfo::from_header(&h, h.payload_digest);
        self.board(slot, &info, h.hardware_id)?;
        Ok(Some(info))
    }
}

/// The `hardware_id` of the image header in `region`, which
/// [`DigestCheck::check`] has just read and parsed (so the region is on
/// the device): one 4-byte read where the driver's read size allows it (a
/// test that folds at compile time), else the whole header again.
fn hardware_id<F: ReadNorFlash>(flash: &mut F, region: Region) -> Result<u32, ImageError> {
    let mut word = [0u8; 4];
    if HARDWARE_ID_OFFSET as usize % F::READ_SIZE == 0 && word.len() % F::READ_SIZE == 0 {
        flash
            .read(region.offset.wrapping_add(HARDWARE_ID_OFFSET), &mut word)
            .map_err(|_| ImageError::Flash)?;
        Ok(u32::from_le_bytes(word))
    } else {
        read_header(flash, region).map(|h| h.hardware_id)
    }
}
