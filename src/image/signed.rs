//! Verification of signed images straight from flash.
//!
//! [`verify_image`] (and [`SignedCheck`], its [`ImageCheck`] face) reads a
//! slot's [header](crate::image::header) and payload through one fixed
//! [`CHUNK_LEN`]-byte stack buffer: no heap, no copy of the image, and no
//! panic whatever the slot holds.
//!
//! # Order of the checks
//!
//! Cheap checks come first, the signature before the payload digest, so a
//! forged or foreign image is refused after reading 144 bytes instead of
//! hashing a whole slot. Every check before the signature only *refuses*:
//! nothing read from an unverified header is trusted, it can only make the
//! answer an error.
//!
//! 1. The region lies inside the device ([`ImageError::Flash`] if not) and
//!    can hold the fixed header ([`ImageError::Truncated`] if not).
//! 2. Read the fixed header ([`ImageError::Flash`] on a read error).
//! 3. All 144 bytes `0xFF`, or all `0x00` (a part that erases to zero):
//!    [`ImageError::Blank`].
//! 4. Parse the header with [`ImageHeader::parse`]: [`ImageError::BadMagic`],
//!    [`ImageError::UnsupportedFormat`], [`ImageError::BadHeaderLength`],
//!    [`ImageError::BadField`].
//! 5. `header_len + payload_len` (checked, no overflow) fits the region:
//!    [`ImageError::TooLarge`].
//! 6. Hardware id equals the board's: [`ImageError::WrongHardware`].
//! 7. Load address equals the board's for this slot:
//!    [`ImageError::WrongLoadAddress`].
//! 8. A trusted key has the header's key id: [`ImageError::UnknownKey`].
//! 9. The Ed25519 signature over the signed header bytes, as read from
//!    flash, verifies: [`ImageError::BadSignature`].
//! 10. The SHA-256 of the payload, streamed from flash, equals the signed
//!     `payload_digest`: [`ImageError::DigestMismatch`] (or
//!     [`ImageError::Flash`] on a read error).
//!
//! # Flash reads
//!
//! Every read starts at a multiple of `F::READ_SIZE` and has a length that
//! is a multiple of it: reads are widened to aligned windows and the bytes
//! outside the wanted span are dropped, so regions, `header_len` and
//! `payload_len` need no alignment. `READ_SIZE` must divide [`CHUNK_LEN`]
//! (every power of two up to 256 does); otherwise verification answers
//! [`ImageError::Flash`] without reading. Where `READ_SIZE` also divides
//! the fixed header's 144 bytes and the region's offset, the header is
//! read in one read straight into its own buffer, not through the chunk.
//!
//! # Stack
//!
//! One [`CHUNK_LEN`]-byte buffer, the 144-byte raw header, the decoded
//! header, a SHA-256 state, and the Ed25519 verifier's working set (a few
//! curve points; about 1–2 KiB in `ed25519-compact`; the verifier is chosen
//! at build time, see [`ed25519`]).

use embedded_storage::nor_flash::ReadNorFlash;

use crate::flash::Region;
use crate::image::ed25519;
use crate::image::header::{
    field, info_of, key_id_of, put_checked, ImageHeader, DIGEST_AT, FIXED_LEN, HEADER_LEN_AT,
    KEY_ID_AT, KEY_ID_LEN, PAYLOAD_LEN_AT, SIGNATURE_LEN, SIGNED_LEN,
};
use crate::image::sha256::PayloadHash;
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::record::all_are;
use crate::state::Slot;

/// Size of the stack buffer flash is read through, in bytes.
pub const CHUNK_LEN: usize = 256;

/// One trusted Ed25519 public key and its key id ([`key_id_of`]).
///
/// The id only chooses which keys are tried on an image; the signature is
/// always checked with the key itself. So an id that is not the key's
/// cannot make a wrong key trusted: images signed with that key are
/// refused ([`ImageError::UnknownKey`]) until the id is corrected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    key: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl TrustedKey {
    /// `key`, its id computed now (one SHA-256 block): for hosts, tools
    /// and tests.
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            id: key_id_of(&key),
            key,
        }
    }

    /// `key` with its id `id`, computed when the bootloader was built
    /// (`abboot pubkey --format rust` writes both): a bootloader built
    /// this way hashes no key at each check, and links no SHA-256
    /// finalisation for it (184 B of the nRF52840 bootloader, 200 B of
    /// the QEMU one; issue 14).
    pub const fn with_id(key: [u8; 32], id: [u8; KEY_ID_LEN]) -> Self {
        Self { key, id }
    }

    /// The raw 32-byte public key.
    pub const fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key id images signed with this key carry.
    pub const fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }
}

