//! The firmware's face: stage an update, confirm it, reject it, read the
//! status.
//!
//! Every call reads the current state from flash, asks the
//! [state machine](crate::machine) for the next one, and persists it before
//! it returns `Ok`; a call that is not allowed in the current state is a
//! [`Refusal`] and writes nothing.
//!
//! # Staging an update
//!
//! ```text
//! stage_begin   record "target slot empty, update staged"  (before any erase)
//!               erase the target slot
//! stage_write   write the image, chunk by chunk, as it is downloaded
//! stage_finish  check the image from flash; refuse a known-bad digest,
//!               a lower security counter or (unless forced) a downgrade;
//!               record "pending, n tries"
//! ```
//!
//! The target slot's state is invalidated on flash *before* it is erased,
//! so a power cut anywhere in between leaves a slot that is known empty,
//! never one the bootloader might take for the old image.

use embedded_storage::nor_flash::NorFlash;

use crate::context::{check_erasable, slot_err, Context, Layout};
use crate::counter::{NoCounter, SecurityCounter};
use crate::error::{Error, LayoutError};
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::journal::{Geometry, Journal, READ_ATTEMPTS};
use crate::machine::{self, Event, Refusal};
use crate::record::same_state;
use crate::state::{BootState, Reason, Slot, UpdateTag};
use crate::status::Status;

/// How to stage an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageOptions<'a> {
    /// Trial boots the image gets before it is rolled back (at least 1).
    pub tries: u8,
    /// Opaque tag kept with the update (e.g. a backend's request UUID), at
    /// most 36 bytes; it is in the status after the reboot.
    pub tag: &'a [u8],
    /// Stage even a previously rejected image or a lower version
    /// (the security counter floor still applies).
    pub force: bool,
    /// The image's digest when known up front (from a manifest or the
    /// image header): a known-bad image is then refused before anything
    /// is erased.
    pub expected_digest: Option<[u8; 32]>,
    /// The first bytes of the image (at least its fixed header), when the
    /// caller has them before writing: the image check refuses a forged,
    /// foreign, oversized, known-bad or downgrading image from its header
    /// *before* the target slot is erased, so the slot keeps its content.
    /// [`Updater::stage`] passes the image it is given.
    pub header: Option<&'a [u8]>,
}

impl Default for StageOptions<'_> {
    fn default() -> Self {
        Self {
            tries: 3,
            tag: &[],
            force: false,
            expected_digest: None,
            header: None,
        }
    }
}

/// The firmware's face.
///
/// # Which slot it stages into
///
/// Always the slot the firmware does **not** run from. The running slot is
/// known, never guessed: give it with [`Updater::running`] — from the
/// bootloader's [`Handoff`](crate::handoff::Handoff) or from the
/// firmware's own link address ([`Layout::slot_containing`]) — and
/// `Updater` never stages into it, whatever the metadata says. Without it,
/// the running slot is taken from the state on flash (the image on trial,
/// else the primary) if that slot's image verifies as recorded — after a
/// fallback whose record could not be written, the state names a primary
/// that no longer verifies and the device runs from the other slot; with
/// neither, [`stage_begin`](Self::stage_begin) refuses with
/// [`Refusal::RunningSlotUnknown`] rather than pick a slot that may hold
/// the only image that boots.
///
/// # Who may confirm
///
/// Told its running slot, the updater refuses [`confirm`](Self::confirm)
/// and [`mark_bad`](Self::mark_bad) ([`Refusal::NotOnTrial`]) unless that
/// slot is the one on trial: when the bootloader could not count a try, it
/// boots the primary while the metadata still says trial, and the primary
/// passing its own health check says nothing about the image on trial.
///
/// `K` is the hardware security counter ([`crate::counter`]), raised by
/// [`confirm`](Self::confirm) only.
pub struct Updater<M, S, C, K = NoCounter> {
    ctx: Context<M, S, C>,
    /// The slot the firmware runs from, when the caller knows it.
    running: Option<Slot>,
    /// The slot being written, between `stage_begin` and `stage_finish`.
    staging: Option<(Slot, bool)>,
    /// The value the slot flash erases to ([`Layout::slot_erased`]): what
    /// staging pads an image's last word with.
    slot_erased: u8,
    counter: K,
}

