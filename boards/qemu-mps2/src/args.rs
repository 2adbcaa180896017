//! The semihosting command line: `key=value` words separated by spaces.
//! QEMU passes the same line to the bootloader and to the firmware it
//! jumps to (`-semihosting-config ...,arg=WORD,arg=WORD`); each reads the
//! words meant for it.
//!
//! | word | read by | meaning |
//! |---|---|---|
//! | `flash=NAME` | both | the flash file in QEMU's working directory (default `flash.bin`) |
//! | `fw=CMD` | firmware | `status`, `confirm`, `fail`, `hang` (on trial: stop feeding the watchdog), `stage:FILE` |
//! | `kill=WHO:N` | both | stop before the `N`th flash operation (1-based) of `boot` or `fw` and wait to be killed |
//! | `tear=WHO:N` | both | do half of that operation (half the words of a write, half a sector of an erase), then wait |
//! | `hold=MARK` | both | wait to be killed at the progress mark `MARK` (`decided`, `jumping`, `started`, `chunk:N`, `staged`) |
//! | `readonly=WHO` | both | every flash write and erase of `boot` or `fw` fails (a part that cannot be written) |
//! | `handoff=corrupt` | bootloader | one bit of the hand-off flipped after it is written (the firmware finds garbage) |
//! | `trace` | both | print every flash operation |
//! | `pace=N` | firmware | a slow download: a delay loop after each staged chunk |
//! | `bench=WHAT` | bootloader built with feature `bench` | `calib`, `select`, `raw` |
//! | `policy=trialonly` | bootloader, `bench=select` | select under `VerifyPolicy::TrialOnly` |

use crate::sh;

/// Who is running: the flash operation counters and kill points are per
/// program.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The bootloader.
    Boot,
    /// The firmware.
    Fw,
}

impl Role {
    /// `boot` or `fw`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Boot => "boot",
            Role::Fw => "fw",
        }
    }
}

/// Where a program stops to be killed, counted in flash operations.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The 1-based operation.
    pub op: u32,
    /// Half-do it first.
    pub tear: bool,
}

/// The command line.
pub struct Args {
    buf: [u8; 256],
    len: usize,
}

impl Args {
    /// Reads the command line from the host.
    pub fn read() -> Self {
        let mut a = Self {
            buf: [0; 256],
            len: 0,
        };
        a.len = sh::cmdline(&mut a.buf);
        a
    }

    fn words(&self) -> impl Iterator<Item = &[u8]> {
        self.buf
            .get(..self.len)
            .unwrap_or(&[])
            .split(|&b| b == b' ' || b == 0)
            .filter(|w| !w.is_empty())
    }

    /// The value of `key=VALUE`, the last one if several.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        let mut found = None;
        for w in self.words() {
            if let Some(rest) = w.strip_prefix(key.as_bytes()) {
                if let Some(v) = rest.strip_prefix(b"=") {
                    found = Some(v);
                }
            }
        }
        found
    }

    /// Whether the bare word `word` is present.
    pub fn has(&self, word: &str) -> bool {
        self.words().any(|w| w == word.as_bytes())
    }

    /// The flash file's name.
    pub fn flash_name(&self) -> &[u8] {
        self.get("flash")
            .unwrap_or(crate::config::FLASH_FILE.as_bytes())
    }

    /// Whether `role`'s flash writes and erases fail (`readonly=WHO`).
    pub fn read_only(&self, role: Role) -> bool {
        self.get("readonly") == Some(role.name().as_bytes())
    }

    /// Where `role` stops to be killed, if anywhere.
    pub fn stop(&self, role: Role) -> Option<Stop> {
        for (key, tear) in [("kill", false), ("tear", true)] {
            if let Some(v) = self.get(key) {
                if let Some(n) = v
                    .strip_prefix(role.name().as_bytes())
                    .and_then(|r| r.strip_prefix(b":"))
                    .and_then(parse_u32)
                {
                    return Some(Stop { op: n, tear });
                }
            }
        }
        None
    }

    /// Prints the progress mark `@mark WHO NAME[:n]` and, when the command line
    /// says `hold=NAME[:n]`, waits there to be killed.
    pub fn mark(&self, role: Role, name: &str, n: Option<u32>) {
        let mut line = sh::Line::new();
        line.s("@mark ").s(role.name()).s(" ").s(name);
        if let Some(n) = n {
            line.s(":").u(n);
        }
        line.print();
        if let Some(h) = self.get("hold") {
            let (hname, hn) = match h.iter().position(|&b| b == b':') {
                Some(i) => (
                    h.get(..i).unwrap_or(&[]),
                    h.get(i + 1..).and_then(parse_u32),
                ),
                None => (h, None),
            };
            if hname == name.as_bytes() && hn == n {
                sh::Line::new()
                    .s("@hold ")
                    .s(role.name())
                    .s(" at mark ")
                    .bytes(h)
                    .print();
                sh::hold();
            }
        }
    }
}

/// A decimal number, or `None`.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u32)?;
    }
    Some(v)
}
