//! `mps2-host`: the host side of the qemu-mps2 board's tests.
//!
//! Signs firmware images with the board's test key (or forges them),
//! writes the flash file a factory programmer would, flips bits in it, and
//! reads its metadata journal back.
//!
//! ```text
//! mps2-host pubkey                         the test public key, as Rust
//! mps2-host sign SLOT VERSION IN OUT [FORGE]   IN: flat binary (objcopy -O binary)
//!     FORGE: other-key       signed by an untrusted key (unknown key id)
//!            other-key-same-id  signed by an untrusted key, key id of the trusted one
//!            flip-payload    one payload byte flipped after signing
//!            other-hardware  signed for another hardware id
//! mps2-host random-image SLOT VERSION LEN OUT   a signed image of LEN random payload bytes
//!                                               after a vector table the bootloader accepts
//! mps2-host flash-new FLASH                an erased flash file
//! mps2-host flash-put FLASH SLOT IMAGE     write IMAGE at the start of SLOT (factory)
//! mps2-host flash-put-head FLASH SLOT IMAGE  write what fits of an IMAGE larger than SLOT
//! mps2-host flash-shift FLASH BYTES        move the whole flash up by BYTES, as a board
//!                                          whose layout starts BYTES later would hold it
//! mps2-host flash-flip FLASH SLOT OFFSET   flip the low bit of byte OFFSET of SLOT's image
//! mps2-host state FLASH                    the newest metadata record, one line
//! mps2-host verify FLASH SLOT              verify SLOT's image as the bootloader does
//! mps2-host panic-sites ELF                the calls into panic paths left in ELF
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, ExitCode};

use abboot::image::header::{key_id_of, ImageHeader, KEY_ID_LEN};
use abboot::image::sign::{keypair_from_seed, sign_image};
use abboot::image::signed::{verify_image, TrustedKey, TrustedKeys};
use abboot::journal::Journal;
use abboot::sim::SimFlash;
use abboot::state::{ImageState, Slot};
use abboot::Version;

#[allow(dead_code)]
#[path = "../../src/config.rs"]
mod config;

/// Secret seed of the board's test key; `config::TRUSTED_KEYS` holds its
/// public half.
const TEST_KEY_SEED: [u8; 32] = *b"abboot-qemu-mps2-test-key-seed-1";
/// Seed of a key the board does not trust.
const OTHER_KEY_SEED: [u8; 32] = *b"abboot-qemu-mps2-NOT-trusted-key";

