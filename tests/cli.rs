//! The host tool `abboot`, run as a user runs it: round trips, interop with
//! OpenSSL, and bad input.
//!
//! Bad input must give one line on standard error naming the file and what
//! is wrong, a non-zero exit, and no new or changed output file. Tests that
//! need `openssl` skip (with a note) where it is not installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use abboot::image::digest::DigestCheck;
use abboot::journal::{Geometry, Journal};
use abboot::sim::device::test_image;
use abboot::sim::file::FileFlash;
use abboot::sim::Device;
use abboot::state::{BootKind, BootState, ImageState, Reason, Slot, UpdateState};
use abboot::{Control, StageOptions, Version};
use serde_json::Value;

#[path = "cli/linux.rs"]
mod linux;

const HW: &str = "0xb0a4d001";
const LOAD_A: u32 = 0x0801_0200;
const LOAD_B: u32 = 0x0808_0200;

/// A scratch directory for one test, emptied at the start.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `abboot` in `dir`, so that file names in messages are the short
/// ones given here.
fn abboot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abboot"))
        .current_dir(dir)
        .env_remove("ABBOOT_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts success and returns standard output.
#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

/// Asserts a failure reported as the one line `error: FILE: ...NEEDLE...`
/// with nothing on standard output, and returns the line.
#[track_caller]
fn fails(out: Output, file: &str, needle: &str) -> String {
    let err = stderr(&out);
    assert!(!out.status.success(), "succeeded: {}", stdout(&out));
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    let line = err.trim_end().to_string();
    assert!(
        line.starts_with(&format!("error: {file}: ")),
        "does not name {file}: {line}"
    );
    assert!(line.contains(needle), "no {needle:?} in: {line}");
    assert!(out.stdout.is_empty(), "printed: {}", stdout(&out));
    line
}

/// No temporary file is left behind in `dir`.
#[track_caller]
fn no_temporaries(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(!name.contains(".abboot-tmp"), "left behind: {name}");
    }
}

fn has_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: openssl is not installed; skipping the part of this test that needs it");
    }
    found
}

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keygen(dir: &Path, key: &str, public: &str) {
    ok(abboot(dir, &["keygen", "--out", key, "--pub", public]));
}

fn sign_args<'a>(key: &'a str, input: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "sign",
        "--key",
        key,
        "--in",
        input,
        "--out",
        out,
        "--version",
        "1.2.3+45",
        "--security-counter",
        "7",
        "--hardware-id",
        HW,
        "--data-epoch",
        "3",
        "--header-len",
        "0x200",
    ]
}

/// Signs a raw binary for slot A.
fn sign_bin(dir: &Path, key: &str, input: &str, out: &str) -> Output {
    let mut args = sign_args(key, input, out);
    let load = format!("{LOAD_A:#x}");
    args.extend(["--load-address", &load]);
    abboot(dir, &args)
}

fn verify_args<'a>(public: &'a str, image: &'a str, load_a: &'a str) -> Vec<&'a str> {
    vec![
        "verify",
        "--pub",
        public,
        "--image",
        image,
        "--hardware-id",
        HW,
        "--load-address-a",
        load_a,
    ]
}

