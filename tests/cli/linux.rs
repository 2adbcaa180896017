//! The host tool on a Linux device: metadata and two slot partitions as
//! files, a configuration file, and the scripts of `examples/linux` run
//! with simulated reboots (`abboot select` is the bootloader).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ok, scratch, stderr, stdout};

const META_LEN: usize = 8192;
const SLOT_LEN: usize = 256 * 1024;

/// A device in a directory: `meta.bin`, `a.img`, `b.img`, `abboot.toml`,
/// a release key, and signed images made on demand.
pub struct Rig {
    pub dir: PathBuf,
}

impl Rig {
    pub fn new(name: &str) -> Self {
        let dir = scratch(name);
        let rig = Rig { dir };
        ok(rig.raw(&["keygen", "--out", "k.pem", "--pub", "pub.pem"]));
        fs::write(rig.path("meta.bin"), vec![0xFF; META_LEN]).unwrap();
        fs::write(rig.path("a.img"), vec![0xFF; SLOT_LEN]).unwrap();
        fs::write(rig.path("b.img"), vec![0xFF; SLOT_LEN]).unwrap();
        fs::write(
            rig.path("abboot.toml"),
            "[metadata]\ndevice = \"meta.bin\"\nsector-size = \"4K\"\n\n\
             [slots]\na = \"a.img\"\nb = \"b.img\"\n\n\
             [images]\nkeys = [\"pub.pem\"]\nhardware-id = 7\n\
             load-address-a = 0\nload-address-b = 0\n",
        )
        .unwrap();
        rig
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `abboot` without the configuration file.
    pub fn raw(&self, args: &[&str]) -> Output {
        self.cmd(args).env_remove("ABBOOT_CONFIG").output().unwrap()
    }

    /// `abboot` with the configuration file in `$ABBOOT_CONFIG`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `abboot` with the configuration file, `input` on its standard
    /// input (a pipe, closed once `input` is written).
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // A writer of its own: the command may stop reading early.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_abboot"));
        c.current_dir(&self.dir)
            .env("ABBOOT_CONFIG", self.path("abboot.toml"))
            .args(args);
        c
    }

    /// Signs a `len`-byte firmware of `version` into `v{version}.bin`.
    pub fn image(&self, version: &str, len: usize) -> String {
        let fw = format!("fw-{version}");
        let seed = version
            .bytes()
            .fold(7u32, |a, b| a.wrapping_mul(31) ^ u32::from(b));
        fs::write(self.path(&fw), super::noise(seed, len)).unwrap();
        let out = format!("v{version}.bin");
        ok(self.raw(&[
            "sign",
            "--key",
            "k.pem",
            "--in",
            &fw,
            "--out",
            &out,
            "--version",
            version,
            "--hardware-id",
            "7",
            "--load-address",
            "0",
            "--header-len",
            "0x200",
        ]));
        out
    }

    /// Programs `image` into slot A's partition, as a factory does.
    pub fn factory(&self, image: &str) {
        let bytes = fs::read(self.path(image)).unwrap();
        let mut slot = fs::read(self.path("a.img")).unwrap();
        slot[..bytes.len()].copy_from_slice(&bytes);
        fs::write(self.path("a.img"), slot).unwrap();
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&ok(self.run(&["status", "--json"]))).unwrap()
    }

    /// A reboot: the bootloader stand-in decides, and the slot it prints
    /// is returned ("A", "B").
    pub fn boot(&self) -> String {
        let text = ok(self.run(&["select"]));
        text.split(':').next().unwrap().to_string()
    }

    /// All files of the device, to compare before and after a refusal.
    pub fn snapshot(&self) -> Vec<Vec<u8>> {
        ["meta.bin", "a.img", "b.img"]
            .iter()
            .map(|f| fs::read(self.path(f)).unwrap())
            .collect()
    }

    /// The health-check script of examples/linux, with `checks` as its
    /// check directory; reboots are recorded in `rebooted`, not done.
    pub fn health_check(&self, checks: &str) -> Output {
        self.health_check_running(checks, "")
    }

    /// [`Rig::health_check`] on a system that knows it runs from `running`
    /// (`ABBOOT_RUNNING`; empty: unknown).
    pub fn health_check_running(&self, checks: &str, running: &str) -> Output {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/linux/abboot-health-check");
        let bin = Path::new(env!("CARGO_BIN_EXE_abboot"));
        Command::new("sh")
            .arg(script)
            .current_dir(&self.dir)
            .env("ABBOOT", bin)
            .env("ABBOOT_CONFIG", self.path("abboot.toml"))
            .env("ABBOOT_HEALTH_CHECKS", self.path(checks))
            .env("ABBOOT_REBOOT", "touch rebooted")
            .env("ABBOOT_RUNNING", running)
            .output()
            .unwrap()
    }

    /// A check directory with one check that exits `code`.
    pub fn checks(&self, name: &str, code: u8) -> String {
        let dir = self.path(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let check = dir.join("10-app");
        fs::write(&check, format!("#!/bin/sh\nexit {code}\n")).unwrap();
        Command::new("chmod")
            .arg("+x")
            .arg(&check)
            .status()
            .unwrap();
        name.to_string()
    }
}

/// Asserts a failure reported as one line `error: [DIR/]FILE: ...NEEDLE...`
/// (files from the configuration file are shown with its directory), with
/// nothing on standard output.
#[track_caller]
fn fails(out: Output, file: &str, needle: &str) -> String {
    let err = stderr(&out);
    assert!(!out.status.success(), "succeeded: {}", stdout(&out));
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    let line = err.trim_end().to_string();
    let named = line.starts_with(&format!("error: {file}: "))
        || line
            .strip_prefix("error: ")
            .and_then(|l| l.split(": ").next())
            .is_some_and(|p| p.ends_with(&format!("/{file}")));
    assert!(named, "does not name {file}: {line}");
    assert!(line.contains(needle), "no {needle:?} in: {line}");
    assert!(out.stdout.is_empty(), "printed: {}", stdout(&out));
    line
}

