//! Intel HEX input (the `ihex` crate), for toolchains that emit it: data
//! records at their linear addresses (extended linear and segment address
//! records applied), laid out by [`lay_out`](crate::firmware::lay_out).

use ihex::{Reader, Record};

use crate::firmware::{lay_out, Flat, Piece};

/// Whether `bytes` look like Intel HEX: text whose first non-blank
/// character is `:`.
pub fn is_hex(bytes: &[u8]) -> bool {
    bytes.is_ascii()
        && bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b':')
}

/// Reads an Intel HEX file.
///
/// # Errors
///
/// The record that is malformed, or what the layout refuses.
pub fn flatten(bytes: &[u8]) -> Result<Flat, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
    let mut base: u64 = 0;
    let mut data: Vec<(u64, Vec<u8>, usize)> = Vec::new();
    let mut ended = false;
    for (i, record) in Reader::new(text).enumerate() {
        let n = i + 1;
        let record = record.map_err(|e| format!("record {n}: {e}"))?;
        match record {
            Record::Data { offset, value } => {
                let at = base + u64::from(offset);
                // Records that continue the previous one form one piece.
                match data.last_mut() {
                    Some((start, bytes, _)) if *start + bytes.len() as u64 == at => {
                        bytes.extend_from_slice(&value)
                    }
                    _ => data.push((at, value, n)),
                }
            }
            Record::ExtendedLinearAddress(hi) => base = u64::from(hi) << 16,
            Record::ExtendedSegmentAddress(seg) => base = u64::from(seg) << 4,
            Record::EndOfFile => {
                ended = true;
                break;
            }
            Record::StartLinearAddress(_) | Record::StartSegmentAddress { .. } => {}
        }
    }
    if !ended {
        return Err("no end-of-file record (:00000001FF): the file is cut short".into());
    }
    let pieces = data
        .iter()
        .map(|(address, bytes, n)| Piece {
            label: format!("data from record {n}"),
            address: *address,
            data: bytes,
        })
        .collect();
    lay_out(pieces, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_linear_addresses_and_gaps() {
        let text = ":020000040800F2\n:0400000001020304F2\n:02000800AABB91\n:00000001FF\n";
        let f = flatten(text.as_bytes()).unwrap();
        assert_eq!(f.base, 0x0800_0000);
        assert_eq!(f.data, [1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xAA, 0xBB]);
        assert!(is_hex(text.as_bytes()));
        assert!(!is_hex(b"\x7fELF"));
    }

    #[test]
    fn refuses_bad_records() {
        let bad_sum = ":0400000001020304F3\n:00000001FF\n";
        assert!(flatten(bad_sum.as_bytes())
            .unwrap_err()
            .starts_with("record 1:"));
        let cut = ":0400000001020304F2\n";
        assert!(flatten(cut.as_bytes()).unwrap_err().contains("end-of-file"));
        let overlap = ":0400000001020304F2\n:0400020001020304F0\n:00000001FF\n";
        assert!(flatten(overlap.as_bytes()).unwrap_err().contains("overlap"));
    }
}
