//! Signed images against hostile input: every malformed, foreign, forged or
//! damaged image is refused with its specific error, nothing panics, and
//! keys interoperate with the real `openssl` binary.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use abboot::flash::Region;
use abboot::image::header::{
    key_id_of, signed_part, ImageHeader, FIXED_LEN, MAX_HEADER_LEN, SIGNED_LEN,
};
use abboot::image::sign::{
    keypair_from_seed, public_key_from_pem, public_key_to_pem, secret_key_from_pem,
    secret_key_to_pem, sign_image, SignError,
};
use abboot::image::signed::{
    read_header, verify_image, BoardProfile, SignedCheck, TrustedKey, TrustedKeys,
};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::{Slot, Version};
use ed25519_compact::KeyPair;
use embedded_storage::nor_flash::{ErrorType, NorFlashErrorKind, ReadNorFlash};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// A tiny read-only flash over a Vec, strict about alignment.

/// NOR flash over bytes: reads must be `RS`-aligned in offset and length,
/// in bounds, and fail on demand.
struct VecFlash<const RS: usize> {
    bytes: Vec<u8>,
    /// Reads so far.
    reads: usize,
    /// Bytes read so far.
    bytes_read: usize,
    /// Fail every read once this many reads have succeeded.
    fail_after: Option<usize>,
}

impl<const RS: usize> VecFlash<RS> {
    fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            reads: 0,
            bytes_read: 0,
            fail_after: None,
        }
    }
}

impl<const RS: usize> ErrorType for VecFlash<RS> {
    type Error = NorFlashErrorKind;
}