/// The valid records of `meta.bin`: (offset, seq).
fn records(rig: &Rig) -> Vec<(u64, u64)> {
    let v: Value = serde_json::from_str(&ok(rig.run(&["inspect", "metadata", "--json"]))).unwrap();
    v["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "valid")
        .map(|p| (p["offset"].as_u64().unwrap(), p["seq"].as_u64().unwrap()))
        .collect()
}

#[test]
fn init_stage_confirm_status() {
    let rig = Rig::new("linux_basic");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 30_000);

    // Nothing recorded yet: status is a failure with nulls.
    let out = rig.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["metadata"].as_str(), &v["status"]),
        (Some("blank"), &Value::Null)
    );

    // init refuses when no slot holds an image that verifies.
    let before = rig.snapshot();
    let line = fails(
        rig.run(&["init"]),
        "a.img",
        "neither slot holds an image that verifies",
    );
    assert!(line.contains("slot A") && line.contains("slot B"), "{line}");
    assert_eq!(rig.snapshot(), before);

    rig.factory(&v1);
    let text = ok(rig.run(&["init"]));
    assert!(text.contains("slot A: verifies, version 1.0.0"), "{text}");
    let st = rig.status();
    assert_eq!(st["slots"]["A"]["state"], "confirmed");
    assert_eq!(st["slots"]["B"]["state"], "empty");
    assert_eq!(st["next_boot"], "A");
    // init again refuses to replace the state, changing nothing.
    let before = rig.snapshot();
    fails(rig.run(&["init"]), "meta.bin", "already holds a state");
    assert_eq!(rig.snapshot(), before);

    let out: Value = serde_json::from_str(&ok(
        rig.run(&["stage", "--image", &v2, "--tries", "2", "--json"])
    ))
    .unwrap();
    assert_eq!(
        (out["slot"].as_str(), out["tries"].as_u64()),
        (Some("B"), Some(2))
    );
    let b = fs::read(rig.path("b.img")).unwrap();
    assert_eq!(&b[..30_512], &fs::read(rig.path(&v2)).unwrap()[..]);
    let st = rig.status();
    assert_eq!(st["slots"]["B"]["state"], "pending");
    assert_eq!(st["next_boot"], "B");
    assert_eq!(st["next_boot_kind"], "trial");

    assert_eq!(rig.boot(), "B");
    let st = rig.status();
    assert_eq!(st["slots"]["B"]["state"], "trial");
    assert_eq!(st["slots"]["B"]["tries_left"], 1);
    ok(rig.run(&["confirm"]));
    assert_eq!(rig.boot(), "B");
    let st = rig.status();
    assert_eq!(st["slots"]["B"]["state"], "confirmed");
    assert_eq!(st["slots"]["B"]["primary"], true);
    assert_eq!(st["slots"]["A"]["rollback"], true);

    // mark-active A: the confirmed fallback becomes the primary again.
    let text = ok(rig.run(&["mark-active", "--slot", "a"]));
    assert!(text.contains("slot A is the primary now"), "{text}");
    assert_eq!(rig.boot(), "A");
    // ... and back to B.
    ok(rig.run(&["mark-active", "--slot", "b"]));
    assert_eq!(rig.boot(), "B");
    let text = ok(rig.run(&["mark-active", "--slot", "b"]));
    assert!(text.contains("nothing changed"), "{text}");
}