type Flash = SimFlash<1, 4, 4096>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mps2-host: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &[&str]) -> Result<(), String> {
    match a {
        ["pubkey"] => {
            let kp = keypair_from_seed(TEST_KEY_SEED).map_err(|e| e.to_string())?;
            println!("{}", rust_array(&kp.pk[..]));
            Ok(())
        }
        ["sign", slot, version, input, out, forge @ ..] => {
            let payload = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
            let image = sign(
                slot_arg(slot)?,
                version_arg(version)?,
                &payload,
                forge.first().copied(),
            )?;
            write(out, &image)
        }
        ["random-image", slot, version, len, out] => {
            let len: usize = len.parse().map_err(|_| format!("bad length {len}"))?;
            // Deterministic pseudo-random bytes (xorshift), not compressible.
            let mut x: u32 = 0x9E37_79B9 ^ len as u32;
            let mut payload: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            // Starting with a vector table the bootloader's check accepts
            // (a stack in RAM, a reset vector inside the payload): images
            // for the figures, which `select` verifies and never starts.
            let slot = slot_arg(slot)?;
            let entry = config::LOAD_ADDRESS[slot.index()] + 8 + 1;
            for (d, s) in payload.iter_mut().zip(
                0x2000_8000u32
                    .to_le_bytes()
                    .into_iter()
                    .chain(entry.to_le_bytes()),
            ) {
                *d = s;
            }
            let image = sign(slot, version_arg(version)?, &payload, None)?;
            write(out, &image)
        }
        ["flash-new", flash] => write(flash, &vec![0xFF; config::FLASH_LEN as usize]),
        ["flash-put", flash, slot, image] => {
            let mut bytes = read_flash(flash)?;
            let image = std::fs::read(image).map_err(|e| format!("{image}: {e}"))?;
            let slot = slot_arg(slot)?;
            if image.len() > config::SLOT_LEN as usize {
                return Err(format!(
                    "image of {} bytes does not fit a slot",
                    image.len()
                ));
            }
            let at = config::SLOT_OFFSET[slot.index()] as usize;
            // A factory programmer erases the slot, then programs the image.
            bytes[at..at + config::SLOT_LEN as usize].fill(0xFF);
            bytes[at..at + image.len()].copy_from_slice(&image);
            write(flash, &bytes)
        }
        ["flash-put-head", flash, slot, image] => {
            let mut bytes = read_flash(flash)?;
            let image = std::fs::read(image).map_err(|e| format!("{image}: {e}"))?;
            let at = config::SLOT_OFFSET[slot_arg(slot)?.index()] as usize;
            let slot_len = config::SLOT_LEN as usize;
            if image.len() <= slot_len {
                return Err("the image fits its slot: use flash-put".into());
            }
            bytes[at..at + slot_len].copy_from_slice(&image[..slot_len]);
            write(flash, &bytes)
        }
        ["flash-shift", flash, by] => {
            let bytes = read_flash(flash)?;
            let by: usize = by.parse().map_err(|_| format!("bad shift {by}"))?;
            if by >= bytes.len() {
                return Err("shift beyond the flash".into());
            }
            let mut shifted = vec![0xFF; bytes.len()];
            shifted[by..].copy_from_slice(&bytes[..bytes.len() - by]);
            write(flash, &shifted)
        }
        ["flash-flip", flash, slot, offset] => {
            let mut bytes = read_flash(flash)?;
            let offset: usize = offset.parse().map_err(|_| format!("bad offset {offset}"))?;
            if offset >= config::SLOT_LEN as usize {
                return Err("offset outside the slot".into());
            }
            bytes[config::SLOT_OFFSET[slot_arg(slot)?.index()] as usize + offset] ^= 1;
            write(flash, &bytes)
        }
        ["state", flash] => {
            println!("{}", state_line(&read_flash(flash)?));
            Ok(())
        }
        ["verify", flash, slot] => {
            let slot = slot_arg(slot)?;
            let mut f = sim_flash(&read_flash(flash)?);
            let region = config::LAYOUT.slots[slot.index()];
            match verify_image(&mut f, region, slot, &trusted(), &config::PROFILE) {
                Ok((h, _)) => {
                    println!("ok v{} load {:#010x}", h.version, h.load_address);
                    Ok(())
                }
                Err(e) => Err(format!("slot {slot}: {e}")),
            }
        }
        ["panic-sites", elf] => panic_sites(elf),
        _ => Err(format!("unknown command {a:?}; see the source for usage")),
    }
}

fn trusted() -> TrustedKeys<'static> {
    TrustedKeys::new(&config::TRUSTED_KEYS)
}

/// Signs `payload` for `slot`, or forges it as `forge` says.
fn sign(
    slot: Slot,
    version: Version,
    payload: &[u8],
    forge: Option<&str>,
) -> Result<Vec<u8>, String> {
    let key = keypair_from_seed(TEST_KEY_SEED).map_err(|e| e.to_string())?;
    // The key and its build-time id both.
    if [TrustedKey::new(*key.pk)] != config::TRUSTED_KEYS {
        return Err(format!(
            "config.rs TRUSTED_KEYS is not the test key's public half and its id; it should \
             be\n{}\nwith id {}",
            rust_array(&key.pk[..]),
            rust_array(&key_id_of(&key.pk))
        ));
    }
    let other = keypair_from_seed(OTHER_KEY_SEED).map_err(|e| e.to_string())?;
    let mut template = ImageHeader {
        version,
        hardware_id: config::HARDWARE_ID,
        load_address: config::LOAD_ADDRESS[slot.index()],
        ..ImageHeader::default()
    };
    if forge == Some("other-hardware") {
        template.hardware_id ^= 0x100;
    }
    let signer = match forge {
        Some("other-key" | "other-key-same-id") => &other,
        None | Some("flip-payload" | "other-hardware") => &key,
        Some(f) => return Err(format!("unknown forgery {f}")),
    };
    let mut image =
        sign_image(&template, payload, signer, config::HEADER_LEN).map_err(|e| e.to_string())?;
    match forge {
        Some("other-key-same-id") => {
            // Claim the trusted key's id, so the signature itself is tried.
            let id = key_id_of(&key.pk);
            image[0x48..0x48 + KEY_ID_LEN].copy_from_slice(&id);
        }
        Some("flip-payload") => {
            let mid = config::HEADER_LEN as usize + payload.len() / 2;
            image[mid] ^= 0x01;
        }
        _ => {}
    }
    Ok(image)
}

