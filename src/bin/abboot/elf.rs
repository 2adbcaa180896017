//! ELF input, read with the `object` crate (what probe-rs and
//! cargo-binutils read ELF with): the loadable segments (`PT_LOAD` with
//! file data) at their *physical* addresses (`p_paddr`, where initialised
//! `.data` is stored in flash even though it runs from RAM), laid out by
//! [`lay_out`](crate::firmware::lay_out).
//!
//! * A segment, or the start of one, that holds only the ELF header and
//!   program header table is left out: lld's default layout maps them in
//!   a first `PT_LOAD`, and taken as firmware they would become the first
//!   bytes of the payload and move its load address.
//! * The machine must be the one expected: `--arch`, or without it a
//!   32-bit microcontroller machine (Arm, RISC-V 32); an x86-64 program is
//!   refused.

use object::elf::{
    FileHeader32, FileHeader64, EM_386, EM_AARCH64, EM_ARM, EM_RISCV, EM_X86_64, EM_XTENSA, PT_LOAD,
};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, FileKind};

use crate::firmware::{lay_out, Flat, Piece};

/// A machine an ELF file is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// 32-bit Arm (Cortex-M, Cortex-R, Cortex-A in AArch32).
    Arm,
    /// 64-bit Arm.
    Aarch64,
    /// 32-bit RISC-V.
    Riscv32,
    /// 64-bit RISC-V.
    Riscv64,
    /// Xtensa (ESP32).
    Xtensa,
    /// 32-bit x86.
    X86,
    /// x86-64.
    #[value(name = "x86-64")]
    X86_64,
}

impl Arch {
    fn of(machine: u16, is64: bool) -> Option<Arch> {
        Some(match (machine, is64) {
            (EM_ARM, _) => Arch::Arm,
            (EM_AARCH64, _) => Arch::Aarch64,
            (EM_RISCV, false) => Arch::Riscv32,
            (EM_RISCV, true) => Arch::Riscv64,
            (EM_XTENSA, _) => Arch::Xtensa,
            (EM_386, _) => Arch::X86,
            (EM_X86_64, _) => Arch::X86_64,
            _ => return None,
        })
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Arm => "arm",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv32 => "riscv32",
            Arch::Riscv64 => "riscv64",
            Arch::Xtensa => "xtensa",
            Arch::X86 => "x86",
            Arch::X86_64 => "x86-64",
        }
    }
}

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// An ELF file laid out flat, and the machine it is for.
pub struct Elf {
    /// The flat firmware.
    pub flat: Flat,
    /// The machine.
    pub arch: Arch,
}

/// Reads the ELF file `bytes` for the machine `expect`.
///
/// # Errors
///
/// What is malformed, unsupported or unexpected, as one sentence.
pub fn flatten(bytes: &[u8], expect: Option<Arch>) -> Result<Elf, String> {
    match FileKind::parse(bytes).map_err(|e| format!("not an ELF file: {e}"))? {
        FileKind::Elf32 => read::<FileHeader32<Endianness>>(bytes, expect),
        FileKind::Elf64 => read::<FileHeader64<Endianness>>(bytes, expect),
        other => Err(format!("not an ELF file ({other:?})")),
    }
}

fn read<H: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
    expect: Option<Arch>,
) -> Result<Elf, String> {
    let h = H::parse(bytes).map_err(|e| format!("malformed ELF header: {e}"))?;
    let endian = h
        .endian()
        .map_err(|e| format!("malformed ELF header: {e}"))?;
    let machine = h.e_machine(endian);
    let arch = Arch::of(machine, h.is_type_64());
    match (arch, expect) {
        (Some(a), Some(e)) if a == e => {}
        (Some(Arch::Arm | Arch::Riscv32), None) => {}
        (a, e) => {
            let found = a.map_or(format!("machine {machine}"), |a| a.name().to_string());
            return Err(match e {
                Some(e) => format!("built for {found}, not for {} (--arch)", e.name()),
                None => format!(
                    "built for {found}, not for a microcontroller; if that is the device's \
                     machine, say so with --arch"
                ),
            });
        }
    }
    let arch = arch.unwrap_or(Arch::Arm);
    let phdrs = h
        .program_headers(endian, bytes)
        .map_err(|e| format!("malformed program header table: {e}"))?;
    if phdrs.is_empty() {
        return Err("no program headers (an object file, not a linked image?)".into());
    }
    // Where the ELF header and program header table end in the file.
    let phoff: u64 = h.e_phoff(endian).into();
    let table = u64::from(h.e_phnum(endian)) * u64::from(h.e_phentsize(endian));
    let headers_end = (phoff + table).max(u64::from(h.e_ehsize(endian)));
    let mut pieces = Vec::new();
    let mut skipped = Vec::new();
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type(endian) != PT_LOAD {
            continue;
        }
        let filesz: u64 = ph.p_filesz(endian).into();
        if filesz == 0 {
            continue;
        }
        let offset: u64 = ph.p_offset(endian).into();
        let paddr: u64 = ph.p_paddr(endian).into();
        let data = ph.data(endian, bytes).map_err(|()| {
            format!(
                "segment {index}: its data (offset 0x{offset:x}, {filesz} bytes) runs past the \
                 end of the file ({} bytes)",
                bytes.len()
            )
        })?;
        let skip = if offset < headers_end {
            (headers_end - offset).min(filesz)
        } else {
            0
        };
        if skip == filesz {
            skipped.push(format!(
                "segment {index} at 0x{paddr:08x}: only the ELF and program headers"
            ));
            continue;
        }
        if skip > 0 {
            skipped.push(format!(
                "the first {skip} bytes of segment {index}: the ELF and program headers"
            ));
        }
        pieces.push(Piece {
            label: format!("segment {index}"),
            address: paddr + skip,
            data: &data[skip as usize..],
        });
    }
    if pieces.is_empty() {
        return Err("no loadable segment (PT_LOAD) with file data".into());
    }
    let flat = lay_out(pieces, skipped)?;
    Ok(Elf { flat, arch })
}