/// The Ed25519 public keys images may be signed with.
///
/// Several keys allow rotation: each image names its key by key id
/// ([`key_id_of`]), and only keys with that id are tried. A bootloader's
/// table is a plain `const` array of [`TrustedKey::with_id`]s, the ids
/// computed at build time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedKeys<'a> {
    keys: &'a [TrustedKey],
}

impl<'a> TrustedKeys<'a> {
    /// A key table over `keys`.
    pub const fn new(keys: &'a [TrustedKey]) -> Self {
        Self { keys }
    }

    /// The keys and their ids.
    pub const fn keys(&self) -> &'a [TrustedKey] {
        self.keys
    }

    /// The trusted keys whose key id is `key_id`.
    pub fn with_id(&self, key_id: [u8; KEY_ID_LEN]) -> impl Iterator<Item = &'a [u8; 32]> {
        self.keys
            .iter()
            .filter(move |k| k.id == key_id)
            .map(|k| &k.key)
    }

    /// Checks the signature of `header` (as re-encoded by
    /// [`ImageHeader::encode`], which gives back the exact bytes any
    /// accepted header was parsed from).
    ///
    /// # Errors
    ///
    /// [`ImageError::UnknownKey`] if no trusted key has the header's key
    /// id, [`ImageError::BadSignature`] if none of them verifies it.
    pub fn verify(&self, header: &ImageHeader) -> Result<(), ImageError> {
        self.verify_signed(header.key_id, &header.signed_bytes(), &header.signature)
    }

    /// Checks `signature` over `signed` with every trusted key whose id is
    /// `key_id` (normally one; several only on a key id collision).
    fn verify_signed(
        &self,
        key_id: [u8; KEY_ID_LEN],
        signed: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), ImageError> {
        // Over the table itself, not through `with_id`'s filter and map:
        // the adapters' loop kept more registers live across the
        // verification. The refusal set where a key with the id is tried
        // rather than a flag tested after the loop.
        let mut refusal = ImageError::UnknownKey;
        for k in self.keys {
            if k.id == key_id {
                if ed25519::verify(&k.key, signed, signature) {
                    return Ok(());
                }
                refusal = ImageError::BadSignature;
            }
        }
        Err(refusal)
    }
}

/// What the board expects of an image, beyond a trusted signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BoardProfile {
    /// The hardware id images for this board carry.
    pub hardware_id: u32,
    /// The load address an image in slot A (index 0) and slot B (index 1)
    /// must carry: where the payload runs from. For execute-in-place, the
    /// slot's memory-mapped address plus the `header_len` the board's
    /// images are signed with.
    pub load_address: [u32; 2],
    /// The header length the board's images must have, when the board
    /// depends on it: an execute-in-place board jumps to the slot address
    /// plus this, so a trusted image signed with another `header_len` would
    /// send it into header padding. `None`: any length (a board that
    /// copies the payload to its load address).
    pub header_len: Option<u32>,
}

impl BoardProfile {
    /// The profile of an execute-in-place board, whose bootloader jumps into
    /// the slot where it lies: each slot's load address is *derived* from
    /// the slot's memory-mapped start plus `header_len`, and images must be
    /// signed with exactly that `header_len` — so no trusted image signed
    /// for another header length can send the jump into unsigned padding.
    /// Prefer this to writing the fields by hand.
    pub const fn execute_in_place(hardware_id: u32, slot_start: [u32; 2], header_len: u32) -> Self {
        Self {
            hardware_id,
            load_address: [
                slot_start[0].wrapping_add(header_len),
                slot_start[1].wrapping_add(header_len),
            ],
            header_len: Some(header_len),
        }
    }

    /// The profile of a board that copies the payload to `load_address`
    /// (RAM-load, or one execution address for both slots) and jumps there:
    /// the header length does not matter to it. The explicit opt-out from
    /// [`execute_in_place`](Self::execute_in_place)'s guard.
    pub const fn copied_to(hardware_id: u32, load_address: [u32; 2]) -> Self {
        Self {
            hardware_id,
            load_address,
            header_len: None,
        }
    }
}

/// The signed-image check: [`verify_image`] with a fixed key table and
/// board profile, as an [`ImageCheck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedCheck<'a> {
    /// Keys images may be signed with.
    pub keys: TrustedKeys<'a>,
    /// What this board expects of an image.
    pub profile: BoardProfile,
}