impl<const RS: usize> ReadNorFlash for VecFlash<RS> {
    const READ_SIZE: usize = RS;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Self::Error> {
        if self.fail_after.is_some_and(|n| self.reads >= n) {
            return Err(NorFlashErrorKind::Other);
        }
        let off = offset as usize;
        // Misaligned reads are a bug in the reader: fail loudly.
        assert!(
            off % RS == 0 && out.len() % RS == 0,
            "misaligned read: offset {off} len {} READ_SIZE {RS}",
            out.len()
        );
        let src = self
            .bytes
            .get(off..off + out.len())
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        out.copy_from_slice(src);
        self.reads += 1;
        self.bytes_read += out.len();
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

// ---------------------------------------------------------------------------
// The test board: two 16 KiB slots, memory-mapped at 0x0800_0000, images
// signed with a 0x200-byte header.

const SLOT_LEN: u32 = 0x4000;
const HEADER_LEN: u32 = 0x200;
const MAPPED: u32 = 0x0800_0000;
const HW: u32 = 0xB0A4_0001;
const PAYLOAD_LEN: usize = 3001; // not a power of two, not aligned

fn region(slot: Slot) -> Region {
    Region::new(slot.index() as u32 * SLOT_LEN, SLOT_LEN)
}

fn load_address(slot: Slot) -> u32 {
    MAPPED + region(slot).offset + HEADER_LEN
}

fn profile() -> BoardProfile {
    BoardProfile {
        header_len: None,
        hardware_id: HW,
        load_address: [load_address(Slot::A), load_address(Slot::B)],
    }
}

fn key(n: u8) -> KeyPair {
    keypair_from_seed([n; 32]).unwrap()
}

fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

fn template(slot: Slot) -> ImageHeader {
    ImageHeader {
        version: Version::new(1, 4, 2, 77),
        security_counter: 9,
        hardware_id: HW,
        load_address: load_address(slot),
        data_epoch: 3,
        ..ImageHeader::default()
    }
}

fn signed(slot: Slot, key: &KeyPair) -> Vec<u8> {
    sign_image(&template(slot), &payload(PAYLOAD_LEN, 0), key, HEADER_LEN).unwrap()
}

/// A flash with both slots blank and `image` written at the start of `slot`.
fn flash_with<const RS: usize>(slot: Slot, image: &[u8]) -> VecFlash<RS> {
    let mut bytes = vec![0xFF; 2 * SLOT_LEN as usize];
    let at = region(slot).offset as usize;
    let n = image.len().min(SLOT_LEN as usize);
    bytes[at..at + n].copy_from_slice(&image[..n]);
    VecFlash::new(bytes)
}

fn verify_with<const RS: usize>(
    flash: &mut VecFlash<RS>,
    slot: Slot,
    keys: &[TrustedKey],
) -> Result<(ImageHeader, ImageInfo), ImageError> {
    verify_image(
        flash,
        region(slot),
        slot,
        &TrustedKeys::new(keys),
        &profile(),
    )
}

fn trusted() -> [TrustedKey; 1] {
    [TrustedKey::new(*key(1).pk)]
}

/// Verifies `image` written into slot A and trusted key 1.
fn verify_a(image: &[u8]) -> Result<(ImageHeader, ImageInfo), ImageError> {
    let mut flash = flash_with::<4>(Slot::A, image);
    verify_with(&mut flash, Slot::A, &trusted())
}

/// A correctly signed image, with `f` applied to its fixed header and the
/// signature left alone.
fn tampered(f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut img = signed(Slot::A, &key(1));
    f(&mut img[..FIXED_LEN]);
    img
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------
// Good images.

#[test]
fn good_image_verifies_with_right_info() {
    for slot in Slot::ALL {
        let kp = key(1);
        let img = signed(slot, &kp);
        let mut flash = flash_with::<4>(slot, &img);
        let (header, info) = verify_with(&mut flash, slot, &trusted()).unwrap();
        let digest: [u8; 32] = Sha256::digest(payload(PAYLOAD_LEN, 0)).into();
        assert_eq!(
            info,
            ImageInfo {
                version: Version::new(1, 4, 2, 77),
                digest,
                security_counter: 9,
                data_epoch: 3,
                header_len: HEADER_LEN,
                payload_len: PAYLOAD_LEN as u32,
                load_address: header.load_address,
            }
        );
        assert_eq!(header.payload_len, PAYLOAD_LEN as u32);
        assert_eq!(header.header_len, HEADER_LEN);
        assert_eq!(header.key_id, key_id_of(&kp.pk));
        assert_eq!(read_header(&mut flash, region(slot)), Ok(header));

        // The same through the ImageCheck trait.
        let keys = trusted();
        let mut check = SignedCheck::new(TrustedKeys::new(&keys), profile());
        assert_eq!(check.check(&mut flash, slot, region(slot)), Ok(info));
    }
}

#[test]
fn verifies_with_every_read_size_and_unaligned_regions() {
    fn run<const RS: usize>(shift: usize) {
        let img = signed(Slot::A, &key(1));
        let mut bytes = vec![0xFF; shift];
        bytes.extend_from_slice(&img);
        bytes.resize(shift + SLOT_LEN as usize + 512, 0xFF);
        let mut flash = VecFlash::<RS>::new(bytes);
        let r = Region::new(shift as u32, SLOT_LEN);
        let got = verify_image(
            &mut flash,
            r,
            Slot::A,
            &TrustedKeys::new(&trusted()),
            &profile(),
        );
        assert!(got.is_ok(), "RS {RS} shift {shift}: {got:?}");
        // Reads are bounded: header once, payload in 256-byte chunks.
        assert!(
            flash.reads <= 1 + 2 + PAYLOAD_LEN / 256 + 1,
            "RS {RS}: {} reads",
            flash.reads
        );
    }
    for shift in [0, 1, 2, 3, 4, 7, 8, 100, 255, 256, 300] {
        run::<1>(shift);
        run::<2>(shift);
        run::<4>(shift);
        run::<8>(shift);
        run::<16>(shift);
        run::<64>(shift);
        run::<128>(shift);
        run::<256>(shift);
    }
}

#[test]
fn image_filling_the_slot_exactly_verifies() {
    let data = payload((SLOT_LEN - HEADER_LEN) as usize, 5);
    let img = sign_image(&template(Slot::B), &data, &key(1), HEADER_LEN).unwrap();
    assert_eq!(img.len(), SLOT_LEN as usize);
    let mut flash = flash_with::<4>(Slot::B, &img);
    assert!(verify_with(&mut flash, Slot::B, &trusted()).is_ok());
}

#[test]
fn smallest_header_and_payload_verify() {
    let img = sign_image(
        &ImageHeader {
            load_address: MAPPED + FIXED_LEN as u32,
            ..template(Slot::A)
        },
        &[0x42],
        &key(1),
        FIXED_LEN as u32,
    )
    .unwrap();
    assert_eq!(img.len(), FIXED_LEN + 1);
    let mut flash = flash_with::<4>(Slot::A, &img);
    let p = BoardProfile {
        header_len: None,
        load_address: [MAPPED + FIXED_LEN as u32, 0],
        ..profile()
    };
    let got = verify_image(
        &mut flash,
        region(Slot::A),
        Slot::A,
        &TrustedKeys::new(&trusted()),
        &p,
    );
    assert_eq!(
        got.unwrap().1.digest,
        <[u8; 32]>::from(Sha256::digest([0x42]))
    );
}

#[test]
fn several_trusted_keys_pick_the_right_one() {
    let keys = [1, 2, 3].map(|k| TrustedKey::new(*key(k).pk));
    for signer in [2u8, 3, 1] {
        let mut flash = flash_with::<4>(Slot::A, &signed(Slot::A, &key(signer)));
        let (h, _) = verify_with(&mut flash, Slot::A, &keys).unwrap();
        assert_eq!(h.key_id, key_id_of(&key(signer).pk));
    }
    // Retired key: the image signed with it is refused.
    let mut flash = flash_with::<4>(Slot::A, &signed(Slot::A, &key(2)));
    assert_eq!(
        verify_with(
            &mut flash,
            Slot::A,
            &[1, 3].map(|k| TrustedKey::new(*key(k).pk))
        )
        .map(|_| ()),
        Err(ImageError::UnknownKey)
    );
    assert_eq!(
        verify_with(&mut flash, Slot::A, &[]).map(|_| ()),
        Err(ImageError::UnknownKey)
    );
}

#[test]
fn padding_and_bytes_after_the_payload_are_not_part_of_the_image() {
    let mut img = signed(Slot::A, &key(1));
    for b in &mut img[FIXED_LEN..HEADER_LEN as usize] {
        *b = 0x5A;
    }
    img.extend_from_slice(&[0x00; 100]);
    assert!(verify_a(&img).is_ok());
}

// ---------------------------------------------------------------------------
// Hostile headers, one specific refusal each.

fn refused(img: &[u8]) -> ImageError {
    verify_a(img).map(|_| ()).unwrap_err()
}

#[test]
fn wrong_magic() {
    assert_eq!(
        refused(&tampered(|h| h[0..4].copy_from_slice(b"MCUB"))),
        ImageError::BadMagic
    );
    assert_eq!(refused(&tampered(|h| h[3] = 0xFF)), ImageError::BadMagic);
    assert_eq!(
        refused(&tampered(|h| h[0..4].fill(0))),
        ImageError::BadMagic
    );
}

#[test]
fn unsupported_format() {
    assert_eq!(
        refused(&tampered(|h| h[4] = 2)),
        ImageError::UnsupportedFormat
    );
    assert_eq!(
        refused(&tampered(|h| h[4..6].fill(0xFF))),
        ImageError::UnsupportedFormat
    );
    assert_eq!(
        refused(&tampered(|h| h[4..6].fill(0))),
        ImageError::UnsupportedFormat
    );
}

#[test]
fn header_len_out_of_range() {
    for bad in [
        0,
        8,
        FIXED_LEN as u32 - 8,
        FIXED_LEN as u32 - 1,
        0x201,
        0x204,
        MAX_HEADER_LEN + 8,
        u32::MAX,
    ] {
        assert_eq!(
            refused(&tampered(|h| set_u32(h, 8, bad))),
            ImageError::BadHeaderLength,
            "header_len {bad:#x}"
        );
    }
    // In range but past the slot's end.
    assert_eq!(
        refused(&tampered(|h| set_u32(h, 8, MAX_HEADER_LEN))),
        ImageError::TooLarge
    );
    assert_eq!(
        refused(&tampered(|h| set_u32(h, 8, SLOT_LEN))),
        ImageError::TooLarge
    );
    // In range and fitting, but not what was signed.
    assert_eq!(
        refused(&tampered(|h| set_u32(h, 8, 0x400))),
        ImageError::BadSignature
    );
}

#[test]
fn payload_len_huge_or_overflowing() {
    for bad in [
        u32::MAX,
        u32::MAX - HEADER_LEN + 1, // header_len + payload_len wraps to 0
        u32::MAX - HEADER_LEN + 2, // wraps to 1
        0x8000_0000,
        SLOT_LEN - HEADER_LEN + 1, // one byte past the slot
        SLOT_LEN,
    ] {
        assert_eq!(
            refused(&tampered(|h| set_u32(h, 12, bad))),
            ImageError::TooLarge,
            "payload_len {bad:#x}"
        );
    }
    assert_eq!(
        refused(&tampered(|h| set_u32(h, 12, 0))),
        ImageError::BadField
    );
    // Fits, but not what was signed: refused before a byte is hashed.
    assert_eq!(
        refused(&tampered(|h| set_u32(h, 12, SLOT_LEN - HEADER_LEN))),
        ImageError::BadSignature
    );
}

/// The integrity-only check refuses an image one byte larger than its slot
/// as too large, at the header, before hashing into the next slot; and the
/// same image in a slot one byte longer passes.
#[test]
fn digest_check_refuses_an_image_larger_than_its_slot() {
    use abboot::image::digest::DigestCheck;
    let data = payload((SLOT_LEN - HEADER_LEN) as usize + 1, 1);
    let img = sign_image(&template(Slot::A), &data, &key(1), HEADER_LEN).unwrap();
    let mut bytes = img.clone();
    bytes.resize(2 * SLOT_LEN as usize, 0xFF);
    let header = &img[..HEADER_LEN as usize];
    let mut flash = VecFlash::<4>::new(bytes);
    let mut check = DigestCheck;
    let (a, longer) = (region(Slot::A), Region::new(0, SLOT_LEN + 1));
    assert_eq!(
        check.check(&mut flash, Slot::A, a),
        Err(ImageError::TooLarge)
    );
    assert_eq!(
        ImageCheck::<VecFlash<4>>::precheck(&mut check, Slot::A, a, header),
        Err(ImageError::TooLarge)
    );
    assert!(check.check(&mut flash, Slot::A, longer).is_ok());
    assert!(
        ImageCheck::<VecFlash<4>>::precheck(&mut check, Slot::A, longer, header)
            .unwrap()
            .is_some()
    );
}

#[test]
fn image_larger_than_its_slot() {
    let data = payload((SLOT_LEN - HEADER_LEN) as usize + 1, 1);
    let img = sign_image(&template(Slot::A), &data, &key(1), HEADER_LEN).unwrap();
    // flash_with cuts it at the slot's end; the header still claims it all.
    assert_eq!(refused(&img), ImageError::TooLarge);
    // The same image in a slot of the right size would verify.
    let mut bytes = img.clone();
    bytes.resize(2 * SLOT_LEN as usize, 0xFF);
    let mut flash = VecFlash::<4>::new(bytes);
    let r = Region::new(0, SLOT_LEN + 1);
    assert!(verify_image(
        &mut flash,
        r,
        Slot::A,
        &TrustedKeys::new(&trusted()),
        &profile()
    )
    .is_ok());
}

#[test]
fn reserved_flag_bits_and_reserved_field() {
    for bit in 0..16 {
        let f = 1u16 << bit;
        assert_eq!(
            refused(&tampered(|h| h[6..8].copy_from_slice(&f.to_le_bytes()))),
            ImageError::BadField,
            "flag bit {bit}"
        );
    }
    assert_eq!(refused(&tampered(|h| h[0x26] = 1)), ImageError::BadField);
    assert_eq!(refused(&tampered(|h| h[0x27] = 0x80)), ImageError::BadField);
    // The signer refuses reserved flags too.
    let flagged = ImageHeader {
        flags: 0x8000,
        ..template(Slot::A)
    };
    assert_eq!(
        sign_image(&flagged, b"fw", &key(1), HEADER_LEN),
        Err(SignError::Header(ImageError::BadField))
    );
}

#[test]
fn unknown_key_id() {
    // Properly signed, by a key the board does not trust.
    assert_eq!(refused(&signed(Slot::A, &key(66))), ImageError::UnknownKey);
    // The trusted key's id replaced by another.
    let other = key_id_of(&key(2).pk);
    assert_eq!(
        refused(&tampered(|h| h[0x48..0x50].copy_from_slice(&other))),
        ImageError::UnknownKey
    );
}

#[test]
fn forged_key_id_with_untrusted_signature() {
    // An attacker signs with their own key and writes the trusted key's id.
    let mut img = signed(Slot::A, &key(66));
    img[0x48..0x50].copy_from_slice(&key_id_of(&key(1).pk));
    // Re-sign the changed signed part with the attacker's key.
    let sig = key(66).sk.sign(&img[..SIGNED_LEN], None);
    img[0x50..0x90].copy_from_slice(&sig[..]);
    assert_eq!(refused(&img), ImageError::BadSignature);
}

#[test]
fn other_hardware_and_other_slot() {
    let foreign = ImageHeader {
        hardware_id: HW + 1,
        ..template(Slot::A)
    };
    let img = sign_image(&foreign, &payload(100, 0), &key(1), HEADER_LEN).unwrap();
    assert_eq!(refused(&img), ImageError::WrongHardware);

    // Linked for slot B, written into slot A (and the other way round).
    assert_eq!(
        refused(&signed(Slot::B, &key(1))),
        ImageError::WrongLoadAddress
    );
    let mut flash = flash_with::<4>(Slot::B, &signed(Slot::A, &key(1)));
    assert_eq!(
        verify_with(&mut flash, Slot::B, &trusted()).map(|_| ()),
        Err(ImageError::WrongLoadAddress)
    );
}

#[test]
fn truncated_header_and_blank_slot() {
    let img = signed(Slot::A, &key(1));
    let mut flash = flash_with::<4>(Slot::A, &img);
    let keys = trusted();
    let keys = TrustedKeys::new(&keys);
    for len in [0, 1, 4, 80, FIXED_LEN as u32 - 1] {
        assert_eq!(
            verify_image(&mut flash, Region::new(0, len), Slot::A, &keys, &profile()).map(|_| ()),
            Err(ImageError::Truncated),
            "slot of {len} bytes"
        );
    }
    // The whole fixed header fits, the padded header does not.
    assert_eq!(
        verify_image(
            &mut flash,
            Region::new(0, FIXED_LEN as u32),
            Slot::A,
            &keys,
            &profile()
        )
        .map(|_| ()),
        Err(ImageError::TooLarge)
    );
    // A header cut in the middle by an interrupted write.
    let mut torn = img.clone();
    torn[100..].fill(0xFF);
    assert_eq!(refused(&torn), ImageError::BadSignature);
    let mut torn = img.clone();
    torn[10..].fill(0xFF);
    assert_eq!(refused(&torn), ImageError::BadHeaderLength);

    // Blank slot, and a blank slot at an unaligned offset.
    assert_eq!(refused(&[]), ImageError::Blank);
    let mut blank = VecFlash::<4>::new(vec![0xFF; 2 * SLOT_LEN as usize]);
    assert_eq!(
        verify_image(&mut blank, Region::new(3, 1000), Slot::A, &keys, &profile()).map(|_| ()),
        Err(ImageError::Blank)
    );
    // A slot on a part that erases to 0x00 is blank too, and one word
    // programmed in it makes it not an image.
    assert_eq!(refused(&[0; FIXED_LEN]), ImageError::Blank);
    let mut one = [0; FIXED_LEN];
    one[FIXED_LEN - 1] = 1;
    assert_eq!(refused(&one), ImageError::BadMagic);
}

#[test]
fn flash_problems_are_flash_errors() {
    let img = signed(Slot::A, &key(1));
    let keys = trusted();
    let keys = TrustedKeys::new(&keys);
    // Region outside the device, or overflowing u32.
    let mut flash = flash_with::<4>(Slot::A, &img);
    for r in [
        Region::new(SLOT_LEN, 2 * SLOT_LEN),
        Region::new(u32::MAX - 10, 100),
    ] {
        assert_eq!(
            verify_image(&mut flash, r, Slot::A, &keys, &profile()).map(|_| ()),
            Err(ImageError::Flash)
        );
    }
    // Reads failing: at the header, in the middle of the payload.
    for n in [0, 1, 5] {
        let mut flash = flash_with::<4>(Slot::A, &img);
        flash.fail_after = Some(n);
        assert_eq!(
            verify_with(&mut flash, Slot::A, &trusted()).map(|_| ()),
            Err(ImageError::Flash)
        );
    }
    // A READ_SIZE the 256-byte buffer cannot honour.
    let mut odd = flash_with::<3>(Slot::A, &img);
    assert_eq!(
        verify_with(&mut odd, Slot::A, &trusted()).map(|_| ()),
        Err(ImageError::Flash)
    );
    assert_eq!(odd.reads, 0);
    let mut big = flash_with::<512>(Slot::A, &img);
    assert_eq!(
        verify_with(&mut big, Slot::A, &trusted()).map(|_| ()),
        Err(ImageError::Flash)
    );
}

/// The refusal expected for a flipped bit at byte `at` of a signed slot-A
/// image, or `Ok` for the unsigned padding.
fn expected_for_flip(at: usize, hl_after: u32, pl_after: u32) -> Vec<Result<(), ImageError>> {
    use ImageError::*;
    let one = |e| vec![Err(e)];
    match at {
        0x00..=0x03 => one(BadMagic),
        0x04..=0x05 => one(UnsupportedFormat),
        0x06..=0x07 => one(BadField),
        0x08..=0x0B => {
            if hl_after < FIXED_LEN as u32 || hl_after > MAX_HEADER_LEN || hl_after % 8 != 0 {
                one(BadHeaderLength)
            } else if hl_after as u64 + PAYLOAD_LEN as u64 > SLOT_LEN as u64 {
                one(TooLarge)
            } else {
                one(BadSignature)
            }
        }
        0x0C..=0x0F => {
            if HEADER_LEN as u64 + pl_after as u64 > SLOT_LEN as u64 {
                one(TooLarge)
            } else {
                one(BadSignature)
            }
        }
        0x10..=0x1B => one(BadSignature), // version, security counter
        0x1C..=0x1F => one(WrongHardware),
        0x20..=0x23 => one(WrongLoadAddress),
        0x24..=0x25 => one(BadSignature), // data epoch
        0x26..=0x27 => one(BadField),     // reserved
        0x28..=0x47 => one(BadSignature), // payload digest: refused before hashing
        0x48..=0x4F => one(UnknownKey),
        0x50..=0x8F => one(BadSignature),
        _ if at < HEADER_LEN as usize => vec![Ok(())], // padding
        _ if at < HEADER_LEN as usize + PAYLOAD_LEN => one(DigestMismatch),
        _ => vec![Ok(())], // after the image
    }
}

#[test]
fn every_flipped_header_bit_is_refused_specifically() {
    let img = signed(Slot::A, &key(1));
    let good = verify_a(&img).unwrap();
    for at in 0..FIXED_LEN {
        for bit in 0..8 {
            let mut bad = img.clone();
            bad[at] ^= 1 << bit;
            let hl = u32::from_le_bytes(bad[8..12].try_into().unwrap());
            let pl = u32::from_le_bytes(bad[12..16].try_into().unwrap());
            let mut flash = flash_with::<4>(Slot::A, &bad);
            let got = verify_with(&mut flash, Slot::A, &trusted()).map(|_| ());
            assert!(
                expected_for_flip(at, hl, pl).contains(&got),
                "byte {at:#x} bit {bit}: {got:?}"
            );
            // Nothing in the header is accepted changed, and a header
            // refusal never hashes the payload.
            assert!(got.is_err());
            assert!(
                flash.bytes_read <= FIXED_LEN + 8,
                "byte {at:#x}: read {} bytes",
                flash.bytes_read
            );
        }
    }
    assert_eq!(verify_a(&img).unwrap(), good);
}

/// `check_into` writes exactly what `check` returns, for the signed and
/// the digest check and for a check that implements `check` alone (the
/// trait's provided `check_into`), over whatever the place held before
/// (nothing, or another image's result): the good image, every seventh
/// header byte flipped and a flipped payload byte, in both slots.
#[test]
fn check_into_writes_what_check_returns() {
    use abboot::image::digest::DigestCheck;
    /// A user's check with only `check`: the bootloader calls the
    /// provided `check_into`.
    struct OnlyCheck;
    impl<F: ReadNorFlash> ImageCheck<F> for OnlyCheck {
        fn check(
            &mut self,
            flash: &mut F,
            slot: Slot,
            region: Region,
        ) -> Result<ImageInfo, ImageError> {
            DigestCheck.check(flash, slot, region)
        }
    }
    let keys = trusted();
    let mut signed_check = SignedCheck::new(TrustedKeys::new(&keys), profile());
    let other = ImageInfo {
        version: Version::new(9, 9, 9, 9),
        digest: [0xA5; 32],
        security_counter: 99,
        data_epoch: 99,
        header_len: 1,
        payload_len: 2,
        load_address: 3,
    };
    for slot in Slot::ALL {
        let img = signed(slot, &key(1));
        let mut images = vec![img.clone()];
        for at in (0..FIXED_LEN).step_by(7).chain([HEADER_LEN as usize + 5]) {
            let mut bad = img.clone();
            bad[at] ^= 0x10;
            images.push(bad);
        }
        let mut accepted = [0, 0, 0];
        for image in &images {
            let mut flash = flash_with::<4>(slot, image);
            let checks: [&mut dyn ImageCheck<VecFlash<4>>; 3] =
                [&mut signed_check, &mut DigestCheck, &mut OnlyCheck];
            for (n, check) in checks.into_iter().enumerate() {
                let want = check.check(&mut flash, slot, region(slot));
                accepted[n] += usize::from(want.is_ok());
                for before in [None, Some(Ok(other)), Some(Err(ImageError::Flash))] {
                    let mut out = before;
                    check.check_into(&mut flash, slot, region(slot), &mut out);
                    assert_eq!(out, Some(want), "check {n}, before {before:?}");
                }
            }
        }
        // The good image passes both; the digest check also passes flips
        // of bytes it does not read (the signature, the key id).
        assert_eq!(accepted[0], 1);
        assert!(accepted[1] > 1 && accepted[1] < images.len());
        assert_eq!(accepted[2], accepted[1]);
    }
}

#[test]
fn flipped_payload_bits_are_digest_mismatches() {
    let img = signed(Slot::A, &key(1));
    let start = HEADER_LEN as usize;
    for at in [
        start,
        start + 1,
        start + 255,
        start + 256,
        start + PAYLOAD_LEN / 2,
        start + PAYLOAD_LEN - 1,
    ] {
        for bit in [0, 3, 7] {
            let mut bad = img.clone();
            bad[at] ^= 1 << bit;
            assert_eq!(
                refused(&bad),
                ImageError::DigestMismatch,
                "byte {at:#x} bit {bit}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Property tests: never panic, never accept a changed signed part.

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_slot_contents_never_verify(bytes in arb_bytes(700), rs_pick in 0usize..3) {
        let keys = trusted();
        let keys = TrustedKeys::new(&keys);
        let _ = ImageHeader::parse(&bytes);
        let _ = signed_part(&bytes);
        let r = Region::new(0, SLOT_LEN);
        let got = match rs_pick {
            0 => verify_image(&mut flash_with::<1>(Slot::A, &bytes), r, Slot::A, &keys, &profile()),
            1 => verify_image(&mut flash_with::<4>(Slot::A, &bytes), r, Slot::A, &keys, &profile()),
            _ => verify_image(&mut flash_with::<64>(Slot::A, &bytes), r, Slot::A, &keys, &profile()),
        };
        prop_assert!(got.is_err());
    }

    #[test]
    fn random_header_with_valid_magic_never_verifies(mut bytes in proptest::collection::vec(any::<u8>(), FIXED_LEN..FIXED_LEN + 64),
                                                     hl in prop_oneof![Just(HEADER_LEN), any::<u32>(), 0u32..0x1_0100],
                                                     pl in prop_oneof![Just(PAYLOAD_LEN as u32), any::<u32>(), 0u32..0x4000]) {
        bytes[0..4].copy_from_slice(b"ABIM");
        bytes[4..6].copy_from_slice(&1u16.to_le_bytes());
        if hl % 3 != 0 { bytes[6..8].fill(0); bytes[0x26..0x28].fill(0); }
        set_u32(&mut bytes, 8, hl);
        set_u32(&mut bytes, 12, pl);
        if pl % 2 == 0 { set_u32(&mut bytes, 0x1C, HW); set_u32(&mut bytes, 0x20, load_address(Slot::A)); }
        if pl % 4 == 0 { let id = key_id_of(&key(1).pk); bytes[0x48..0x50].copy_from_slice(&id); }
        let _ = ImageHeader::parse(&bytes);
        prop_assert!(verify_a(&bytes).is_err());
    }

    #[test]
    fn mutated_images_are_refused_unless_only_unsigned_bytes_changed(
        muts in proptest::collection::vec((0usize..HEADER_LEN as usize + PAYLOAD_LEN + 16, 1u8..=255), 1..4),
    ) {
        let img = signed(Slot::A, &key(1));
        let mut bad = img.clone();
        bad.resize(img.len() + 16, 0xFF);
        for &(at, mask) in &muts {
            bad[at] ^= mask;
        }
        let changed = |lo: usize, hi: usize| bad[lo..hi] != {
            let mut orig = img.clone();
            orig.resize(img.len() + 16, 0xFF);
            orig
        }[lo..hi];
        let got = verify_a(&bad);
        let header_changed = changed(0, FIXED_LEN);
        let payload_changed = changed(HEADER_LEN as usize, HEADER_LEN as usize + PAYLOAD_LEN);
        if header_changed {
            prop_assert!(got.is_err(), "changed header accepted: {:?}", muts);
        } else if payload_changed {
            prop_assert_eq!(got.map(|_| ()), Err(ImageError::DigestMismatch));
        } else {
            prop_assert!(got.is_ok());
        }
    }

    #[test]
    fn mutated_signed_part_never_verifies_even_resigned_by_others(
        at in 0usize..SIGNED_LEN, mask in 1u8..=255, signer in 2u8..6,
    ) {
        // Change the signed part and sign it with an untrusted key while
        // keeping the trusted key's id.
        let mut bad = signed(Slot::A, &key(1));
        bad[at] ^= mask;
        let sig = key(signer).sk.sign(&bad[..SIGNED_LEN], None);
        bad[0x50..0x90].copy_from_slice(&sig[..]);
        prop_assert!(verify_a(&bad).is_err());
    }
}

// ---------------------------------------------------------------------------
// Interop with the `openssl` binary.

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A fresh, unique temporary path.
fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "abboot-image-hostile-{}-{n}-{name}",
        std::process::id()
    ))
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl")
}

struct TempFiles(Vec<PathBuf>);

impl TempFiles {
    fn path(&mut self, name: &str) -> String {
        let p = temp_path(name);
        self.0.push(p.clone());
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn openssl_keys_sign_images_and_openssl_verifies_abboot_signatures() {
    if !openssl_available() {
        println!("note: `openssl` not on PATH; skipping the OpenSSL interop test");
        return;
    }
    let mut tmp = TempFiles(Vec::new());
    let key_pem = tmp.path("key.pem");
    let out = openssl(&["genpkey", "-algorithm", "ed25519", "-out", &key_pem]);
    assert!(
        out.status.success(),
        "genpkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // abboot reads OpenSSL's secret key, and derives the same public key.
    let kp = secret_key_from_pem(&std::fs::read_to_string(&key_pem).unwrap()).unwrap();
    let pub_openssl = tmp.path("pub_openssl.pem");
    let out = openssl(&["pkey", "-in", &key_pem, "-pubout", "-out", &pub_openssl]);
    assert!(out.status.success());
    let pub_pem = std::fs::read_to_string(&pub_openssl).unwrap();
    assert_eq!(public_key_from_pem(&pub_pem).unwrap(), kp.pk);
    assert_eq!(public_key_to_pem(&kp.pk).trim(), pub_pem.trim());

    // An image signed with it verifies on the device side.
    let img = signed(Slot::A, &kp);
    let mut flash = flash_with::<4>(Slot::A, &img);
    verify_with(&mut flash, Slot::A, &[TrustedKey::new(*kp.pk)]).unwrap();

    // OpenSSL verifies abboot's signature over the signed part, with the
    // public key as abboot writes it.
    let pub_ours = tmp.path("pub.pem");
    std::fs::write(&pub_ours, public_key_to_pem(&kp.pk)).unwrap();
    let part = tmp.path("signed_part.bin");
    std::fs::write(&part, signed_part(&img).unwrap()).unwrap();
    let sig = tmp.path("sig.bin");
    std::fs::write(&sig, &img[SIGNED_LEN..FIXED_LEN]).unwrap();
    let verify = |part: &str| {
        openssl(&[
            "pkeyutl", "-verify", "-pubin", "-inkey", &pub_ours, "-rawin", "-in", part, "-sigfile",
            &sig,
        ])
    };
    let out = verify(&part);
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // ...and refuses it over a changed signed part.
    let mut changed = img[..SIGNED_LEN].to_vec();
    changed[0x18] ^= 1;
    let part_changed = tmp.path("signed_part_changed.bin");
    std::fs::write(&part_changed, &changed).unwrap();
    assert!(!verify(&part_changed).status.success());

    // Ed25519 is deterministic: OpenSSL's signature is byte-for-byte ours.
    let sig_openssl = tmp.path("sig_openssl.bin");
    let out = openssl(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        &key_pem,
        "-rawin",
        "-in",
        &part,
        "-out",
        &sig_openssl,
    ]);
    assert!(
        out.status.success(),
        "openssl sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&sig_openssl).unwrap(),
        &img[SIGNED_LEN..FIXED_LEN]
    );

    // OpenSSL reads the secret key as abboot writes it.
    let ours = key(42);
    let sk_ours = tmp.path("sk_ours.pem");
    std::fs::write(&sk_ours, secret_key_to_pem(&ours)).unwrap();
    let out = openssl(&["pkey", "-in", &sk_ours, "-pubout"]);
    assert!(
        out.status.success(),
        "openssl pkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        public_key_to_pem(&ours.pk).trim()
    );
}

/// An execute-in-place board jumps past a fixed header length: a trusted
/// image signed with another one is refused, not jumped into.
#[test]
fn header_length_the_board_does_not_jump_past() {
    let img = signed(Slot::A, &key(1));
    let mut flash = flash_with::<4>(Slot::A, &img);
    let keys = trusted();
    let check = |flash: &mut _, header_len| {
        let p = BoardProfile {
            header_len,
            ..profile()
        };
        verify_image(
            flash,
            region(Slot::A),
            Slot::A,
            &TrustedKeys::new(&keys),
            &p,
        )
        .map(|_| ())
    };
    assert_eq!(check(&mut flash, Some(HEADER_LEN)), Ok(()));
    assert_eq!(
        check(&mut flash, Some(HEADER_LEN + 0x100)),
        Err(ImageError::BadHeaderLength)
    );
    assert_eq!(check(&mut flash, None), Ok(()));
}

/// An execute-in-place profile built from the slot starts and the header
/// length derives each load address itself, and refuses a trusted image
/// signed for another header length (its jump would land in padding).
#[test]
fn execute_in_place_profiles_cannot_be_built_wrong() {
    let starts = [
        MAPPED + region(Slot::A).offset,
        MAPPED + region(Slot::B).offset,
    ];
    let xip = BoardProfile::execute_in_place(HW, starts, HEADER_LEN);
    assert_eq!(
        xip.load_address,
        [load_address(Slot::A), load_address(Slot::B)]
    );
    assert_eq!(xip.header_len, Some(HEADER_LEN));
    let keys = trusted();
    let keys = TrustedKeys::new(&keys);
    for slot in Slot::ALL {
        let mut flash = flash_with::<4>(slot, &signed(slot, &key(1)));
        assert!(verify_image(&mut flash, region(slot), slot, &keys, &xip).is_ok());
    }
    // Signed with a shorter header but the same load address: a board that
    // jumps to slot + 0x200 would run unsigned padding.
    let short = sign_image(&template(Slot::A), &payload(PAYLOAD_LEN, 0), &key(1), 0x100).unwrap();
    let mut flash = flash_with::<4>(Slot::A, &short);
    assert_eq!(
        verify_image(&mut flash, region(Slot::A), Slot::A, &keys, &xip).map(|_| ()),
        Err(ImageError::BadHeaderLength)
    );
    // The copying board opts out explicitly and accepts it.
    let copied = BoardProfile::copied_to(HW, xip.load_address);
    assert_eq!(copied.header_len, None);
    assert!(verify_image(&mut flash, region(Slot::A), Slot::A, &keys, &copied).is_ok());
}
