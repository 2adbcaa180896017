//! `keygen` and `pubkey`, and reading keys for the other commands.
//!
//! Keys are the OpenSSL formats (see `abboot::image::sign`): a key from
//! `openssl genpkey -algorithm ed25519` signs, and its
//! `openssl pkey -pubout` verifies. When a file is not such a key, the
//! error says what it holds instead, as far as its PEM label and algorithm
//! identifier tell.

use std::path::{Path, PathBuf};

use abboot::image::header::key_id_of;
use abboot::image::sign::{
    generate_keypair, public_key_from_pem, public_key_to_pem, secret_key_from_pem,
    secret_key_to_pem,
};
use clap::Args;
use ed25519_compact::{KeyPair, PublicKey};

use crate::num::hex;
use crate::output::{read_input, same_file, Access, Outputs, Overwrite};
use crate::{Error, Report};

/// `abboot keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "KEY.pem")]
    pub out: PathBuf,
    /// Where to write the public key (SubjectPublicKeyInfo PEM).
    #[arg(long = "pub", value_name = "PUB.pem")]
    pub public: Option<PathBuf>,
    /// Replace key files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// `abboot pubkey`.
#[derive(Debug, Args)]
pub struct PubkeyArgs {
    /// A secret key (PKCS#8 PEM) or public key (SubjectPublicKeyInfo PEM).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    /// How to print the public key; every format carries its key id.
    #[arg(long, value_enum, default_value = "pem")]
    pub format: KeyFormat,
    /// Write the key to this file instead (required for raw).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How `pubkey` gives the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyFormat {
    /// SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes (the key
    /// id is in --json).
    Pem,
    /// The 32 key bytes, nothing else (needs --out).
    Raw,
    /// The 32 key bytes in hex, after a `# key id` line.
    Hex,
    /// A Rust array for the bootloader's key table.
    Rust,
    /// A C array for a C bootloader.
    C,
}

/// Generates a key pair and writes it; prints the public key for the
/// bootloader.
pub fn keygen(args: &KeygenArgs) -> Result<Report, Error> {
    if let Some(public) = &args.public {
        if same_file(public, &args.out) {
            return Err(Error::file(public, "--pub and --out name the same file"));
        }
    }
    // Losing a signing key is unrecoverable, so keys are never replaced
    // unless asked.
    let overwrite = if args.force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let key = generate_keypair();
    let mut outputs = Outputs::new();
    outputs.stage(
        &args.out,
        secret_key_to_pem(&key).as_bytes(),
        overwrite,
        Access::Secret,
    )?;
    if let Some(public) = &args.public {
        outputs.stage(
            public,
            public_key_to_pem(&key.pk).as_bytes(),
            overwrite,
            Access::Public,
        )?;
    }
    outputs.commit()?;

    let mut report = format!(
        "wrote {}: Ed25519 secret key, keep it private\n",
        args.out.display()
    );
    if let Some(public) = &args.public {
        report += &format!("wrote {}: public key\n", public.display());
    }
    report += &rust_key(&key.pk);
    Ok(Report::new(
        report,
        serde_json::json!({
            "secret_key": args.out.display().to_string(),
            "public_key_file": args.public.as_ref().map(|p| p.display().to_string()),
            "key_id": key_id(&key.pk),
            "public_key": hex(&key.pk[..]),
        }),
    ))
}

/// Prints the public key of a secret or public key file.
pub fn pubkey(args: &PubkeyArgs) -> Result<Report, Error> {
    let text = read_pem(&args.key)?;
    let pk = if text.contains("-----BEGIN PRIVATE KEY-----") {
        secret_from_text(&args.key, &text)?.pk
    } else {
        public_from_text(&args.key, &text)?
    };
    let id = key_id(&pk);
    let text = match args.format {
        // Plain PEM, byte for byte what `openssl pkey -pubout` writes, so
        // the output can be compared or fed to any tool; the key id is in
        // --json and in the other formats.
        KeyFormat::Pem => public_key_to_pem(&pk),
        KeyFormat::Raw => String::new(),
        KeyFormat::Hex => format!("# key id {id}\n{}\n", hex(&pk[..])),
        KeyFormat::Rust => rust_key(&pk),
        KeyFormat::C => c_key(&pk),
    };
    let json = serde_json::json!({
        "key_id": id,
        "public_key": hex(&pk[..]),
        "format": format!("{:?}", args.format).to_lowercase(),
        "out": args.out.as_ref().map(|p| p.display().to_string()),
    });
    match &args.out {
        Some(out) => {
            if same_file(out, &args.key) {
                return Err(Error::file(
                    out,
                    "is the key file; refusing to overwrite it",
                ));
            }
            let bytes = if args.format == KeyFormat::Raw {
                pk.to_vec()
            } else {
                text.into_bytes()
            };
            let mut outputs = Outputs::new();
            outputs.stage(out, &bytes, Overwrite::Allow, Access::Public)?;
            outputs.commit()?;
            Ok(Report::new(
                format!("wrote {}: public key, key id {id}\n", out.display()),
                json,
            ))
        }
        None if args.format == KeyFormat::Raw => Err(Error::usage(
            "--format raw writes 32 binary bytes: give --out FILE",
        )),
        None => Ok(Report::new(text, json)),
    }
}

