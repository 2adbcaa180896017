//! `verify_image` on any slot content (the input, padded with erased 0xFF to
//! an 8 KiB slot): never panics, answers the same for the same bytes at an
//! aligned offset of a byte-read flash (slot A) and at an unaligned offset
//! of a 16-byte-read flash (slot B), and accepts only an image whose header
//! is signed by the trusted key and whose payload hashes to the signed
//! digest, both checked here apart from abboot.

#![no_main]

use abboot::flash::Region;
use abboot::image::header::{key_id_of, ImageHeader, SIGNED_LEN};
use abboot::image::signed::{verify_image, TrustedKey, TrustedKeys};
use abboot::sim::SimFlash;
use abboot::Slot;
use abboot_fuzz::{trusted_key, PROFILE, SLOT_LEN};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Where slot B starts on its flash: not a multiple of its read size.
const SLOT_B_OFFSET: usize = 4100;
/// Size of slot B's flash: whole 2 KiB sectors with room for the slot.
const FLASH_B_LEN: usize = (SLOT_B_OFFSET + SLOT_LEN).div_ceil(2048) * 2048;

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

fuzz_target!(init: abboot_fuzz::write_seeds(abboot_fuzz::image_seeds), |data: &[u8]| {
    let key = *KEY.get_or_init(trusted_key);
    let keys = [TrustedKey::new(key)];
    let keys = TrustedKeys::new(&keys);
    let mut slot = vec![0xFF; SLOT_LEN];
    let n = data.len().min(SLOT_LEN);
    slot[..n].copy_from_slice(&data[..n]);

    let mut a = SimFlash::<1, 4, 4096>::new(SLOT_LEN);
    a.set_contents(0, &slot);
    let region_a = Region::new(0, SLOT_LEN as u32);
    let result = verify_image(&mut a, region_a, Slot::A, &keys, &PROFILE);

    let mut b = SimFlash::<16, 16, 2048>::new(FLASH_B_LEN);
    b.set_contents(SLOT_B_OFFSET, &slot);
    let region_b = Region::new(SLOT_B_OFFSET as u32, SLOT_LEN as u32);
    let result_b = verify_image(&mut b, region_b, Slot::B, &keys, &PROFILE);
    assert_eq!(result, result_b, "slot A and slot B disagree");

    let Ok((header, info)) = result else { return };
    assert_eq!(ImageHeader::parse(&slot), Ok(header));
    assert_eq!(header.hardware_id, PROFILE.hardware_id);
    assert_eq!(header.load_address, PROFILE.load_address[0]);
    assert_eq!(header.key_id, key_id_of(&key));
    let signature = ed25519_compact::Signature::new(header.signature);
    ed25519_compact::PublicKey::new(key)
        .verify(&slot[..SIGNED_LEN], &signature)
        .expect("accepted image is not signed by the trusted key");

    let start = header.header_len as usize;
    let end = start + header.payload_len as usize;
    assert!(end <= SLOT_LEN, "accepted image does not fit its slot");
    let digest: [u8; 32] = Sha256::digest(&slot[start..end]).into();
    assert_eq!(info.digest, digest, "reported digest is not the payload's SHA-256");
    assert_eq!(header.payload_digest, digest);
    assert_eq!(info.version, header.version);
    assert_eq!(info.security_counter, header.security_counter);
    assert_eq!(info.data_epoch, header.data_epoch);
});