/// Chunk size of [`Updater::stage`].
const CHUNK: usize = 256;

impl<M, S, C> Updater<M, S, C, NoCounter>
where
    M: NorFlash,
    S: NorFlash,
    C: ImageCheck<S>,
{
    /// An updater over the metadata flash and the slot flash (they may be
    /// [`crate::flash::Shared`] handles to one device).
    pub fn new(metadata: M, slots: S, layout: Layout, check: C) -> Result<Self, Error> {
        check_erasable::<S>(&layout)?;
        Ok(Self {
            ctx: Context::new(metadata, slots, layout, check)?,
            running: None,
            staging: None,
            slot_erased: layout.slot_erased,
            counter: NoCounter,
        })
    }
}

impl<M, S, C, K> Updater<M, S, C, K>
where
    M: NorFlash,
    S: NorFlash,
    C: ImageCheck<S>,
    K: SecurityCounter,
{
    /// The same updater with a hardware security counter: staging refuses
    /// images below the higher of it and the journal's floor, and
    /// [`confirm`](Self::confirm) raises it.
    pub fn with_counter<K2: SecurityCounter>(self, counter: K2) -> Updater<M, S, C, K2> {
        Updater {
            ctx: self.ctx,
            running: self.running,
            staging: self.staging,
            slot_erased: self.slot_erased,
            counter,
        }
    }

    /// Steps the hardware counter can still rise (`None`: unbounded,
    /// unknown, or no counter). A used-up counter does not stop confirms.
    pub fn counter_remaining(&mut self) -> Option<u32> {
        self.counter.remaining()
    }

    /// The state on flash with the hardware floor applied.
    fn guarded_state(&mut self) -> BootState {
        let mut st = self.state();
        if let Ok(h) = self.counter.read() {
            st.min_security_counter = st.min_security_counter.max(h);
        }
        st
    }

    /// The same updater, told which slot the firmware runs from; see
    /// [which slot it stages into](Self#which-slot-it-stages-into).
    pub fn running(mut self, slot: Slot) -> Self {
        self.running = Some(slot);
        self
    }

    /// The slot a staging would write: the other one than the running
    /// slot, known from [`running`](Self::running) or from the state.
    pub fn target(&mut self) -> Result<Slot, Error> {
        let st = self.state();
        self.target_for(&st)
    }

    fn target_for(&mut self, st: &BootState) -> Result<Slot, Error> {
        let stated = machine::running_slot(st);
        let running = match self.running {
            Some(r) => r,
            // Taken from the state, the running slot is a claim its image
            // must bear out: after a fallback whose record could not be
            // written, the state still names the primary that failed its
            // check, and the device runs from the other slot. A slot whose
            // image does not verify as recorded is not known to run.
            None => {
                let r = stated.ok_or(Refusal::RunningSlotUnknown)?;
                let recorded = st.slot(r).digest;
                match self.ctx.check(r) {
                    Ok(info) if info.digest == recorded => r,
                    _ => return Err(Refusal::RunningSlotUnknown.into()),
                }
            }
        };
        // The state may name another running slot than the caller (a
        // fallback whose record could not be written): refuse rather than
        // write a slot either of them says is running.
        if stated.is_some_and(|r| r != running) {
            return Err(Refusal::TargetRunning.into());
        }
        Ok(running.other())
    }

    /// Refuses a `confirm` or `mark_bad` from a firmware told it runs from
    /// another slot than the image on trial ([`Refusal::NotOnTrial`]).
    fn vouch(&mut self) -> Result<(), Error> {
        let trial = machine::trial_slot(&self.state());
        match (self.running, trial) {
            (Some(r), Some(t)) if r != t => Err(Refusal::NotOnTrial.into()),
            _ => Ok(()),
        }
    }

    fn state(&mut self) -> BootState {
        load(&mut self.ctx.journal)
    }

    fn transition(&mut self, event: Event) -> Result<BootState, Error> {
        transition(&mut self.ctx.journal, event)
    }

    /// The status record, for the firmware and its fleet backend.
    pub fn status(&mut self) -> Status {
        Status::from_state(&self.state())
    }

    /// Starts staging an update into the slot the device does not run
    /// from: records the slot as empty, then erases it.
    pub fn stage_begin(&mut self, opts: &StageOptions<'_>) -> Result<Slot, Error> {
        if opts.tries == 0 {
            return Err(Refusal::InvalidTries.into());
        }
        let tag = UpdateTag::from_slice(opts.tag).map_err(|_| Refusal::TagTooLong)?;
        let mut st = self.guarded_state();
        if let (Some(d), false) = (opts.expected_digest, opts.force) {
            if st.was_rejected(&d) {
                return Err(Refusal::KnownBad.into());
            }
        }
        let target = self.target_for(&st)?;
        // A state that names no primary (blank metadata: the bootloader's
        // first record could not be written) records the running slot —
        // told, and verified here — as the confirmed primary, in the record
        // that starts the staging. Else the staged image, written but not
        // finished (or aborted), would be the one image the bootloader
        // finds and adopts as confirmed, untried, and the image that ran
        // would be the next one erased.
        if let (None, None, Some(running)) = (st.primary, machine::candidate(&st), self.running) {
            let info = self.ctx.check(running)?;
            st = machine::apply(
                &st,
                Event::Adopt {
                    slot: running,
                    info,
                },
            )?;
        }
        if let Some(header) = opts.header {
            let region = self.ctx.region(target);
            if let Some(info) = self.ctx.check.precheck(target, region, header)? {
                if let Some(refusal) = policy_refusal(&st, &info, opts.force) {
                    return Err(refusal.into());
                }
            }
        }
        let next = machine::apply(&st, Event::StageBegin { slot: target, tag })?;
        self.ctx.persist(&next)?;
        let r = self.ctx.region(target);
        self.ctx
            .slots
            .erase(r.offset, r.offset + r.len)
            .map_err(slot_err)?;
        self.staging = Some((target, opts.force));
        Ok(target)
    }

    /// Writes `data` at `offset` bytes into the slot being staged. Offset
    /// and length must be multiples of the slot flash's `WRITE_SIZE`.
    pub fn stage_write(&mut self, offset: u32, data: &[u8]) -> Result<(), Error> {
        let (slot, _) = self.staging.ok_or(Refusal::NotStaging)?;
        let region = self.ctx.region(slot);
        let len = u32::try_from(data.len()).map_err(|_| Refusal::OutOfSlot)?;
        let at = region.at(offset, len).ok_or(Refusal::OutOfSlot)?;
        let w = S::WRITE_SIZE as u32;
        if w == 0 || offset % w != 0 || len % w != 0 {
            return Err(Refusal::Misaligned.into());
        }
        self.ctx.slots.write(at, data).map_err(slot_err)
    }

    /// Checks the staged image from flash and, if it may boot, records it
    /// as pending with `tries` trial boots.
    ///
    /// A slot read that keeps failing (after [`READ_ATTEMPTS`] tries, as the
    /// bootloader makes) is no verdict on the image: nothing is recorded,
    /// the staging stays open, and `stage_finish` may be called again.
    pub fn stage_finish(&mut self, tries: u8) -> Result<ImageInfo, Error> {
        let (slot, force) = self.staging.ok_or(Refusal::NotStaging)?;
        // Refused before the staging is closed: a refusal changes nothing.
        if tries == 0 {
            return Err(Refusal::InvalidTries.into());
        }
        let mut checked = self.ctx.check(slot);
        for _ in 1..READ_ATTEMPTS {
            if checked != Err(ImageError::Flash) {
                break;
            }
            checked = self.ctx.check(slot);
        }
        if checked == Err(ImageError::Flash) {
            return Err(Error::Image(ImageError::Flash));
        }
        self.staging = None;
        let st = self.guarded_state();
        let info = match checked {
            Ok(info) => info,
            Err(e) => {
                self.fail(Reason::ImageInvalid, true, e.code())?;
                return Err(Error::Image(e));
            }
        };
        if let Some(refusal) = policy_refusal(&st, &info, force) {
            let reason = match refusal {
                Refusal::KnownBad => Reason::KnownBad,
                Refusal::AlreadyInstalled => Reason::None,
                _ => Reason::Downgrade,
            };
            self.fail(reason, false, 0)?;
            return Err(refusal.into());
        }
        self.transition(Event::StageDone { slot, info, tries })?;
        Ok(info)
    }

    fn fail(&mut self, reason: Reason, counts: bool, check: u8) -> Result<(), Error> {
        let event = Event::StageFailed {
            reason,
            counts,
            check,
        };
        self.transition(event).map(|_| ())
    }

    /// Stages a whole image held in memory: [`stage_begin`](Self::stage_begin),
    /// [`stage_write`](Self::stage_write) in chunks (the tail padded with
    /// the slot flash's erased value to the write size), [`stage_finish`](Self::stage_finish).
    pub fn stage(&mut self, image: &[u8], opts: &StageOptions<'_>) -> Result<ImageInfo, Error> {
        let w = S::WRITE_SIZE;
        if w == 0 || CHUNK % w != 0 {
            return Err(Refusal::Misaligned.into());
        }
        let region = self.ctx.regions[0].len.min(self.ctx.regions[1].len);
        if image.len() > region as usize {
            return Err(Refusal::OutOfSlot.into());
        }
        self.stage_begin(&StageOptions {
            header: Some(image),
            ..*opts
        })?;
        let erased = self.slot_erased;
        let mut buf = [erased; CHUNK];
        for (i, chunk) in image.chunks(CHUNK).enumerate() {
            let padded = chunk.len().div_ceil(w) * w;
            buf.fill(erased);
            buf[..chunk.len()].copy_from_slice(chunk);
            self.stage_write((i * CHUNK) as u32, &buf[..padded])?;
        }
        self.stage_finish(opts.tries)
    }

    /// Confirms the image on trial: it becomes the primary, the old primary
    /// stays as the rollback slot, and the security counter floor rises to
    /// the image's. `Ok` means the state read back from flash as written.
    /// Refused from another slot than the one on trial
    /// ([who may confirm](Self#who-may-confirm)).
    ///
    /// Then the hardware counter rises to the new floor — after the
    /// confirmation is on flash, never before (a cut in between is caught
    /// up by the bootloader). A counter that is used up or fails does not
    /// undo the confirmation: `Ok` still means the state is on flash.
    pub fn confirm(&mut self) -> Result<(), Error> {
        self.vouch()?;
        let next = self.transition(Event::Confirm)?;
        let _ = self.counter.raise(next.min_security_counter);
        Ok(())
    }

    /// Rejects the image on trial with a firmware reason code (0..=127);
    /// the next boot goes back to the primary and the image's digest is
    /// remembered so it is not staged again by accident. Refused from
    /// another slot than the one on trial
    /// ([who may confirm](Self#who-may-confirm)).
    pub fn mark_bad(&mut self, code: u8) -> Result<(), Error> {
        self.vouch()?;
        self.transition(Event::MarkBad(code)).map(|_| ())
    }

    /// Drops a staged update that has not booted yet.
    pub fn abort(&mut self) -> Result<(), Error> {
        self.staging = None;
        self.transition(Event::Abort).map(|_| ())
    }

    /// Records that the firmware migrated (or restored) its data to `epoch`.
    pub fn data_migrated(&mut self, epoch: u16) -> Result<(), Error> {
        self.transition(Event::DataMigrated(epoch)).map(|_| ())
    }

    /// Gives the devices and the check back.
    pub fn into_parts(self) -> (M, S, C) {
        self.ctx.into_parts()
    }
}

