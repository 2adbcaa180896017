//! A simulated device: one NOR flash holding the metadata sectors and both
//! slots, with the bootloader and the firmware API wired to it.
//!
//! Each [`Device::boot`] builds a fresh [`Bootloader`] (a reset: nothing
//! survives in RAM) and each firmware call a fresh [`Updater`]. Every call
//! notices when the simulated power is gone and returns [`Stop::PowerCut`],
//! so a scenario written with `?` stops where the device would.
//!
//! Flash map (4 KiB sectors, 4-byte words):
//!
//! | offset | size | what |
//! |---:|---:|---|
//! | 0 | 8 KiB | metadata journal, two 4 KiB sectors |
//! | 8 KiB | `slot_size` | slot A |
//! | 8 KiB + `slot_size` | `slot_size` | slot B |

use std::cell::RefCell;
use std::collections::HashMap;

use crate::app::{StageOptions, Updater};
use crate::boot::{Bootloader, Decision, Policy};
use crate::context::Layout;
use crate::error::Error;
use crate::flash::{Region, Shared};
use crate::handoff::Handoff;
use crate::image::header::ImageHeader;
use crate::image::sign::{keypair_from_seed, sign_image};
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::journal::{Geometry, Journal};
use crate::machine::Refusal;
use crate::sim::flash::SimFlash;
use crate::state::{BootKind, BootState, ImageState, Slot};
use crate::status::Status;
use crate::version::Version;

/// The simulated part: 4 KiB sectors, 4-byte words.
pub type DeviceFlash = SimFlash<1, 4, 4096>;

const META: u32 = 8192;

/// Why a scenario stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The simulated power went off: the device is dead until power-on.
    PowerCut,
    /// A call failed with an error the scenario did not expect.
    Error(Error),
    /// The scenario saw something it did not expect.
    Unexpected(String),
}

impl core::fmt::Display for Stop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Stop::PowerCut => f.write_str("power cut"),
            Stop::Error(e) => write!(f, "error: {e}"),
            Stop::Unexpected(s) => write!(f, "unexpected: {s}"),
        }
    }
}

/// An image check usable on the simulated device.
pub trait DeviceCheck: Clone + for<'a> ImageCheck<Shared<'a, DeviceFlash>> {}
impl<C: Clone + for<'a> ImageCheck<Shared<'a, DeviceFlash>>> DeviceCheck for C {}

/// What the device remembers across a run for the harness's invariants.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    /// `(mutating ops before the call, digest)` of every image seen
    /// confirmed on flash, first sighting only.
    pub confirmed: Vec<(u64, [u8; 32])>,
    /// Trial boots per digest since it was last staged, and tries it got.
    pub trials: HashMap<[u8; 32], (u32, u8)>,
    /// Broken promises noticed during the run.
    pub violations: Vec<String>,
}

/// A simulated device. Cloning it clones the flash, power state included.
#[derive(Clone)]
pub struct Device<C> {
    flash: RefCell<DeviceFlash>,
    layout: Layout,
    policy: Policy,
    check: C,
    /// A readable line per call and per boot decision.
    pub trace: Vec<String>,
    pub(crate) history: History,
    /// The slot the last boot started: the bootloader's hand-off, which
    /// the firmware calls pass to [`Updater::running`].
    running: Option<Slot>,
}

impl<C: DeviceCheck> Device<C> {
    /// A device with two slots of `slot_size` bytes (a multiple of 4 KiB),
    /// blank metadata and blank slots, checking images with `check`.
    pub fn new(slot_size: u32, check: C) -> Self {
        let flash = DeviceFlash::new((META + 2 * slot_size) as usize);
        Self {
            flash: RefCell::new(flash),
            layout: Layout::new(
                Geometry::contiguous(0, 4096),
                [
                    Region::new(META, slot_size),
                    Region::new(META + slot_size, slot_size),
                ],
            ),
            policy: Policy::default(),
            check,
            trace: Vec::new(),
            history: History::default(),
            running: None,
        }
    }

    /// The same device with another bootloader policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The flash map.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Writes `image` into `slot` as a factory programmer would (raw, not
    /// counted as a flash operation).
    pub fn factory(&mut self, slot: Slot, image: &[u8]) {
        let at = self.layout.slots[slot.index()].offset as usize;
        self.flash.get_mut().set_contents(at, image);
        self.trace
            .push(format!("factory: image written to slot {slot}"));
    }

