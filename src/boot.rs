//! The bootloader's face: [`Bootloader::select`] decides which slot boots,
//! and has persisted everything the decision needs before it returns.
//!
//! # What `select` does
//!
//! 1. Read the newest state. None at all (factory, or every record lost):
//!    build one from the images that verify ([`machine::fresh`]).
//! 2. An unconfirmed image (pending or on trial) with tries left is checked
//!    (always before its first boot; on later trial boots per policy),
//!    then its try is **counted on flash before** the decision is returned,
//!    so a crash, a hang or a power cut during the trial all count.
//!    Tries exhausted, a failed check, a changed digest or a security
//!    counter below the floor reject it; the primary boots instead.
//! 3. The primary boots if it is confirmed (and verifies, under
//!    [`VerifyPolicy::Always`]). A normal boot writes nothing.
//! 4. Primary corrupt: the other confirmed slot takes over, if it verifies.
//! 5. The state names no slot that boots but an image verifies (at or
//!    above the security floor, not the rejected digest): it becomes the
//!    confirmed primary, as from blank metadata ([`BootKind::Fresh`]).
//! 6. Nothing bootable: [`Decision::slot`] is `None`; the board runs its
//!    recovery (serial, DFU).
//!
//! `select` never fails: a metadata write that does not go through makes
//! it fall back to the safe choice (never an uncounted trial boot) and is
//! reported in [`Decision::fault`].
//!
//! # Read errors
//!
//! A slot read that keeps failing (after [`READ_ATTEMPTS`] tries) is not a
//! verdict on the image: the image is not booted in this boot, but nothing
//! is recorded about it either — no rejection, no fallback that forgets
//! the primary, no fresh state without it. While a slot cannot be read,
//! `select` boots what it can prove and writes nothing
//! ([`Decision::fault`] is a slot flash error); the journal does the same
//! for metadata it cannot read ([`crate::journal`]).
//!
//! # Cost of the verification policy
//!
//! [`VerifyPolicy::Always`] hashes the primary image at every boot: for a
//! 256 KiB image with SHA-256, about 10 M instructions with the default
//! backend, 16 M with the compact one, plus one Ed25519 verify (about 2 M
//! instructions on a Cortex-M3) for signed images. [`VerifyPolicy::TrialOnly`]
//! checks only before trial boots and trusts confirmed images: a normal boot
//! costs a journal scan (a few hundred bytes read), but bit rot in the
//! primary goes unnoticed until it crashes.

use embedded_storage::nor_flash::{NorFlash, NorFlashError, ReadNorFlash};

use crate::context::{Context, Layout};
use crate::counter::{NoCounter, SecurityCounter};
use crate::error::{Error, FlashFault};
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::journal::{self, Findings, READ_ATTEMPTS};
use crate::machine;
use crate::record::Record;
use crate::state::{BootKind, BootState, ImageState, Reason, Slot};
use crate::version::Version;

/// The decision's fault for a write that [`Bootloader::select`] could
/// not make: `None` when a slot could not be read in this boot.
fn fault<E: NorFlashError>(e: Option<journal::Error<E>>) -> Error {
    e.map_or(Error::SlotFlash(FlashFault::Other), Error::from)
}

/// When confirmed images are checked again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VerifyPolicy {
    /// Check the image that boots at every boot (MCUboot's
    /// `VALIDATE_PRIMARY_SLOT`); bit rot in the primary is caught and the
    /// other slot takes over.
    #[default]
    Always,
    /// Check only unconfirmed images before their trial boots.
    TrialOnly,
}

/// How the bootloader decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Policy {
    /// When confirmed images are checked again.
    pub verify: VerifyPolicy,
    /// Trial boots given to the newer image when the state is rebuilt from
    /// two images of different versions (blank metadata).
    pub fresh_tries: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            verify: VerifyPolicy::Always,
            fresh_tries: 3,
        }
    }
}

/// What the bootloader should boot, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decision {
    /// The slot to boot, or `None` for the board's recovery.
    pub slot: Option<Slot>,
    /// What kind of boot this is.
    pub kind: BootKind,
    /// Why, for rollbacks, fallbacks and recovery.
    pub reason: Reason,
    /// Trial boots left after this one (0 for confirmed images).
    pub tries_left: u8,
    /// Version of the image that boots.
    pub version: Version,
    /// Data schema epoch the booting image expects.
    pub image_epoch: u16,
    /// Data schema epoch the device's data was migrated to.
    pub data_epoch: u16,
    /// A metadata write that failed; the decision is still the safe one.
    pub fault: Option<Error>,
    /// What the journal scan skipped (torn or corrupt records).
    pub findings: Findings,
    /// The booting image as this boot's check found it (header length,
    /// payload length, load address, digest), when it was checked: always
    /// under [`VerifyPolicy::Always`], and before trial boots.
    ///
    /// A bootloader copies or jumps from this rather than checking the
    /// image again: a second call of the check links a second copy of the
    /// verifier (796 bytes in the QEMU bootloader, where the optimiser
    /// inlined it at both calls).
    pub image: Option<ImageInfo>,
}

