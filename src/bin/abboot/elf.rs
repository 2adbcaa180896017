//! Just enough ELF to turn a linked firmware into the flat binary a slot
//! holds: the program headers, nothing else.
//!
//! The loadable segments (`PT_LOAD` with file data) are placed at their
//! *physical* addresses (`p_paddr`, the load address: initialised `.data`
//! is stored in flash after the code even though it runs from RAM) from
//! the lowest one up; gaps between them read `0xFF`, like erased flash.
//! `p_memsz` beyond `p_filesz` (`.bss`) is zeroed by the startup code and
//! takes no room in the image.
//!
//! ELF32 and ELF64, little-endian only. Every offset and size read from
//! the file is bounds-checked; a malformed file is an error, never a panic.

use std::fmt::Write as _;

/// `PT_LOAD`.
const PT_LOAD: u32 = 1;
/// `e_phnum` value saying the real count is elsewhere (section 0); firmware
/// never has 65535 program headers, so this is refused, not followed.
const PN_XNUM: u16 = 0xFFFF;
/// Largest flat image made. Segments this far apart almost always mean a
/// RAM address was taken for a flash one, and allocating gigabytes of
/// `0xFF` to find out would be worse than refusing.
pub const MAX_FLAT: u64 = 256 << 20;

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// One loadable segment that contributes bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Index of the program header.
    pub index: usize,
    /// Physical (load) address.
    pub address: u32,
    /// Offset of its data in the file.
    pub offset: u64,
    /// Bytes of file data.
    pub size: u32,
}

/// An ELF file laid out flat.
#[derive(Debug, PartialEq, Eq)]
pub struct Flat {
    /// Address of the first byte: the lowest segment's.
    pub base: u32,
    /// The bytes from `base` to the end of the highest segment.
    pub data: Vec<u8>,
    /// The segments, in address order.
    pub segments: Vec<Segment>,
}

impl Flat {
    /// One line per segment, for the `sign` report.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for seg in &self.segments {
            let _ = writeln!(
                s,
                "  segment {}: 0x{:08x}..0x{:08x} ({} bytes)",
                seg.index,
                seg.address,
                u64::from(seg.address) + u64::from(seg.size),
                seg.size
            );
        }
        s
    }
}

/// Little-endian field reader over the whole file; every read is checked.
struct Le<'a>(&'a [u8]);

