//! Firmware input for `abboot sign`: a raw binary, an ELF file ([`elf`](crate::elf))
//! or an Intel HEX file ([`hex`](crate::hex)), laid out as the flat bytes a
//! slot holds.
//!
//! ELF and HEX give pieces at addresses; [`lay_out`] places them from the
//! lowest address up, with `0xFF` (erased flash) in the gaps, and refuses
//! overlapping pieces, addresses above 4 GiB and spans so wide that a RAM
//! address was almost certainly taken for a flash one.

use std::fmt::Write as _;

/// Largest flat image made (see the module documentation).
pub const MAX_FLAT: u64 = 256 << 20;

/// A piece of firmware at an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// What it is, for messages: `segment 2`, `record 17`.
    pub label: String,
    /// Load address of its first byte.
    pub address: u64,
    /// Its bytes.
    pub data: &'a [u8],
}

/// One piece that contributes bytes, as laid out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    /// What it is.
    pub label: String,
    /// Load address.
    pub address: u32,
    /// Bytes.
    pub size: u32,
}

/// Firmware laid out flat.
#[derive(Debug, PartialEq, Eq)]
pub struct Flat {
    /// Address of the first byte: the lowest piece's.
    pub base: u32,
    /// The bytes from `base` to the end of the highest piece.
    pub data: Vec<u8>,
    /// The pieces, in address order.
    pub segments: Vec<Segment>,
    /// What was left out, and why (headers-only ELF segments).
    pub skipped: Vec<String>,
}

impl Flat {
    /// One line per piece, for the `sign` report.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for seg in &self.segments {
            let _ = writeln!(
                s,
                "  {}: 0x{:08x}..0x{:08x} ({} bytes)",
                seg.label,
                seg.address,
                u64::from(seg.address) + u64::from(seg.size),
                seg.size
            );
        }
        for k in &self.skipped {
            let _ = writeln!(s, "  skipped {k}");
        }
        s
    }
}

/// Lays `pieces` out flat; see the [module documentation](self).
///
/// # Errors
///
/// What is wrong, as one sentence.
pub fn lay_out(mut pieces: Vec<Piece<'_>>, skipped: Vec<String>) -> Result<Flat, String> {
    pieces.retain(|p| !p.data.is_empty());
    pieces.sort_by_key(|p| p.address);
    let mut segments = Vec::new();
    for p in &pieces {
        let len = p.data.len() as u64;
        let end = p.address.checked_add(len);
        let (Ok(address), Ok(size), Some(true)) = (
            u32::try_from(p.address),
            u32::try_from(len),
            end.map(|e| e <= 1 << 32),
        ) else {
            return Err(format!(
                "{} at 0x{:x} ({len} bytes) lies above 4 GiB, which an image header cannot \
                 address",
                p.label, p.address
            ));
        };
        segments.push(Segment {
            label: p.label.clone(),
            address,
            size,
        });
    }
    let Some(first) = segments.first() else {
        return Err("no loadable data".into());
    };
    let base = first.address;
    for pair in segments.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if u64::from(a.address) + u64::from(a.size) > u64::from(b.address) {
            return Err(format!(
                "{} and {} overlap at 0x{:08x}",
                a.label, b.label, b.address
            ));
        }
    }
    let end = segments
        .iter()
        .map(|s| u64::from(s.address) + u64::from(s.size))
        .max()
        .unwrap_or(u64::from(base));
    let span = end - u64::from(base);
    if span > MAX_FLAT {
        return Err(format!(
            "the pieces span {span} bytes (0x{base:08x}..0x{end:x}), more than {} MiB; is a RAM \
             segment among them?",
            MAX_FLAT >> 20
        ));
    }
    let mut data = vec![0xFF; span as usize];
    for (p, s) in pieces.iter().zip(&segments) {
        let to = (s.address - base) as usize;
        data[to..to + p.data.len()].copy_from_slice(p.data);
    }
    Ok(Flat {
        base,
        data,
        segments,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(label: &str, address: u64, data: &'static [u8]) -> Piece<'static> {
        Piece {
            label: label.into(),
            address,
            data,
        }
    }

    #[test]
    fn gaps_are_erased_and_order_is_by_address() {
        let f = lay_out(
            vec![piece("b", 0x108, &[2, 2]), piece("a", 0x100, &[1; 4])],
            vec![],
        )
        .unwrap();
        assert_eq!(f.base, 0x100);
        assert_eq!(f.data, [1, 1, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 2, 2]);
        assert_eq!(f.segments[0].label, "a");
    }

    #[test]
    fn refusals() {
        let e = lay_out(
            vec![piece("a", 0x100, &[0; 4]), piece("b", 0x102, &[0; 4])],
            vec![],
        );
        assert!(e.unwrap_err().contains("a and b overlap"));
        let e = lay_out(vec![piece("a", 0xFFFF_FFFE, &[0; 4])], vec![]);
        assert!(e.unwrap_err().contains("4 GiB"));
        let e = lay_out(
            vec![piece("a", 0, &[0]), piece("b", 0x2000_0000, &[0])],
            vec![],
        );
        assert!(e.unwrap_err().contains("RAM segment"));
        assert!(lay_out(vec![], vec![]).unwrap_err().contains("no loadable"));
    }
}