fn slot_arg(s: &str) -> Result<Slot, String> {
    match s {
        "a" | "A" => Ok(Slot::A),
        "b" | "B" => Ok(Slot::B),
        _ => Err(format!("bad slot {s}")),
    }
}

fn version_arg(s: &str) -> Result<Version, String> {
    let p: Vec<&str> = s.split('.').collect();
    let n = |i: usize| p.get(i).and_then(|v| v.parse::<u32>().ok());
    match (p.len(), n(0), n(1), n(2)) {
        (3, Some(a), Some(b), Some(c)) if a < 256 && b < 256 && c < 65536 => {
            Ok(Version::new(a as u8, b as u8, c as u16, 0))
        }
        _ => Err(format!("bad version {s} (MAJOR.MINOR.PATCH)")),
    }
}

fn read_flash(path: &str) -> Result<Vec<u8>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if b.len() != config::FLASH_LEN as usize {
        return Err(format!(
            "{path}: {} bytes, expected {}",
            b.len(),
            config::FLASH_LEN
        ));
    }
    Ok(b)
}

fn write(path: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))
}

fn sim_flash(bytes: &[u8]) -> Flash {
    let mut f = Flash::new(bytes.len());
    f.set_contents(0, bytes);
    f
}

fn rust_array(k: &[u8]) -> String {
    let hex: Vec<String> = k.iter().map(|b| format!("0x{b:02x}")).collect();
    format!("[{}]", hex.join(", "))
}

/// The newest record as one line: `primary=A A=Confirmed(1.0.0) B=Trial{2}(1.1.0) update=Trial reason=None failures=0`.
fn state_line(bytes: &[u8]) -> String {
    let flash = sim_flash(bytes);
    let mut j = match Journal::new(flash, config::LAYOUT.metadata) {
        Ok(j) => j,
        Err(e) => return format!("unusable geometry {e:?}"),
    };
    let loaded = j.read();
    let f = loaded.findings;
    let Some(r) = loaded.record else {
        return format!(
            "no-record blank={} valid={} invalid={} unreadable={}",
            loaded.blank(),
            f.valid,
            f.invalid,
            f.unreadable
        );
    };
    let st = r.state;
    let slot = |s: Slot| {
        let i = st.slot(s);
        let state = match i.state {
            ImageState::Empty => "Empty".to_string(),
            ImageState::Pending { tries } => format!("Pending{{{tries}}}"),
            ImageState::Trial { tries } => format!("Trial{{{tries}}}"),
            ImageState::Confirmed => "Confirmed".into(),
            ImageState::Rejected => "Rejected".into(),
        };
        format!(
            "{s}={state}({}.{}.{})",
            i.version.major, i.version.minor, i.version.patch
        )
    };
    format!(
        "primary={} {} {} update={:?} reason={:?} failures={} invalid={}",
        st.primary.map_or("none".into(), |s| s.to_string()),
        slot(Slot::A),
        slot(Slot::B),
        st.update,
        st.last_reason,
        st.failure_count,
        f.invalid
    )
}

/// Whether `name` is a function of the standard library or the compiler.
fn is_core(name: &str) -> bool {
    let n = name.trim_start_matches('<');
    n.starts_with("core::") || n.starts_with("compiler_builtins") || n.starts_with("__aeabi")
}

/// Where a panic starts: the panic machinery itself.
fn is_panic_root(name: &str) -> bool {
    name.starts_with("core::panicking::")
        || name.contains("rust_begin_unwind")
        || name.ends_with("_fail")
        || name.contains("unwrap_failed")
        || name.contains("expect_failed")
        || name.starts_with("core::cell::panic_")
        || name.contains("abboot_panic_path_survived")
}