impl Decision {
    /// Whether the slot boots on trial (an unconfirmed image).
    pub fn is_trial(&self) -> bool {
        self.kind == BootKind::Trial
    }

    /// Whether the data was migrated past what the booting image expects
    /// (after a rollback): the firmware should restore its data backup.
    pub fn data_restore_needed(&self) -> bool {
        self.slot.is_some() && self.data_epoch > self.image_epoch
    }
}

/// The bootloader's face.
///
/// `K` is the hardware security counter ([`crate::counter`]); without
/// [`with_counter`](Bootloader::with_counter) there is none.
pub struct Bootloader<M, S, C, K = NoCounter> {
    ctx: Context<M, S, C>,
    policy: Policy,
    counter: K,
    /// Checks already made during this `select`, per slot, so no image is
    /// hashed twice in one boot.
    checked: [Option<Result<ImageInfo, ImageError>>; 2],
    /// A slot could not be read in this `select`: what it holds is
    /// unknown, so nothing is recorded about it (see [`Bootloader::select`]).
    unsure: bool,
    /// The state's floor is the one on flash (read for certain, or just
    /// written): only then may the hardware counter follow it.
    floor_on_flash: bool,
}

impl<M, S, C> Bootloader<M, S, C, NoCounter>
where
    M: NorFlash,
    S: ReadNorFlash,
    C: ImageCheck<S>,
{
    /// A bootloader over the metadata flash `metadata` and the slot flash
    /// `slots` (they may be [`crate::flash::Shared`] handles to one device).
    pub fn new(
        metadata: M,
        slots: S,
        layout: Layout,
        check: C,
        policy: Policy,
    ) -> Result<Self, Error> {
        Ok(Self {
            ctx: Context::new(metadata, slots, layout, check)?,
            policy,
            counter: NoCounter,
            checked: [None, None],
            unsure: false,
            floor_on_flash: false,
        })
    }
}