#[test]
fn stage_refusals_change_nothing() {
    let rig = Rig::new("linux_stage_bad");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let before = rig.snapshot();

    // Not an image.
    fs::write(rig.path("junk.bin"), vec![0x42; 5000]).unwrap();
    fails(
        rig.run(&["stage", "--image", "junk.bin"]),
        "junk.bin",
        "not a signed image",
    );
    // Cut short.
    let v2 = rig.image("1.1.0", 30_000);
    let bytes = fs::read(rig.path(&v2)).unwrap();
    fs::write(rig.path("short.bin"), &bytes[..bytes.len() - 100]).unwrap();
    fails(
        rig.run(&["stage", "--image", "short.bin"]),
        "short.bin",
        "file truncated",
    );
    // The same version again (already installed), and a downgrade.
    fails(rig.run(&["stage", "--image", &v1]), &v1, "refused");
    // Signed with a key the device does not trust.
    ok(rig.raw(&["keygen", "--out", "other.pem"]));
    ok(rig.raw(&[
        "sign",
        "--key",
        "other.pem",
        "--in",
        "fw-1.1.0",
        "--out",
        "forged.bin",
        "--version",
        "2.0.0",
        "--hardware-id",
        "7",
        "--load-address",
        "0",
        "--header-len",
        "0x200",
    ]));
    fails(
        rig.run(&["stage", "--image", "forged.bin"]),
        "forged.bin",
        "refused",
    );
    // Larger than a slot.
    let big = rig.image("3.0.0", SLOT_LEN);
    fails(rig.run(&["stage", "--image", &big]), &big, "refused");
    // A missing file, a directory.
    fails(
        rig.run(&["stage", "--image", "none.bin"]),
        "none.bin",
        "cannot read",
    );
    fs::create_dir_all(rig.path("dir.bin")).unwrap();
    fails(
        rig.run(&["stage", "--image", "dir.bin"]),
        "dir.bin",
        "is a directory",
    );
    // A tries count of 0 is a usage error: exit 2.
    let out = rig.run(&["stage", "--image", &v2, "--tries", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The slots in the configuration are the metadata file.
    let out = rig.run(&["stage", "--image", &v2, "--slot-a", "meta.bin"]);
    fails(out, "meta.bin", "is the metadata file too");
    assert_eq!(rig.snapshot(), before);
}

/// Every way of giving a wrong geometry is refused by every writing
/// command, naming the file and the setting, and changes no byte.
#[test]
fn wrong_geometry_is_refused() {
    let rig = Rig::new("linux_geometry");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    // Fill the journal into its second sector: 24 records of 256 bytes
    // over two 4 KiB sectors (16 each).
    for i in 0..12 {
        let v = rig.image(&format!("1.{}.0", i + 1), 1000);
        ok(rig.run(&["stage", "--image", &v, "--tries", "1"]));
        ok(rig.run(&["abort"]));
    }
    let recs = records(&rig);
    assert!(recs.iter().any(|&(o, _)| o >= 4096), "{recs:?}");
    assert!(recs.iter().any(|&(o, _)| o < 4096), "{recs:?}");
    let v9 = rig.image("9.0.0", 1000);

    // (options, what the message says)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // The sector size of the issue: 2K on a 4K journal.
        (
            vec!["--sector-size", "2K"],
            "was written into a journal sector of 0x1000 bytes at 0x0",
        ),
        (
            vec!["--sector-size", "1K"],
            "geometry disagrees with the flash",
        ),
        // The second sector given as the first one's other half.
        (
            vec!["--sector-size", "2K", "--second-offset", "0x1800"],
            "geometry disagrees with the flash",
        ),
        // A larger sector size than written: too short for this file.
        (vec!["--sector-size", "8K"], "too short for the journal"),
        // The second sector elsewhere.
        (
            vec!["--second-offset", "0x2000"],
            "too short for the journal",
        ),
        // (The two sectors given in swapped order are the same journal:
        // the journal treats its two sectors alike, so that is accepted.)
        // The two sectors on top of each other.
        (vec!["--second-offset", "0x0"], "overlap"),
        // Offsets that are not multiples of the sector size.
        (
            vec!["--offset", "0x800"],
            "must be a multiple of the sector size",
        ),
        // The erase value of another part.
        (vec!["--erased", "0x00"], "erased value disagrees"),
    ];
    let writers: Vec<Vec<&str>> = vec![
        vec!["confirm"],
        vec!["abort"],
        vec!["set-tries", "--tries", "2"],
        vec!["mark-bad", "--reason", "1"],
        vec!["mark-active", "--slot", "a"],
        vec!["select"],
        vec!["stage", "--image", &v9],
        vec!["init", "--force"],
    ];
    let before = rig.snapshot();
    let mut refused = 0;
    for (opts, says) in &cases {
        for w in &writers {
            // init erases the sectors anyway: the erase value is not
            // checked for it.
            if w[0] == "init" && opts[0] == "--erased" {
                continue;
            }
            let mut args = w.clone();
            args.extend(opts.iter().copied());
            let out = rig.run(&args);
            let err = stderr(&out);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
            let named = err.contains("meta.bin")
                || err.contains("--offset")
                || err.contains("--second-offset");
            assert!(named, "{args:?} does not name the file or option: {err}");
            assert_eq!(rig.snapshot(), before, "{args:?} changed the device");
            refused += 1;
        }
    }
    assert!(refused >= 40);

    // A journal whose second sector was never used: by position it reads
    // like one of 2 KiB sectors; the sector each record was written into
    // proves it is not.
    let young = Rig::new("linux_geometry_young");
    let y1 = young.image("1.0.0", 20_000);
    young.factory(&y1);
    ok(young.run(&["init"]));
    let snap = young.snapshot();
    let line = fails(
        young.run(&["confirm", "--sector-size", "2K"]),
        "meta.bin",
        "was written into a journal sector of 0x1000 bytes at 0x0",
    );
    assert!(line.contains("--sector-size"), "{line}");
    assert_eq!(young.snapshot(), snap);

    // The same mistake in the configuration file names the file and key.
    let conf = fs::read_to_string(rig.path("abboot.toml")).unwrap();
    fs::write(rig.path("bad.toml"), conf.replace("\"4K\"", "\"2K\"")).unwrap();
    let out = rig.run(&["confirm", "--config", "bad.toml"]);
    let line = fails(out, "meta.bin", "geometry disagrees");
    assert!(line.contains("metadata.sector-size in bad.toml"), "{line}");
    assert_eq!(rig.snapshot(), before);

    // Reading with a wrong geometry is unusable metadata: exit 1, nulls.
    let out = rig.run(&["status", "--json", "--sector-size", "2K"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["metadata"].as_str(), &v["status"]),
        (Some("geometry"), &Value::Null)
    );

    // Configuration file mistakes: one line naming the file (and key).
    for (text, says) in [
        (
            "[metadata]\nsektor-size = 4\n",
            "line 2: unknown field `sektor-size`",
        ),
        (
            "[metadata]\ndevice = \"meta.bin\"\nsector-size = \"3K\"\n",
            "metadata.sector-size = ",
        ),
        (
            "[metadata]\ndevice = \"meta.bin\"\nsector-size = \"4K\"\nerased = 7\n",
            "metadata.erased = 7",
        ),
        ("[metadata\n", "line 1"),
    ] {
        fs::write(rig.path("c.toml"), text).unwrap();
        let line = fails(rig.run(&["confirm", "--config", "c.toml"]), "c.toml", says);
        assert!(!line.contains('\n'));
    }
    assert_eq!(rig.snapshot(), before);
}

/// Eight writers at once: each waits for the lock; no two records share a
/// sequence number; every change that reported success is on flash.
#[test]
fn parallel_writers_take_turns() {
    let rig = Rig::new("linux_parallel");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    let before = records(&rig).len();
    // Eight values, none of them the staged 3: each one changes the state
    // (a set-tries to the value on flash writes nothing).
    let children: Vec<_> = (4..=11)
        .map(|i| {
            rig.cmd(&["set-tries", "--tries", &i.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut succeeded = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        succeeded += 1;
    }
    assert_eq!(succeeded, 8);
    let recs = records(&rig);
    let mut seqs: Vec<u64> = recs.iter().map(|r| r.1).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), recs.len(), "two records share a seq: {recs:?}");
    assert_eq!(recs.len(), before + 8, "{recs:?}");

    // A writer that cannot get the lock in time fails clearly and changes
    // nothing.
    let holder = fs::File::open(rig.path("meta.bin")).unwrap();
    rustix::fs::flock(&holder, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let snap = rig.snapshot();
    let start = Instant::now();
    let line = fails(
        rig.run(&["set-tries", "--tries", "2", "--lock-timeout", "1"]),
        "meta.bin",
        "locked: another abboot is changing it",
    );
    assert!(start.elapsed() >= Duration::from_millis(900), "{line}");
    assert_eq!(rig.snapshot(), snap);
    // Readers do not wait.
    ok(rig.run(&["status"]));
    drop(holder);
    ok(rig.run(&["set-tries", "--tries", "2", "--lock-timeout", "1"]));
}

/// The example's health check over simulated reboots: an update confirmed,
/// an unhealthy one marked bad, one that never gets to its health check
/// rolled back after its tries, and a stage killed halfway.
#[test]
fn linux_device_lifecycle() {
    let rig = Rig::new("linux_lifecycle");
    let mut log = Vec::new();
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let healthy = rig.checks("healthy.d", 0);
    let sick = rig.checks("sick.d", 3);

    // Boot the factory image: healthy, already confirmed.
    assert_eq!(rig.boot(), "A");
    let out = rig.health_check(&healthy);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("already confirmed"));
    log.push("factory 1.0.0: booted A, healthy, already confirmed".to_string());

    // Update 1: healthy -> confirmed.
    let v2 = rig.image("1.1.0", 40_000);
    ok(rig.run(&["stage", "--image", &v2, "--tries", "2"]));
    assert_eq!(rig.boot(), "B");
    let out = rig.health_check(&healthy);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("confirmed: slot B"),
        "{}",
        stdout(&out)
    );
    assert_eq!(rig.boot(), "B");
    assert_eq!(rig.status()["slots"]["B"]["state"], "confirmed");
    log.push("update 1.1.0: trial on B, healthy, confirmed; next boot B".to_string());

    // Update 2: unhealthy -> marked bad with the check's code, reboot,
    // back on B.
    let v3 = rig.image("1.2.0", 40_000);
    ok(rig.run(&["stage", "--image", &v3, "--tries", "3"]));
    assert_eq!(rig.boot(), "A");
    let out = rig.health_check(&sick);
    assert_eq!(out.status.code(), Some(1));
    assert!(rig.path("rebooted").exists(), "{}", stderr(&out));
    fs::remove_file(rig.path("rebooted")).unwrap();
    assert_eq!(rig.boot(), "B");
    let st = rig.status();
    assert_eq!(st["slots"]["A"]["state"], "rejected");
    assert_eq!(st["last_reason"]["App"], 3);
    assert_eq!(st["last_outcome"], "RolledBack");
    log.push(
        "update 1.2.0: trial on A, health check failed (3), marked bad; next boot B".to_string(),
    );
    // The same image again is refused (remembered by its digest).
    fails(rig.run(&["stage", "--image", &v3]), &v3, "rejected before");

    // Update 3: hangs before its health check; after its 2 tries the
    // bootloader rolls back.
    let v4 = rig.image("1.3.0", 40_000);
    ok(rig.run(&["stage", "--image", &v4, "--tries", "2"]));
    assert_eq!(rig.boot(), "A");
    assert_eq!(rig.boot(), "A");
    assert_eq!(rig.boot(), "B");
    let st = rig.status();
    assert_eq!(st["last_outcome"], "RolledBack");
    assert_eq!(st["last_reason"], "TriesExhausted");
    log.push(
        "update 1.3.0: 2 trial boots on A without a health check, rolled back; next boot B"
            .to_string(),
    );
    // On the confirmed image a failing check reports, never marks bad.
    let out = rig.health_check(&sick);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing to roll back"),
        "{}",
        stderr(&out)
    );
    assert!(!rig.path("rebooted").exists());

    // Update 4: the download stalls halfway and the stage process is
    // killed with SIGKILL while it waits for the rest. stage reads the
    // whole image before it erases anything, so nothing has changed.
    let v5 = rig.image("1.4.0", 200_000);
    let image = fs::read(rig.path(&v5)).unwrap();
    let fifo = rig.path("stream.bin");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let before = rig.snapshot();
    let mut child = rig
        .cmd(&["stage", "--image", "stream.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // More than a pipe holds, less than the image: when this returns,
    // stage has read most of it and waits for the rest.
    pipe.write_all(&image[..100_000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(pipe);
    assert!(
        rig.snapshot() == before,
        "a stalled stage changed the device"
    );
    log.push("update 1.4.0: download stalled after 100 KB of 200 KB, stage killed (SIGKILL) while waiting; nothing changed".to_string());

    // A stage cut off while it writes slot A (killed, or the power cut),
    // as it leaves the flash: the record that slot A is being written,
    // and slot A erased and written in part. The old slot boots and the
    // status says why.
    interrupted_stage(&rig, &image[..65_536]);
    let st = rig.status();
    assert_eq!(st["slots"]["A"]["state"], "empty");
    assert_eq!(st["last_outcome"], "Staged");
    assert_eq!(st["next_boot"], "B");
    let text = ok(rig.run(&["status"]));
    assert!(text.contains("did not finish"), "{text}");
    assert_eq!(rig.boot(), "B");
    let out = rig.health_check(&healthy);
    assert!(out.status.success(), "{}", stderr(&out));
    log.push("update 1.4.0: stage cut off after 64 KiB of 200 KiB written; next boot B (1.1.0), slot A empty".to_string());
    // And the device updates again afterwards.
    ok(rig.run(&["stage", "--image", &v5]));
    assert_eq!(rig.boot(), "A");
    assert!(rig.health_check(&healthy).status.success());
    assert_eq!(rig.boot(), "A");
    log.push("update 1.4.0 again: trial on A, healthy, confirmed; next boot A".to_string());

    // initramfs-select prints the root partition of the slot.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/linux/initramfs-select");
    let out = Command::new("sh")
        .arg(script)
        .current_dir(&rig.dir)
        .env("ABBOOT", env!("CARGO_BIN_EXE_abboot"))
        .env("ABBOOT_CONFIG", rig.path("abboot.toml"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "/dev/mmcblk0p1\n", "{}", stderr(&out));

    println!("linux example runs:");
    for l in &log {
        println!("  {l}");
    }
}

/// What a stage into slot A that stops after writing `written` leaves on
/// the rig's files, made with the library as `stage` makes it
/// (`Updater::stage_begin`: the record that slot A is being written, then
/// the slot erased), and the first bytes written.
fn interrupted_stage(rig: &Rig, written: &[u8]) {
    use abboot::journal::{Geometry, Journal};
    use abboot::machine::{self, Event};
    use abboot::sim::file::FileFlash;
    use abboot::state::{Slot, UpdateTag};

    let flash = FileFlash::<1, 4096>::open(rig.path("meta.bin")).unwrap();
    let mut journal = Journal::new(flash, Geometry::contiguous(0, 4096)).unwrap();
    let st = journal.read().record.unwrap().state;
    let event = Event::StageBegin {
        slot: Slot::A,
        tag: UpdateTag::default(),
    };
    journal
        .append(&machine::apply(&st, event).unwrap())
        .unwrap();
    let mut slot = vec![0xFF; SLOT_LEN];
    slot[..written.len()].copy_from_slice(written);
    fs::write(rig.path("a.img"), slot).unwrap();
}

/// Random dumps (and dumps with valid records at random places) through
/// every command that reads metadata: no panic, only exit 0, 1 or 2.
#[test]
fn random_dumps_never_panic() {
    let rig = Rig::new("linux_random");
    let v1 = rig.image("1.0.0", 5000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let good = fs::read(rig.path("meta.bin")).unwrap();
    let record = good[..256].to_vec();
    let runs = 100u32;
    let mut ran = 0;
    for i in 0..runs {
        let len = [4096usize, 8192, 12288, 5000, 256][i as usize % 5];
        let mut dump = super::noise(0x1234_5678 ^ i.wrapping_mul(0x9e37_79b9), len);
        // Valid records at random record positions.
        if i % 2 == 0 && len >= 512 {
            let at = (i as usize * 256 * 7) % (len / 256) * 256;
            dump[at..at + 256].copy_from_slice(&record);
        }
        if i % 3 == 0 {
            // Erased runs.
            let n = len / 2;
            dump[..n].fill(0xFF);
        }
        fs::write(rig.path("meta.bin"), &dump).unwrap();
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["inspect", "metadata"],
            &["confirm"],
            &["set-tries", "--tries", "2"],
            &["select"],
            &["mark-active", "--slot", "a"],
            &["status", "--sector-size", "1K"],
        ] {
            let out = rig.run(args);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{args:?} on dump {i}: {code:?} {}",
                stderr(&out)
            );
            assert!(!stderr(&out).contains("panicked"), "{args:?} on dump {i}");
            ran += 1;
        }
    }
    println!("random dumps: {runs} dumps, {ran} runs, 0 panics");
}

/// A device whose parts erase to 0x00, from the configuration file: init,
/// stage (padding and erase with 0x00), select and confirm work, and the
/// same files declared as 0xff are refused without a change.
#[test]
fn parts_that_erase_to_zero() {
    let rig = Rig::new("linux_zero");
    fs::write(rig.path("meta.bin"), vec![0x00; META_LEN]).unwrap();
    fs::write(rig.path("a.img"), vec![0x00; SLOT_LEN]).unwrap();
    fs::write(rig.path("b.img"), vec![0x00; SLOT_LEN]).unwrap();
    let conf = fs::read_to_string(rig.path("abboot.toml")).unwrap();
    let zero = conf
        .replace(
            "sector-size = \"4K\"\n",
            "sector-size = \"4K\"\nerased = 0x00\n",
        )
        .replace("b = \"b.img\"\n", "b = \"b.img\"\nerased = 0x00\n");
    fs::write(rig.path("abboot.toml"), zero).unwrap();
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 30_001);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    // The slot past the image reads the erased value, 0x00.
    let b = fs::read(rig.path("b.img")).unwrap();
    assert!(b[30_513..].iter().all(|&x| x == 0x00));
    assert_eq!(rig.boot(), "B");
    ok(rig.run(&["confirm"]));
    assert_eq!(rig.boot(), "B");
    assert_eq!(rig.status()["slots"]["B"]["state"], "confirmed");

    // Declared as 0xff on the command line: refused, nothing changed.
    let before = rig.snapshot();
    let line = fails(
        rig.run(&["set-tries", "--tries", "2", "--erased", "0xff"]),
        "meta.bin",
        "erased value disagrees with the flash",
    );
    assert!(line.contains("--erased"), "{line}");
    assert_eq!(rig.snapshot(), before);
}

// ------------------------------------------------ release pipeline inputs

/// An ELF32 for `machine` whose first PT_LOAD holds only the ELF and
/// program headers (lld's default), then the code at `code_at`.
fn lld_elf(machine: u16, code_at: u32, code: &[u8]) -> Vec<u8> {
    let phnum = 2u16;
    let headers = 52 + 32 * u32::from(phnum);
    let mut b = vec![0u8; 52];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 1;
    b[5] = 1;
    b[6] = 1;
    b[0x10] = 2;
    b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
    b[0x14] = 1;
    b[0x1C..0x20].copy_from_slice(&52u32.to_le_bytes());
    b[0x28..0x2A].copy_from_slice(&52u16.to_le_bytes());
    b[0x2A..0x2C].copy_from_slice(&32u16.to_le_bytes());
    b[0x2C..0x2E].copy_from_slice(&phnum.to_le_bytes());
    let ph = |off: u32, addr: u32, size: u32| {
        let mut p = vec![0u8; 32];
        p[0..4].copy_from_slice(&1u32.to_le_bytes());
        p[4..8].copy_from_slice(&off.to_le_bytes());
        p[8..12].copy_from_slice(&addr.to_le_bytes());
        p[12..16].copy_from_slice(&addr.to_le_bytes());
        p[16..20].copy_from_slice(&size.to_le_bytes());
        p[20..24].copy_from_slice(&size.to_le_bytes());
        p
    };
    // Segment 0: the headers, mapped just below the code.
    b.extend(ph(0, code_at - headers, headers));
    // Segment 1: the code.
    b.extend(ph(headers, code_at, code.len() as u32));
    b.extend_from_slice(code);
    b
}

fn sign_elf(rig: &Rig, input: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        "--key",
        "k.pem",
        "--in",
        input,
        "--out",
        "s.bin",
        "--version",
        "1.0.0",
        "--hardware-id",
        "7",
        "--header-len",
        "0x200",
    ];
    args.extend_from_slice(extra);
    rig.raw(&args)
}

#[test]
fn elf_headers_only_segment_and_machine() {
    let rig = Rig::new("sign_elf_lld");
    let code: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    fs::write(rig.path("fw.elf"), lld_elf(40, 0x0800_0200, &code)).unwrap();
    let text = ok(sign_elf(&rig, "fw.elf", &[]));
    assert!(text.contains("skipped segment 0"), "{text}");
    assert!(text.contains("from 0x08000200, 300 bytes"), "{text}");
    let image = fs::read(rig.path("s.bin")).unwrap();
    assert_eq!(&image[0x200..], &code[..]);
    let v: Value = serde_json::from_str(&ok(
        rig.raw(&["inspect", "image", "--image", "s.bin", "--json"])
    ))
    .unwrap();
    assert_eq!(v["header"]["load_address"], 0x0800_0200);

    // An x86-64 program is refused unless the machine is named.
    fs::write(rig.path("pc.elf"), lld_elf(62, 0x40_0000, &code)).unwrap();
    fs::write(rig.path("s.bin"), b"previous").unwrap();
    let line = fails(sign_elf(&rig, "pc.elf", &[]), "pc.elf", "built for x86-64");
    assert!(line.contains("--arch"), "{line}");
    fails(
        sign_elf(&rig, "pc.elf", &["--arch", "arm"]),
        "pc.elf",
        "not for arm (--arch)",
    );
    fails(
        sign_elf(&rig, "fw.elf", &["--arch", "riscv32"]),
        "fw.elf",
        "built for arm",
    );
    assert_eq!(fs::read(rig.path("s.bin")).unwrap(), b"previous");
    ok(sign_elf(&rig, "pc.elf", &["--arch", "x86-64"]));
}

#[test]
fn intel_hex_input() {
    let rig = Rig::new("sign_hex");
    // 0x08000200: 4 bytes, a gap of 4, then 2 bytes.
    let hex = ":020000040800F2\n:0402000001020304F0\n:02020800AABB8F\n:00000001FF\n";
    fs::write(rig.path("fw.hex"), hex).unwrap();
    let text = ok(sign_elf(&rig, "fw.hex", &[]));
    assert!(text.contains("input: Intel HEX"), "{text}");
    let image = fs::read(rig.path("s.bin")).unwrap();
    assert_eq!(
        &image[0x200..],
        &[1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xAA, 0xBB]
    );
    fs::write(rig.path("s.bin"), b"previous").unwrap();
    // A bad checksum names the record; a cut file says so.
    fs::write(rig.path("bad.hex"), hex.replace("F0\n", "F1\n")).unwrap();
    fails(
        sign_elf(&rig, "bad.hex", &[]),
        "bad.hex",
        "Intel HEX: record 2",
    );
    fs::write(rig.path("cut.hex"), &hex[..hex.len() - 12]).unwrap();
    fails(
        sign_elf(&rig, "cut.hex", &[]),
        "cut.hex",
        "no end-of-file record",
    );
    // A --load-address that is not where the HEX file puts the code.
    fails(
        sign_elf(&rig, "fw.hex", &["--load-address", "0x08000000"]),
        "fw.hex",
        "differs from 0x08000200",
    );
    assert_eq!(fs::read(rig.path("s.bin")).unwrap(), b"previous");
}

/// Signing with a key kept elsewhere: --emit-tbs, a signature made from
/// those bytes alone, --signature; the result is what --key makes.
#[test]
fn external_signature() {
    let rig = Rig::new("sign_external");
    fs::write(rig.path("fw.bin"), super::noise(5, 3000)).unwrap();
    let fields = [
        "--in",
        "fw.bin",
        "--version",
        "2.1.0",
        "--hardware-id",
        "7",
        "--load-address",
        "0x100",
        "--header-len",
        "0x200",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["sign"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&fields);
        rig.raw(&args)
    };
    ok(run(&["--key", "k.pem", "--out", "direct.bin"]));
    ok(run(&["--pub", "pub.pem", "--emit-tbs", "tbs.bin"]));
    let tbs = fs::read(rig.path("tbs.bin")).unwrap();
    assert_eq!(tbs.len(), 80);
    // The signer has only the bytes and the key.
    let pem = fs::read_to_string(rig.path("k.pem")).unwrap();
    let key = abboot::image::sign::secret_key_from_pem(&pem).unwrap();
    let sig = key.sk.sign(&tbs, None);
    fs::write(rig.path("sig.bin"), &sig[..]).unwrap();
    ok(run(&[
        "--pub",
        "pub.pem",
        "--signature",
        "sig.bin",
        "--out",
        "spliced.bin",
    ]));
    assert_eq!(
        fs::read(rig.path("spliced.bin")).unwrap(),
        fs::read(rig.path("direct.bin")).unwrap()
    );

    // A signature over other fields, a wrong length, a wrong key: refused,
    // nothing written.
    let mut other = fields.to_vec();
    other[3] = "2.1.1";
    let mut args = vec![
        "sign",
        "--pub",
        "pub.pem",
        "--signature",
        "sig.bin",
        "--out",
        "x.bin",
    ];
    args.extend_from_slice(&other);
    fails(rig.raw(&args), "sig.bin", "does not verify with key id");
    fs::write(rig.path("short.bin"), &sig[..63]).unwrap();
    fails(
        run(&[
            "--pub",
            "pub.pem",
            "--signature",
            "short.bin",
            "--out",
            "x.bin",
        ]),
        "short.bin",
        "is 63 bytes",
    );
    ok(rig.raw(&["keygen", "--out", "o.pem", "--pub", "o.pub.pem"]));
    fails(
        run(&[
            "--pub",
            "o.pub.pem",
            "--signature",
            "sig.bin",
            "--out",
            "x.bin",
        ]),
        "sig.bin",
        "does not verify",
    );
    assert!(!rig.path("x.bin").exists());
    // Usage errors: exit 2.
    for extra in [
        &["--pub", "pub.pem", "--out", "x.bin"][..],
        &["--out", "x.bin"],
        &["--pub", "pub.pem", "--emit-tbs", "t.bin", "--out", "x.bin"],
        &["--key", "k.pem", "--emit-tbs", "t.bin"],
    ] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1);
    }
    assert!(!rig.path("x.bin").exists());
}