impl<'a> SignedCheck<'a> {
    /// A check with these keys for this board.
    pub const fn new(keys: TrustedKeys<'a>, profile: BoardProfile) -> Self {
        Self { keys, profile }
    }
}

impl<F: ReadNorFlash> ImageCheck<F> for SignedCheck<'_> {
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        verify_info(flash, region, slot, &self.keys, &self.profile)
    }

    fn check_into(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
        out: &mut Option<Result<ImageInfo, ImageError>>,
    ) {
        let mut raw = [0u8; FIXED_LEN];
        let checked = verify_raw(flash, region, slot, &self.keys, &self.profile, &mut raw);
        put_checked(&raw, checked, out);
    }

    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        let raw = header.first_chunk().ok_or(ImageError::Truncated)?;
        check_header(raw, region, slot, &self.keys, &self.profile)?;
        Ok(Some(info_of(raw)))
    }
}

/// Verifies the signed image of `slot`, stored in `region` of `flash`, and
/// returns its header and what the boot decision needs to know.
///
/// The checks and their order are listed in the [module
/// documentation](self). The returned [`ImageInfo::digest`] is the SHA-256
/// of the payload. Never panics.
///
/// # Errors
///
/// The specific [`ImageError`] of the first check that fails.
pub fn verify_image<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    slot: Slot,
    keys: &TrustedKeys<'_>,
    profile: &BoardProfile,
) -> Result<(ImageHeader, ImageInfo), ImageError> {
    let mut raw = [0u8; FIXED_LEN];
    verify_raw(flash, region, slot, keys, profile, &mut raw)?;
    Ok((parse_raw(&raw)?, info_of(&raw)))
}

/// [`verify_image`] without the header: what the bootloader needs, with
/// one copy of the raw header and no decoded one kept (its stack). The
/// checks on the way only refuse; the result is read from the raw header
/// once, at the end, where it is returned.
fn verify_info<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    slot: Slot,
    keys: &TrustedKeys<'_>,
    profile: &BoardProfile,
) -> Result<ImageInfo, ImageError> {
    let mut raw = [0u8; FIXED_LEN];
    verify_raw(flash, region, slot, keys, profile, &mut raw)?;
    Ok(info_of(&raw))
}

/// Every step of the [module documentation](self), the fixed header read
/// into `raw`: what [`verify_image`] and the bootloader's check share.
/// Always inlined, so that the bootloader's check is the code it was
/// when it had its own copy of these lines.
#[inline(always)]
fn verify_raw<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    slot: Slot,
    keys: &TrustedKeys<'_>,
    profile: &BoardProfile,
    raw: &mut [u8; FIXED_LEN],
) -> Result<(), ImageError> {
    read_fixed(flash, region, raw)?;
    check_header(raw, region, slot, keys, profile)?;
    payload_matches(flash, region, raw)
}

/// Steps 3 to 9 on the raw fixed header: everything but the payload.
fn check_header(
    raw: &[u8; FIXED_LEN],
    region: Region,
    slot: Slot,
    keys: &TrustedKeys<'_>,
    profile: &BoardProfile,
) -> Result<(), ImageError> {
    check_fields(raw, region, slot, profile)?;
    // The signature is checked over the bytes as they are on flash, and
    // read where it lies: no copy of it, or of the parsed header, is on
    // the stack under the verification.
    let signed = raw.get(..SIGNED_LEN).ok_or(ImageError::Truncated)?;
    let signature = raw
        .get(SIGNED_LEN..)
        .and_then(|s| s.first_chunk::<SIGNATURE_LEN>())
        .ok_or(ImageError::Truncated)?;
    keys.verify_signed(field(raw, KEY_ID_AT), signed, signature)
}

/// Steps 3 to 7 (the header parsed, its fit and board checked). May be
/// inlined: only the scalar fields it tests are used, so the parsed header
/// is a few loads from `raw`, not a copy on the stack under the signature
/// check, and the board's profile folds into constants.
fn check_fields(
    raw: &[u8; FIXED_LEN],
    region: Region,
    slot: Slot,
    profile: &BoardProfile,
) -> Result<(), ImageError> {
    let header = parse_raw(raw)?;
    let image_len = header.image_len().ok_or(ImageError::TooLarge)?;
    if image_len > region.len {
        return Err(ImageError::TooLarge);
    }
    if profile
        .header_len
        .is_some_and(|len| len != header.header_len)
    {
        return Err(ImageError::BadHeaderLength);
    }
    if header.hardware_id != profile.hardware_id {
        return Err(ImageError::WrongHardware);
    }
    match profile.load_address.get(slot.index()) {
        Some(&address) if address == header.load_address => Ok(()),
        _ => Err(ImageError::WrongLoadAddress),
    }
}

