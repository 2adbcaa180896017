//! `Record::decode` on any 256 bytes (the input's first 256, padded with
//! erased 0xFF): never panics, classifies refusals in the documented order,
//! and every record it accepts round-trips and re-encodes to the input's
//! canonical form (the input with the bytes the format ignores set to 0).

#![no_main]

use abboot::record::{DecodeError, Record, MAGIC, RECORD_SIZE};
use abboot_fuzz::{canonical_record, crc32};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: abboot_fuzz::write_seeds(abboot_fuzz::record_seeds), |data: &[u8]| {
    let mut bytes = [0xFF; RECORD_SIZE];
    let n = data.len().min(RECORD_SIZE);
    bytes[..n].copy_from_slice(&data[..n]);

    let decoded = Record::decode(&bytes);

    // The refusals, checked in the documented order against an independent CRC.
    let stored_crc = u32::from_le_bytes([bytes[0xFC], bytes[0xFD], bytes[0xFE], bytes[0xFF]]);
    let expected_early = if bytes.iter().all(|&b| b == 0xFF) {
        Some(DecodeError::Blank)
    } else if bytes[..4] != MAGIC {
        Some(DecodeError::BadMagic)
    } else if crc32(&bytes[..0xFC]) != stored_crc {
        Some(DecodeError::BadCrc)
    } else if bytes[4] != 1 || bytes[5] != 16 {
        Some(DecodeError::UnsupportedFormat)
    } else {
        None
    };
    match (expected_early, &decoded) {
        (Some(e), _) => assert_eq!(decoded, Err(e)),
        (None, Err(e)) => assert_eq!(*e, DecodeError::BadField),
        (None, Ok(_)) => {}
    }

    let Ok(record) = decoded else { return };
    let encoded = record.encode();
    assert_eq!(Record::decode(&encoded), Ok(record.clone()));
    assert_eq!(
        encoded,
        canonical_record(&bytes),
        "encode() differs from the input beyond the ignored bytes"
    );
    if bytes == canonical_record(&bytes) {
        assert_eq!(encoded, bytes);
    }
});