impl<M, S, C, K> Bootloader<M, S, C, K>
where
    M: NorFlash,
    S: ReadNorFlash,
    C: ImageCheck<S>,
    K: SecurityCounter,
{
    /// The same bootloader with a hardware security counter: nothing below
    /// the higher of it and the journal's floor boots, and the counter
    /// follows the journal's floor up (which rises only at a confirm).
    pub fn with_counter<K2: SecurityCounter>(self, counter: K2) -> Bootloader<M, S, C, K2> {
        Bootloader {
            ctx: self.ctx,
            policy: self.policy,
            counter,
            checked: self.checked,
            unsure: self.unsure,
            floor_on_flash: self.floor_on_flash,
        }
    }

    /// Decides which slot boots; see the [module documentation](self).
    // Always inlined: a bootloader calls it once, and where the optimiser
    // chose to inline it on its own the nRF52840 bootloader was 16 B
    // larger (issue 14).
    #[inline(always)]
    pub fn select(&mut self) -> Decision {
        // Read before the first call that is lent the bootloader: after it,
        // the optimiser reloads the policy from memory at each use, where
        // a board's constant policy now folds into the code.
        let policy = self.policy;
        let always = policy.verify == VerifyPolicy::Always;
        // The record of checks and `unsure` are clear here: `new` clears
        // them and each `select` clears them again as it returns.
        let mut loaded = self.ctx.load();
        let findings = loaded.findings;
        // An unreadable counter gives no floor of its own; the journal's
        // still holds.
        let hardware = self.counter.read().ok();
        // The kind so far, and with it whether `st` must be written: any
        // kind but `Normal` (a fresh state, a rejection) has changed it,
        // so no flag of its own is kept alive across the checks. A normal
        // boot writes nothing and compares nothing (the hardware floor
        // below raises `st` in memory only).
        let mut kind = BootKind::Normal;
        // The state is changed where the journal read put it (no copy).
        // The floor is on flash where a record was read for certain: set
        // in each way, where the way itself says whether there is one (no
        // test of the record's tag of its own).
        let st = match &mut loaded.record {
            Some(r) => {
                self.floor_on_flash = !loaded.uncertain;
                &mut r.state
            }
            None => {
                // Images below the hardware floor are not candidates of a
                // fresh state at all.
                let floor = hardware.unwrap_or(0);
                // Two calls, not a loop over both slots: the loop's slot
                // select from its counter was larger.
                self.check(Slot::A);
                self.check(Slot::B);
                kind = BootKind::Fresh;
                // Record number 0 with the default state, made the fresh
                // one in place.
                let record = loaded.record.insert(Record::default());
                // The fresh state reads the images where the checks
                // recorded them, not from copies (60 bytes each, through a
                // temporary on `select`'s stack).
                fn fit(
                    c: &Option<Result<ImageInfo, ImageError>>,
                    floor: u32,
                ) -> Option<&ImageInfo> {
                    match c {
                        Some(Ok(i)) if i.security_counter >= floor => Some(i),
                        _ => None,
                    }
                }
                let [a, b] = &self.checked;
                let infos = [fit(a, floor), fit(b, floor)];
                machine::fresh_in(&mut record.state, &infos, policy.fresh_tries);
                // Stored after the checks, not before them: the signed
                // bootloader kept a register zeroed across both calls for
                // the early store.
                self.floor_on_flash = false;
                &mut record.state
            }
        };
        // The hardware floor applies in memory: erased or rewritten
        // metadata cannot make an image below it boot.
        // Stored only where it raises the floor (no max and store always).
        if let Some(h) = hardware.filter(|&h| h > st.min_security_counter) {
            st.min_security_counter = h;
        }
        let mut reason = Reason::None;
        let mut fault = None;
        // Every way out names the slot, the kind and the reason (the way
        // to recovery takes its reason from the state after the write,
        // below); one write and one call build the decision from them. The kind says too
        // whether the state changed (any but `Normal` and the trial's,
        // which is on flash already), so no flag is carried out of each
        // way: the way to recovery, whose kind is known from its slot,
        // hands out the kind so far, `Recovery` only where it recorded
        // the event.
        let (slot, kind, reason) = 'decided: {
            if let Some(c) = machine::candidate(st) {
                // Read once, before the check: whether it has booted
                // decides the rejection's kind too, and read there again
                // it was reloaded after the check's call.
                let first = matches!(st.slot(c).state, ImageState::Pending { .. });
                match self.judge_candidate(st, c, first || always) {
                    Ok(()) => {
                        // The one copy of the state in `select`: if the try
                        // cannot be counted, the state before it stands.
                        let mut next = *st;
                        // Judged: the candidate, with tries left.
                        machine::count_try(&mut next, c);
                        match self.persist(&next) {
                            Ok(()) => {
                                *st = next;
                                break 'decided (Some(c), BootKind::Trial, reason);
                            }
                            // The try could not be counted: never boot
                            // unconfirmed code without it.
                            Err(e) => fault = Some(self::fault(e)),
                        }
                    }
                    // A read error, not a verdict: no trial and no rejection
                    // in this boot (`persist` refuses while unsure).
                    Err((_, check)) if check == ImageError::Flash.code() => {
                        fault = Some(Error::SlotFlash(FlashFault::Other));
                    }
                    // `c` is the candidate, and judging it changed nothing.
                    Err((r, check)) => {
                        machine::reject_unconfirmed(st, c, r, check, !first);
                        kind = BootKind::Rollback;
                        reason = r;
                    }
                }
            }

            // The primary first, then the other slot: one call of the test
            // for both, the other always verified. With no primary, A and
            // then B are both the other, both verified. Over the pair by
            // reference: a counter with `s` stepped to the other slot was
            // 24 bytes larger in the digest-only bootloader, the pair by
            // value (its iterator's range kept in memory) 16. The pair is
            // one of two constant orders picked by the primary: built from
            // the primary and its other slot, it was 16 bytes larger.
            let order = match st.primary {
                Some(Slot::B) => [Slot::B, Slot::A],
                _ => [Slot::A, Slot::B],
            };
            for &s in &order {
                // Whether `s` is the primary, tested where it is used, not
                // kept across the check's call: under `Always` the first
                // test folds away, and the second is a load after the call.
                if self.confirmed_ok(st, s, always || st.primary != Some(s)) {
                    if st.primary == Some(s) {
                        break 'decided (Some(s), kind, reason);
                    }
                    // Found confirmed, and the state is as it was found.
                    machine::fall_back(st, s);
                    break 'decided (Some(s), BootKind::Fallback, Reason::PrimaryCorrupt);
                }
            }
            // The state names nothing that boots (a firmware staged with no
            // state on flash, then its update was rolled back; metadata from
            // another device): an image that verifies boots, as it would from
            // blank metadata — within the floor, never a rejected one, and
            // never the unconfirmed candidate (judged above).
            if machine::candidate(st).is_none() {
                for s in Slot::both() {
                    let Ok(info) = self.check(s) else { continue };
                    let recorded = st.slot(s);
                    // Compared as byte slices (as in `confirmed_ok`): a
                    // call of the byte compare, where the arrays' `==` was a
                    // function of its own around it, called from both.
                    if recorded.state == ImageState::Rejected
                        && *recorded.digest.as_slice() == *info.digest.as_slice()
                    {
                        continue;
                    }
                    // No candidate (tested above, and nothing in this
                    // loop changes the state before it breaks out).
                    if machine::adopt_idle(st, s, info).is_ok() {
                        break 'decided (Some(s), BootKind::Fresh, Reason::None);
                    }
                }
            }
            // Recorded once only: a device stuck here does not wear its
            // journal with one record per reset.
            if machine::recovery(st) {
                kind = BootKind::Recovery;
            }
            (None, kind, reason)
        };
        // The trial's try is on flash already: it boots only if it is.
        if !matches!(kind, BootKind::Normal | BootKind::Trial) {
            fault = fault.or(self.persist(st).err().map(self::fault));
        }
        let kind = if slot.is_none() {
            BootKind::Recovery
        } else {
            kind
        };
        // The recovery way's reason read here, after its write, not as it
        // breaks out: a bootloader that never returns from recovery (it
        // runs its own) drops the load with the rest of the decision.
        let reason = match slot {
            Some(_) => reason,
            None => st.last_reason,
        };
        let decision = self.decide(st, (slot, kind, reason), fault, findings, hardware);
        // Cleared on the way out, not on the way in: a bootloader that
        // selects once and jumps never reads them again, and the optimiser
        // drops these stores where the ones at the start were kept beside
        // `new`'s.
        self.checked = [None, None];
        self.unsure = false;
        decision
    }

    /// Whether the unconfirmed image in `slot` may boot on trial now; if
    /// not, why, with the failed check's code. `verify`: the image is
    /// checked (before its first boot, and at every trial boot under
    /// [`VerifyPolicy::Always`]); else its record's counter is trusted.
    fn judge_candidate(
        &mut self,
        st: &BootState,
        slot: Slot,
        verify: bool,
    ) -> Result<(), (Reason, u8)> {
        let info = st.slot(slot);
        // `slot` holds the candidate (pending or on trial): its tries are
        // read without a second test of that.
        if let ImageState::Pending { tries: 0 } | ImageState::Trial { tries: 0 } = info.state {
            return Err((Reason::TriesExhausted, 0));
        }
        if verify {
            let checked = match self.check(slot) {
                Ok(c) => c,
                Err(e) => return Err((Reason::ImageInvalid, e.code())),
            };
            if checked.digest != info.digest {
                // Not the image that was staged and checked.
                return Err((Reason::ImageInvalid, ImageError::DigestMismatch.code()));
            }
            if checked.security_counter < st.min_security_counter {
                return Err((Reason::Downgrade, 0));
            }
        } else if info.security_counter < st.min_security_counter {
            // Not checked again (`TrialOnly`): the record's counter.
            return Err((Reason::Downgrade, 0));
        }
        Ok(())
    }

    /// Whether `slot` holds a confirmed image that may boot.
    fn confirmed_ok(&mut self, st: &BootState, slot: Slot, verify: bool) -> bool {
        let info = st.slot(slot);
        if info.state != ImageState::Confirmed {
            return false;
        }
        if !verify {
            // `TrialOnly` trusts the record.
            return info.security_counter >= st.min_security_counter;
        }
        // The journal is no seal: whoever can write the metadata can write
        // a record with a valid CRC that claims any counter. The floor is
        // held against the counter the verified header carries.
        let floor = st.min_security_counter;
        self.check(slot).as_ref().is_ok_and(|c| {
            *c.digest.as_slice() == *info.digest.as_slice() && c.security_counter >= floor
        })
    }

    /// The image check of `slot`, made at most once per `select`. A read
    /// error is tried again, as the journal does; one that persists makes
    /// the boot unsure.
    ///
    /// The result is lent from the record of checks rather than copied out
    /// of it: its callers only look at it (or copy it once, into a fresh
    /// state's candidates). Lent whole, one pointer, not as a result that
    /// holds a reference: that was written to the caller's stack, its tag
    /// and its error or its pointer, and read back by each caller.
    fn check(&mut self, slot: Slot) -> &Result<ImageInfo, ImageError> {
        let (ctx, unsure) = (&mut self.ctx, &mut self.unsure);
        // `& 1`: in bounds for the optimiser too (no panic path).
        let memo = &mut self.checked[slot.index() & 1];
        if memo.is_none() {
            // One call site of the check, its result tested once per
            // attempt: the loop's last test is the one that marks the boot
            // unsure, where a first call before the loop left a second
            // call and a second test of the result after it.
            let mut left = READ_ATTEMPTS;
            loop {
                // Made in the record of checks, not returned (see
                // `Context::check_into`).
                ctx.check_into(slot, memo);
                if !matches!(memo, Some(Err(ImageError::Flash))) {
                    break;
                }
                left = left.saturating_sub(1);
                if left == 0 {
                    // Stored only on a read error, not loaded, or-ed and
                    // stored at every check.
                    *unsure = true;
                    break;
                }
            }
        }
        // Never inserts: the record of this slot's check is made above.
        memo.get_or_insert(Err(ImageError::Flash))
    }

    /// Writes `st`, unless a slot could not be read in this boot: then what
    /// the state would record about it (a rejection, a fallback that
    /// forgets the primary, a fresh state without it) may be wrong, and
    /// nothing is written.
    ///
    /// The error as the journal gave it (`None`: the boot is unsure),
    /// turned into the decision's [`Error`] by [`fault`] where `select`
    /// records it: a bootloader that never reads [`Decision::fault`] then
    /// links no mapping.
    fn persist(&mut self, st: &BootState) -> Result<(), Option<journal::Error<M::Error>>> {
        if self.unsure {
            return Err(None);
        }
        self.ctx.journal.append(st)?;
        self.floor_on_flash = true;
        Ok(())
    }

    /// The decision for booting `slot` (or recovery) from state `st`;
    /// `hardware` is the counter as `select` read it, handed over rather
    /// than kept in the bootloader, where it was loaded again after every
    /// call the bootloader was lent to.
    fn decide(
        &mut self,
        st: &BootState,
        (slot, kind, reason): (Option<Slot>, BootKind, Reason),
        fault: Option<Error>,
        findings: Findings,
        hardware: Option<u32>,
    ) -> Decision {
        // The three fields the decision reports, not a copy of the slot's
        // whole entry (its digest is 32 of its 52 bytes).
        let (tries_left, version, image_epoch) = match slot {
            Some(s) => {
                let i = st.slot(s);
                (i.state.tries(), i.version, i.data_epoch)
            }
            None => (0, Version::default(), 0),
        };
        // The journal's floor rose at a confirm whose own raise of the
        // counter may have been cut: catch up before the jump. A failed
        // raise is tried again at the next boot; an unreadable counter is
        // not raised. Only at the boot of a confirmed image this boot
        // verified, and never above its verified counter: a record alone
        // could otherwise raise the one-time counter to its end (and then
        // nothing boots), or raise it at a trial boot (and the way back no
        // longer boots). Under `TrialOnly` a normal boot verifies nothing,
        // so the bootloader does not catch up: the firmware's confirm
        // raises the counter, and the journal's floor holds meanwhile.
        let image = slot.and_then(|s| match self.checked[s.index() & 1] {
            Some(Ok(i)) => Some(i),
            _ => None,
        });
        let confirmed = slot.is_some_and(|s| st.slot(s).state == ImageState::Confirmed);
        if let (Some(c), Some(h), true) = (image, hardware, confirmed && self.floor_on_flash) {
            let target = st.min_security_counter.min(c.security_counter);
            if target > h {
                let _ = self.counter.raise(target);
            }
        }
        Decision {
            slot,
            kind,
            reason,
            tries_left,
            version,
            image_epoch,
            data_epoch: st.data_epoch,
            fault,
            findings,
            image,
        }
    }

    /// Gives the devices and the check back (to jump, or to hand the flash
    /// to the application).
    pub fn into_parts(self) -> (M, S, C) {
        self.ctx.into_parts()
    }

    /// Gives the security counter back.
    pub fn counter(&mut self) -> &mut K {
        &mut self.counter
    }
}