/// Whether the SHA-256 of the payload the accepted raw header `raw`
/// describes (`payload_len` bytes at `header_len` in `region`, streamed
/// from flash) is its `payload_digest`: [`ImageError::DigestMismatch`] if
/// not. The caller has checked that the image fits `region`.
///
/// Compared here rather than returned: a returned digest is a 33-byte
/// result that each caller copies before it compares.
///
/// The header's fields read where the caller has the header (inlined
/// into the check), the payload hashed in [`hash_matches`]: one
/// function out of line with all of it took its fields and the region
/// as arguments and read them again (-8 B of the signed nRF52840
/// bootloader).
pub(crate) fn payload_matches<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    raw: &[u8; FIXED_LEN],
) -> Result<(), ImageError> {
    let header_len = u32::from_le_bytes(field(raw, HEADER_LEN_AT));
    let payload_len = u32::from_le_bytes(field(raw, PAYLOAD_LEN_AT));
    let digest = raw
        .get(DIGEST_AT..)
        .and_then(|d| d.first_chunk())
        .ok_or(ImageError::Truncated)?;
    // Cannot wrap: both callers have checked that the image (header and
    // payload) fits the region and the region fits the flash, so a test
    // here refused what they had ruled out.
    let payload_start = region.offset.wrapping_add(header_len);
    hash_matches(flash, payload_start, payload_len, digest)
}

/// Whether the SHA-256 of the `payload_len` bytes at `payload_start` is
/// `digest`: [`ImageError::DigestMismatch`] if not.
///
/// Never inlined, with its read buffer and hasher in its own frame: they
/// are then not on the stack while the signature is checked.
#[inline(never)]
fn hash_matches<F: ReadNorFlash>(
    flash: &mut F,
    payload_start: u32,
    payload_len: u32,
    digest: &[u8; 32],
) -> Result<(), ImageError> {
    let mut buf = [0u8; CHUNK_LEN];
    let buf = &mut buf;
    let mut hash = PayloadHash::new();
    read_span(flash, payload_start, payload_len, buf, |chunk| {
        hash.update(chunk);
        Ok(())
    })?;
    if !hash.matches(u64::from(payload_len), digest) {
        return Err(ImageError::DigestMismatch);
    }
    Ok(())
}

/// Reads and parses the header of the image in `region`, without checking
/// its fit, board, signature or payload (steps 1–4 of the [module
/// documentation](self)); for tools that show what a slot holds.
///
/// # Errors
///
/// [`ImageError::Flash`], [`ImageError::Truncated`], [`ImageError::Blank`]
/// or an error of [`ImageHeader::parse`].
pub fn read_header<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
) -> Result<ImageHeader, ImageError> {
    let mut raw = [0u8; FIXED_LEN];
    read_fixed(flash, region, &mut raw)?;
    parse_raw(&raw)
}

/// Blank check, then parse.
pub(crate) fn parse_raw(raw: &[u8; FIXED_LEN]) -> Result<ImageHeader, ImageError> {
    // Either erased value: the check does not need to know the part.
    // Through the codec's out-of-line blank test: a call is smaller than
    // the byte loop laid down in every image check. One call, not one
    // per erased value: a header all of one erased value is all of the
    // one its first byte says, its top bit spread over the byte (0 for a
    // 0, 0xFF for a 0xFF; any other first byte is neither, and fails the
    // test of the value it picks). A shift, not a test and a select.
    let &[first, ..] = raw;
    if all_are(raw, ((first as i8) >> 7) as u8) {
        return Err(ImageError::Blank);
    }
    ImageHeader::parse(raw)
}