/// The state on flash, or the default (nothing confirmed) when there is none.
fn load<M: NorFlash>(journal: &mut Journal<M>) -> BootState {
    journal.read().record.map(|r| r.state).unwrap_or_default()
}

/// Applies `event` to the state on flash and persists the result; `Ok`
/// means a boot's scan of the journal finds the new state. An event that
/// changes nothing (the epoch already recorded, the same tries) writes
/// nothing: a firmware that says the same at every start wears nothing.
fn transition<M: NorFlash>(journal: &mut Journal<M>, event: Event) -> Result<BootState, Error> {
    let now = journal.read().record.map(|r| r.state);
    let next = machine::apply(&now.unwrap_or_default(), event)?;
    if !now.is_some_and(|n| same_state(&n, &next)) {
        journal.append(&next)?;
    }
    Ok(next)
}

/// Control of the metadata alone: what a Linux user-space tool or a
/// firmware without slot access needs (`rauc status mark-good`-style).
/// It never touches the slots, so it needs no slot flash and no image check.
pub struct Control<M> {
    journal: Journal<M>,
}

impl<M: NorFlash> Control<M> {
    /// Control over the journal in `geometry` of `metadata`.
    pub fn new(metadata: M, geometry: Geometry) -> Result<Self, Error> {
        Journal::new(metadata, geometry)
            .map(|journal| Self { journal })
            .map_err(|e| Error::Layout(LayoutError::Metadata(e)))
    }

