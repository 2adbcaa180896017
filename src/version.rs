//! Image versions.
//!
//! A version is `major.minor.patch` plus a build number, the fields MCUboot
//! uses. Versions order by `(major, minor, patch, build)`: the build number
//! breaks ties so that two builds of the same release can still be told
//! apart by the downgrade check.

use core::fmt;

/// An image version: `major.minor.patch+build`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct Version {
    /// Incompatible changes.
    pub major: u8,
    /// Compatible additions.
    pub minor: u8,
    /// Fixes.
    pub patch: u16,
    /// Build number, last in the ordering.
    pub build: u32,
}

impl Version {
    /// Size of the encoded version in bytes.
    pub const ENCODED_LEN: usize = 8;

    /// A version from its four parts.
    pub const fn new(major: u8, minor: u8, patch: u16, build: u32) -> Self {
        Self {
            major,
            minor,
            patch,
            build,
        }
    }

    /// Little-endian encoding: `major`, `minor`, `patch` (u16), `build` (u32).
    pub fn to_bytes(&self) -> [u8; 8] {
        let [p0, p1] = self.patch.to_le_bytes();
        let [b0, b1, b2, b3] = self.build.to_le_bytes();
        [self.major, self.minor, p0, p1, b0, b1, b2, b3]
    }

    /// Decodes [`Version::to_bytes`]; every bit pattern is a version.
    pub fn from_bytes(b: &[u8; 8]) -> Self {
        let [major, minor, p0, p1, b0, b1, b2, b3] = *b;
        Self {
            major,
            minor,
            patch: u16::from_le_bytes([p0, p1]),
            build: u32::from_le_bytes([b0, b1, b2, b3]),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}+{}",
            self.major, self.minor, self.patch, self.build
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_parts_then_build() {
        assert!(Version::new(1, 2, 3, 0) < Version::new(1, 2, 4, 0));
        assert!(Version::new(1, 9, 9, 9) < Version::new(2, 0, 0, 0));
        assert!(Version::new(1, 2, 3, 1) > Version::new(1, 2, 3, 0));
    }

    #[test]
    fn bytes_round_trip() {
        let v = Version::new(3, 1, 513, 0xDEAD_BEEF);
        assert_eq!(Version::from_bytes(&v.to_bytes()), v);
    }
}