/// Steps 1 and 2: checks the region and reads the fixed header into `raw`
/// (straight into it where the read size allows, else through a chunk
/// buffer: [`read_fixed_chunked`]).
///
/// May be inlined: where the read goes straight into `raw` it is a few
/// checks and one read, and the chunk buffer stays in the frame of its own
/// function.
pub(crate) fn read_fixed<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    raw: &mut [u8; FIXED_LEN],
) -> Result<(), ImageError> {
    if !region.fits(flash.capacity()) {
        return Err(ImageError::Flash);
    }
    if (region.len as u64) < FIXED_LEN as u64 {
        return Err(ImageError::Truncated);
    }
    // Where the read size divides the chunk, the header and its offset,
    // `read_fixed_chunked` makes exactly this one read (the whole header
    // at the region's start) and copies it out of its buffer: made
    // straight into `raw` instead. With a read size of 1 the test folds
    // away at compile time, and so does the chunked read.
    let rs = F::READ_SIZE;
    if rs != 0 && CHUNK_LEN % rs == 0 && FIXED_LEN % rs == 0 && region.offset as usize % rs == 0 {
        return flash
            .read(region.offset, raw)
            .map_err(|_| ImageError::Flash);
    }
    read_fixed_chunked(flash, region, raw)
}

/// [`read_fixed`]'s read through a chunk buffer, for read sizes that do
/// not allow one read straight into `raw`.
///
/// Never inlined, with its read buffer in its own frame (see
/// [`payload_matches`]).
#[inline(never)]
fn read_fixed_chunked<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    raw: &mut [u8; FIXED_LEN],
) -> Result<(), ImageError> {
    let mut buf = [0u8; CHUNK_LEN];
    let buf = &mut buf;
    let mut filled = 0usize;
    read_span(flash, region.offset, FIXED_LEN as u32, buf, |chunk| {
        let end = filled.checked_add(chunk.len()).ok_or(ImageError::Flash)?;
        // A zip rather than `copy_from_slice`, whose length check would
        // leave a panic path in the bootloader.
        raw.get_mut(filled..end)
            .ok_or(ImageError::Flash)?
            .iter_mut()
            .zip(chunk)
            .for_each(|(d, s)| *d = *s);
        filled = end;
        Ok(())
    })?;
    if filled != FIXED_LEN {
        return Err(ImageError::Flash);
    }
    Ok(())
}

/// `F::READ_SIZE` as a `u32`, if it is usable with a [`CHUNK_LEN`] buffer.
fn read_size<F: ReadNorFlash>() -> Result<u32, ImageError> {
    let rs = F::READ_SIZE;
    if CHUNK_LEN.checked_rem(rs) != Some(0) {
        return Err(ImageError::Flash);
    }
    u32::try_from(rs).map_err(|_| ImageError::Flash)
}

