//! Image versions.
//!
//! A version is `major.minor.patch` plus a build number, the fields MCUboot
//! uses. Versions order by `(major, minor, patch, build)`: the build number
//! breaks ties so that two builds of the same release can still be told
//! apart by the downgrade check.

use core::fmt;

/// An image version: `major.minor.patch+build`.
#[derive(Clone, Copy, Debug, Default, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
// `repr(C)`: the fields lie in memory as `to_bytes` writes them (major,
// minor, then patch and build little-endian, as on every target abboot
// runs on), so the record's and the hand-off's codecs copy a version as
// whole words, not byte by byte from where the compiler placed each field
// (32 B of the digest-only nRF52840 bootloader). The declaration order,
// which `Debug` prints, is unchanged.
#[repr(C)]
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

impl Version {
    /// The four parts in one number that orders and equates as the version
    /// does: one 64-bit comparison instead of four field by field (32 B
    /// less in the nRF52840 bootloader than the derived `PartialEq` and
    /// `Ord`). `Hash` hashes it too, so that it agrees with `Eq`.
    // Always inlined: two loads and a `rev` per version, less than the
    // call and the registers kept across it at each comparison.
    #[inline(always)]
    const fn key(&self) -> u64 {
        // The top half from the first word as it lies (`repr(C)`): major
        // and minor byte-reversed to the top, patch as it is below them.
        // Built byte by byte, it was three loads and two shifts; this way
        // it is two loads and one `rev` (8 B of the signed nRF52840
        // bootloader).
        let [p0, p1] = self.patch.to_le_bytes();
        let w = u32::from_le_bytes([self.major, self.minor, p0, p1]);
        let hi = (w.swap_bytes() & 0xFFFF_0000) | (w >> 16);
        (hi as u64) << 32 | self.build as u64
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl core::hash::Hash for Version {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.key().cmp(&other.key())
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
        // Patch's two bytes weigh as a number: 0x100 is above 0xFF.
        assert!(Version::new(1, 2, 0x100, 0) > Version::new(1, 2, 0xFF, 0));
        assert!(Version::new(1, 2, 0x1FF, 0) < Version::new(1, 2, 0x200, 0));
        assert!(Version::new(0, 1, 0, 0) > Version::new(0, 0, 0xFFFF, u32::MAX));
        assert!(Version::new(1, 0, 0, 0) > Version::new(0, 0xFF, 0xFFFF, u32::MAX));
    }

    /// The one-number comparison orders and equates exactly as the four
    /// parts do, field by field, at each field's edges (a carry from one
    /// field into the next would show here).
    #[test]
    fn key_orders_as_the_parts() {
        let mut all = [Version::default(); 81];
        let mut n = 0;
        for major in [0, 1, u8::MAX] {
            for minor in [0, 1, u8::MAX] {
                for patch in [0, 1, u16::MAX] {
                    for build in [0, 1, u32::MAX] {
                        all[n] = Version::new(major, minor, patch, build);
                        n += 1;
                    }
                }
            }
        }
        let parts = |v: &Version| (v.major, v.minor, v.patch, v.build);
        for a in &all {
            for b in &all {
                assert_eq!(a.cmp(b), parts(a).cmp(&parts(b)), "{a} {b}");
                assert_eq!(a.partial_cmp(b), Some(parts(a).cmp(&parts(b))));
                assert_eq!(a == b, parts(a) == parts(b), "{a} {b}");
            }
        }
    }

    /// `Hash` agrees with `Eq` and tells the 81 edge versions apart (a
    /// hash that ignores the version would make a set of them one bucket).
    #[test]
    fn hashes_agree_with_eq_and_differ() {
        use std::collections::HashSet;
        use std::hash::{BuildHasher, RandomState};
        let state = RandomState::new();
        let mut seen = HashSet::new();
        for major in [0, 1, u8::MAX] {
            for minor in [0, 1, u8::MAX] {
                for patch in [0, 1, u16::MAX] {
                    for build in [0, 1, u32::MAX] {
                        let v = Version::new(major, minor, patch, build);
                        let again = Version::new(major, minor, patch, build);
                        assert_eq!(state.hash_one(v), state.hash_one(again));
                        seen.insert(state.hash_one(v));
                    }
                }
            }
        }
        assert_eq!(seen.len(), 81, "distinct versions, distinct hashes");
    }

    #[test]
    fn displays_as_major_minor_patch_plus_build() {
        assert_eq!(
            format!("{}", Version::new(1, 20, 300, 4000)),
            "1.20.300+4000"
        );
    }

    #[test]
    fn bytes_round_trip() {
        let v = Version::new(3, 1, 513, 0xDEAD_BEEF);
        assert_eq!(Version::from_bytes(&v.to_bytes()), v);
    }
}
