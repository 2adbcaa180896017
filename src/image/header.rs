//! The signed image header: a fixed block at the start of each slot, in
//! front of the payload (the firmware itself, starting with its vector
//! table).
//!
//! # Byte layout (format version 1, little-endian)
//!
//! A slot holds, from its first byte:
//!
//! | offset | size | field | meaning |
//! |---:|---:|---|---|
//! | 0x00 | 4 | magic | `41 42 49 4D` (`"ABIM"`) |
//! | 0x04 | 2 | format | header format version, `1` |
//! | 0x06 | 2 | flags | no flag is defined yet: every bit is reserved and must be `0` |
//! | 0x08 | 4 | header_len | bytes from the slot's first byte to the payload's first byte; [`FIXED_LEN`]`..=`[`MAX_HEADER_LEN`], a multiple of 8 |
//! | 0x0C | 4 | payload_len | payload size in bytes, at least 1 |
//! | 0x10 | 8 | version | major u8, minor u8, patch u16, build u32 ([`Version::to_bytes`]) |
//! | 0x18 | 4 | security_counter | anti-rollback counter |
//! | 0x1C | 4 | hardware_id | board/hardware the image was built for |
//! | 0x20 | 4 | load_address | address the payload's first byte is linked to run at (for execute-in-place: the slot's memory-mapped address plus `header_len`) |
//! | 0x24 | 2 | data_epoch | data/config schema epoch the image expects |
//! | 0x26 | 2 | reserved | must be `0` |
//! | 0x28 | 32 | payload_digest | SHA-256 of the `payload_len` payload bytes |
//! | 0x48 | 8 | key_id | first 8 bytes of SHA-256 of the signer's 32-byte Ed25519 public key ([`key_id_of`]) |
//! | 0x50 | 64 | signature | Ed25519 signature (RFC 8032, pure) of bytes `0x00..0x50` |
//! | 0x90 | `header_len - 0x90` | padding | not signed, ignored when read; the signing tool writes `0xFF` |
//! | `header_len` | `payload_len` | payload | the firmware, covered by `payload_digest` |
//!
//! The fixed part is [`FIXED_LEN`] = 144 bytes (a multiple of 8); the signed
//! part is its first [`SIGNED_LEN`] = 80 bytes, every header byte before the
//! signature. Boards pad the header to an alignment their payload needs
//! (for example `header_len = 0x200`, so the vector table that follows stays
//! aligned).
//!
//! ## Why the padding is not signed
//!
//! The padding carries no meaning: `header_len` (signed) fixes where the
//! payload starts and `payload_digest` (signed) fixes the payload, so
//! nothing an attacker writes into the padding is ever read, executed or
//! reported. Leaving it out keeps the signed message a fixed 80 bytes and
//! spares the bootloader from reading up to 64 KiB of padding at every
//! check. The image identity abboot records is the payload digest, which
//! the padding does not change.
//!
//! ## Strictness
//!
//! [`ImageHeader::parse`] refuses anything it does not understand: another
//! magic or format version, a non-zero reserved field or flag bit, a
//! `header_len` out of range or not a multiple of 8, an empty payload. Every
//! accepted fixed header is *canonical*: [`ImageHeader::encode`] of the
//! parsed header gives back exactly the same 144 bytes, so the signature
//! covers the very values the decision code uses.
//!
//! Whether the image fits its slot, is for this board and is signed by a
//! trusted key is checked by [`crate::image::signed`], not here: parsing
//! looks at the bytes alone.

use sha2::{Digest, Sha256};

use crate::image::{ImageError, ImageInfo};
use crate::version::Version;