#[test]
fn pubkey_formats_carry_the_key_id() {
    let rig = Rig::new("pubkey_formats");
    let j: Value =
        serde_json::from_str(&ok(rig.raw(&["pubkey", "--key", "k.pem", "--json"]))).unwrap();
    let id = j["key_id"].as_str().unwrap().to_string();
    let hex = j["public_key"].as_str().unwrap().to_string();
    assert_eq!(
        ok(rig.raw(&["pubkey", "--key", "k.pem", "--format", "pem"])),
        fs::read_to_string(rig.path("pub.pem")).unwrap()
    );
    let h = ok(rig.raw(&["pubkey", "--key", "pub.pem", "--format", "hex"]));
    assert_eq!(h, format!("# key id {id}\n{hex}\n"));
    // The Rust table carries the id's bytes as well (the bootloader
    // hashes no key): 32 + 8.
    for (f, bytes) in [("rust", 40), ("c", 32)] {
        let t = ok(rig.raw(&["pubkey", "--key", "k.pem", "--format", f]));
        assert!(t.contains(&format!("key id {id}")), "{t}");
        assert_eq!(t.matches("0x").count(), bytes, "{t}");
    }
    ok(rig.raw(&[
        "pubkey", "--key", "k.pem", "--format", "raw", "--out", "k.raw",
    ]));
    let raw = fs::read(rig.path("k.raw")).unwrap();
    let raw_hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(raw_hex, hex);
    let out = rig.raw(&["pubkey", "--key", "k.pem", "--format", "raw"]);
    assert_eq!(out.status.code(), Some(2));
}

