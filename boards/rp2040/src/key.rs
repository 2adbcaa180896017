// The public key the bootloader trusts, with its key id (computed by the
// tool, so the bootloader hashes no key at boot). A placeholder: its
// secret key was thrown away, so nothing is signed with it and a
// bootloader built with it boots no image (Recovery) until you put your
// own key here:
//
//     abboot keygen --out release-key.pem      (keep release-key.pem secret)
//     abboot pubkey --key release-key.pem --format rust > src/key.rs
//
// boards/common's host tests check that the id is the key's.
//
// key id db0c9bc9fb123787
use abboot::image::signed::TrustedKey;

pub const KEY: TrustedKey = TrustedKey::with_id(PUBLIC_KEY, KEY_ID);

const PUBLIC_KEY: [u8; 32] = [
    0x98, 0x6f, 0xcf, 0x74, 0x17, 0xaf, 0x31, 0x42, 0xeb, 0xff, 0xe6, 0x77, 0x39, 0x1e, 0xda, 0xf2,
    0x11, 0x52, 0xe3, 0xf2, 0xba, 0xbc, 0xad, 0xd4, 0x66, 0x19, 0x8a, 0x29, 0x4e, 0x1d, 0x3a, 0x34,
];

/// The first 8 bytes of the SHA-256 of `PUBLIC_KEY`: the key id its
/// images carry.
const KEY_ID: [u8; 8] = [0xdb, 0x0c, 0x9b, 0xc9, 0xfb, 0x12, 0x37, 0x87];
