//! Semihosting: the host's files, console, command line and exit code,
//! through `cortex_m_semihosting::syscall` (ARM semihosting `bkpt 0xab`).
//!
//! Every call returns an error value instead of panicking; the bootloader
//! links with a panic handler that does not exist.

use core::sync::atomic::{AtomicU32, Ordering};

const SYS_OPEN: usize = 0x01;
const SYS_CLOSE: usize = 0x02;
const SYS_WRITE: usize = 0x05;
const SYS_READ: usize = 0x06;
const SYS_SEEK: usize = 0x0A;
const SYS_FLEN: usize = 0x0C;
const SYS_GET_CMDLINE: usize = 0x15;
const SYS_EXIT_EXTENDED: usize = 0x20;
/// `ADP_Stopped_ApplicationExit`.
const APPLICATION_EXIT: u32 = 0x20026;

/// `fopen` modes, as semihosting numbers them.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Mode {
    /// `"rb"`.
    Read = 1,
    /// `"r+b"`: read and write an existing file.
    ReadWrite = 3,
    /// `"w"`: the console, when the name is `:tt`.
    Write = 4,
    /// `"w+b"`: create or truncate, read and write.
    Create = 7,
}

/// Longest file name, NUL included.
pub const NAME_MAX: usize = 64;

/// A host file handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(u32);

fn call<T>(nr: usize, args: &T) -> usize {
    // SAFETY: `args` is a live parameter block of the layout the operation
    // `nr` expects (checked per call below); the debugger (QEMU) reads it
    // and the buffers it points to, and writes only into buffers we pass
    // as writable, during the `bkpt` and not after.
    unsafe { cortex_m_semihosting::syscall(nr, args) }
}

/// Opens `name` (at most `NAME_MAX - 1` bytes) in `mode`.
pub fn open(name: &[u8], mode: Mode) -> Option<Handle> {
    let n = name.len();
    if n >= NAME_MAX {
        return None;
    }
    let mut z = [0u8; NAME_MAX];
    for (d, s) in z.iter_mut().zip(name) {
        *d = *s;
    }
    let args = [z.as_ptr() as u32, mode as u32, n as u32];
    match call(SYS_OPEN, &args) as isize {
        -1 => None,
        h => Some(Handle(h as u32)),
    }
}

/// Closes `h`.
pub fn close(h: Handle) {
    call(SYS_CLOSE, &[h.0]);
}

/// Moves to absolute position `pos`.
pub fn seek(h: Handle, pos: u32) -> bool {
    call(SYS_SEEK, &[h.0, pos]) == 0
}

/// Length of the file.
pub fn flen(h: Handle) -> Option<u32> {
    match call(SYS_FLEN, &[h.0]) as isize {
        n if n < 0 => None,
        n => Some(n as u32),
    }
}

/// Reads `buf.len()` bytes; the number of bytes read (short at the end of
/// the file), or `None` on an error.
pub fn read(h: Handle, buf: &mut [u8]) -> Option<usize> {
    let args = [h.0, buf.as_mut_ptr() as u32, buf.len() as u32];
    let not_read = call(SYS_READ, &args);
    buf.len().checked_sub(not_read)
}

/// Reads exactly `len` bytes into memory at `ptr`.
///
/// # Safety
///
/// `ptr..ptr + len` must be writable memory that nothing else uses.
pub unsafe fn read_raw(h: Handle, ptr: *mut u8, len: u32) -> bool {
    call(SYS_READ, &[h.0, ptr as u32, len]) == 0
}

/// Writes all of `buf`.
pub fn write(h: Handle, buf: &[u8]) -> bool {
    let args = [h.0, buf.as_ptr() as u32, buf.len() as u32];
    call(SYS_WRITE, &args) == 0
}

/// Copies the semihosting command line into `buf`; its length.
pub fn cmdline(buf: &mut [u8]) -> usize {
    let mut args = [buf.as_mut_ptr() as u32, buf.len() as u32];
    let block = args.as_mut_ptr();
    // SAFETY: `block` points to a live, writable two-word parameter block
    // (buffer address, capacity); QEMU writes the command line into `buf`
    // and its length into the second word, during the call only.
    let (r, len) = unsafe {
        let r = cortex_m_semihosting::syscall1(SYS_GET_CMDLINE, block as usize);
        (r, core::ptr::read_volatile(block.add(1)))
    };
    if r != 0 {
        return 0;
    }
    (len as usize).min(buf.len())
}

/// Ends the emulator with `code` as its exit status (a "reset" as far as
/// the tests are concerned: the next QEMU run is the next boot).
pub fn exit(code: u32) -> ! {
    call(SYS_EXIT_EXTENDED, &[APPLICATION_EXIT, code]);
    hold()
}

/// Stops here until the emulator is killed. The watchdog is stopped
/// first: a hold stands for a power cut at this instant, not a hang.
pub fn hold() -> ! {
    crate::watchdog::stop();
    loop {
        // No interrupt is enabled, so the core sleeps and QEMU idles.
        cortex_m::asm::wfi();
    }
}

static CONSOLE: AtomicU32 = AtomicU32::new(u32::MAX);

fn console() -> Option<Handle> {
    match CONSOLE.load(Ordering::Relaxed) {
        u32::MAX => {
            let h = open(b":tt", Mode::Write)?;
            CONSOLE.store(h.0, Ordering::Relaxed);
            Some(h)
        }
        h => Some(Handle(h)),
    }
}

/// A line of output, built without `core::fmt` and printed whole.
pub struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// Appends text (cut at the line's capacity).
    pub fn s(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            self.byte(b);
        }
        self
    }

    /// Appends a decimal number.
    pub fn u(&mut self, v: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut n = 0;
        let mut v = v;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 || n == digits.len() {
                break;
            }
        }
        for i in (0..n).rev() {
            self.byte(digits.get(i).copied().unwrap_or(b'?'));
        }
        self
    }

    /// Appends a 64-bit decimal number.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        let hi = v / 1_000_000_000;
        let lo = (v % 1_000_000_000) as u32;
        if hi == 0 {
            return self.u(lo);
        }
        self.u64(hi);
        let mut pad = 100_000_000;
        while pad > 1 && lo < pad {
            self.byte(b'0');
            pad /= 10;
        }
        self.u(lo)
    }

    /// Appends `0x` and eight hex digits.
    pub fn x(&mut self, v: u32) -> &mut Self {
        self.s("0x");
        for i in (0..8).rev() {
            self.nibble((v >> (4 * i)) as u8);
        }
        self
    }

    fn nibble(&mut self, n: u8) {
        let n = n & 0xF;
        self.byte(if n < 10 { b'0' + n } else { b'a' + n - 10 });
    }

    /// Appends bytes as lowercase hex.
    pub fn hex(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.nibble(b >> 4);
            self.nibble(b);
        }
        self
    }

    /// Appends a version as `major.minor.patch+build`.
    pub fn version(&mut self, v: abboot::Version) -> &mut Self {
        self.u(v.major as u32)
            .s(".")
            .u(v.minor as u32)
            .s(".")
            .u(v.patch as u32)
            .s("+")
            .u(v.build)
    }

    /// Prints the line and a newline on the host's console.
    pub fn print(&mut self) {
        self.byte(b'\n');
        if let (Some(h), Some(text)) = (console(), self.buf.get(..self.len)) {
            write(h, text);
        }
        self.len = 0;
    }
}

/// Prints one line of text.
pub fn println(s: &str) {
    Line::new().s(s).print();
}