    /// The simulated flash.
    pub fn flash(&self) -> std::cell::Ref<'_, DeviceFlash> {
        self.flash.borrow()
    }

    /// The simulated flash, to arm cuts or look at counters.
    pub fn flash_mut(&mut self) -> &mut DeviceFlash {
        self.flash.get_mut()
    }

    /// Flips one bit of `slot`'s content (bit rot); raw, not an operation.
    pub fn corrupt(&mut self, slot: Slot, offset: u32, bit: u8) {
        let at = (self.layout.slots[slot.index()].offset + offset) as usize;
        self.flash.get_mut().flip_bit(at, bit);
        self.trace
            .push(format!("bit rot: slot {slot} byte {offset} bit {bit}"));
    }

    /// Powers the device back on after a cut.
    pub fn power_on(&mut self) {
        self.flash.get_mut().power_on();
        // RAM, the hand-off with it, did not survive.
        self.running = None;
        self.trace.push("power on".into());
    }

    /// The state on flash, as a new boot would read it.
    pub fn read_state(&self) -> Option<BootState> {
        let mut j = Journal::new(Shared::new(&self.flash), self.layout.metadata).ok()?;
        j.read().record.map(|r| r.state)
    }

    /// Checks the image in `slot` as the bootloader would.
    pub fn verify(&mut self, slot: Slot) -> Result<ImageInfo, ImageError> {
        let region = self.layout.slots[slot.index()];
        self.check
            .check(&mut Shared::new(&self.flash), slot, region)
    }

    fn powered(&self) -> bool {
        self.flash.borrow().is_powered()
    }

    fn ops(&self) -> u64 {
        self.flash.borrow().mutating_ops()
    }

    /// Turns a call's result into the scenario's, noticing power cuts and
    /// recording which images are confirmed on flash afterwards.
    fn settle<T>(&mut self, what: &str, ops_before: u64, r: Result<T, Error>) -> Result<T, Stop> {
        if !self.powered() {
            self.trace.push(format!("{what}: power cut"));
            return Err(Stop::PowerCut);
        }
        if let Some(st) = self.read_state() {
            for s in Slot::ALL {
                let info = st.slot(s);
                let seen = self
                    .history
                    .confirmed
                    .iter()
                    .any(|(_, d)| *d == info.digest);
                if info.state == ImageState::Confirmed && !seen {
                    self.history.confirmed.push((ops_before, info.digest));
                }
            }
        }
        r.map_err(|e| {
            self.trace.push(format!("{what}: {e}"));
            Stop::Error(e)
        })
    }

    /// Resets the device and runs the bootloader's decision.
    pub fn boot(&mut self) -> Result<Decision, Stop> {
        let ops = self.ops();
        let result = Bootloader::new(
            Shared::new(&self.flash),
            Shared::new(&self.flash),
            self.layout,
            self.check.clone(),
            self.policy,
        )
        .map(|mut b| b.select());
        let d = self.settle("boot", ops, result)?;
        // What the board hands to the firmware; it survives only in RAM.
        self.running = Handoff::from_decision(&d).map(|h| h.slot);
        self.trace.push(describe(&d));
        if d.is_trial() {
            if let Some(slot) = d.slot {
                let digest = self
                    .read_state()
                    .map(|s| s.slot(slot).digest)
                    .unwrap_or_default();
                let fresh = self.policy.fresh_tries;
                let entry = self.history.trials.entry(digest).or_insert((0, fresh));
                entry.0 += 1;
                if entry.0 > entry.1 as u32 {
                    let v = format!(
                        "image in slot {slot} booted on trial {} times, allowed {}",
                        entry.0, entry.1
                    );
                    self.history.violations.push(v);
                }
            }
        }
        Ok(d)
    }

    fn app<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(
            &mut Updater<Shared<'_, DeviceFlash>, Shared<'_, DeviceFlash>, C>,
        ) -> Result<T, Error>,
    ) -> Result<T, Stop> {
        let ops = self.ops();
        let result = Updater::new(
            Shared::new(&self.flash),
            Shared::new(&self.flash),
            self.layout,
            self.check.clone(),
        )
        .map(|u| match self.running {
            Some(slot) => u.running(slot),
            None => u,
        })
        .and_then(|mut u| f(&mut u));
        self.settle(what, ops, result)
    }

    /// Stages `image` into the slot the device does not run from.
    pub fn stage(&mut self, image: &[u8], opts: &StageOptions<'_>) -> Result<ImageInfo, Stop> {
        let info = self.app("stage", |u| u.stage(image, opts))?;
        self.trace.push(format!(
            "stage: v{} pending with {} tries",
            info.version, opts.tries
        ));
        self.history.trials.insert(info.digest, (0, opts.tries));
        Ok(info)
    }

    /// Starts staging `image` and writes only its first `bytes` bytes, as
    /// a download cut off by a reset would.
    pub fn stage_partial(
        &mut self,
        image: &[u8],
        bytes: usize,
        opts: &StageOptions<'_>,
    ) -> Result<(), Stop> {
        let part = &image[..bytes.min(image.len()) / 256 * 256];
        self.app("stage (interrupted)", |u| {
            u.stage_begin(opts)?;
            for (i, chunk) in part.chunks(256).enumerate() {
                u.stage_write((i * 256) as u32, chunk)?;
            }
            Ok(())
        })?;
        self.trace.push(format!(
            "stage: reset after {} of {} bytes",
            part.len(),
            image.len()
        ));
        Ok(())
    }

    /// Confirms the image on trial.
    pub fn confirm(&mut self) -> Result<(), Stop> {
        self.app("confirm", |u| u.confirm())?;
        self.trace.push("confirm: ok".into());
        Ok(())
    }

    /// The image on trial rejects itself with `code`.
    pub fn mark_bad(&mut self, code: u8) -> Result<(), Stop> {
        self.app("mark_bad", |u| u.mark_bad(code))?;
        self.trace.push(format!("mark_bad({code}): ok"));
        Ok(())
    }

    /// Drops a staged update.
    pub fn abort(&mut self) -> Result<(), Stop> {
        self.app("abort", |u| u.abort())?;
        self.trace.push("abort: ok".into());
        Ok(())
    }

    /// The status record.
    pub fn status(&mut self) -> Result<Status, Stop> {
        self.app("status", |u| Ok(u.status()))
    }

    /// Passes when `r` is the refusal `want`, and lets a power cut through.
    pub fn expect_refused<T: core::fmt::Debug>(
        &mut self,
        r: Result<T, Stop>,
        want: Refusal,
    ) -> Result<(), Stop> {
        match r {
            Err(Stop::Error(Error::Refused(got))) if got == want => {
                self.trace.push(format!("refused as expected: {want}"));
                Ok(())
            }
            Err(Stop::PowerCut) => Err(Stop::PowerCut),
            other => Err(Stop::Unexpected(format!(
                "expected refusal {want:?}, got {other:?}"
            ))),
        }
    }
}