/// The four bytes every image starts with, `"ABIM"`.
pub const MAGIC: [u8; 4] = *b"ABIM";
/// The header format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Size of the fixed header, signature included, in bytes.
pub const FIXED_LEN: usize = 144;
/// Size of the signed part of the header (every byte before the signature).
pub const SIGNED_LEN: usize = 80;
/// Largest `header_len` accepted: 64 KiB.
pub const MAX_HEADER_LEN: u32 = 64 * 1024;
/// `header_len` must be a multiple of this.
pub const HEADER_ALIGN: u32 = 8;
/// Flag bits that must be 0 (no flag is defined in format version 1).
pub const FLAGS_RESERVED: u16 = 0xFFFF;
/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 8;
/// Offset of `hardware_id` in the header, for a check that reads only that
/// word.
pub const HARDWARE_ID_AT: usize = 0x1C;
/// Offset of `payload_digest` in the header, for a check that takes the
/// digest from the raw bytes rather than through a parsed header.
pub(crate) const DIGEST_AT: usize = 0x28;
const _: () = assert!(DIGEST_AT + 32 <= FIXED_LEN);
/// Length of an Ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Offsets of the fields [`info_of`] and the signed check take from the
/// raw header (see the layout table).
pub(crate) const HEADER_LEN_AT: usize = 0x08;
pub(crate) const PAYLOAD_LEN_AT: usize = 0x0C;
const VERSION_AT: usize = 0x10;
const COUNTER_AT: usize = 0x18;
const LOAD_ADDRESS_AT: usize = 0x20;
const EPOCH_AT: usize = 0x24;
pub(crate) const KEY_ID_AT: usize = 0x48;
const _: () = assert!(KEY_ID_AT + KEY_ID_LEN == SIGNED_LEN);

/// The `N` bytes at `at` in the raw fixed header. Always inlined: over a
/// constant offset the bounds test folds away and the field is a load; the
/// zeros are never returned (every offset above is inside the header, as
/// the unit tests check against [`ImageHeader::parse`]).
#[inline(always)]
pub(crate) fn field<const N: usize>(raw: &[u8; FIXED_LEN], at: usize) -> [u8; N] {
    match raw.get(at..).and_then(|r| r.first_chunk()) {
        Some(b) => *b,
        None => [0; N],
    }
}

/// What [`ImageInfo::from_header`] makes of the parsed header, read
/// straight from the raw bytes of a header [`ImageHeader::parse`] accepts
/// (every accepted header is canonical, so the values are the same).
///
/// Each check builds its result with it once, at its end, in the place it
/// returns it: no parsed header and no [`ImageInfo`] is carried through
/// the signature and payload checks and copied at each step.
#[inline(always)]
pub(crate) fn info_of(raw: &[u8; FIXED_LEN]) -> ImageInfo {
    ImageInfo {
        version: Version::from_bytes(&field(raw, VERSION_AT)),
        digest: field(raw, DIGEST_AT),
        security_counter: u32::from_le_bytes(field(raw, COUNTER_AT)),
        data_epoch: u16::from_le_bytes(field(raw, EPOCH_AT)),
        header_len: u32::from_le_bytes(field(raw, HEADER_LEN_AT)),
        payload_len: u32::from_le_bytes(field(raw, PAYLOAD_LEN_AT)),
        load_address: u32::from_le_bytes(field(raw, LOAD_ADDRESS_AT)),
    }
}

/// `out` becomes the check's result in an
/// [`ImageCheck::check_into`](super::ImageCheck::check_into): `checked`'s
/// error, or for an accepted image `Ok(`[`info_of`]`(raw))`.
///
/// The digest copied once, where the result lies: the whole result
/// built and moved in took it through two temporaries, and the
/// bootloader copied it again out of a returned one (-104 B of the
/// signed nRF52840 bootloader, -48 B of its stack).
#[inline(always)]
pub(crate) fn put_checked(
    raw: &[u8; FIXED_LEN],
    checked: Result<(), ImageError>,
    out: &mut Option<Result<ImageInfo, ImageError>>,
) {
    if let Err(e) = checked {
        *out = Some(Err(e));
        return;
    }
    let info = ImageInfo {
        digest: [0; 32],
        ..info_of(raw)
    };
    if let Ok(i) = out.insert(Ok(info)) {
        i.digest = field(raw, DIGEST_AT);
    }
}

