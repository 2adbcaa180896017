//! The signing side (feature `std`): builds signed images for the host tool
//! and tests, and reads and writes Ed25519 keys as PEM.
//!
//! Keys are OpenSSL-compatible: secret keys are PKCS#8 v1 `PRIVATE KEY`
//! blocks as written by `openssl genpkey -algorithm ed25519`, public keys
//! SubjectPublicKeyInfo `PUBLIC KEY` blocks as written by
//! `openssl pkey -pubout`. Signatures are pure Ed25519 (RFC 8032) and
//! deterministic, so signing the same image with the same key gives the
//! same bytes, and the same bytes as
//! `openssl pkeyutl -sign -rawin` over the [signed part](ImageHeader::signed_bytes).

use std::fmt;
use std::string::String;
use std::vec::Vec;

use ed25519_compact::{KeyPair, PublicKey, Seed};
use sha2::{Digest, Sha256};

use crate::image::header::{key_id_of, ImageHeader, FIXED_LEN, HEADER_ALIGN, MAX_HEADER_LEN};
use crate::image::ImageError;

/// Why an image could not be signed or a key could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignError {
    /// The header would not be accepted by [`ImageHeader::parse`] or would
    /// not describe the image (bad `header_len`, reserved flag bits, empty
    /// payload, header plus payload over 4 GiB).
    Header(ImageError),
    /// The payload is larger than a `u32` can describe.
    PayloadTooLarge,
    /// A key could not be read, or is not a valid Ed25519 key, or the key
    /// pair's halves do not match.
    Key(ed25519_compact::Error),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Header(e) => write!(f, "invalid image header: {e}"),
            SignError::PayloadTooLarge => f.write_str("payload larger than 4 GiB"),
            SignError::Key(e) => write!(f, "invalid Ed25519 key: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

impl From<ed25519_compact::Error> for SignError {
    fn from(e: ed25519_compact::Error) -> Self {
        SignError::Key(e)
    }
}

/// Builds a signed image: the header, padded with `0xFF` to `header_len`
/// bytes, then `payload`.
///
/// From `template` the version, security counter, hardware id, load
/// address, data epoch and flags are used; `header_len`, `payload_len`,
/// `payload_digest`, `key_id` and `signature` are filled in here.
///
/// The result is parsed back and its signature checked with `key`'s public
/// half before it is returned, so a mismatched key pair is caught here and
/// not by a device.
///
/// # Errors
///
/// [`SignError::Header`] if `header_len` is out of range
/// ([`ImageError::BadHeaderLength`]), the template has reserved flag bits
/// set or `payload` is empty ([`ImageError::BadField`]), or header plus
/// payload overflow a `u32` ([`ImageError::TooLarge`]);
/// [`SignError::PayloadTooLarge`]; [`SignError::Key`].
pub fn sign_image(
    template: &ImageHeader,
    payload: &[u8],
    key: &KeyPair,
    header_len: u32,
) -> Result<Vec<u8>, SignError> {
    if header_len < FIXED_LEN as u32
        || header_len > MAX_HEADER_LEN
        || header_len % HEADER_ALIGN != 0
    {
        return Err(SignError::Header(ImageError::BadHeaderLength));
    }
    let payload_len = u32::try_from(payload.len()).map_err(|_| SignError::PayloadTooLarge)?;
    let mut header = ImageHeader {
        header_len,
        payload_len,
        payload_digest: Sha256::digest(payload).into(),
        key_id: key_id_of(&key.pk),
        signature: [0; 64],
        ..*template
    };
    let total = header
        .image_len()
        .ok_or(SignError::Header(ImageError::TooLarge))?;
    header.signature = *key.sk.sign(header.signed_bytes(), None);

    let fixed = header.encode();
    let parsed = ImageHeader::parse(&fixed).map_err(SignError::Header)?;
    key.pk.verify(
        parsed.signed_bytes(),
        &ed25519_compact::Signature::new(parsed.signature),
    )?;

    let mut image = Vec::with_capacity(total as usize);
    image.extend_from_slice(&fixed);
    image.resize(header_len as usize, 0xFF);
    image.extend_from_slice(payload);
    Ok(image)
}

/// The key pair with this 32-byte secret seed (the secret key proper, as
/// stored in a PKCS#8 file).
///
/// # Errors
///
/// [`SignError::Key`] for the all-zero seed.
pub fn keypair_from_seed(seed: [u8; 32]) -> Result<KeyPair, SignError> {
    Ok(KeyPair::try_from_seed(Seed::new(seed))?)
}

/// A fresh key pair from the operating system's random source.
pub fn generate_keypair() -> KeyPair {
    KeyPair::generate()
}

/// Reads a secret key from a PKCS#8 `PRIVATE KEY` PEM block (as written by
/// `openssl genpkey -algorithm ed25519`); the public half is recomputed.
///
/// Text around the block, and a `PUBLIC KEY` block after it, are ignored.
///
/// # Errors
///
/// [`SignError::Key`] if there is no such block or it is not an Ed25519
/// secret key.
pub fn secret_key_from_pem(pem: &str) -> Result<KeyPair, SignError> {
    Ok(KeyPair::from_pem(pem)?)
}

/// Reads a public key from a SubjectPublicKeyInfo `PUBLIC KEY` PEM block
/// (as written by `openssl pkey -pubout`), and checks it is a valid,
/// non-weak Ed25519 key.
///
/// # Errors
///
/// [`SignError::Key`] if there is no such block, it is not an Ed25519
/// public key, or the key is not canonical or has a small order.
pub fn public_key_from_pem(pem: &str) -> Result<PublicKey, SignError> {
    let pk = PublicKey::from_pem(pem)?;
    pk.validate()?;
    Ok(pk)
}

/// Writes the secret key of `key` as a PKCS#8 `PRIVATE KEY` PEM block that
/// OpenSSL reads.
pub fn secret_key_to_pem(key: &KeyPair) -> String {
    key.sk.to_pem()
}

/// Writes `key` as a SubjectPublicKeyInfo `PUBLIC KEY` PEM block that
/// OpenSSL reads.
pub fn public_key_to_pem(key: &PublicKey) -> String {
    key.to_pem()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    fn template() -> ImageHeader {
        ImageHeader {
            version: Version::new(2, 0, 1, 99),
            security_counter: 5,
            hardware_id: 0x1234,
            load_address: 0x1000_0200,
            data_epoch: 2,
            ..ImageHeader::default()
        }
    }

    #[test]
    fn sign_layout() {
        let kp = keypair_from_seed([7; 32]).unwrap();
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let img = sign_image(&template(), &payload, &kp, 0x200).unwrap();
        assert_eq!(img.len(), 0x200 + 1000);
        assert!(img[FIXED_LEN..0x200].iter().all(|&b| b == 0xFF));
        assert_eq!(&img[0x200..], &payload[..]);
        let h = ImageHeader::parse(&img).unwrap();
        assert_eq!(h.payload_len, 1000);
        assert_eq!(h.header_len, 0x200);
        assert_eq!(h.version, Version::new(2, 0, 1, 99));
        assert_eq!(h.key_id, key_id_of(&kp.pk));
        assert_eq!(h.payload_digest, <[u8; 32]>::from(Sha256::digest(&payload)));
        kp.pk
            .verify(
                h.signed_bytes(),
                &ed25519_compact::Signature::new(h.signature),
            )
            .unwrap();
        // Deterministic.
        assert_eq!(sign_image(&template(), &payload, &kp, 0x200).unwrap(), img);
    }

    #[test]
    fn sign_refusals() {
        let kp = keypair_from_seed([7; 32]).unwrap();
        let hdr = |e| Err(SignError::Header(e));
        assert_eq!(
            sign_image(&template(), b"x", &kp, 0),
            hdr(ImageError::BadHeaderLength)
        );
        assert_eq!(
            sign_image(&template(), b"x", &kp, 148),
            hdr(ImageError::BadHeaderLength)
        );
        assert_eq!(
            sign_image(&template(), b"x", &kp, MAX_HEADER_LEN + 8),
            hdr(ImageError::BadHeaderLength)
        );
        assert_eq!(
            sign_image(&template(), b"", &kp, 144),
            hdr(ImageError::BadField)
        );
        let flagged = ImageHeader {
            flags: 1,
            ..template()
        };
        assert_eq!(
            sign_image(&flagged, b"x", &kp, 144),
            hdr(ImageError::BadField)
        );
        assert_eq!(
            keypair_from_seed([0; 32]).map(|_| ()),
            Err(SignError::Key(ed25519_compact::Error::InvalidSeed))
        );
        // A key pair whose public half does not match its secret half.
        let other = keypair_from_seed([8; 32]).unwrap();
        let mixed = KeyPair {
            pk: other.pk,
            sk: kp.sk.clone(),
        };
        assert!(matches!(
            sign_image(&template(), b"x", &mixed, 144),
            Err(SignError::Key(_))
        ));
    }

    #[test]
    fn pem_round_trip() {
        let kp = keypair_from_seed([9; 32]).unwrap();
        let sk_pem = secret_key_to_pem(&kp);
        let pk_pem = public_key_to_pem(&kp.pk);
        assert!(sk_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pk_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(secret_key_from_pem(&sk_pem).unwrap().pk, kp.pk);
        assert_eq!(public_key_from_pem(&pk_pem).unwrap(), kp.pk);
        assert!(secret_key_from_pem(&pk_pem).is_err());
        assert!(public_key_from_pem(&sk_pem).is_err());
        assert!(public_key_from_pem("garbage").is_err());
        assert!(secret_key_from_pem("").is_err());
    }
}
