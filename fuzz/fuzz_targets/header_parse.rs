//! `ImageHeader::parse` on any bytes: never panics, and every header it
//! accepts is canonical (re-encodes to the very bytes it was parsed from)
//! and within the documented ranges.

#![no_main]

use abboot::image::header::{
    signed_part, ImageHeader, FIXED_LEN, HEADER_ALIGN, MAX_HEADER_LEN, SIGNED_LEN,
};
use abboot::image::ImageError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: abboot_fuzz::write_seeds(abboot_fuzz::header_seeds), |data: &[u8]| {
    let parsed = ImageHeader::parse(data);
    // Only the fixed part is read.
    match data.get(..FIXED_LEN) {
        Some(fixed) => assert_eq!(ImageHeader::parse(fixed), parsed),
        None => assert_eq!(parsed, Err(ImageError::Truncated)),
    }
    let Ok(header) = parsed else { return };

    let bytes = header.encode();
    assert_eq!(&bytes[..], &data[..FIXED_LEN], "accepted header is not canonical");
    assert_eq!(ImageHeader::parse(&bytes), Ok(header));
    assert_eq!(&header.signed_bytes()[..], &data[..SIGNED_LEN]);
    assert_eq!(signed_part(data), Ok(&data[..SIGNED_LEN]));

    assert_eq!(&data[..4], b"ABIM");
    assert_eq!(header.flags, 0);
    assert!(header.header_len >= FIXED_LEN as u32);
    assert!(header.header_len <= MAX_HEADER_LEN);
    assert_eq!(header.header_len % HEADER_ALIGN, 0);
    assert_ne!(header.payload_len, 0);
    assert_eq!(
        header.image_len(),
        header.header_len.checked_add(header.payload_len)
    );
});