fn firmware(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

#[test]
fn round_trip_raw_binary() {
    let d = scratch("round_trip_raw_binary");
    let out = ok(abboot(
        &d,
        &["keygen", "--out", "key.pem", "--pub", "pub.pem"],
    ));
    assert!(out.contains("pub const KEY: TrustedKey = TrustedKey::with_id(PUBLIC_KEY, KEY_ID);"));
    let key_id = out
        .lines()
        .find_map(|l| l.strip_prefix("// key id "))
        .unwrap()
        .to_string();
    assert_eq!(key_id.len(), 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(d.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret key readable by others");
    }

    let fw = firmware(5000);
    fs::write(d.join("fw.bin"), &fw).unwrap();
    let out = ok(sign_bin(&d, "key.pem", "fw.bin", "signed.bin"));
    assert!(out.contains(&key_id), "{out}");
    let image = fs::read(d.join("signed.bin")).unwrap();
    assert_eq!(image.len(), 0x200 + 5000);
    assert_eq!(&image[..4], b"ABIM");
    assert_eq!(&image[0x200..], &fw[..]);
    assert!(image[144..0x200].iter().all(|&b| b == 0xFF));

    let load = format!("{LOAD_A:#x}");
    let out = ok(abboot(&d, &verify_args("pub.pem", "signed.bin", &load)));
    assert!(
        out.starts_with("OK: signed.bin verifies for slot A"),
        "{out}"
    );
    assert!(out.contains("version 1.2.3+45"), "{out}");
    // A slot larger than the image is fine; so is a second trusted key.
    ok(abboot(
        &d,
        &["keygen", "--out", "k2.pem", "--pub", "p2.pem"],
    ));
    let mut args = verify_args("p2.pem", "signed.bin", &load);
    args.extend(["--pub", "pub.pem", "--slot-size", "128K"]);
    ok(abboot(&d, &args));

    let text = ok(abboot(&d, &["inspect", "image", "--image", "signed.bin"]));
    assert!(text.contains("payload digest    matches"), "{text}");
    assert!(text.contains(&key_id), "{text}");
    let json: Value = serde_json::from_str(&ok(abboot(
        &d,
        &["inspect", "image", "--image", "signed.bin", "--json"],
    )))
    .unwrap();
    let h = &json["header"];
    assert_eq!(h["header_len"], 0x200);
    assert_eq!(h["payload_len"], 5000);
    assert_eq!(h["version_text"], "1.2.3+45");
    assert_eq!(h["version"]["patch"], 3);
    assert_eq!(h["security_counter"], 7);
    assert_eq!(h["hardware_id"], 0xb0a4_d001u32);
    assert_eq!(h["load_address"], LOAD_A);
    assert_eq!(h["data_epoch"], 3);
    assert_eq!(h["key_id"], key_id.as_str());
    assert_eq!(json["payload"]["status"], "match");
    assert_eq!(json["payload"]["matches"], true);

    // pubkey gives the same key from the secret and the public file.
    let from_secret = ok(abboot(&d, &["pubkey", "--key", "key.pem"]));
    assert_eq!(from_secret, fs::read_to_string(d.join("pub.pem")).unwrap());
    let rust = ok(abboot(
        &d,
        &["pubkey", "--key", "pub.pem", "--format", "rust"],
    ));
    assert!(rust.contains(&key_id) && rust.contains("pub const KEY"));
    no_temporaries(&d);
}

/// An ELF file with program headers `(p_type, p_offset, p_paddr,
/// p_filesz)`, followed by `data` (offsets count from the file start).
fn elf(class64: bool, phdrs: &[(u32, u64, u64, u64)], data: &[u8]) -> Vec<u8> {
    let (ehsize, phentsize) = if class64 { (64, 56) } else { (52, 32) };
    let mut b = vec![0u8; ehsize];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = if class64 { 2 } else { 1 };
    b[5] = 1; // little-endian
    b[6] = 1;
    b[0x10] = 2; // ET_EXEC
    b[0x12] = 40; // EM_ARM
    let n = phdrs.len() as u16;
    if class64 {
        b[0x20..0x28].copy_from_slice(&(ehsize as u64).to_le_bytes());
        b[0x36..0x38].copy_from_slice(&(phentsize as u16).to_le_bytes());
        b[0x38..0x3A].copy_from_slice(&n.to_le_bytes());
    } else {
        b[0x1C..0x20].copy_from_slice(&(ehsize as u32).to_le_bytes());
        b[0x2A..0x2C].copy_from_slice(&(phentsize as u16).to_le_bytes());
        b[0x2C..0x2E].copy_from_slice(&n.to_le_bytes());
    }
    for &(t, off, paddr, filesz) in phdrs {
        // The virtual address differs from the physical one, as for .data.
        let vaddr = paddr ^ 0x1000_0000;
        let mut p = vec![0u8; phentsize];
        p[0..4].copy_from_slice(&t.to_le_bytes());
        if class64 {
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[24..32].copy_from_slice(&paddr.to_le_bytes());
            p[32..40].copy_from_slice(&filesz.to_le_bytes());
            p[40..48].copy_from_slice(&(filesz + 64).to_le_bytes());
        } else {
            p[4..8].copy_from_slice(&(off as u32).to_le_bytes());
            p[8..12].copy_from_slice(&(vaddr as u32).to_le_bytes());
            p[12..16].copy_from_slice(&(paddr as u32).to_le_bytes());
            p[16..20].copy_from_slice(&(filesz as u32).to_le_bytes());
            p[20..24].copy_from_slice(&(filesz as u32 + 64).to_le_bytes());
        }
        b.extend_from_slice(&p);
    }
    b.extend_from_slice(data);
    b
}

/// A firmware ELF for slot B: vectors and code at `LOAD_B`, initialised
/// data stored 0x40 bytes after the code ends, a .bss segment without file
/// data, and a non-loadable header.
fn firmware_elf(class64: bool) -> (Vec<u8>, Vec<u8>) {
    let start = if class64 { 64 + 4 * 56 } else { 52 + 4 * 32 } as u64;
    let code: Vec<u8> = (0..0x100u32).map(|i| i as u8).collect();
    let data = [0xDA; 0x20];
    let mut blob = code.clone();
    blob.extend_from_slice(&data);
    let base = u64::from(LOAD_B);
    let bytes = elf(
        class64,
        &[
            // Listed out of address order on purpose.
            (1, start + 0x100, base + 0x140, 0x20),
            (6, 0, 0, 0),
            (1, start, base, 0x100),
            (1, start, 0x2000_0000, 0),
        ],
        &blob,
    );
    let mut flat = code;
    flat.extend_from_slice(&[0xFF; 0x40]);
    flat.extend_from_slice(&data);
    (bytes, flat)
}

#[test]
fn round_trip_elf32_and_elf64() {
    let d = scratch("round_trip_elf");
    keygen(&d, "key.pem", "pub.pem");
    for class64 in [false, true] {
        let (bytes, flat) = firmware_elf(class64);
        fs::write(d.join("fw.elf"), &bytes).unwrap();
        // No --load-address: the lowest segment address is used.
        let out = ok(abboot(&d, &sign_args("key.pem", "fw.elf", "signed.bin")));
        assert!(
            out.contains("input: ELF for arm, 2 loadable segment(s)"),
            "{out}"
        );
        let image = fs::read(d.join("signed.bin")).unwrap();
        assert_eq!(&image[0x200..], &flat[..], "ELF64 {class64}");

        let load_b = format!("{LOAD_B:#x}");
        let args = [
            "verify",
            "--pub",
            "pub.pem",
            "--image",
            "signed.bin",
            "--slot",
            "b",
            "--slot-size",
            "0x10000",
            "--hardware-id",
            HW,
            "--load-address-b",
            &load_b,
        ];
        ok(abboot(&d, &args));
        let json: Value = serde_json::from_str(&ok(abboot(
            &d,
            &["inspect", "image", "--image", "signed.bin", "--json"],
        )))
        .unwrap();
        assert_eq!(json["header"]["load_address"], LOAD_B);
        assert_eq!(json["header"]["payload_len"], flat.len());
        assert_eq!(json["payload"]["matches"], true);

        // Signed for B, it is refused in A.
        let load_a = format!("{LOAD_A:#x}");
        fails(
            abboot(&d, &verify_args("pub.pem", "signed.bin", &load_a)),
            "signed.bin",
            "image linked for another load address: image 0x08080200, slot A expects 0x08010200",
        );
    }
}

#[test]
fn elf_load_address_must_match_its_link_address() {
    let d = scratch("elf_load_address");
    keygen(&d, "key.pem", "pub.pem");
    fs::write(d.join("fw.elf"), firmware_elf(false).0).unwrap();
    let mut args = sign_args("key.pem", "fw.elf", "signed.bin");
    args.extend(["--load-address", "0x08010200"]);
    fails(abboot(&d, &args), "fw.elf", "differs from 0x08080200");
    assert!(!d.join("signed.bin").exists());
    let load_b = format!("{LOAD_B:#x}");
    let mut args = sign_args("key.pem", "fw.elf", "signed.bin");
    args.extend(["--load-address", &load_b]);
    ok(abboot(&d, &args));
}

#[test]
fn malformed_elf_is_refused_and_writes_nothing() {
    let d = scratch("malformed_elf");
    keygen(&d, "key.pem", "pub.pem");
    let (good, _) = firmware_elf(false);
    // An earlier image that a failed signing must leave alone.
    fs::write(d.join("signed.bin"), b"previous image").unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..40].to_vec(), "malformed ELF header"),
        (
            good[..52 + 3 * 32].to_vec(),
            "malformed program header table",
        ),
        (good[..good.len() - 1].to_vec(), "segment 0: its data"),
        (
            {
                // Big-endian: the machine field reads as another machine.
                let mut b = good.clone();
                b[5] = 2;
                b
            },
            "built for machine",
        ),
        (elf(false, &[(6, 0, 0, 0)], &[]), "no loadable segment"),
    ];
    for (bytes, needle) in cases {
        fs::write(d.join("bad.elf"), &bytes).unwrap();
        let line = fails(
            abboot(&d, &sign_args("key.pem", "bad.elf", "signed.bin")),
            "bad.elf",
            needle,
        );
        assert!(line.contains("bad.elf: ELF: "), "{line}");
        assert_eq!(fs::read(d.join("signed.bin")).unwrap(), b"previous image");
        // The same with an output that does not exist yet.
        fails(
            abboot(&d, &sign_args("key.pem", "bad.elf", "new.bin")),
            "bad.elf",
            needle,
        );
        assert!(!d.join("new.bin").exists());
    }
    no_temporaries(&d);
}