/// The key id of an Ed25519 public key: the first 8 bytes of the SHA-256
/// of its 32 raw bytes.
///
/// The key id only *selects* the key; the signature is what proves the
/// image came from it.
// Never inlined: its SHA-256 state is not on the stack under the signature
// check that follows.
#[inline(never)]
pub fn key_id_of(public_key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest: [u8; 32] = Sha256::digest(public_key).into();
    let [a, b, c, d, e, f, g, h, ..] = digest;
    [a, b, c, d, e, f, g, h]
}

/// The fixed part of an image header, decoded.
///
/// Magic, format version and the reserved field are not stored: they are
/// constants that [`ImageHeader::encode`] writes and [`ImageHeader::parse`]
/// checks. See the [module documentation](self) for the byte layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ImageHeader {
    /// Flag bits; all reserved in format version 1, so always 0.
    pub flags: u16,
    /// Bytes from the slot's first byte to the payload's first byte.
    pub header_len: u32,
    /// Payload size in bytes.
    pub payload_len: u32,
    /// Version of the image.
    pub version: Version,
    /// Anti-rollback security counter.
    pub security_counter: u32,
    /// Hardware the image was built for.
    pub hardware_id: u32,
    /// Address the payload's first byte is linked to run at.
    pub load_address: u32,
    /// Data/config schema epoch the image expects.
    pub data_epoch: u16,
    /// SHA-256 of the payload.
    pub payload_digest: [u8; 32],
    /// Id of the signing key ([`key_id_of`]).
    pub key_id: [u8; KEY_ID_LEN],
    /// Ed25519 signature of the signed part ([`ImageHeader::signed_bytes`]).
    pub signature: [u8; SIGNATURE_LEN],
}

impl Default for ImageHeader {
    /// A header with `header_len` = [`FIXED_LEN`] and every other field 0.
    fn default() -> Self {
        Self {
            flags: 0,
            header_len: FIXED_LEN as u32,
            payload_len: 0,
            version: Version::default(),
            security_counter: 0,
            hardware_id: 0,
            load_address: 0,
            data_epoch: 0,
            payload_digest: [0; 32],
            key_id: [0; KEY_ID_LEN],
            signature: [0; SIGNATURE_LEN],
        }
    }
}

/// Reads fixed-size fields front to back; never panics.
///
/// Its reads are always inlined: over the fixed header's constant length
/// every length check folds away and each field is a load at a constant
/// offset (an outlined `take` kept the checks and copied the 32-byte
/// digest through two temporaries).
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ImageError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(ImageError::Truncated)?;
        self.rest = rest;
        Ok(*head)
    }

    #[inline(always)]
    fn u16(&mut self) -> Result<u16, ImageError> {
        self.take().map(u16::from_le_bytes)
    }

    #[inline(always)]
    fn u32(&mut self) -> Result<u32, ImageError> {
        self.take().map(u32::from_le_bytes)
    }
}

/// Writes fixed-size fields front to back; never panics. Returns `false`
/// from [`Writer::done`] if anything did not fit or space is left over.
struct Writer<'a> {
    rest: &'a mut [u8],
    overflow: bool,
}

impl Writer<'_> {
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        let rest = core::mem::take(&mut self.rest);
        match rest.split_first_chunk_mut::<N>() {
            Some((head, tail)) => {
                *head = bytes;
                self.rest = tail;
            }
            None => self.overflow = true,
        }
    }

    fn done(&self) -> bool {
        !self.overflow && self.rest.is_empty()
    }
}

impl ImageHeader {
    /// Size of the fixed header, signature included ([`FIXED_LEN`]).
    pub const FIXED_LEN: usize = FIXED_LEN;
    /// Size of the signed part ([`SIGNED_LEN`]).
    pub const SIGNED_LEN: usize = SIGNED_LEN;

