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
        let checked = DigestCheck.check(flash, slot, region);
        if let Ok(info) = &checked {
            self.board(slot, info, hardware_id(flash, region)?)?;
        }
        checked
    }

    fn check_into(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
        out: &mut Option<Result<ImageInfo, ImageError>>,
    ) {
        DigestCheck.check_into(flash, slot, region, out);
        crate::check::refine(out, |info| {
            hardware_id(flash, region).and_then(|id| self.board(slot, info, id))
        });
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

/// The digest-only build's check on the host, against the same hostile
/// images the signed check refuses (`tests/image_hostile.rs` of abboot),
/// on a part that reads bytes and one that reads 8-byte words (where the
/// hardware id is read with the whole header again).
#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use abboot::sim::device::TestImage;
    use abboot::sim::SimFlash;
    use abboot::Version;

    const SLOT_LEN: u32 = 8192;
    /// Slot B's offset on the test flash, and both slots' load addresses.
    const SLOT_B: u32 = 16384;
    const LOAD: [u32; 2] = [0x0001_0100, 0x0002_0100];
    const HARDWARE_ID: u32 = 0x5241_4E44;

    fn check() -> ProfiledDigestCheck {
        ProfiledDigestCheck::new(BoardProfile {
            header_len: Some(256),
            hardware_id: HARDWARE_ID,
            load_address: LOAD,
        })
    }

    fn region(slot: Slot) -> Region {
        Region::new(slot.index() as u32 * SLOT_B, SLOT_LEN)
    }

    /// An image for `slot` of this board, before `edit`.
    fn image(slot: Slot, edit: impl FnOnce(&mut TestImage)) -> Vec<u8> {
        let mut t = TestImage::new(Version::new(1, 2, 3, 4), 3000, 7);
        t.header.hardware_id = HARDWARE_ID;
        t.header.load_address = LOAD[slot.index()];
        edit(&mut t);
        t.build()
    }

    /// `bytes` written into `slot` of an erased flash, checked there and
    /// prechecked from its first 256 bytes, on a byte-read and an 8-byte
    /// read part; the two parts must agree.
    fn judge(
        slot: Slot,
        bytes: &[u8],
    ) -> (Result<ImageInfo, ImageError>, Result<ImageInfo, ImageError>) {
        let r = region(slot);
        let mut bytes = bytes.to_vec();
        bytes.truncate(SLOT_LEN as usize);
        let at = r.offset as usize;
        let mut one = SimFlash::<1, 4, 4096>::new(2 * SLOT_B as usize);
        one.set_contents(at, &bytes);
        let mut eight = SimFlash::<8, 8, 4096>::new(2 * SLOT_B as usize);
        eight.set_contents(at, &bytes);
        let got = check().check(&mut one, slot, r);
        assert_eq!(
            check().check(&mut eight, slot, r),
            got,
            "the two parts disagree"
        );
        // The bootloader's way writes the same result, over whatever its
        // place held.
        let other = Ok(ImageInfo {
            digest: [0xA5; 32],
            ..ImageInfo::default()
        });
        for before in [None, Some(other), Some(Err(ImageError::Flash))] {
            let mut out = before;
            check().check_into(&mut one, slot, r, &mut out);
            assert_eq!(out, Some(got), "check_into after {before:?}");
            out = before;
            check().check_into(&mut eight, slot, r, &mut out);
            assert_eq!(out, Some(got), "check_into after {before:?}");
        }
        let mut header = [0xFF; 256];
        let n = bytes.len().min(256);
        header[..n].copy_from_slice(&bytes[..n]);
        let pre = ImageCheck::<SimFlash<1, 4, 4096>>::precheck(&mut check(), slot, r, &header)
            .map(|info| info.expect("the header is enough"));
        (got, pre)
    }

    #[test]
    fn accepts_an_image_for_its_slot_and_board() {
        for slot in Slot::ALL {
            let bytes = image(slot, |_| {});
            let (got, pre) = judge(slot, &bytes);
            let info = got.expect("accepted");
            assert_eq!(pre, Ok(info), "precheck and check agree");
            assert_eq!((info.header_len, info.payload_len), (256, 3000));
            assert_eq!(info.load_address, LOAD[slot.index()]);
            assert_eq!(info.version, Version::new(1, 2, 3, 4));
        }
    }

    #[test]
    fn refuses_an_image_built_for_another_board() {
        let bytes = image(Slot::A, |t| t.header.hardware_id = HARDWARE_ID ^ 1);
        let (got, pre) = judge(Slot::A, &bytes);
        assert_eq!(got, Err(ImageError::WrongHardware));
        assert_eq!(pre, Err(ImageError::WrongHardware));
    }

    #[test]
    fn refuses_an_image_linked_for_the_other_slot() {
        for slot in Slot::ALL {
            let bytes = image(slot.other(), |_| {});
            let (got, pre) = judge(slot, &bytes);
            assert_eq!(got, Err(ImageError::WrongLoadAddress), "{slot}");
            assert_eq!(pre, Err(ImageError::WrongLoadAddress), "{slot}");
        }
    }

    #[test]
    fn refuses_another_header_length() {
        let bytes = image(Slot::A, |t| t.header.header_len = 512);
        let (got, pre) = judge(Slot::A, &bytes);
        assert_eq!(got, Err(ImageError::BadHeaderLength));
        assert_eq!(pre, Err(ImageError::BadHeaderLength));
    }

    /// Damage the header cannot show is found by the payload's digest, in
    /// `check` only: `precheck` sees the header alone.
    #[test]
    fn refuses_a_damaged_payload() {
        let mut bytes = image(Slot::B, |_| {});
        bytes[256 + 1234] ^= 0x10;
        let (got, pre) = judge(Slot::B, &bytes);
        assert_eq!(got, Err(ImageError::DigestMismatch));
        assert!(pre.is_ok());
    }

    #[test]
    fn refuses_an_image_larger_than_its_slot_and_a_blank_one() {
        let bytes = image(Slot::A, |t| t.len = (SLOT_LEN - 256) as usize + 1);
        let (got, pre) = judge(Slot::A, &bytes);
        assert_eq!(got, Err(ImageError::TooLarge));
        assert_eq!(pre, Err(ImageError::TooLarge));
        let (got, _) = judge(Slot::A, &[]);
        assert_eq!(got, Err(ImageError::Blank));
    }

    /// The hardware id costs one 4-byte read where the part's read size
    /// divides both its offset (28) and its length, and the header read
    /// again elsewhere; the same id either way.
    #[test]
    fn hardware_id_is_one_word_where_the_read_size_allows() {
        fn read<const R: usize>(bytes: &[u8]) -> (Result<u32, ImageError>, u64) {
            let mut flash = SimFlash::<R, 8, 4096>::new(4096 * 2);
            flash.set_contents(0, bytes);
            let id = hardware_id(&mut flash, Region::new(0, 4096 * 2));
            (id, flash.stats().bytes_read)
        }
        let bytes = image(Slot::A, |_| {});
        let word = (Ok(HARDWARE_ID), 4);
        assert_eq!(read::<1>(&bytes), word);
        assert_eq!(read::<2>(&bytes), word);
        assert_eq!(read::<4>(&bytes), word);
        for (id, bytes_read) in [read::<8>(&bytes), read::<16>(&bytes)] {
            assert_eq!(id, Ok(HARDWARE_ID));
            assert!(bytes_read >= 144, "the whole header: {bytes_read} bytes");
        }
    }

    /// Not signed: an image from any key is accepted when its digest and
    /// profile hold (what `digest-only` gives up, said in its rustdoc).
    #[test]
    fn does_not_check_who_signed() {
        let bytes = image(Slot::A, |t| t.key_seed = [0x66; 32]);
        assert!(judge(Slot::A, &bytes).0.is_ok());
    }
}