#[test]
fn verify_names_the_check_that_fails() {
    let d = scratch("verify_failures");
    keygen(&d, "key.pem", "pub.pem");
    keygen(&d, "other.pem", "other_pub.pem");
    fs::write(d.join("fw.bin"), firmware(3000)).unwrap();
    ok(sign_bin(&d, "key.pem", "fw.bin", "signed.bin"));
    let load = format!("{LOAD_A:#x}");

    // Another key: its key id is not the image's.
    fails(
        abboot(&d, &verify_args("other_pub.pem", "signed.bin", &load)),
        "signed.bin",
        "no trusted key with this key id",
    );

    let image = fs::read(d.join("signed.bin")).unwrap();
    let tampered = |name: &str, at: usize| {
        let mut b = image.clone();
        b[at] ^= 0x01;
        fs::write(d.join(name), b).unwrap();
    };
    tampered("badsig.bin", 0x60);
    fails(
        abboot(&d, &verify_args("pub.pem", "badsig.bin", &load)),
        "badsig.bin",
        "signature does not verify",
    );
    tampered("badpayload.bin", 0x300);
    fails(
        abboot(&d, &verify_args("pub.pem", "badpayload.bin", &load)),
        "badpayload.bin",
        "payload digest mismatch",
    );
    // The unsigned padding changes nothing.
    tampered("padding.bin", 0x100);
    ok(abboot(&d, &verify_args("pub.pem", "padding.bin", &load)));
    let text = ok(abboot(
        &d,
        &["inspect", "image", "--image", "badpayload.bin"],
    ));
    assert!(text.contains("MISMATCH"), "{text}");

    let mut args = verify_args("pub.pem", "signed.bin", &load);
    args[6] = "0x1234";
    fails(
        abboot(&d, &args),
        "signed.bin",
        "image built for other hardware: image 0xb0a4d001, board 0x00001234",
    );

    // Truncated file.
    fs::write(d.join("short.bin"), &image[..image.len() - 10]).unwrap();
    fails(
        abboot(&d, &verify_args("pub.pem", "short.bin", &load)),
        "short.bin",
        "file truncated: the header describes 3512 bytes, the file holds only 3502",
    );
    // In a larger slot the missing bytes read as erased flash.
    let mut args = verify_args("pub.pem", "short.bin", &load);
    args.extend(["--slot-size", "64K"]);
    fails(abboot(&d, &args), "short.bin", "file truncated");
    fs::write(d.join("tiny.bin"), &image[..100]).unwrap();
    fails(
        abboot(&d, &["inspect", "image", "--image", "tiny.bin"]),
        "tiny.bin",
        "image header truncated",
    );
    fs::write(d.join("blank.bin"), [0xFF; 4096]).unwrap();
    fails(
        abboot(&d, &["inspect", "image", "--image", "blank.bin"]),
        "blank.bin",
        "slot is blank",
    );
}

#[test]
fn image_larger_than_the_slot() {
    let d = scratch("too_large");
    keygen(&d, "key.pem", "pub.pem");
    fs::write(d.join("fw.bin"), firmware(5000)).unwrap();
    ok(sign_bin(&d, "key.pem", "fw.bin", "signed.bin"));
    let load = format!("{LOAD_A:#x}");
    let mut args = verify_args("pub.pem", "signed.bin", &load);
    args.extend(["--slot-size", "4K"]);
    fails(
        abboot(&d, &args),
        "signed.bin",
        "image larger than its slot",
    );
}

