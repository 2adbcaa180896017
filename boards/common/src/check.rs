//! The board's image check: abboot's check of the image
//! ([`XipBoard::CHECK`]: signature or digest, header, fit, profile), then
//! the payload's first two words as this board's vector table. The
//! bootloader and the firmware's updater run the same check, so an image
//! the bootloader would not jump to is refused when it is staged, and
//! rejected before its trial rather than found out after the try is
//! counted (a signed image built for other memory left the device in
//! recovery three resets in a row).

use core::marker::PhantomData;

use abboot::flash::Region;
use abboot::handoff::HANDOFF_LEN;
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::Slot;
use embedded_storage::nor_flash::ReadNorFlash;

use crate::{Check, XipBoard};

/// Board `B`'s image check: [`XipBoard::CHECK`], then `vector_table`
/// ([`ImageError::BadEntry`] when it refuses).
///
/// It holds nothing: every call runs a fresh copy of the constant
/// [`XipBoard::CHECK`] (which keeps no state), so the profile's values are
/// constants in the code rather than loaded from a copy made at start.
pub struct BoardCheck<B> {
    board: PhantomData<B>,
}

impl<B: XipBoard> BoardCheck<B> {
    /// The check of board `B`.
    pub const fn new() -> Self {
        Self { board: PhantomData }
    }
}

impl<B: XipBoard> Default for BoardCheck<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: XipBoard, F: ReadNorFlash> ImageCheck<F> for BoardCheck<B> {
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        // The result stays in place rather than moving through `?`.
        let mut check: Check = B::CHECK;
        let checked = check.check(flash, slot, region);
        if let Ok(info) = &checked {
            vector_table::<B>(flash, info)?;
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
        let mut check: Check = B::CHECK;
        check.check_into(flash, slot, region, out);
        refine(out, |info| vector_table::<B>(flash, info));
    }

    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let mut check: Check = B::CHECK;
        ImageCheck::<F>::precheck(&mut check, slot, region, header)
    }
}

/// `out`, the result abboot's check wrote, with the board's own verdict
/// on an accepted image: `board` runs only when the image was accepted,
/// and its refusal replaces the result. The one way both board checks
/// ([`BoardCheck`] and the digest-only build's) add their tests to
/// [`ImageCheck::check_into`].
pub(crate) fn refine(
    out: &mut Option<Result<ImageInfo, ImageError>>,
    board: impl FnOnce(&ImageInfo) -> Result<(), ImageError>,
) {
    if let Some(Ok(info)) = out {
        if let Err(e) = board(info) {
            *out = Some(Err(e));
        }
    }
}

/// Whether board `B`'s check makes every image it accepts run in place:
/// its profile pins the header length to [`XipBoard::HEADER_LEN`] and each
/// slot's load address to the slot's address plus that length (what
/// [`XipBoard::PROFILE`] derives). Then the load address of an accepted
/// image *is* its payload's first byte in the slot, which [`vector_table`]
/// and [`select`](crate::boot::select) take without testing it again;
/// asserted at compile time for every board they are built for.
pub(crate) const fn runs_in_place<B: XipBoard>() -> bool {
    let (check, len): (Check, u32) = (B::CHECK, B::HEADER_LEN);
    let [a, b] = check.profile.load_address;
    let [slot_a, slot_b] = B::SLOT_ADDRESS;
    matches!(check.profile.header_len, Some(h) if h == len)
        && a == slot_a.wrapping_add(len)
        && b == slot_b.wrapping_add(len)
}

/// The verified payload as a vector table, if its first two words are a
/// stack pointer in RAM and a Thumb reset handler inside the *signed
/// payload*. The payload starts at its load address (slot address + header
/// length: the check accepted it, and [`runs_in_place`] holds).
///
/// Both words and the reset handler are bounded by the end of the payload
/// `select` verified (load address + `payload_len` from
/// [`Decision::image`](abboot::boot::Decision::image)), not by the slot's
/// end: the rest of the slot after the payload is unsigned (padding, an
/// old image's tail), and a reset vector pointing there would run code no
/// key signed. A payload too short to hold the two words is refused.
///
/// The payload is signed, so this only catches an image linked for other
/// memory or built wrong ([`ImageError::BadEntry`]); it is read through
/// the flash driver, with no `unsafe`, and a read that fails is
/// [`ImageError::Flash`]: no verdict.
pub(crate) fn vector_table<B: XipBoard>(
    flash: &mut impl ReadNorFlash,
    image: &ImageInfo,
) -> Result<(), ImageError> {
    const {
        assert!(
            runs_in_place::<B>(),
            "the board's check must pin each slot's load address"
        )
    };
    // The check made it the slot's address plus the header length, which
    // the slots' offset on the flash driver plus `FLASH_BASE` is.
    let entry = image.load_address;
    // The check keeps the payload inside the slot too; `checked_add`
    // anyway, so that a check that did not would be a refusal here.
    let payload_end = entry
        .checked_add(image.payload_len)
        .ok_or(ImageError::BadEntry)?;
    let mut words = [0u8; 8];
    if image.payload_len < words.len() as u32 {
        return Err(ImageError::BadEntry);
    }
    // A read that fails is no verdict on the image (the bootloader tries
    // again, and records nothing while a slot cannot be read).
    flash
        .read(entry.wrapping_sub(B::FLASH_BASE), &mut words)
        .map_err(|_| ImageError::Flash)?;
    // One 8-byte value split in two: four byte loads shifted together per
    // word otherwise.
    let both = u64::from_le_bytes(words);
    let (sp, reset) = (both as u32, (both >> 32) as u32);
    // The top of RAM is the hand-off (`crate::handoff`): a stack that
    // starts above it would overwrite it with its first push, before the
    // firmware reads it.
    let top = B::RAM_END.wrapping_sub(HANDOFF_LEN as u32);
    let sp_ok = sp > B::RAM_START && sp <= top && sp % 8 == 0;
    // `reset - 1` is the handler's first instruction (Thumb bit set):
    // `reset < payload_end` keeps its first 2 bytes inside the payload.
    let reset_ok = reset & 1 == 1 && reset > entry && reset < payload_end;
    if sp_ok && reset_ok {
        Ok(())
    } else {
        Err(ImageError::BadEntry)
    }
}