/// Lists every call from code outside `core` into a panic path in `elf`
/// (linked with a real panic handler): one line per function that makes
/// such a call, `FUNCTION<TAB>CALLS<TAB>inlined chain of the first one`.
///
/// A panic path is a call to the panic machinery, or to a `core` helper
/// that (transitively) calls it, such as an outlined slice index. The
/// function named is the innermost non-`core` frame at the call site, so
/// code inlined into its caller is still named by its source.
fn panic_sites(elf: &str) -> Result<(), String> {
    let dis = tool(
        "arm-none-eabi-objdump",
        &["-d", "--demangle", "--no-show-raw-insn", elf],
    )?;
    // (caller, call address, callee) for every branch to another function.
    let mut calls: Vec<(String, u64, String)> = Vec::new();
    let mut current = String::new();
    for line in dis.lines() {
        if let Some(head) = line.strip_suffix(">:") {
            if let Some((_, name)) = head.split_once(" <") {
                current = name.to_string();
            }
            continue;
        }
        let Some((addr, rest)) = line.trim_start().split_once(':') else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(op) = words.next() else { continue };
        if !op.starts_with('b')
            || op.starts_with("bic")
            || op.starts_with("bfi")
            || op.starts_with("bkpt")
        {
            continue;
        }
        let Some(target) = rest.split_once('<').and_then(|(_, t)| t.strip_suffix('>')) else {
            continue;
        };
        if target.contains("+0x") {
            continue; // a branch inside a function
        }
        calls.push((current.clone(), addr, target.to_string()));
    }
    // core helpers that reach the panic machinery, to a fixpoint.
    let mut panicky: BTreeSet<String> = calls
        .iter()
        .filter(|(_, _, to)| is_panic_root(to))
        .map(|(_, _, to)| to.clone())
        .collect();
    loop {
        let before = panicky.len();
        for (from, _, to) in &calls {
            if is_core(from) && panicky.contains(to) {
                panicky.insert(from.clone());
            }
        }
        if panicky.len() == before {
            break;
        }
    }
    let sites: Vec<(u64, String)> = calls
        .iter()
        .filter(|(from, _, to)| !is_core(from) && !is_panic_root(from) && panicky.contains(to))
        .map(|(_, at, to)| (*at, to.clone()))
        .collect();
    if sites.is_empty() {
        return Ok(());
    }
    let mut args = vec!["-a", "-i", "-f", "-C", "-e", elf];
    let addrs: Vec<String> = sites.iter().map(|(a, _)| format!("0x{a:x}")).collect();
    args.extend(addrs.iter().map(String::as_str));
    let out = tool("arm-none-eabi-addr2line", &args)?;
    // Groups: an address line, then (function, file:line) pairs, innermost first.
    let mut frames: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    let mut lines = out.lines().peekable();
    let mut at = 0;
    while let Some(l) = lines.next() {
        if let Some(hex) = l.strip_prefix("0x") {
            at = u64::from_str_radix(hex, 16).unwrap_or(0);
            frames.entry(at).or_default();
            continue;
        }
        let place = lines.next().unwrap_or_default();
        frames
            .entry(at)
            .or_default()
            .push((l.to_string(), short_path(place)));
    }
    let mut by_fn: BTreeMap<String, (u32, String)> = BTreeMap::new();
    for (addr, callee) in &sites {
        let chain = frames.get(addr).cloned().unwrap_or_default();
        let outside: Vec<&(String, String)> = chain.iter().filter(|(f, _)| !is_core(f)).collect();
        // LLVM's machine outliner names its pieces by number: name them by
        // their source file instead, which stays the same between builds.
        let key = match outside.first() {
            Some((f, p)) if f.starts_with("OUTLINED_FUNCTION") => {
                format!("outlined code of {}", p.split(':').next().unwrap_or("?"))
            }
            Some((f, _)) => f.clone(),
            None => "?".to_string(),
        };
        let shown: Vec<String> = outside.iter().map(|(f, p)| format!("{f} ({p})")).collect();
        let entry = by_fn.entry(key).or_insert((0, String::new()));
        entry.0 += 1;
        if entry.1.is_empty() {
            entry.1 = format!("{} <- calls {callee}", shown.join(" <- "));
        }
    }
    for (f, (n, chain)) in by_fn {
        println!("{f}\t{n}\t{chain}");
    }
    Ok(())
}

/// `crate/src/file.rs:line` for a source path from the debug info.
fn short_path(p: &str) -> String {
    let Some(i) = p.rfind("/src/") else {
        return p.to_string();
    };
    let head = &p[..i];
    let krate = if head.contains("/registry/") {
        head.rsplit('/').next().unwrap_or("?")
    } else if head.ends_with("boards/qemu-mps2") {
        "board"
    } else if head.contains("/rustc/") || head.contains("/library/") {
        "std"
    } else {
        "abboot"
    };
    format!("{krate}{}", &p[i..])
}

fn tool(name: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(name)
        .args(args)
        .output()
        .map_err(|e| format!("{name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