#[test]
fn missing_files_are_named() {
    let d = scratch("missing");
    keygen(&d, "key.pem", "pub.pem");
    fs::write(d.join("fw.bin"), firmware(100)).unwrap();
    fails(
        sign_bin(&d, "nokey.pem", "fw.bin", "signed.bin"),
        "nokey.pem",
        "cannot read",
    );
    fails(
        sign_bin(&d, "key.pem", "nofw.bin", "signed.bin"),
        "nofw.bin",
        "cannot read",
    );
    assert!(!d.join("signed.bin").exists());
    let load = format!("{LOAD_A:#x}");
    fails(
        abboot(&d, &verify_args("pub.pem", "none.bin", &load)),
        "none.bin",
        "cannot read",
    );
    fails(
        abboot(&d, &verify_args("nopub.pem", "none.bin", &load)),
        "nopub.pem",
        "cannot read",
    );
    fails(
        abboot(&d, &["inspect", "image", "--image", "none.bin"]),
        "none.bin",
        "cannot read",
    );
    fails(
        abboot(
            &d,
            &[
                "inspect",
                "metadata",
                "--metadata",
                "none.bin",
                "--sector-size",
                "4096",
            ],
        ),
        "none.bin",
        "cannot read",
    );
    fails(
        abboot(&d, &["pubkey", "--key", "none.pem"]),
        "none.pem",
        "cannot read",
    );
    // Output into a directory that does not exist.
    fails(
        sign_bin(&d, "key.pem", "fw.bin", "nodir/signed.bin"),
        "nodir/signed.bin",
        "cannot write",
    );
    no_temporaries(&d);
}

#[test]
fn wrong_kind_of_key_file() {
    let d = scratch("wrong_key_kind");
    keygen(&d, "key.pem", "pub.pem");
    fs::write(d.join("fw.bin"), firmware(100)).unwrap();
    fs::write(d.join("signed.bin"), b"previous").unwrap();
    // A public key where the secret key belongs, and the other way round.
    fails(
        sign_bin(&d, "pub.pem", "fw.bin", "signed.bin"),
        "pub.pem",
        "not an Ed25519 PKCS#8 private key (it holds a public key",
    );
    let load = format!("{LOAD_A:#x}");
    fails(
        abboot(&d, &verify_args("key.pem", "signed.bin", &load)),
        "key.pem",
        "not an Ed25519 public key",
    );
    fs::write(d.join("junk.pem"), "hello\n").unwrap();
    fails(
        sign_bin(&d, "junk.pem", "fw.bin", "signed.bin"),
        "junk.pem",
        "not an Ed25519 PKCS#8 private key (no PEM block found)",
    );
    fs::write(
        d.join("der.key"),
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0xFF, 0xFE],
    )
    .unwrap();
    fails(
        sign_bin(&d, "der.key", "fw.bin", "signed.bin"),
        "der.key",
        "not a PEM key file",
    );
    assert_eq!(fs::read(d.join("signed.bin")).unwrap(), b"previous");

    if !has_openssl() {
        return;
    }
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        &d,
        &["pkey", "-in", "ec.pem", "-pubout", "-out", "ec_pub.pem"],
    );
    fails(
        sign_bin(&d, "ec.pem", "fw.bin", "signed.bin"),
        "ec.pem",
        "not an Ed25519 PKCS#8 private key (it holds an EC key)",
    );
    fails(
        abboot(&d, &verify_args("ec_pub.pem", "signed.bin", &load)),
        "ec_pub.pem",
        "not an Ed25519 public key in SubjectPublicKeyInfo PEM (it holds an EC key)",
    );
    fails(
        abboot(&d, &["pubkey", "--key", "ec.pem"]),
        "ec.pem",
        "it holds an EC key",
    );
    assert_eq!(fs::read(d.join("signed.bin")).unwrap(), b"previous");
    no_temporaries(&d);
}

#[test]
fn keygen_never_replaces_a_key_unless_forced() {
    let d = scratch("keygen_overwrite");
    keygen(&d, "key.pem", "pub.pem");
    let key = fs::read(d.join("key.pem")).unwrap();
    let public = fs::read(d.join("pub.pem")).unwrap();
    fails(
        abboot(&d, &["keygen", "--out", "key.pem", "--pub", "new_pub.pem"]),
        "key.pem",
        "already exists",
    );
    // Neither half of a refused pair is written.
    fails(
        abboot(&d, &["keygen", "--out", "new.pem", "--pub", "pub.pem"]),
        "pub.pem",
        "already exists",
    );
    assert!(!d.join("new.pem").exists() && !d.join("new_pub.pem").exists());
    assert_eq!(fs::read(d.join("key.pem")).unwrap(), key);
    assert_eq!(fs::read(d.join("pub.pem")).unwrap(), public);
    fails(
        abboot(&d, &["keygen", "--out", "same.pem", "--pub", "same.pem"]),
        "same.pem",
        "same file",
    );
    // One file named two ways is still one file.
    fails(
        abboot(&d, &["keygen", "--out", "./two.pem", "--pub", "two.pem"]),
        "two.pem",
        "same file",
    );
    assert!(!d.join("two.pem").exists());
    ok(abboot(
        &d,
        &["keygen", "--out", "key.pem", "--pub", "pub.pem", "--force"],
    ));
    assert_ne!(fs::read(d.join("key.pem")).unwrap(), key);
    no_temporaries(&d);
}