/// The public key as a C array, with its key id in a comment.
pub fn c_key(pk: &PublicKey) -> String {
    let bytes: Vec<String> = pk.iter().map(|b| format!("0x{b:02x}")).collect();
    let mut s = format!(
        "/* key id {} */\nstatic const unsigned char ABBOOT_KEY[32] = {{\n",
        key_id(pk)
    );
    for row in bytes.chunks(8) {
        s += &format!("    {},\n", row.join(", "));
    }
    s += "};\n";
    s
}

/// The public key as a `const` [`TrustedKey`] for the bootloader's key
/// table, with its key id computed here (so the bootloader hashes no key),
/// laid out as rustfmt would: a whole `src/key.rs`.
///
/// [`TrustedKey`]: abboot::image::signed::TrustedKey
pub fn rust_key(pk: &PublicKey) -> String {
    fn rows(bytes: &[u8]) -> String {
        let bytes: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
        bytes
            .chunks(16)
            .map(|row| format!("    {},\n", row.join(", ")))
            .collect()
    }
    let id = key_id_of(pk);
    let id: Vec<String> = id.iter().map(|b| format!("0x{b:02x}")).collect();
    format!(
        "// key id {}\n\
         use abboot::image::signed::TrustedKey;\n\
         \n\
         pub const KEY: TrustedKey = TrustedKey::with_id(PUBLIC_KEY, KEY_ID);\n\
         \n\
         const PUBLIC_KEY: [u8; 32] = [\n{}];\n\
         \n\
         /// The first 8 bytes of the SHA-256 of `PUBLIC_KEY`: the key id its\n\
         /// images carry.\n\
         const KEY_ID: [u8; 8] = [{}];\n",
        key_id(pk),
        rows(&pk[..]),
        id.join(", ")
    )
}

/// The key id of `pk` in hex, as `inspect image` shows it.
pub fn key_id(pk: &PublicKey) -> String {
    hex(&key_id_of(pk))
}

/// Reads a secret key for signing.
pub fn load_secret(path: &Path) -> Result<KeyPair, Error> {
    let text = read_pem(path)?;
    secret_from_text(path, &text)
}

/// Reads a public key for verifying.
pub fn load_public(path: &Path) -> Result<PublicKey, Error> {
    let text = read_pem(path)?;
    public_from_text(path, &text)
}

fn secret_from_text(path: &Path, text: &str) -> Result<KeyPair, Error> {
    secret_key_from_pem(text).map_err(|e| {
        if !matches!(
            e,
            abboot::image::sign::SignError::Key(ed25519_compact::Error::ParseError)
        ) {
            // It parsed as an Ed25519 key, but the key itself is unusable
            // (the all-zero seed).
            return Error::file(path, format_args!("Ed25519 secret key is invalid: {e}"));
        }
        let hint = match what_is(text) {
            Held::Public => " (it holds a public key; signing needs the secret key)".to_string(),
            Held::Ed25519Secret => " (an Ed25519 key in a form other than OpenSSL's PKCS#8 v1; \
                 rewrite it with: openssl pkey -in KEY -out KEY1)"
                .to_string(),
            other => other.hint(),
        };
        Error::file(
            path,
            format_args!("not an Ed25519 PKCS#8 private key{hint}"),
        )
    })
}

fn public_from_text(path: &Path, text: &str) -> Result<PublicKey, Error> {
    public_key_from_pem(text).map_err(|e| {
        let invalid = !matches!(
            e,
            abboot::image::sign::SignError::Key(ed25519_compact::Error::ParseError)
        );
        if invalid {
            return Error::file(
                path,
                "Ed25519 public key is invalid (not canonical, or of small order)",
            );
        }
        let hint = match what_is(text) {
            Held::Secret | Held::Ed25519Secret => {
                " (it holds a secret key; give its public half: abboot pubkey --key KEY)"
                    .to_string()
            }
            other => other.hint(),
        };
        Error::file(
            path,
            format_args!("not an Ed25519 public key in SubjectPublicKeyInfo PEM{hint}"),
        )
    })
}

/// Reads a key file as text, with a hint for the binary (DER) form.
fn read_pem(path: &Path) -> Result<String, Error> {
    let bytes = read_input(path)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::file(
            path,
            "not a PEM key file (binary data; for a DER key run: openssl pkey -inform DER -in KEY)",
        )
    })
}

/// What a key file that failed to load seems to hold.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    /// No PEM block at all.
    NoPem,
    /// A public key of another algorithm (or an unparsable one).
    Public,
    /// A secret key, algorithm unknown.
    Secret,
    /// An Ed25519 secret key in a form not read (PKCS#8 v2, ...).
    Ed25519Secret,
    /// An encrypted PKCS#8 key.
    Encrypted,
    /// A key of this named algorithm.
    Algorithm(&'static str),
    /// A PEM block of another kind (certificate, ...).
    Other(String),
}