/// One readable line for a boot decision.
pub fn describe(d: &Decision) -> String {
    let slot = d.slot.map_or("none".to_string(), |s| s.to_string());
    let mut line = match d.kind {
        BootKind::Trial => format!(
            "boot: slot {slot} v{} ON TRIAL, {} tries left",
            d.version, d.tries_left
        ),
        BootKind::Recovery => format!("boot: RECOVERY ({:?})", d.reason),
        k => format!(
            "boot: slot {slot} v{} ({k:?}{})",
            d.version,
            match d.reason {
                crate::state::Reason::None => String::new(),
                r => format!(", {r:?}"),
            }
        ),
    };
    if d.data_restore_needed() {
        line += &format!(
            "; data epoch {} > image epoch {}: restore data backup",
            d.data_epoch, d.image_epoch
        );
    }
    if let Some(f) = d.fault {
        line += &format!("; metadata fault: {f}");
    }
    line
}

/// Builds a test image: a header signed with the simulation's test key
/// (seed `[0x5A; 32]`) over `len` bytes of payload derived from `fill`.
pub fn test_image(version: Version, len: usize, fill: u8) -> Vec<u8> {
    TestImage::new(version, len, fill).build()
}

/// A test image with every header field settable.
#[derive(Clone, Copy, Debug)]
pub struct TestImage {
    /// Header template (payload length, digest, key and signature are filled in).
    pub header: ImageHeader,
    /// Payload length in bytes.
    pub len: usize,
    /// Payload pattern seed.
    pub fill: u8,
    /// Seed of the signing key.
    pub key_seed: [u8; 32],
}

/// Seed of the key [`test_image`] signs with.
pub const TEST_KEY_SEED: [u8; 32] = [0x5A; 32];

impl TestImage {
    /// An image of `version` with `len` payload bytes.
    pub fn new(version: Version, len: usize, fill: u8) -> Self {
        Self {
            header: ImageHeader {
                version,
                header_len: 256,
                ..ImageHeader::default()
            },
            len,
            fill,
            key_seed: TEST_KEY_SEED,
        }
    }

    /// The signed image bytes.
    pub fn build(&self) -> Vec<u8> {
        let payload: Vec<u8> = (0..self.len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(self.fill))
            .collect();
        let key = keypair_from_seed(self.key_seed).expect("test key");
        sign_image(&self.header, &payload, &key, self.header.header_len).expect("test image")
    }
}

/// The public key of [`TEST_KEY_SEED`].
pub fn test_public_key() -> [u8; 32] {
    *keypair_from_seed(TEST_KEY_SEED).expect("test key").pk
}