impl Le<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Result<[u8; N], String> {
        usize::try_from(at)
            .ok()
            .and_then(|at| self.0.get(at..at.checked_add(N)?))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| format!("field at offset 0x{at:x} is past the end of the file"))
    }
    fn u16(&self, at: u64) -> Result<u16, String> {
        self.bytes(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: u64) -> Result<u32, String> {
        self.bytes(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: u64) -> Result<u64, String> {
        self.bytes(at).map(u64::from_le_bytes)
    }
}

/// Lays out the loadable segments of the ELF file `bytes` as a flat image.
///
/// # Errors
///
/// What is malformed or unsupported, as one sentence.
pub fn flatten(bytes: &[u8]) -> Result<Flat, String> {
    if !is_elf(bytes) {
        return Err("no ELF magic".into());
    }
    let le = Le(bytes);
    let [class, data, version] = le.bytes::<3>(4)?;
    if data != 1 {
        return Err(format!(
            "not little-endian (EI_DATA {data}); big-endian ELF is not supported"
        ));
    }
    if version != 1 {
        return Err(format!("unknown ELF version {version}"));
    }
    // (e_phoff, e_phentsize, e_phnum) and the size one header needs.
    let (phoff, phentsize, phnum, min_entry) = match class {
        1 => (u64::from(le.u32(0x1C)?), le.u16(0x2A)?, le.u16(0x2C)?, 32),
        2 => (le.u64(0x20)?, le.u16(0x36)?, le.u16(0x38)?, 56),
        c => return Err(format!("unknown ELF class {c}")),
    };
    if phnum == PN_XNUM {
        return Err("extended program header numbering (PN_XNUM) is not supported".into());
    }
    if phnum == 0 {
        return Err("no program headers (is this an object file, not a linked image?)".into());
    }
    if phentsize < min_entry {
        return Err(format!(
            "program header entry size {phentsize} is smaller than {min_entry}"
        ));
    }
    let table_end = u64::from(phnum)
        .checked_mul(u64::from(phentsize))
        .and_then(|n| n.checked_add(phoff));
    if table_end.filter(|&end| end <= bytes.len() as u64).is_none() {
        return Err(format!(
            "program header table ({phnum} entries of {phentsize} bytes at offset 0x{phoff:x}) \
             runs past the end of the file ({} bytes)",
            bytes.len()
        ));
    }

    let mut segments = Vec::new();
    for index in 0..usize::from(phnum) {
        let at = phoff + index as u64 * u64::from(phentsize);
        let (p_type, offset, paddr, filesz) = match class {
            1 => (
                le.u32(at)?,
                u64::from(le.u32(at + 4)?),
                u64::from(le.u32(at + 12)?),
                u64::from(le.u32(at + 16)?),
            ),
            _ => (
                le.u32(at)?,
                le.u64(at + 8)?,
                le.u64(at + 24)?,
                le.u64(at + 32)?,
            ),
        };
        if p_type != PT_LOAD || filesz == 0 {
            continue;
        }
        let data_end = offset.checked_add(filesz);
        if data_end.filter(|&end| end <= bytes.len() as u64).is_none() {
            return Err(format!(
                "segment {index}: its data (offset 0x{offset:x}, {filesz} bytes) \
                 runs past the end of the file ({} bytes)",
                bytes.len()
            ));
        }
        let end = paddr.checked_add(filesz);
        let (Ok(address), Ok(size), Some(true)) = (
            u32::try_from(paddr),
            u32::try_from(filesz),
            end.map(|e| e <= 1 << 32),
        ) else {
            return Err(format!(
                "segment {index} at 0x{paddr:x} ({filesz} bytes) lies above 4 GiB, \
                 which an image header cannot address"
            ));
        };
        segments.push(Segment {
            index,
            address,
            offset,
            size,
        });
    }
    segments.sort_by_key(|s| s.address);
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Err("no loadable segment (PT_LOAD) with file data".into());
    };
    let base = first.address;
    let end = segments
        .iter()
        .map(|s| u64::from(s.address) + u64::from(s.size))
        .max()
        .unwrap_or(u64::from(last.address));
    for pair in segments.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if u64::from(a.address) + u64::from(a.size) > u64::from(b.address) {
            return Err(format!(
                "segments {} and {} overlap at 0x{:08x}",
                a.index, b.index, b.address
            ));
        }
    }
    let span = end - u64::from(base);
    if span > MAX_FLAT {
        return Err(format!(
            "loadable segments span {span} bytes (0x{base:08x}..0x{end:x}), more than {} MiB; \
             is a RAM segment among them?",
            MAX_FLAT >> 20
        ));
    }
    let mut data = vec![0xFF; span as usize];
    for s in &segments {
        // Bounds checked above: the source lies inside the file and the
        // destination inside `span`.
        let from = s.offset as usize;
        let to = (s.address - base) as usize;
        let n = s.size as usize;
        data[to..to + n].copy_from_slice(&bytes[from..from + n]);
    }
    Ok(Flat {
        base,
        data,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF32 with the given program headers `(type, offset, paddr,
    /// filesz)` and `data` after the table.
    fn elf32(phdrs: &[(u32, u32, u32, u32)], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 52];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 1;
        b[5] = 1;
        b[6] = 1;
        b[0x1C..0x20].copy_from_slice(&52u32.to_le_bytes());
        b[0x2A..0x2C].copy_from_slice(&32u16.to_le_bytes());
        b[0x2C..0x2E].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for &(t, off, paddr, filesz) in phdrs {
            let mut p = [0u8; 32];
            p[0..4].copy_from_slice(&t.to_le_bytes());
            p[4..8].copy_from_slice(&off.to_le_bytes());
            p[8..12].copy_from_slice(&(paddr + 0x1000_0000).to_le_bytes());
            p[12..16].copy_from_slice(&paddr.to_le_bytes());
            p[16..20].copy_from_slice(&filesz.to_le_bytes());
            p[20..24].copy_from_slice(&(filesz + 16).to_le_bytes());
            b.extend_from_slice(&p);
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn lays_out_by_physical_address_with_ff_gaps() {
        let base = 52 + 4 * 32;
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let b = elf32(
            &[
                (PT_LOAD, base + 4, 0x0800_0010, 4), // later in the file, higher address
                (6, 0, 0, 0),                        // PT_PHDR: skipped
                (PT_LOAD, base, 0x0800_0000, 4),
                (PT_LOAD, base, 0x2000_0000, 0), // .bss: no file data
            ],
            &data,
        );
        let flat = flatten(&b).unwrap();
        assert_eq!(flat.base, 0x0800_0000);
        let mut want = vec![1, 2, 3, 4];
        want.extend_from_slice(&[0xFF; 12]);
        want.extend_from_slice(&[5, 6, 7, 8]);
        assert_eq!(flat.data, want);
        assert_eq!(flat.segments.len(), 2);
        assert_eq!(flat.segments[0].index, 2);
    }

    #[test]
    fn refuses_malformed_files() {
        let good = elf32(&[(PT_LOAD, 84, 0x100, 4)], &[9; 4]);
        assert!(flatten(&good).is_ok());
        // Every truncation is an error, never a panic.
        for n in 0..good.len() {
            assert!(flatten(&good[..n]).is_err(), "{n}");
        }
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            flatten(&b).unwrap_err()
        };
        assert!(with(&|b| b[5] = 2).contains("big-endian"));
        assert!(with(&|b| b[4] = 3).contains("class"));
        assert!(with(&|b| b[0x2C..0x2E].copy_from_slice(&[0xFF, 0xFF])).contains("PN_XNUM"));
        assert!(with(&|b| b[0x2C..0x2E].copy_from_slice(&[0, 0])).contains("no program"));
        assert!(with(&|b| b[0x2A] = 8).contains("smaller"));
        assert!(with(&|b| b[0x1C..0x20].copy_from_slice(&[0xF0; 4])).contains("past the end"));
        // Segment data past the end, and an offset that overflows.
        assert!(with(&|b| b[52 + 16] = 200).contains("segment 0"));
        assert!(with(&|b| b[56..60].copy_from_slice(&[0xFF; 4])).contains("segment 0"));
        // Wraps past 4 GiB.
        assert!(
            with(&|b| b[64..68].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes())).contains("4 GiB")
        );
        let none = elf32(&[(PT_LOAD, 84, 0x100, 0)], &[]);
        assert!(flatten(&none).unwrap_err().contains("no loadable"));
        let overlap = elf32(
            &[(PT_LOAD, 116, 0x100, 4), (PT_LOAD, 116, 0x102, 4)],
            &[0; 4],
        );
        assert!(flatten(&overlap).unwrap_err().contains("overlap"));
        let huge = elf32(
            &[(PT_LOAD, 116, 0x100, 4), (PT_LOAD, 116, 0x2000_0000, 4)],
            &[0; 4],
        );
        assert!(flatten(&huge).unwrap_err().contains("RAM segment"));
    }
}