#[test]
fn bad_options_are_one_line_errors() {
    let d = scratch("bad_options");
    keygen(&d, "key.pem", "pub.pem");
    fs::write(d.join("fw.bin"), firmware(100)).unwrap();
    let check = |args: &[&str], needle: &str| {
        let out = abboot(&d, args);
        let err = stderr(&out);
        assert!(!out.status.success());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    };
    check(&["sign", "--key", "key.pem"], "required arguments");
    let mut args = sign_args("key.pem", "fw.bin", "o.bin");
    args[8] = "1.2";
    check(&args, "MAJOR.MINOR.PATCH");
    let mut args = sign_args("key.pem", "fw.bin", "o.bin");
    args[16] = "0x80"; // header_len, below the fixed header
    args.extend(["--load-address", "0"]);
    check(&args, "--header-len 0x80");
    let mut args = sign_args("key.pem", "fw.bin", "o.bin");
    args[12] = "0x1_0000_0000"; // hardware id
    check(&args, "does not fit in 32 bits");
    // A raw binary has no address of its own.
    fails(
        abboot(&d, &sign_args("key.pem", "fw.bin", "o.bin")),
        "fw.bin",
        "--load-address",
    );
    fails(
        abboot(&d, &sign_args("key.pem", "fw.bin", "fw.bin")),
        "fw.bin",
        "is the input file",
    );
    check(
        &[
            "verify",
            "--pub",
            "pub.pem",
            "--image",
            "x.bin",
            "--hardware-id",
            "1",
            "--slot",
            "b",
            "--load-address-a",
            "0",
        ],
        "--load-address-b is required",
    );
    check(
        &[
            "inspect",
            "metadata",
            "--metadata",
            "x.bin",
            "--sector-size",
            "3000",
        ],
        "--sector-size 3000",
    );
    assert!(!d.join("o.bin").exists());
    no_temporaries(&d);
}

/// Writes a journal with `states` to a fresh dump file of two 4 KiB sectors.
fn journal_dump(path: &Path, states: &[BootState]) {
    let flash = FileFlash::<1, 4096>::create_blank(path, 8192)
        .unwrap()
        .sync(false);
    let mut journal = Journal::new(flash, Geometry::contiguous(0, 4096)).unwrap();
    for s in states {
        journal.append(s).unwrap();
    }
}

fn state(update: UpdateState) -> BootState {
    let mut s = BootState {
        primary: Some(Slot::A),
        update,
        ..BootState::default()
    };
    s.slots[0].state = ImageState::Confirmed;
    s.slots[0].version = Version::new(1, 0, 0, 7);
    s.slots[1].state = ImageState::Pending { tries: 3 };
    s.update_tag.extend_from_slice(b"req-42").unwrap();
    s
}

#[test]
fn inspect_metadata_of_a_journal() {
    let d = scratch("inspect_metadata");
    let states = [
        state(UpdateState::Idle),
        state(UpdateState::Staged),
        state(UpdateState::Trial),
    ];
    journal_dump(&d.join("dump.bin"), &states);

    let text = ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "dump.bin",
            "--sector-size",
            "4K",
        ],
    ));
    assert!(text.contains("16 positions each"), "{text}");
    assert!(text.contains("seq 2  <- current"), "{text}");
    assert!(text.contains("positions: 3 valid, 0 invalid, 0 unreadable, 29 blank"));
    assert!(text.contains("\"req-42\""), "{text}");

    let json: Value = serde_json::from_str(&ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "dump.bin",
            "--sector-size",
            "4096",
            "--json",
        ],
    )))
    .unwrap();
    let positions = json["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 32);
    assert_eq!(positions[2]["status"], "valid");
    assert_eq!(positions[2]["seq"], 2);
    assert_eq!(positions[2]["current"], true);
    assert_eq!(positions[3]["status"], "blank");
    assert_eq!(positions[16]["offset"], 4096);
    assert_eq!(json["current"]["record"]["seq"], 2);
    assert_eq!(json["current"]["record"]["state"]["update"], "Trial");

    // Tear the newest record: the one before it becomes current, and the
    // torn one is listed with its reason.
    let mut bytes = fs::read(d.join("dump.bin")).unwrap();
    bytes[2 * 256 + 0x40] ^= 0x10;
    fs::write(d.join("dump.bin"), &bytes).unwrap();
    let json: Value = serde_json::from_str(&ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "dump.bin",
            "--sector-size",
            "4096",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(json["positions"][2]["status"], "invalid");
    assert_eq!(json["positions"][2]["reason"], "BadCrc");
    assert_eq!(json["positions"][1]["current"], true);
    assert_eq!(json["current"]["record"]["seq"], 1);
    assert_eq!(json["current"]["findings"]["invalid"], 1);

    // The journal at an offset inside a larger dump (written there: each
    // record carries the sector it was written into).
    {
        let flash = FileFlash::<1, 4096>::create_blank(d.join("big.bin"), 12288)
            .unwrap()
            .sync(false);
        let mut journal = Journal::new(flash, Geometry::contiguous(0x1000, 4096)).unwrap();
        journal.append(&state(UpdateState::Idle)).unwrap();
        journal.append(&state(UpdateState::Staged)).unwrap();
    }
    let text = ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "big.bin",
            "--sector-size",
            "4096",
            "--offset",
            "0x1000",
        ],
    ));
    assert!(text.contains("seq 1  <- current"), "{text}");
    fails(
        abboot(
            &d,
            &[
                "inspect",
                "metadata",
                "--metadata",
                "big.bin",
                "--sector-size",
                "4096",
                "--offset",
                "0x2000",
            ],
        ),
        "big.bin",
        "too short for the journal",
    );
}

/// `len` random-looking bytes (xorshift from `seed`).
fn noise(mut seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect()
}