    /// The state on flash (`None`: blank or unreadable metadata).
    pub fn state(&mut self) -> Option<BootState> {
        self.journal.read().record.map(|r| r.state)
    }

    /// The status record.
    pub fn status(&mut self) -> Status {
        Status::from_state(&load(&mut self.journal))
    }

    /// Confirms the image on trial; see [`Updater::confirm`]. `Control`
    /// does not know which slot runs: call it only from the image on trial
    /// (a firmware asks the hand-off, [`Handoff::is_trial`](crate::handoff::Handoff::is_trial)),
    /// or use an [`Updater`] told its running slot, which refuses otherwise.
    pub fn confirm(&mut self) -> Result<(), Error> {
        transition(&mut self.journal, Event::Confirm).map(|_| ())
    }

    /// Rejects the image on trial; see [`Updater::mark_bad`].
    pub fn mark_bad(&mut self, code: u8) -> Result<(), Error> {
        transition(&mut self.journal, Event::MarkBad(code)).map(|_| ())
    }

    /// Drops a staged update that has not booted.
    pub fn abort(&mut self) -> Result<(), Error> {
        transition(&mut self.journal, Event::Abort).map(|_| ())
    }

    /// Gives the unconfirmed image `tries` trial boots from now: a service
    /// override of the bounded trial (an operator grants more tries), not a
    /// call for the image on trial, which would never be rolled back if it
    /// made it at every start.
    pub fn set_tries(&mut self, tries: u8) -> Result<(), Error> {
        transition(&mut self.journal, Event::SetTries(tries)).map(|_| ())
    }

    /// Records that the data was migrated (or restored) to `epoch`.
    pub fn data_migrated(&mut self, epoch: u16) -> Result<(), Error> {
        transition(&mut self.journal, Event::DataMigrated(epoch)).map(|_| ())
    }

    /// Gives the metadata flash back.
    pub fn into_inner(self) -> M {
        self.journal.into_inner()
    }
}

/// Why a checked image may not be staged, if it may not.
fn policy_refusal(st: &BootState, info: &ImageInfo, force: bool) -> Option<Refusal> {
    if info.security_counter < st.min_security_counter {
        return Some(Refusal::SecurityCounter);
    }
    let running = machine::running_slot(st).map(|s| *st.slot(s));
    if let Some(r) = running {
        if r.digest == info.digest {
            return Some(Refusal::AlreadyInstalled);
        }
    }
    if force {
        return None;
    }
    if st.was_rejected(&info.digest) {
        return Some(Refusal::KnownBad);
    }
    match running {
        Some(r) if info.version < r.version => Some(Refusal::Downgrade),
        // A different build under the same version: the version says
        // nothing new, so it is treated as installed unless forced.
        Some(r) if info.version == r.version => Some(Refusal::AlreadyInstalled),
        _ => None,
    }
}