/// mark-active on a slot whose image was rolled back: refused unless
/// forced; forced, it verifies, so it boots on trial once; unconfirmed,
/// the device returns to the primary. Not on the slot on trial. Every
/// refusal of mark-active changes nothing (found wanting by an adversarial
/// review: it re-armed the rolled-back image unforced, and re-armed the
/// trial slot, after which `stage` wrote the slot the system ran from).
#[test]
fn mark_active_for_service_work() {
    let rig = Rig::new("linux_mark_active");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let before = rig.snapshot();
    // Slot B is empty: nothing verifies there.
    fails(
        rig.run(&["mark-active", "--slot", "b"]),
        "b.img",
        "slot B does not verify",
    );
    assert_eq!(rig.snapshot(), before);
    ok(rig.run(&["stage", "--image", &v2, "--tries", "1"]));
    // An update is pending in B: marking A is refused.
    let before = rig.snapshot();
    fails(
        rig.run(&["mark-active", "--slot", "a"]),
        "meta.bin",
        "confirm, mark-bad or abort it first",
    );
    assert_eq!(rig.snapshot(), before);
    assert_eq!(rig.boot(), "B");
    assert_eq!(rig.boot(), "A"); // its one try used: rolled back
    assert_eq!(rig.status()["slots"]["B"]["state"], "rejected");

    // Rolled back: armed again only when forced (promise 6), as `stage`
    // refuses it.
    let before = rig.snapshot();
    fails(
        rig.run(&["mark-active", "--slot", "b", "--tries", "1"]),
        "b.img",
        "was rolled back before (last reason: TriesExhausted); give --force",
    );
    assert_eq!(rig.snapshot(), before);
    let text = ok(rig.run(&["mark-active", "--slot", "b", "--tries", "1", "--force"]));
    assert!(text.contains("boots next on trial"), "{text}");
    let st = rig.status();
    assert_eq!(st["slots"]["B"]["state"], "pending");
    // A new update: the last one's reason is no longer its story.
    assert_eq!(st["last_reason"], "None", "{st}");
    assert_eq!(rig.boot(), "B");
    // On trial now: mark-active on it is refused (it would make it
    // pending again, and the state name A as running).
    let before = rig.snapshot();
    fails(
        rig.run(&["mark-active", "--slot", "b", "--tries", "3"]),
        "meta.bin",
        "slot B is on trial",
    );
    assert_eq!(rig.snapshot(), before);
    assert_eq!(rig.status()["status"]["running"], "B");
    assert_eq!(rig.boot(), "A");

    // --json on a failure: the error as JSON on standard output, the line
    // on standard error, exit 1.
    let blank = Rig::new("linux_json_error");
    let out = blank.run(&["confirm", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("no image is on trial"),
        "{v}"
    );
    assert!(v["file"].as_str().unwrap().ends_with("meta.bin"));
    assert_eq!(stderr(&out).lines().count(), 1);
    // A usage error under --json: exit 2, the same shape.
    let out = blank.run(&["status", "--json", "--sector-size", "3K"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("--sector-size 3072"),
        "{v}"
    );
}

#[test]
fn inspect_warns_of_a_wrong_geometry() {
    let rig = Rig::new("linux_inspect_geometry");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let text = ok(rig.run(&["inspect", "metadata", "--sector-size", "2K"]));
    assert!(
        text.contains("WARNING: geometry disagrees with the flash"),
        "{text}"
    );
    let v: Value = serde_json::from_str(&ok(rig.run(&["inspect", "metadata", "--json"]))).unwrap();
    assert_eq!(v["geometry_mismatch"], Value::Null);
}

/// The stage progress bar is drawn on a terminal only: under `script` (a
/// pseudo-terminal) it appears; with standard error a pipe, or with
/// --json, nothing but the report is printed.
#[test]
fn progress_bar_only_on_a_terminal() {
    let has_script = Command::new("script").arg("--version").output().is_ok();
    if !has_script {
        eprintln!("skipped: no `script` (util-linux) to make a terminal");
        return;
    }
    let rig = Rig::new("linux_progress");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 150_000);
    let v3 = rig.image("1.2.0", 150_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let cmd = format!("{} stage --image {v2}", env!("CARGO_BIN_EXE_abboot"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(&rig.dir)
        .env("ABBOOT_CONFIG", rig.path("abboot.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    let tty = stdout(&out);
    assert!(tty.contains("staging ["), "{tty:?}");
    assert!(tty.contains("staged v1.1.0.bin into slot B"), "{tty:?}");
    ok(rig.run(&["abort"]));

    // Not a terminal: no bar on standard error.
    let out = rig.run(&["stage", "--image", &v3]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    ok(rig.run(&["abort"]));
    // --json on a terminal: only the JSON document.
    let cmd = format!("{} stage --json --image {v2}", env!("CARGO_BIN_EXE_abboot"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(&rig.dir)
        .env("ABBOOT_CONFIG", rig.path("abboot.toml"))
        .output()
        .unwrap();
    let tty = stdout(&out);
    assert!(!tty.contains("staging ["), "{tty:?}");
    let v: Value = serde_json::from_str(tty.trim()).unwrap();
    assert_eq!(v["slot"], "B");
}

/// The three status answers of the issue: records that pass their CRC but
/// hold an impossible field are not "erased"; a directory is a directory;
/// neither exits 0.
#[test]
fn status_says_what_is_wrong() {
    let rig = Rig::new("linux_status_wrong");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    let mut meta = fs::read(rig.path("meta.bin")).unwrap();
    let mut resealed = 0;
    for r in meta.chunks_mut(256) {
        if r.starts_with(b"ABBT") {
            r[0x0E] = 9; // no such update state
            let crc = crc32(&r[..0xFC]);
            r[0xFC..].copy_from_slice(&crc.to_le_bytes());
            resealed += 1;
        }
    }
    assert!(resealed > 0);
    fs::write(rig.path("bad.bin"), &meta).unwrap();
    let line = fails(
        rig.run(&["status", "--metadata", "bad.bin"]),
        "bad.bin",
        "no valid record",
    );
    assert!(!line.contains("erased"), "{line}");
    // They pass their CRC: inspect calls them a bad field, not torn.
    let v: Value = serde_json::from_str(&ok(rig.run(&[
        "inspect",
        "metadata",
        "--metadata",
        "bad.bin",
        "--json",
    ])))
    .unwrap();
    let bad = v["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reason"] == "BadField")
        .count();
    assert_eq!(bad, resealed);
    fs::create_dir_all(rig.path("dir")).unwrap();
    fails(
        rig.run(&["status", "--metadata", "dir"]),
        "dir",
        "is a directory, not a metadata file or device",
    );
}

/// CRC-32/ISO-HDLC, bit by bit (what zlib's crc32 computes).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Staging on blank metadata: the running slot is not guessed; with
/// --running it is known and the other slot is written.
#[test]
fn stage_needs_the_running_slot_on_blank_metadata() {
    let rig = Rig::new("linux_stage_blank");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    let before = rig.snapshot();
    let line = fails(
        rig.run(&["stage", "--image", &v2]),
        "meta.bin",
        "--running a|b",
    );
    assert!(line.contains("nothing changed"), "{line}");
    assert_eq!(rig.snapshot(), before);
    let out: Value = serde_json::from_str(&ok(rig.run(&[
        "stage",
        "--image",
        &v2,
        "--running",
        "a",
        "--json",
    ])))
    .unwrap();
    assert_eq!(out["slot"], "B");
    // Slot A, the running one, is untouched.
    assert_eq!(fs::read(rig.path("a.img")).unwrap(), before[1]);
}

/// A signed image whose payload was damaged after signing (one bit of its
/// last byte): its header and signature are fine, only the payload digest
/// tells. `stage` finds out before it erases the target slot, which holds
/// the confirmed fallback, and changes nothing.
#[test]
fn stage_refuses_a_damaged_payload_before_erasing() {
    let rig = Rig::new("stage_damaged_payload");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    assert_eq!(rig.boot(), "B");
    ok(rig.run(&["confirm"]));
    let st = rig.status();
    assert_eq!(st["slots"]["A"]["state"], "confirmed");
    assert_eq!(st["slots"]["A"]["rollback"], true);
    let v3 = rig.image("1.2.0", 20_000);
    let mut bytes = fs::read(rig.path(&v3)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(rig.path("bad.bin"), &bytes).unwrap();
    // The offline check sees it too.
    let out = rig.raw(&[
        "verify",
        "--pub",
        "pub.pem",
        "--image",
        "bad.bin",
        "--hardware-id",
        "7",
        "--load-address-a",
        "0",
    ]);
    assert!(
        stderr(&out).contains("payload digest mismatch"),
        "{}",
        stderr(&out)
    );
    let before = rig.snapshot();
    let out = rig.run(&["stage", "--image", "bad.bin"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let st = rig.status();
    assert_eq!(
        st["slots"]["A"]["state"],
        "confirmed",
        "the fallback is gone after a failed stage: {}",
        stderr(&out)
    );
    assert!(rig.snapshot() == before, "files changed: {}", stderr(&out));
    let line = fails(out, "bad.bin", "payload digest mismatch");
    assert!(line.contains("nothing changed"), "{line}");
    let text = ok(rig.run(&["status"]));
    assert!(text.contains("0 updates failed"), "{text}");
    // The undamaged image stages as before.
    ok(rig.run(&["stage", "--image", &v3]));
    assert_eq!(rig.status()["slots"]["A"]["state"], "pending");
}

/// A download cut short, read from a pipe: the end of the input is found
/// before the target slot (the confirmed fallback) is erased; nothing
/// changes. A whole image through the pipe stages.
#[test]
fn stage_refuses_a_pipe_cut_short_before_erasing() {
    let rig = Rig::new("stage_pipe_cut_short");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    assert_eq!(rig.boot(), "B");
    ok(rig.run(&["confirm"]));
    let v3 = rig.image("1.2.0", 150_000);
    let image = fs::read(rig.path(&v3)).unwrap();
    let before = rig.snapshot();
    for cut in [600, 70_000, image.len() - 1] {
        let out = rig.run_with_stdin(&["stage", "--image", "/dev/stdin"], &image[..cut]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{}", stdout(&out));
        assert!(
            rig.snapshot() == before,
            "cut at {cut}: files changed: {err}"
        );
        let line = fails(out, "/dev/stdin", "nothing changed");
        assert!(line.contains(&format!("{} bytes", image.len())), "{line}");
    }
    assert_eq!(rig.status()["slots"]["A"]["state"], "confirmed");
    // The whole image through the pipe.
    let text = ok(rig.run_with_stdin(&["stage", "--image", "/dev/stdin"], &image));
    assert!(text.contains("into slot A"), "{text}");
    assert_eq!(
        &fs::read(rig.path("a.img")).unwrap()[..image.len()],
        &image[..]
    );
    assert_eq!(rig.boot(), "A");
}

/// `stage --image` naming a slot file or the metadata (by its name, as
/// `./b.img`, or through a symlink): refused before anything is erased,
/// the input intact.
#[test]
fn stage_refuses_a_slot_or_metadata_file_as_its_image() {
    let rig = Rig::new("stage_from_slot_file");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    ok(rig.run(&["abort"]));
    let before = rig.snapshot();
    let image = fs::read(rig.path("b.img")).unwrap();
    let out = rig.run(&["stage", "--image", "b.img"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("b.img") && err.contains("slot"),
        "no clear refusal: {err}"
    );
    assert!(
        fs::read(rig.path("b.img")).unwrap() == image,
        "b.img, the input, was destroyed: {err}"
    );
    assert!(rig.snapshot() == before, "files changed: {err}");
    fails(out, "b.img", "slot B");
    std::os::unix::fs::symlink("b.img", rig.path("link.img")).unwrap();
    for (name, says) in [
        ("./b.img", "slot B"),
        ("link.img", "slot B"),
        ("a.img", "slot A"),
        ("meta.bin", "metadata"),
    ] {
        let line = fails(rig.run(&["stage", "--image", name]), name, says);
        assert!(line.contains("nothing changed"), "{line}");
        assert!(rig.snapshot() == before, "{name}: files changed: {line}");
    }
}

/// `init` without --force writes only over blank metadata (or refuses a
/// valid state, as before): content that is not an abboot journal is
/// refused, naming the file and --force, and kept.
#[test]
fn init_refuses_content_that_is_not_a_journal() {
    let rig = Rig::new("init_not_a_journal");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    let data: Vec<u8> = b"precious data\n"
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    fs::write(rig.path("meta.bin"), &data).unwrap();
    let out = rig.run(&["status"]);
    assert!(
        stderr(&out).contains("not an abboot journal"),
        "{}",
        stderr(&out)
    );
    let out = rig.run(&["init"]);
    assert!(
        !out.status.success(),
        "init replaced non-journal content without --force: {}",
        stdout(&out)
    );
    assert_eq!(fs::read(rig.path("meta.bin")).unwrap(), data);
    let line = fails(out, "meta.bin", "--force");
    assert!(line.contains("nothing changed"), "{line}");
    // One byte that is not erased is enough.
    let mut one = vec![0xFF; META_LEN];
    one[5000] = 0x7F;
    fs::write(rig.path("meta.bin"), &one).unwrap();
    fails(rig.run(&["init"]), "meta.bin", "--force");
    assert_eq!(fs::read(rig.path("meta.bin")).unwrap(), one);
}

/// With --force, `init` replaces what is not a journal, as it replaces a
/// state: the refusal without it, then a fresh state that boots.
#[test]
fn init_force_replaces_content_that_is_not_a_journal() {
    let rig = Rig::new("init_force_not_a_journal");
    let v1 = rig.image("1.0.0", 20_000);
    rig.factory(&v1);
    let data = super::noise(99, META_LEN);
    fs::write(rig.path("meta.bin"), &data).unwrap();
    let before = rig.snapshot();
    fails(rig.run(&["init"]), "meta.bin", "--force");
    assert!(rig.snapshot() == before);
    let text = ok(rig.run(&["init", "--force"]));
    assert!(text.contains("slot A: verifies, version 1.0.0"), "{text}");
    let st = rig.status();
    assert_eq!(st["slots"]["A"]["state"], "confirmed");
    assert_eq!(rig.boot(), "A");
}

/// A control command that changes nothing writes nothing and says so:
/// `"changed": false` (it said `true` once the library stopped writing an
/// unchanged state; found by an adversarial review).
#[test]
fn an_unchanged_state_is_reported_unchanged() {
    let rig = Rig::new("linux_unchanged");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2, "--tries", "3"]));
    let before = rig.snapshot();
    let v: Value =
        serde_json::from_str(&ok(rig.run(&["set-tries", "--tries", "3", "--json"]))).unwrap();
    assert_eq!(rig.snapshot(), before, "set-tries to the same value wrote");
    assert_eq!(v["changed"], false, "{v}");
    let v: Value =
        serde_json::from_str(&ok(rig.run(&["set-tries", "--tries", "2", "--json"]))).unwrap();
    assert_eq!(v["changed"], true, "{v}");
    assert!(rig.snapshot() != before);
}

/// What `status` says boots next is what the bootloader boots, also when
/// the newer image's security counter is below the floor: `init` makes the
/// older image (counter 5) the primary and the newer one (counter 1)
/// pending, which the bootloader rejects as a downgrade (the prediction
/// said "trial" of it; found by an adversarial review).
#[test]
fn the_next_boot_prediction_holds_a_candidate_to_the_floor() {
    let rig = Rig::new("linux_next_boot_floor");
    let sign = |version: &str, counter: &str, name: &str| {
        fs::write(
            rig.path(&format!("fw-{name}")),
            super::noise(u32::from(name.as_bytes()[0]), 20_000),
        )
        .unwrap();
        ok(rig.raw(&[
            "sign",
            "--key",
            "k.pem",
            "--in",
            &format!("fw-{name}"),
            "--out",
            name,
            "--version",
            version,
            "--hardware-id",
            "7",
            "--load-address",
            "0",
            "--header-len",
            "0x200",
            "--security-counter",
            counter,
        ]));
    };
    sign("2.0.0", "1", "a.bin");
    sign("1.0.0", "5", "b.bin");
    rig.factory("a.bin");
    let bytes = fs::read(rig.path("b.bin")).unwrap();
    let mut slot = fs::read(rig.path("b.img")).unwrap();
    slot[..bytes.len()].copy_from_slice(&bytes);
    fs::write(rig.path("b.img"), slot).unwrap();
    ok(rig.run(&["init"]));
    let st = rig.status();
    assert_eq!(st["next_boot"], "B", "{st}");
    assert_eq!(rig.boot(), "B");
}

/// `confirm` and `mark-bad` told the running slot (from the kernel command
/// line) refuse unless it is the slot on trial: when the bootloader could
/// not count a try it boots the primary while the state still says B is
/// on trial, and the primary's health check must not confirm B (nor reject
/// it).
#[test]
fn confirm_from_another_slot_than_the_trial_is_refused() {
    let rig = Rig::new("linux_confirm_running");
    let v1 = rig.image("1.0.0", 20_000);
    let v2 = rig.image("1.1.0", 20_000);
    rig.factory(&v1);
    ok(rig.run(&["init"]));
    ok(rig.run(&["stage", "--image", &v2]));
    assert_eq!(rig.boot(), "B");
    let before = rig.snapshot();
    for args in [
        &["confirm", "--running", "a"][..],
        &["mark-bad", "--reason", "3", "--running", "a"],
    ] {
        fails(
            rig.run(args),
            "meta.bin",
            "the running image is not the one on trial",
        );
        assert_eq!(rig.snapshot(), before, "{args:?}");
    }
    // The example health check passes the running slot on: healthy on A,
    // it confirms nothing; failing on A, it rejects nothing.
    let healthy = rig.checks("healthy", 0);
    let failing = rig.checks("failing", 3);
    for checks in [&healthy, &failing] {
        let out = rig.health_check_running(checks, "a");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(rig.snapshot(), before, "{checks}");
    }
    let out = rig.health_check_running(&healthy, "b");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rig.status()["slots"]["B"]["state"], "confirmed");
    // Confirmed: from B again, "already confirmed", nothing written.
    let before = rig.snapshot();
    ok(rig.run(&["confirm", "--running", "b"]));
    assert_eq!(rig.snapshot(), before);
}

/// `init --running`: the running slot's image is the confirmed primary
/// and the other the confirmed way back, whatever their versions. Without
/// it, init guesses from the versions: with the newer image in A (where
/// the system runs), it made B the primary and A an update on trial, and
/// the next `stage` wrote A, the running slot (found by an adversarial
/// review).
#[test]
fn init_told_the_running_slot_makes_it_the_primary() {
    let rig = Rig::new("linux_init_running");
    let v10 = rig.image("1.0.0", 20_000);
    let v11 = rig.image("1.1.0", 20_000);
    let v12 = rig.image("1.2.0", 20_000);
    rig.factory(&v11);
    let bytes = fs::read(rig.path(&v10)).unwrap();
    let mut slot = fs::read(rig.path("b.img")).unwrap();
    slot[..bytes.len()].copy_from_slice(&bytes);
    fs::write(rig.path("b.img"), &slot).unwrap();
    ok(rig.run(&["init", "--running", "a"]));
    let st = rig.status();
    assert_eq!(st["status"]["running"], "A", "{st}");
    assert_eq!(st["slots"]["A"]["state"], "confirmed");
    assert_eq!(st["slots"]["A"]["primary"], true);
    assert_eq!(st["slots"]["B"]["state"], "confirmed");
    assert_eq!(st["slots"]["B"]["rollback"], true);
    assert_eq!(rig.boot(), "A");
    let v: Value =
        serde_json::from_str(&ok(rig.run(&["stage", "--image", &v12, "--json"]))).unwrap();
    assert_eq!(v["slot"], "B", "{v}");
    // A running slot that does not verify: refused, nothing written.
    let blank = Rig::new("linux_init_running_blank");
    let v1 = blank.image("1.0.0", 20_000);
    blank.factory(&v1);
    let before = blank.snapshot();
    fails(
        blank.run(&["init", "--running", "b"]),
        "b.img",
        "given as the running slot, does not verify",
    );
    assert_eq!(blank.snapshot(), before);
}