#[test]
fn inspect_metadata_of_garbage() {
    let d = scratch("inspect_garbage");
    // Random-looking bytes, a little blank space, and a run of zeros.
    let mut bytes = noise(0x1234_5678, 8192);
    bytes[4096..4096 + 256].fill(0xFF);
    bytes[4096 + 512..4096 + 768].fill(0);
    fs::write(d.join("garbage.bin"), &bytes).unwrap();

    let text = ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "garbage.bin",
            "--sector-size",
            "4096",
        ],
    ));
    assert!(text.contains("not a record (no ABBT magic)"), "{text}");
    assert!(
        text.contains("current state: none, no valid record"),
        "{text}"
    );

    let json: Value = serde_json::from_str(&ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "garbage.bin",
            "--sector-size",
            "4096",
            "--json",
        ],
    )))
    .unwrap();
    let positions = json["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 32);
    for (i, p) in positions.iter().enumerate() {
        let want = if i == 16 { "blank" } else { "invalid" };
        assert_eq!(p["status"], want, "position {i}");
        assert_eq!(p["sector"], i / 16);
        assert_eq!(p["offset"], i * 256);
    }
    assert_eq!(positions[0]["reason"], "BadMagic");
    assert!(json["current"]["record"].is_null());
    assert_eq!(json["current"]["blank"], false);

    // A blank dump is a factory device, not an error.
    fs::write(d.join("blank.bin"), vec![0xFF; 8192]).unwrap();
    let text = ok(abboot(
        &d,
        &[
            "inspect",
            "metadata",
            "--metadata",
            "blank.bin",
            "--sector-size",
            "4096",
        ],
    ));
    assert!(text.contains("factory device"), "{text}");
    // Too short for two sectors.
    fs::write(d.join("short.bin"), vec![0xFF; 5000]).unwrap();
    fails(
        abboot(
            &d,
            &[
                "inspect",
                "metadata",
                "--metadata",
                "short.bin",
                "--sector-size",
                "4096",
            ],
        ),
        "short.bin",
        "need 8192 bytes, the file has 5000",
    );
}

#[test]
fn openssl_interop() {
    let d = scratch("openssl_interop");
    if !has_openssl() {
        return;
    }
    // A key made by OpenSSL signs; its OpenSSL public key verifies.
    openssl(
        &d,
        &["genpkey", "-algorithm", "ed25519", "-out", "ossl_key.pem"],
    );
    openssl(
        &d,
        &[
            "pkey",
            "-in",
            "ossl_key.pem",
            "-pubout",
            "-out",
            "ossl_pub.pem",
        ],
    );
    assert_eq!(
        ok(abboot(&d, &["pubkey", "--key", "ossl_key.pem"])),
        fs::read_to_string(d.join("ossl_pub.pem")).unwrap()
    );
    fs::write(d.join("fw.bin"), firmware(1234)).unwrap();
    ok(sign_bin(&d, "ossl_key.pem", "fw.bin", "signed.bin"));
    let load = format!("{LOAD_A:#x}");
    ok(abboot(
        &d,
        &verify_args("ossl_pub.pem", "signed.bin", &load),
    ));

    // abboot's signature over the signed header part verifies in OpenSSL,
    // with a key abboot made, and OpenSSL signs it to the same bytes
    // (Ed25519 is deterministic).
    keygen(&d, "key.pem", "pub.pem");
    ok(sign_bin(&d, "key.pem", "fw.bin", "signed2.bin"));
    let image = fs::read(d.join("signed2.bin")).unwrap();
    fs::write(d.join("part.bin"), &image[..80]).unwrap();
    fs::write(d.join("sig.bin"), &image[80..144]).unwrap();
    let out = openssl(
        &d,
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "part.bin",
            "-sigfile", "sig.bin",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));
    openssl(
        &d,
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "part.bin",
            "-out",
            "ossl_sig.bin",
        ],
    );
    assert_eq!(fs::read(d.join("ossl_sig.bin")).unwrap(), &image[80..144]);

    // A flipped bit makes OpenSSL refuse it too.
    let mut part = image[..80].to_vec();
    part[0x20] ^= 1;
    fs::write(d.join("part.bin"), &part).unwrap();
    let refused = Command::new("openssl")
        .current_dir(&d)
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "part.bin",
            "-sigfile", "sig.bin",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

// ------------------------------------------------ status, confirm, mark-bad

/// `args` with the metadata options for `file` (two 4 KiB sectors at 0).
fn on<'a>(file: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--metadata", file, "--sector-size", "4K"]);
    v
}

/// The status record of `status --json` (its `status` member).
fn status_json(dir: &Path, file: &str) -> Value {
    let v: Value =
        serde_json::from_str(&ok(abboot(dir, &on(file, &["status", "--json"])))).unwrap();
    v["status"].clone()
}