impl Held {
    fn hint(&self) -> String {
        match self {
            Held::NoPem => " (no PEM block found)".into(),
            Held::Public | Held::Secret | Held::Ed25519Secret => String::new(),
            Held::Encrypted => {
                " (it is encrypted; decrypt it with: openssl pkey -in KEY -out PLAIN)".into()
            }
            Held::Algorithm(a) => format!(" (it holds {a} key)"),
            Held::Other(label) => format!(" (it holds a {label} PEM block)"),
        }
    }
}

/// Algorithm identifiers, as DER-encoded OID bytes, that tell what a key is.
const OIDS: [(&[u8], &str); 5] = [
    (
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01],
        "an RSA",
    ),
    (&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01], "an EC"),
    (&[0x06, 0x03, 0x2B, 0x65, 0x6E], "an X25519"),
    (&[0x06, 0x03, 0x2B, 0x65, 0x6F], "an X448"),
    (&[0x06, 0x03, 0x2B, 0x65, 0x71], "an Ed448"),
];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

fn what_is(text: &str) -> Held {
    let Some(label) = text
        .split("-----BEGIN ")
        .nth(1)
        .and_then(|rest| rest.split("-----").next())
    else {
        return Held::NoPem;
    };
    match label {
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => return Held::Algorithm("an RSA"),
        "EC PRIVATE KEY" => return Held::Algorithm("an EC"),
        "OPENSSH PRIVATE KEY" => return Held::Algorithm("an OpenSSH-format"),
        "ENCRYPTED PRIVATE KEY" => return Held::Encrypted,
        "PRIVATE KEY" | "PUBLIC KEY" => {}
        other => return Held::Other(other.to_string()),
    }
    let der = pem_body(text, label).unwrap_or_default();
    if let Some((_, name)) = OIDS.iter().find(|(oid, _)| contains(&der, oid)) {
        return Held::Algorithm(name);
    }
    match (label, contains(&der, ED25519_OID)) {
        ("PRIVATE KEY", true) => Held::Ed25519Secret,
        ("PRIVATE KEY", false) => Held::Secret,
        _ => Held::Public,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The decoded body of the first PEM block labelled `label`.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.split(&begin).nth(1)?.split(&end).next()?;
    base64_decode(body)
}

/// Standard base64 with padding, whitespace ignored. Only used to name
/// the algorithm of a key that failed to load, so no constant time needed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("a!"), None);
    }

    #[test]
    fn names_what_a_key_file_holds() {
        // The public half of a P-256 key from
        // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
        let ec = "-----BEGIN PUBLIC KEY-----\n\
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3iZ9PgRIKPqYqIDV5dQE3Zca/3Mn\n\
            rE4xvaYmP3RrCpNcbHBrxP3L32sqBE5SSbtuqohRS3orNa891MCdqj2UGg==\n\
            -----END PUBLIC KEY-----\n";
        assert_eq!(what_is(ec), Held::Algorithm("an EC"));
        assert_eq!(what_is("hello"), Held::NoPem);
        assert_eq!(
            what_is("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Held::Other("CERTIFICATE".into())
        );
        assert_eq!(
            what_is("-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----"),
            Held::Algorithm("an EC")
        );
        let kp = abboot::image::sign::keypair_from_seed([3; 32]).unwrap();
        assert_eq!(what_is(&public_key_to_pem(&kp.pk)), Held::Public);
    }

    #[test]
    fn rust_key_layout() {
        let kp = abboot::image::sign::keypair_from_seed([3; 32]).unwrap();
        let s = rust_key(&kp.pk);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 13);
        assert_eq!(lines[0], format!("// key id {}", key_id(&kp.pk)));
        assert_eq!(lines[1], "use abboot::image::signed::TrustedKey;");
        assert_eq!(
            lines[3],
            "pub const KEY: TrustedKey = TrustedKey::with_id(PUBLIC_KEY, KEY_ID);"
        );
        assert_eq!(lines[5], "const PUBLIC_KEY: [u8; 32] = [");
        assert_eq!(lines[6].matches("0x").count(), 16);
        assert_eq!(lines[7].matches("0x").count(), 16);
        assert_eq!(lines[8], "];");
        assert_eq!(lines[12].matches("0x").count(), 8);
    }

    /// The bytes printed are the key's and its id's, read back as a
    /// program would read them.
    #[test]
    fn rust_key_bytes_are_the_key_and_its_id() {
        let kp = abboot::image::sign::keypair_from_seed([3; 32]).unwrap();
        let s = rust_key(&kp.pk);
        let bytes: Vec<u8> = s
            .split("0x")
            .skip(1)
            .map(|h| u8::from_str_radix(&h[..2], 16).unwrap())
            .collect();
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[..32], &kp.pk[..]);
        assert_eq!(&bytes[32..], &key_id_of(&kp.pk));
    }
}