    /// Decodes and checks the fixed header at the start of `bytes`.
    ///
    /// Bytes after the first [`FIXED_LEN`] are ignored. Never panics.
    ///
    /// # Errors
    ///
    /// In this order: [`ImageError::Truncated`] if `bytes` is shorter than
    /// [`FIXED_LEN`]; [`ImageError::BadMagic`]; [`ImageError::UnsupportedFormat`];
    /// [`ImageError::BadHeaderLength`] if `header_len` is below
    /// [`FIXED_LEN`], above [`MAX_HEADER_LEN`] or not a multiple of
    /// [`HEADER_ALIGN`]; [`ImageError::BadField`] for a reserved flag bit,
    /// a non-zero reserved field or an empty payload.
    ///
    /// The signature is *not* checked here.
    pub fn parse(bytes: &[u8]) -> Result<ImageHeader, ImageError> {
        let fixed = bytes.get(..FIXED_LEN).ok_or(ImageError::Truncated)?;
        let mut r = Reader { rest: fixed };
        if r.take::<4>()? != MAGIC {
            return Err(ImageError::BadMagic);
        }
        if r.u16()? != FORMAT_VERSION {
            return Err(ImageError::UnsupportedFormat);
        }
        let flags = r.u16()?;
        let header_len = r.u32()?;
        let payload_len = r.u32()?;
        let version = Version::from_bytes(&r.take()?);
        let security_counter = r.u32()?;
        let hardware_id = r.u32()?;
        let load_address = r.u32()?;
        let data_epoch = r.u16()?;
        let reserved = r.u16()?;
        let payload_digest = r.take()?;
        let key_id = r.take()?;
        let signature = r.take()?;

        if !header_len_ok(header_len) {
            return Err(ImageError::BadHeaderLength);
        }
        if flags & FLAGS_RESERVED != 0 || reserved != 0 || payload_len == 0 {
            return Err(ImageError::BadField);
        }
        Ok(ImageHeader {
            flags,
            header_len,
            payload_len,
            version,
            security_counter,
            hardware_id,
            load_address,
            data_epoch,
            payload_digest,
            key_id,
            signature,
        })
    }

    /// Encodes the fixed header, signature included, as laid out in the
    /// [module documentation](self).
    ///
    /// Encodes whatever the fields hold; [`ImageHeader::parse`] decides
    /// whether the result is acceptable.
    pub fn encode(&self) -> [u8; FIXED_LEN] {
        // The field sizes add up to FIXED_LEN (a unit test checks the
        // flag), so the writer never runs out of room.
        self.encode_checked().0
    }

    /// [`ImageHeader::encode`], plus the length of the fields before the
    /// signature and whether all the fields filled the buffer exactly.
    fn encode_checked(&self) -> ([u8; FIXED_LEN], Option<usize>, bool) {
        let mut out = [0u8; FIXED_LEN];
        let mut w = Writer {
            rest: &mut out,
            overflow: false,
        };
        w.put(MAGIC);
        w.put(FORMAT_VERSION.to_le_bytes());
        w.put(self.flags.to_le_bytes());
        w.put(self.header_len.to_le_bytes());
        w.put(self.payload_len.to_le_bytes());
        w.put(self.version.to_bytes());
        w.put(self.security_counter.to_le_bytes());
        w.put(self.hardware_id.to_le_bytes());
        w.put(self.load_address.to_le_bytes());
        w.put(self.data_epoch.to_le_bytes());
        w.put(0u16.to_le_bytes());
        w.put(self.payload_digest);
        w.put(self.key_id);
        let signed_len = FIXED_LEN.checked_sub(w.rest.len());
        w.put(self.signature);
        let exact = w.done();
        (out, signed_len, exact)
    }

    /// The bytes the signature covers: the first [`SIGNED_LEN`] bytes of
    /// [`ImageHeader::encode`].
    pub fn signed_bytes(&self) -> [u8; SIGNED_LEN] {
        let fixed = self.encode();
        match fixed.first_chunk::<SIGNED_LEN>() {
            Some(head) => *head,
            // Unreachable: SIGNED_LEN < FIXED_LEN.
            None => [0; SIGNED_LEN],
        }
    }

    /// Offset of the first byte after the payload, from the slot's start:
    /// `header_len + payload_len`, or `None` if that overflows `u32`.
    pub const fn image_len(&self) -> Option<u32> {
        self.header_len.checked_add(self.payload_len)
    }
}