/// `status --json` on metadata without a usable state: exit 1, one error
/// line, and a JSON document whose every state field is null.
#[track_caller]
fn unusable_status_json(dir: &Path, file: &str) -> Value {
    let out = abboot(dir, &on(file, &["status", "--json"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in [
        "seq",
        "slots",
        "next_boot",
        "next_boot_kind",
        "last_outcome",
        "last_reason",
        "status",
    ] {
        assert_eq!(v[key], Value::Null, "{key} in {v}");
    }
    assert!(v["problem"].is_string());
    v
}

/// A simulated device on 1.0.0 with an update to 1.1.0 staged with 3
/// tries and, if `boot`, booted once (on trial, 2 tries left); its first
/// 8 KiB, the metadata journal, are written to `path`.
fn device_metadata(path: &Path, boot: bool) -> Device<DigestCheck> {
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    assert_eq!(d.boot().unwrap().kind, BootKind::Fresh);
    let opts = StageOptions {
        tries: 3,
        tag: b"req-7",
        ..StageOptions::default()
    };
    d.stage(&test_image(Version::new(1, 1, 0, 0), 3000, 2), &opts)
        .unwrap();
    if boot {
        assert!(d.boot().unwrap().is_trial());
    }
    fs::write(path, &d.flash().contents()[..8192]).unwrap();
    d
}

/// The state in `path`, read with the library as a device would.
fn state_in(path: &Path) -> BootState {
    let flash = FileFlash::<1, 4096>::open_read_only(path).unwrap();
    let mut control = Control::new(flash, Geometry::contiguous(0, 4096)).unwrap();
    control.state().expect("a valid record")
}

/// Runs a command that changes `file` in `dir`, checks what it prints,
/// and returns the state the library reads from the file afterwards.
#[track_caller]
fn changed(dir: &Path, file: &str, args: &[&str], says: &str) -> BootState {
    assert_eq!(ok(abboot(dir, &on(file, args))), says);
    state_in(&dir.join(file))
}

/// A failure with exit status 1 (a refused or failed operation), reported
/// as in [`fails`]; `path` is unchanged.
#[track_caller]
fn refused(out: Output, path: &Path, before: &[u8], needle: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let name = path.file_name().unwrap().to_str().unwrap();
    let line = fails(out, name, needle);
    assert_eq!(fs::read(path).unwrap(), before, "{name} changed");
    line
}

#[test]
fn status_set_tries_and_confirm() {
    let d = scratch("control_confirm");
    let meta = d.join("meta.bin");
    let mut device = device_metadata(&meta, true);

    let whole: Value =
        serde_json::from_str(&ok(abboot(&d, &on("meta.bin", &["status", "--json"])))).unwrap();
    assert_eq!(whole["metadata"], "valid");
    assert_eq!(whole["next_boot"], "B");
    assert_eq!(whole["next_boot_kind"], "trial");
    assert_eq!(whole["slots"]["B"]["state"], "trial");
    assert_eq!(whole["slots"]["B"]["tries_left"], 2);
    assert_eq!(whole["slots"]["A"]["state"], "confirmed");
    assert_eq!(whole["slots"]["A"]["primary"], true);
    assert_eq!(whole["data_restore_needed"], false);
    let json = status_json(&d, "meta.bin");
    assert_eq!(json["update"], "Trial");
    assert_eq!(json["trial"], true);
    assert_eq!(json["tries_left"], 2);
    assert_eq!(json["running"], "B");
    assert_eq!(json["installed_version"]["minor"], 1);
    assert_eq!(json["update_tag"], "req-7");
    // Every field of the library's status JSON is there, with its value.
    let flash = FileFlash::<1, 4096>::open_read_only(&meta).unwrap();
    let lib = Control::new(flash, Geometry::contiguous(0, 4096))
        .unwrap()
        .status();
    let lib: Value = serde_json::from_str(&lib.to_json()).unwrap();
    for (key, value) in lib.as_object().unwrap() {
        assert_eq!(&json[key], value, "{key}");
    }
    let text = ok(abboot(&d, &on("meta.bin", &["status"])));
    // Both slots side by side: state, version, then what boots next.
    let row = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} row in {text}"))
            .to_string()
    };
    let state = row("state");
    assert!(
        state.find("confirmed (primary)").unwrap() < state.find("on trial, 2 tries left").unwrap(),
        "{text}"
    );
    let version = row("version");
    assert!(version.find("1.0.0+0").unwrap() < version.find("1.1.0+0").unwrap());
    assert!(row("next boot").contains("slot B, on trial"), "{text}");
    assert!(row("update tag").contains("\"req-7\""), "{text}");
    assert!(
        text.contains("Trial, slot B, reason none, tries 2"),
        "{text}"
    );

    let st = changed(
        &d,
        "meta.bin",
        &["set-tries", "--tries", "5"],
        "slot B, version 1.1.0+0 (on trial): 5 trial boots left\n",
    );
    assert_eq!(st.slots[1].state, ImageState::Trial { tries: 5 });
    assert_eq!(status_json(&d, "meta.bin")["tries_left"], 5);

    let st = changed(
        &d,
        "meta.bin",
        &["confirm"],
        "confirmed: slot B, version 1.1.0+0 is the primary now; slot A is kept for rollback\n",
    );
    assert_eq!(
        (st.primary, st.rollback, st.update),
        (Some(Slot::B), Some(Slot::A), UpdateState::Confirmed)
    );
    assert_eq!(st.slots[1].state, ImageState::Confirmed);
    let json = status_json(&d, "meta.bin");
    assert_eq!(
        (&json["update"], &json["trial"], &json["running"]),
        (
            &Value::from("Confirmed"),
            &Value::from(false),
            &Value::from("B")
        )
    );

    // What the tool wrote is what the bootloader reads: it boots B.
    let bytes = fs::read(&meta).unwrap();
    device.flash_mut().set_contents(0, &bytes);
    let boot = device.boot().unwrap();
    assert_eq!((boot.kind, boot.slot), (BootKind::Normal, Some(Slot::B)));

    // A boot script confirms at every boot: the second time is a no-op.
    let out = ok(abboot(&d, &on("meta.bin", &["confirm"])));
    assert!(
        out.starts_with("already confirmed: slot B, version 1.1.0+0"),
        "{out}"
    );
    assert_eq!(fs::read(&meta).unwrap(), bytes);
    // With nothing on trial, the other changes are refused.
    refused(
        abboot(&d, &on("meta.bin", &["mark-bad", "--reason", "1"])),
        &meta,
        &bytes,
        "refused: no image is on trial",
    );
    refused(
        abboot(&d, &on("meta.bin", &["set-tries", "--tries", "3"])),
        &meta,
        &bytes,
        "refused: no image is on trial",
    );
    let line = refused(
        abboot(&d, &on("meta.bin", &["abort"])),
        &meta,
        &bytes,
        "refused: no staged update to abort",
    );
    assert_eq!(line, "error: meta.bin: refused: no staged update to abort");
}

#[test]
fn mark_bad_and_abort() {
    let d = scratch("control_mark_bad");
    let meta = d.join("meta.bin");
    device_metadata(&meta, true);
    let before = fs::read(&meta).unwrap();

    // Reason codes outside 0..=127 are refused before the file is opened.
    for bad in ["128", "200", "x"] {
        let out = abboot(&d, &on("meta.bin", &["mark-bad", "--reason", bad]));
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ") && err.contains("--reason"),
            "{err}"
        );
        assert_eq!(fs::read(&meta).unwrap(), before);
    }
    let out = abboot(&d, &on("meta.bin", &["mark-bad", "--reason", "200"]));
    assert!(stderr(&out).contains("a firmware reason code must be 0..=127"));
    for bad in ["0", "256"] {
        let out = abboot(&d, &on("meta.bin", &["set-tries", "--tries", bad]));
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("tries must be 1..=255"), "{bad}");
    }
    assert_eq!(fs::read(&meta).unwrap(), before);
    // Abort is for an update that has not booted.
    refused(
        abboot(&d, &on("meta.bin", &["abort"])),
        &meta,
        &before,
        "refused: an update is on trial; confirm or reject it first",
    );

    let st = changed(
        &d,
        "meta.bin",
        &["mark-bad", "--reason", "7"],
        "marked bad: slot B, version 1.1.0+0, with firmware reason 7; \
         the next boot returns to slot A, version 1.0.0+0\n",
    );
    assert_eq!(st.last_reason, Reason::App(7));
    assert_eq!(st.slots[1].state, ImageState::Rejected);
    assert_eq!(st.rejected_digest, Some(st.slots[1].digest));
    assert_eq!(st.update, UpdateState::RolledBack);
    let json = status_json(&d, "meta.bin");
    assert_eq!(json["last_reason"]["App"], 7);
    assert_eq!(json["failure_count"], 1);
    assert_eq!(json["running"], "A");
    let digest: String = st.slots[1]
        .digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["rejected_digest"], digest);
    let text = ok(abboot(&d, &on("meta.bin", &["status"])));
    assert!(
        text.contains("last update the last update failed: firmware reason 7")
            || text.contains("rolled back: firmware reason 7"),
        "{text}"
    );

    // A staged update that has not booted: set-tries keeps it pending,
    // abort drops it.
    let pending = d.join("pending.bin");
    device_metadata(&pending, false);
    let st = changed(
        &d,
        "pending.bin",
        &["set-tries", "--tries", "1"],
        "slot B, version 1.1.0+0 (pending): 1 trial boot left\n",
    );
    assert_eq!(st.slots[1].state, ImageState::Pending { tries: 1 });
    let st = changed(
        &d,
        "pending.bin",
        &["abort"],
        "aborted: the update staged in slot B, version 1.1.0+0 is dropped; slot B is empty\n",
    );
    assert_eq!(st.slots[1].state, ImageState::Empty);
    assert_eq!(
        (st.update, st.last_reason),
        (UpdateState::Failed, Reason::Aborted)
    );
}

