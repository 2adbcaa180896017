//! Regions of a `NorFlash` device: where the metadata sectors and the slots
//! live.
//!
//! abboot never assumes one flash device: the metadata may live on a
//! different part than the slots (an external SPI NOR for the journal, the
//! internal flash for code), so every region is an offset and a length
//! within *some* device, and each layer takes the device it needs.

/// A contiguous byte range of a flash device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region {
    /// Offset of the first byte from the start of the device.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Region {
    /// A region of `len` bytes at `offset`.
    pub const fn new(offset: u32, len: u32) -> Self {
        Self { offset, len }
    }

    /// One past the last byte, or `None` if that overflows `u32`.
    pub const fn end(&self) -> Option<u32> {
        self.offset.checked_add(self.len)
    }

    /// Whether the two regions share a byte.
    pub const fn overlaps(&self, other: &Region) -> bool {
        let (a_end, b_end) = match (self.end(), other.end()) {
            (Some(a), Some(b)) => (a, b),
            // An overflowing region is rejected elsewhere; count it as
            // overlapping so it is never accepted by accident.
            _ => return true,
        };
        self.len != 0 && other.len != 0 && self.offset < b_end && other.offset < a_end
    }

    /// Whether the region lies inside a device of `capacity` bytes.
    pub const fn fits(&self, capacity: usize) -> bool {
        match self.end() {
            Some(end) => end as u64 <= capacity as u64,
            None => false,
        }
    }

    /// The absolute offset of `rel` bytes into the region, if `rel..rel+n`
    /// lies inside it.
    pub const fn at(&self, rel: u32, n: u32) -> Option<u32> {
        match rel.checked_add(n) {
            Some(end) if end <= self.len => Some(self.offset + rel),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rules() {
        let a = Region::new(0, 4096);
        assert!(!a.overlaps(&Region::new(4096, 4096)));
        assert!(a.overlaps(&Region::new(4095, 2)));
        assert!(!a.overlaps(&Region::new(100, 0)));
        assert!(a.overlaps(&Region::new(u32::MAX, 2)));
    }

    #[test]
    fn bounds() {
        let r = Region::new(100, 50);
        assert_eq!(r.at(0, 50), Some(100));
        assert_eq!(r.at(1, 50), None);
        assert_eq!(r.at(u32::MAX, 2), None);
        assert!(r.fits(150));
        assert!(!r.fits(149));
    }
}