/// The signed part of the raw header at the start of `bytes` (its first
/// [`SIGNED_LEN`] bytes), without decoding anything.
///
/// # Errors
///
/// [`ImageError::Truncated`] if `bytes` is shorter than [`SIGNED_LEN`].
pub fn signed_part(bytes: &[u8]) -> Result<&[u8], ImageError> {
    bytes.get(..SIGNED_LEN).ok_or(ImageError::Truncated)
}

/// Whether `header_len` is in range and aligned.
const fn header_len_ok(header_len: u32) -> bool {
    header_len >= FIXED_LEN as u32 && header_len <= MAX_HEADER_LEN && header_len % HEADER_ALIGN == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageHeader {
        ImageHeader {
            flags: 0,
            header_len: 0x200,
            payload_len: 0x1234,
            version: Version::new(1, 2, 3, 4),
            security_counter: 7,
            hardware_id: 0xB0A4_D001,
            load_address: 0x0801_0200,
            data_epoch: 3,
            payload_digest: [0x11; 32],
            key_id: [0x22; 8],
            signature: [0x33; 64],
        }
    }

    #[test]
    fn layout_offsets() {
        let h = sample();
        let b = h.encode();
        assert_eq!(&b[0x00..0x04], b"ABIM");
        assert_eq!(&b[0x04..0x06], &[1, 0]);
        assert_eq!(&b[0x06..0x08], &[0, 0]);
        assert_eq!(&b[0x08..0x0C], &0x200u32.to_le_bytes());
        assert_eq!(&b[0x0C..0x10], &0x1234u32.to_le_bytes());
        assert_eq!(&b[0x10..0x18], &h.version.to_bytes());
        assert_eq!(&b[0x18..0x1C], &7u32.to_le_bytes());
        assert_eq!(&b[0x1C..0x20], &0xB0A4_D001u32.to_le_bytes());
        assert_eq!(&b[HARDWARE_ID_AT..][..4], &0xB0A4_D001u32.to_le_bytes());
        assert_eq!(&b[0x20..0x24], &0x0801_0200u32.to_le_bytes());
        assert_eq!(&b[0x24..0x26], &3u16.to_le_bytes());
        assert_eq!(&b[0x26..0x28], &[0, 0]);
        assert_eq!(&b[0x28..0x48], &[0x11; 32]);
        assert_eq!(&b[0x48..0x50], &[0x22; 8]);
        assert_eq!(&b[0x50..0x90], &[0x33; 64]);
        assert_eq!(FIXED_LEN % 8, 0);
        assert_eq!(&h.signed_bytes()[..], &b[..SIGNED_LEN]);
        assert_eq!(signed_part(&b).unwrap(), &b[..SIGNED_LEN]);
    }

    /// `info_of` reads each field where `parse` does: the same info, with
    /// every field distinct, as the parsed header gives; and the key id
    /// where it lies.
    #[test]
    fn info_from_the_raw_header_is_the_parsed_one() {
        let mut h = sample();
        h.version = Version::new(0xA1, 0xB2, 0xC3D4, 0xE5F6_0718);
        h.payload_digest = core::array::from_fn(|i| i as u8 + 0x40);
        h.key_id = core::array::from_fn(|i| i as u8 + 0x90);
        let b = h.encode();
        let parsed = ImageHeader::parse(&b).unwrap();
        assert_eq!(
            info_of(&b),
            ImageInfo::from_header(&parsed, parsed.payload_digest)
        );
        assert_eq!(field::<KEY_ID_LEN>(&b, KEY_ID_AT), h.key_id);
        assert_eq!(field::<4>(&b, FIXED_LEN - 3), [0; 4]);
    }

    #[test]
    fn encode_fills_exactly() {
        let (_, signed_len, exact) = sample().encode_checked();
        assert_eq!(signed_len, Some(SIGNED_LEN));
        assert!(exact);
        let mut buf = [0u8; 3];
        let mut w = Writer {
            rest: &mut buf,
            overflow: false,
        };
        w.put([1u8; 2]);
        assert!(!w.done());
        w.put([1u8; 2]);
        assert!(!w.done());
        assert_eq!(buf, [1, 1, 0]);
    }

    #[test]
    fn round_trip() {
        let h = sample();
        assert_eq!(ImageHeader::parse(&h.encode()), Ok(h));
        // Trailing bytes are ignored.
        let mut long = h.encode().to_vec();
        long.extend_from_slice(&[0xAB; 100]);
        assert_eq!(ImageHeader::parse(&long), Ok(h));
    }

    #[test]
    fn refusals() {
        let good = sample().encode();
        let with = |f: &dyn Fn(&mut [u8; FIXED_LEN])| {
            let mut b = good;
            f(&mut b);
            ImageHeader::parse(&b)
        };
        assert_eq!(
            ImageHeader::parse(&good[..FIXED_LEN - 1]),
            Err(ImageError::Truncated)
        );
        assert_eq!(ImageHeader::parse(&[]), Err(ImageError::Truncated));
        assert_eq!(with(&|b| b[0] ^= 1), Err(ImageError::BadMagic));
        assert_eq!(with(&|b| b[4] = 2), Err(ImageError::UnsupportedFormat));
        assert_eq!(with(&|b| b[5] = 1), Err(ImageError::UnsupportedFormat));
        for bit in 0..16 {
            let f = (1u16 << bit).to_le_bytes();
            assert_eq!(
                with(&|b| b[6..8].copy_from_slice(&f)),
                Err(ImageError::BadField)
            );
        }
        let hl = |v: u32| with(&|b| b[8..12].copy_from_slice(&v.to_le_bytes()));
        assert_eq!(hl(0), Err(ImageError::BadHeaderLength));
        assert_eq!(hl(FIXED_LEN as u32 - 8), Err(ImageError::BadHeaderLength));
        assert_eq!(hl(FIXED_LEN as u32 + 4), Err(ImageError::BadHeaderLength));
        assert_eq!(hl(MAX_HEADER_LEN + 8), Err(ImageError::BadHeaderLength));
        assert_eq!(hl(u32::MAX), Err(ImageError::BadHeaderLength));
        assert!(hl(FIXED_LEN as u32).is_ok());
        assert!(hl(MAX_HEADER_LEN).is_ok());
        assert_eq!(
            with(&|b| b[12..16].copy_from_slice(&[0; 4])),
            Err(ImageError::BadField)
        );
        assert_eq!(with(&|b| b[0x26] = 1), Err(ImageError::BadField));
        assert_eq!(with(&|b| b[0x27] = 0x80), Err(ImageError::BadField));
        // Huge payloads parse; whether they fit is the slot's business.
        assert!(with(&|b| b[12..16].copy_from_slice(&[0xFF; 4])).is_ok());
        // A blank header is no header.
        assert_eq!(
            ImageHeader::parse(&[0xFF; FIXED_LEN]),
            Err(ImageError::BadMagic)
        );
        assert_eq!(
            signed_part(&good[..SIGNED_LEN - 1]),
            Err(ImageError::Truncated)
        );
    }

    #[test]
    fn image_len_overflow() {
        let mut h = sample();
        h.payload_len = u32::MAX;
        assert_eq!(h.image_len(), None);
        h.payload_len = 10;
        assert_eq!(h.image_len(), Some(0x20A));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        // SHA-256 of 32 zero bytes starts 66 68 7a ad f8 62 bd 77.
        assert_eq!(
            key_id_of(&[0; 32]),
            [0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77]
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = ImageHeader::parse(&bytes);
            let _ = signed_part(&bytes);
        }

        #[test]
        fn accepted_headers_are_canonical(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), FIXED_LEN..FIXED_LEN + 1),
            hl in 18u32..=8192,
            pl in 1u32..,
        ) {
            // Random fields, with the checked ones forced valid.
            let mut b = bytes;
            b[0..4].copy_from_slice(&MAGIC);
            b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
            b[6..8].copy_from_slice(&[0, 0]);
            b[8..12].copy_from_slice(&(hl * 8).to_le_bytes());
            b[12..16].copy_from_slice(&pl.to_le_bytes());
            b[0x26..0x28].copy_from_slice(&[0, 0]);
            let h = ImageHeader::parse(&b).unwrap();
            proptest::prop_assert_eq!(&h.encode()[..], &b[..]);
        }
    }
}