#[test]
fn control_of_files_that_are_not_a_journal() {
    let d = scratch("control_bad_files");
    let garbage = noise(0x9e37_79b9, 8192);
    let path = d.join("garbage.bin");
    fs::write(&path, &garbage).unwrap();
    // Unusable metadata: a failure, and JSON nulls, never the defaults of
    // a healthy idle device.
    fails(
        abboot(&d, &on("garbage.bin", &["status"])),
        "garbage.bin",
        "no valid record",
    );
    let json = unusable_status_json(&d, "garbage.bin");
    assert_eq!(json["metadata"], "invalid");
    for args in [
        &["confirm"][..],
        &["mark-bad", "--reason", "3"],
        &["set-tries", "--tries", "2"],
    ] {
        refused(
            abboot(&d, &on("garbage.bin", args)),
            &path,
            &garbage,
            "refused: no image is on trial (the metadata holds no valid record",
        );
    }

    // Blank metadata is a factory device: status says so; nothing to confirm.
    let blank = d.join("blank.bin");
    drop(FileFlash::<1, 4096>::create_blank(&blank, 8192).unwrap());
    fails(
        abboot(&d, &on("blank.bin", &["status"])),
        "blank.bin",
        "blank metadata",
    );
    assert_eq!(unusable_status_json(&d, "blank.bin")["metadata"], "blank");
    refused(
        abboot(&d, &on("blank.bin", &["confirm"])),
        &blank,
        &[0xFF; 8192],
        "refused: no image is on trial (the metadata is blank",
    );

    fails(
        abboot(&d, &on("none.bin", &["status"])),
        "none.bin",
        "cannot read",
    );
    fails(
        abboot(&d, &on("none.bin", &["confirm"])),
        "none.bin",
        "cannot open",
    );
    assert!(!d.join("none.bin").exists());
    fs::write(d.join("short.bin"), [0xFF; 5000]).unwrap();
    refused(
        abboot(&d, &on("short.bin", &["confirm"])),
        &d.join("short.bin"),
        &[0xFF; 5000],
        "too short for the journal",
    );
    let out = abboot(
        &d,
        &["status", "--metadata", "blank.bin", "--sector-size", "3000"],
    );
    assert_eq!(
        stderr(&out),
        "error: --sector-size 3000: must be 1K, 2K, 4K, 8K, 16K, 32K, 64K or 128K\n"
    );
}

#[test]
fn control_of_a_read_only_file() {
    let d = scratch("control_read_only");
    let meta = d.join("ro.bin");
    device_metadata(&meta, true);
    let before = fs::read(&meta).unwrap();
    let mut perms = fs::metadata(&meta).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&meta, perms).unwrap();
    // Status only reads.
    assert_eq!(status_json(&d, "ro.bin")["update"], "Trial");
    if fs::OpenOptions::new().write(true).open(&meta).is_ok() {
        eprintln!(
            "note: file permissions are not enforced for this user (root); \
             skipping the read-only refusal"
        );
        return;
    }
    for args in [&["confirm"][..], &["set-tries", "--tries", "4"]] {
        refused(
            abboot(&d, &on("ro.bin", args)),
            &meta,
            &before,
            "cannot open for writing: Permission denied",
        );
    }
    assert_eq!(
        state_in(&meta).slots[1].state,
        ImageState::Trial { tries: 2 }
    );
}