/// Feeds the `len` bytes at absolute offset `start` to `sink`, in order, in
/// pieces of at most [`CHUNK_LEN`] bytes, reading only aligned windows of
/// `F::READ_SIZE`.
fn read_span<F: ReadNorFlash>(
    flash: &mut F,
    start: u32,
    len: u32,
    buf: &mut [u8; CHUNK_LEN],
    mut sink: impl FnMut(&[u8]) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let rs = read_size::<F>()?;
    let end = start.checked_add(len).ok_or(ImageError::Flash)?;
    // Aligned window [pos, end_up) covering [start, end).
    let mut pos = start
        .checked_sub(start.checked_rem(rs).ok_or(ImageError::Flash)?)
        .ok_or(ImageError::Flash)?;
    let end_up = end
        .checked_add(rs.saturating_sub(1))
        .and_then(|e| e.checked_div(rs))
        .and_then(|q| q.checked_mul(rs))
        .ok_or(ImageError::Flash)?;
    // CHUNK_LEN is a multiple of rs, so every window stays aligned.
    let chunk = CHUNK_LEN as u32;
    // Bytes before `start` in the first window (no wrap: `pos` is `start`
    // rounded down); none in the later ones, and none at all where `start`
    // is aligned, which a read size of 1 makes known at compile time.
    let mut lo = start.wrapping_sub(pos);
    // From `start` in the first window, not from `pos`: an empty span
    // reads nothing, with no test of its own. (One that starts within a
    // read word of `u32::MAX` is a flash error above, where it was read
    // as nothing; no caller asks for an empty span: a payload is never
    // empty and the fixed header is 144 bytes.)
    while pos.wrapping_add(lo) < end {
        let n = end_up.checked_sub(pos).ok_or(ImageError::Flash)?.min(chunk);
        let window = buf.get_mut(..n as usize).ok_or(ImageError::Flash)?;
        flash.read(pos, window).map_err(|_| ImageError::Flash)?;
        let hi = end.checked_sub(pos).ok_or(ImageError::Flash)?.min(n);
        sink(
            window
                .get(lo as usize..hi as usize)
                .ok_or(ImageError::Flash)?,
        )?;
        lo = 0;
        // No wrap: `n` is at most `end_up - pos`, and `end_up` was
        // computed without overflow.
        pos = pos.wrapping_add(n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_storage::nor_flash::{ErrorType, NorFlashErrorKind};

    /// Flash over a byte array that refuses misaligned reads.
    struct Mem<const RS: usize> {
        bytes: std::vec::Vec<u8>,
        reads: usize,
    }

    impl<const RS: usize> ErrorType for Mem<RS> {
        type Error = NorFlashErrorKind;
    }

    impl<const RS: usize> ReadNorFlash for Mem<RS> {
        const READ_SIZE: usize = RS;
        fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Self::Error> {
            let off = offset as usize;
            if RS == 0 || off % RS != 0 || out.len() % RS != 0 {
                return Err(NorFlashErrorKind::NotAligned);
            }
            let src = self
                .bytes
                .get(off..off + out.len())
                .ok_or(NorFlashErrorKind::OutOfBounds)?;
            out.copy_from_slice(src);
            self.reads += 1;
            Ok(())
        }
        fn capacity(&self) -> usize {
            self.bytes.len()
        }
    }

    fn mem<const RS: usize>(n: usize) -> Mem<RS> {
        Mem {
            bytes: (0..n).map(|i| (i * 7 + i / 251) as u8).collect(),
            reads: 0,
        }
    }

    fn collect<const RS: usize>(
        m: &mut Mem<RS>,
        start: u32,
        len: u32,
    ) -> Result<std::vec::Vec<u8>, ImageError> {
        let mut out = std::vec::Vec::new();
        let mut buf = [0u8; CHUNK_LEN];
        read_span(m, start, len, &mut buf, |c| {
            assert!(!c.is_empty() && c.len() <= CHUNK_LEN);
            out.extend_from_slice(c);
            Ok(())
        })?;
        Ok(out)
    }

    fn spans<const RS: usize>() {
        let mut m = mem::<RS>(2048);
        let all = m.bytes.clone();
        for start in [0u32, 1, 3, 4, 5, 63, 64, 255, 256, 257, 1000] {
            for len in [0u32, 1, 2, 3, 4, 7, 144, 255, 256, 257, 511, 512, 600] {
                let got = collect(&mut m, start, len).unwrap();
                assert_eq!(
                    &got[..],
                    &all[start as usize..(start + len) as usize],
                    "RS {RS} start {start} len {len}"
                );
            }
        }
        // Past the end: a flash error, not a panic.
        assert_eq!(collect(&mut m, 2040, 100), Err(ImageError::Flash));
        assert_eq!(collect(&mut m, u32::MAX - 2, 10), Err(ImageError::Flash));
        assert_eq!(collect(&mut m, u32::MAX - 2, 2), Err(ImageError::Flash));
    }

    #[test]
    fn read_span_any_alignment() {
        spans::<1>();
        spans::<2>();
        spans::<4>();
        spans::<8>();
        spans::<32>();
        spans::<256>();
    }

    #[test]
    fn read_size_not_dividing_chunk_is_flash_error() {
        let mut m = mem::<3>(1024);
        assert_eq!(collect(&mut m, 0, 10), Err(ImageError::Flash));
        let mut m = mem::<512>(1024);
        assert_eq!(collect(&mut m, 0, 10), Err(ImageError::Flash));
        let mut m = mem::<0>(1024);
        assert_eq!(collect(&mut m, 0, 10), Err(ImageError::Flash));
        assert_eq!(m.reads, 0);
    }

    #[test]
    fn streams_in_chunks() {
        let mut m = mem::<4>(4096);
        collect(&mut m, 2, 1000).unwrap();
        // 4 chunks of at most 256 bytes cover 1004 aligned bytes.
        assert_eq!(m.reads, 4);
    }

    #[test]
    fn header_region_checks() {
        let mut m = mem::<4>(1024);
        assert_eq!(
            read_header(&mut m, Region::new(0, 143)),
            Err(ImageError::Truncated)
        );
        assert_eq!(
            read_header(&mut m, Region::new(0, 0)),
            Err(ImageError::Truncated)
        );
        assert_eq!(
            read_header(&mut m, Region::new(1000, 144)),
            Err(ImageError::Flash)
        );
        assert_eq!(
            read_header(&mut m, Region::new(u32::MAX, 144)),
            Err(ImageError::Flash)
        );
        let mut blank = Mem::<4> {
            bytes: std::vec![0xFF; 1024],
            reads: 0,
        };
        assert_eq!(
            read_header(&mut blank, Region::new(0, 1024)),
            Err(ImageError::Blank)
        );
        assert_eq!(
            read_header(&mut blank, Region::new(3, 500)),
            Err(ImageError::Blank)
        );
        blank.bytes[143] = 0xFE;
        assert_eq!(
            read_header(&mut blank, Region::new(0, 1024)),
            Err(ImageError::BadMagic)
        );
        // A part that erases to zero.
        let mut zero = Mem::<4> {
            bytes: std::vec![0; 1024],
            reads: 0,
        };
        assert_eq!(
            read_header(&mut zero, Region::new(0, 1024)),
            Err(ImageError::Blank)
        );
        zero.bytes[143] = 1;
        assert_eq!(
            read_header(&mut zero, Region::new(0, 1024)),
            Err(ImageError::BadMagic)
        );
    }

    /// `read_fixed` reads straight into the header where the read size
    /// divides the chunk, the header and the offset: the same one read of
    /// the same bytes as through the chunk buffer, which every other case
    /// still takes.
    #[test]
    fn the_fixed_header_is_one_read_wherever_it_is_aligned() {
        fn fixed<const RS: usize>() {
            let mut m = mem::<RS>(1024);
            for start in [0u32, 1, 2, 4, 8, 16, 32, 64, 144, 256, 300] {
                let through_chunk = collect(&mut m, start, FIXED_LEN as u32);
                m.reads = 0;
                let mut raw = [0u8; FIXED_LEN];
                let got = read_fixed(&mut m, Region::new(start, 512), &mut raw);
                match through_chunk {
                    Ok(bytes) => {
                        assert_eq!(got, Ok(()), "RS {RS} start {start}");
                        assert_eq!(&raw[..], &bytes[..], "RS {RS} start {start}");
                    }
                    Err(e) => assert_eq!(got, Err(e), "RS {RS} start {start}"),
                }
                let aligned = RS != 0 && FIXED_LEN % RS == 0 && start as usize % RS == 0;
                if aligned {
                    assert_eq!(m.reads, 1, "RS {RS} start {start}");
                }
            }
        }
        fixed::<0>();
        fixed::<1>();
        fixed::<2>();
        fixed::<4>();
        fixed::<8>();
        fixed::<16>();
        fixed::<32>();
        fixed::<512>();
    }

    /// `payload_matches` hashes the payload with `sha2`'s compression
    /// function, whole blocks straight from each read chunk and a partial
    /// block carried over, then `sha256_pad`: against `sha2::Sha256` for
    /// every payload length up to 300 bytes and a few long ones, at payload
    /// starts of every kind. A start that the read size does not divide
    /// makes the first read chunk short, so that a partial block crosses
    /// every chunk boundary after it. The payload's digest matches; one
    /// flipped bit of its first or last byte, or of the expected digest, is
    /// a mismatch; the bytes around it do not count.
    #[test]
    fn payload_digest_is_sha256_at_every_length_and_start() {
        use crate::sim::flash::SimFlash;
        use sha2::{Digest, Sha256};

        const CAPACITY: usize = 20 * 4096;
        fn noise(len: usize, seed: u32) -> std::vec::Vec<u8> {
            let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x >> 24) as u8
                })
                .collect()
        }
        fn check<const RS: usize>(lens: &[usize]) {
            let mut flash = SimFlash::<RS, 8, 4096>::new(CAPACITY);
            flash.set_contents(0, &noise(CAPACITY, 1));
            // (region offset, header length): payload starts 0, 144, 257,
            // 4099 and 4608.
            for (offset, header_len) in [(0u32, 0u32), (0, 144), (1, 256), (4096, 3), (4096, 512)] {
                let region = Region::new(offset, CAPACITY as u32 - offset);
                let start = (offset + header_len) as usize;
                for &len in lens {
                    let payload = noise(len, len as u32 + start as u32);
                    flash.set_contents(start, &payload);
                    let mut raw = ImageHeader {
                        payload_digest: Sha256::digest(&payload).into(),
                        header_len,
                        payload_len: len as u32,
                        ..ImageHeader::default()
                    }
                    .encode();
                    let at = format!("read size {RS}, start {start}, length {len}");
                    assert_eq!(payload_matches(&mut flash, region, &raw), Ok(()), "{at}");
                    let ends = if len == 0 {
                        std::vec![]
                    } else {
                        std::vec![start, start + len - 1]
                    };
                    for byte in ends {
                        flash.flip_bit(byte, 3);
                        assert_eq!(
                            payload_matches(&mut flash, region, &raw),
                            Err(ImageError::DigestMismatch),
                            "{at}, bit flipped at {byte}"
                        );
                        flash.flip_bit(byte, 3);
                    }
                    // The bytes just outside the payload are not hashed.
                    for byte in [start.wrapping_sub(1), start + len] {
                        if byte < CAPACITY {
                            flash.flip_bit(byte, 0);
                            assert_eq!(payload_matches(&mut flash, region, &raw), Ok(()), "{at}");
                            flash.flip_bit(byte, 0);
                        }
                    }
                    raw[DIGEST_AT + 31] ^= 1;
                    assert_eq!(
                        payload_matches(&mut flash, region, &raw),
                        Err(ImageError::DigestMismatch),
                        "{at}, digest flipped"
                    );
                }
            }
        }
        let lens: std::vec::Vec<usize> = (0..=300).chain([1000, 4096 + 13, 65_537]).collect();
        check::<1>(&lens);
        check::<4>(&lens);
        check::<8>(&lens);
        check::<32>(&lens);
    }

    #[test]
    fn key_selection() {
        let keys = [TrustedKey::new([1u8; 32]), TrustedKey::new([2u8; 32])];
        let t = TrustedKeys::new(&keys);
        assert_eq!(
            t.with_id(key_id_of(&[2u8; 32]))
                .collect::<std::vec::Vec<_>>(),
            [&[2u8; 32]]
        );
        assert_eq!(t.with_id([0; 8]).count(), 0);
        let h = ImageHeader {
            key_id: [0; 8],
            ..ImageHeader::default()
        };
        assert_eq!(t.verify(&h), Err(ImageError::UnknownKey));
        let h = ImageHeader {
            key_id: key_id_of(&[1u8; 32]),
            ..ImageHeader::default()
        };
        // Not a valid point / signature: refused, not a panic.
        assert_eq!(t.verify(&h), Err(ImageError::BadSignature));
        assert_eq!(
            TrustedKeys::new(&[]).verify(&h),
            Err(ImageError::UnknownKey)
        );
    }

    #[test]
    fn a_key_made_at_build_time_is_the_key_made_at_run_time() {
        let key = [7u8; 32];
        let built = TrustedKey::with_id(key, key_id_of(&key));
        assert_eq!(built, TrustedKey::new(key));
        assert_eq!((built.key(), built.id()), (&key, key_id_of(&key)));
    }

    /// A build-time id that is not its key's (a key pasted without its
    /// id) must not make the key's images boot through another path: the
    /// key is never tried, and its images are refused as signed by an
    /// unknown key, even though the signature is good.
    #[test]
    #[cfg(feature = "std")]
    fn a_wrong_build_time_id_refuses_the_keys_images() {
        use crate::image::sign::{keypair_from_seed, sign_image};
        let pair = keypair_from_seed([9; 32]).expect("a seed makes a key");
        let template = ImageHeader {
            hardware_id: 0x42,
            load_address: 0x1000 + 256,
            ..ImageHeader::default()
        };
        let image = sign_image(&template, b"payload", &pair, 256).expect("signs");
        let mut flash = Mem::<4> {
            bytes: image,
            reads: 0,
        };
        flash.bytes.resize(4096, 0xFF);
        let region = Region::new(0, 4096);
        let profile = BoardProfile::copied_to(0x42, [0x1000 + 256, 0x1000 + 256]);
        let right = [TrustedKey::new(*pair.pk)];
        let verdict = |keys: &[TrustedKey], flash: &mut Mem<4>| {
            verify_image(flash, region, Slot::A, &TrustedKeys::new(keys), &profile).map(|_| ())
        };
        assert_eq!(verdict(&right, &mut flash), Ok(()));
        let mut id = key_id_of(&pair.pk);
        id[0] ^= 1;
        let wrong = [TrustedKey::with_id(*pair.pk, id)];
        assert_eq!(verdict(&wrong, &mut flash), Err(ImageError::UnknownKey));
        // The wrong id matched by a forged header's key id: the signature
        // is still checked with the key itself, so the image is refused.
        let mut forged = flash.bytes.clone();
        if let Some(at) = forged.get_mut(KEY_ID_AT..KEY_ID_AT + KEY_ID_LEN) {
            at.copy_from_slice(&id);
        }
        let mut forged = Mem::<4> {
            bytes: forged,
            reads: 0,
        };
        assert_eq!(verdict(&wrong, &mut forged), Err(ImageError::BadSignature));
    }
}
