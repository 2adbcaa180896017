//! What both faces share: the journal, the slot flash, the layout and the
//! image check, and the few operations they both need.

use embedded_storage::nor_flash::{NorFlash, NorFlashError, ReadNorFlash};

use crate::error::{Error, LayoutError};
use crate::flash::Region;
use crate::image::{ImageCheck, ImageError, ImageInfo};
use crate::journal::{Geometry, Journal, Loaded};
use crate::state::{BootState, Slot};

/// Where everything lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Layout {
    /// The two metadata sectors, on the metadata flash.
    pub metadata: Geometry,
    /// Slot A and slot B, on the slot flash. Each is aligned to and a whole
    /// number of the slot flash's erase blocks.
    pub slots: [Region; 2],
    /// The value every byte of the slot flash reads after an erase (`0xFF`
    /// by default, `0x00` for parts that erase to zero). Staging pads an
    /// image's last word with it, so the padding programs nothing.
    pub slot_erased: u8,
    /// `true` when the metadata lives on another part than the slots (an
    /// external SPI NOR beside the internal flash): their offsets are then
    /// in different address spaces and may overlap. `false` (the default)
    /// means one part, where metadata that overlaps a slot is a
    /// [`LayoutError::MetadataOverlapsSlot`].
    pub separate_parts: bool,
}

impl Layout {
    /// Metadata in `metadata`, slots A and B in `slots`, on a slot flash
    /// that erases to `0xFF` (change it with [`Layout::slots_erased_to`]).
    pub const fn new(metadata: Geometry, slots: [Region; 2]) -> Self {
        Self {
            metadata,
            slots,
            slot_erased: 0xFF,
            separate_parts: false,
        }
    }

    /// The same layout with the metadata on another part than the slots.
    pub const fn on_separate_parts(mut self) -> Self {
        self.separate_parts = true;
        self
    }

    /// The same layout on a slot flash whose erased bytes read `value`.
    pub const fn slots_erased_to(mut self, value: u8) -> Self {
        self.slot_erased = value;
        self
    }

    /// The slot whose region holds the flash offset `offset` — for a
    /// firmware that runs in place, the offset of its own vector table or
    /// of any function it links, minus the flash's base address.
    /// An offset in neither slot (or a slot whose end overflows) is in
    /// none: `None`, never a guess.
    pub const fn slot_containing(&self, offset: u32) -> Option<Slot> {
        if self.slots[0].contains(offset) {
            Some(Slot::A)
        } else if self.slots[1].contains(offset) {
            Some(Slot::B)
        } else {
            None
        }
    }

    /// The region of `slot`.
    pub const fn region(&self, slot: Slot) -> Region {
        self.slots[slot.index() & 1]
    }
}

/// The journal, the slots and the image check, as both faces use them.
pub struct Context<M, S, C> {
    pub(crate) journal: Journal<M>,
    pub(crate) slots: S,
    /// The layout's slots: what both faces use of it after `new` (the
    /// journal keeps its own geometry, the updater the slots' erased
    /// value, which the bootloader never reads and no longer stores). Not
    /// the whole layout: a board's constant layout was copied into each
    /// context from read-only data, 40 bytes where these few are stored
    /// directly.
    pub(crate) regions: [Region; 2],
    pub(crate) check: C,
}

impl<M, S, C> Context<M, S, C>
where
    M: NorFlash,
    S: ReadNorFlash,
    C: ImageCheck<S>,
{
    /// Checks `layout` against both devices.
    pub fn new(metadata: M, slots: S, layout: Layout, check: C) -> Result<Self, Error> {
        // Each region named, not iterated: over a constant layout the
        // checks then fold away at compile time (an array loop, by value
        // or by reference, stays a loop over the layout copied to RAM).
        let [a, b] = layout.slots;
        let capacity = slots.capacity();
        let in_bounds = |r: Region| r.fits(capacity) && r.len != 0;
        if !in_bounds(a) || !in_bounds(b) {
            return Err(Error::Layout(LayoutError::SlotOutOfBounds));
        }
        if a.overlaps(&b) {
            return Err(Error::Layout(LayoutError::SlotsOverlap));
        }
        // Always inlined, as `Region::overlaps` and `fits` are: a call
        // with constant arguments is not folded.
        #[inline(always)]
        fn touches(s: &Region, [a, b]: &[Region; 2]) -> bool {
            a.overlaps(s) || b.overlaps(s)
        }
        let [m, n] = &layout.metadata.sectors;
        if !layout.separate_parts && (touches(m, &layout.slots) || touches(n, &layout.slots)) {
            return Err(Error::Layout(LayoutError::MetadataOverlapsSlot));
        }
        let journal = Journal::new(metadata, layout.metadata)
            .map_err(|e| Error::Layout(LayoutError::Metadata(e)))?;
        Ok(Self {
            journal,
            slots,
            regions: layout.slots,
            check,
        })
    }

    /// Reads the newest state.
    pub(crate) fn load(&mut self) -> Loaded {
        self.journal.read()
    }

    /// Writes `state` as the newest record; it has read back as written
    /// when this returns `Ok`.
    pub(crate) fn persist(&mut self, state: &BootState) -> Result<(), Error> {
        self.journal.append(state).map(|_| ()).map_err(Error::from)
    }

    /// Checks the image in `slot`.
    // Never inlined: the updater (`app.rs`) calls it at four sites. The
    // bootloader calls `check_into` instead, from its retry loop's one
    // site, where inlined the check's locals had joined the frame under
    // the verifier (+24 B of static stack on the signed nRF52840
    // bootloader, measured when that loop called this).
    #[inline(never)]
    pub(crate) fn check(&mut self, slot: Slot) -> Result<ImageInfo, ImageError> {
        let region = self.region(slot);
        self.check.check(&mut self.slots, slot, region)
    }

    /// [`Context::check`] with its result written into `memo` (the
    /// bootloader's record of checks), not returned: the check builds it
    /// there ([`ImageCheck::check_into`]), where a returned result was
    /// built in a temporary on the caller's frame (64 bytes) and copied.
    // Never inlined, for the frame's sake as `check` was: its locals stay
    // off the frame of `select`, under which the verifier runs.
    #[inline(never)]
    pub(crate) fn check_into(
        &mut self,
        slot: Slot,
        memo: &mut Option<Result<ImageInfo, ImageError>>,
    ) {
        let region = self.region(slot);
        self.check.check_into(&mut self.slots, slot, region, memo);
    }

    /// The region of `slot`.
    pub(crate) fn region(&self, slot: Slot) -> Region {
        self.regions[slot.index() & 1]
    }

    /// Gives the devices and the check back.
    pub fn into_parts(self) -> (M, S, C) {
        (self.journal.into_inner(), self.slots, self.check)
    }
}

/// Checks that the slots are whole erase blocks of a writable slot flash.
pub(crate) fn check_erasable<S: NorFlash>(layout: &Layout) -> Result<(), Error> {
    let e = S::ERASE_SIZE as u32;
    for r in layout.slots {
        if e == 0 || r.offset % e != 0 || r.len % e != 0 {
            return Err(Error::Layout(LayoutError::SlotMisaligned));
        }
    }
    Ok(())
}

/// Maps a slot flash error.
pub(crate) fn slot_err<E: NorFlashError>(e: E) -> Error {
    Error::SlotFlash(e.kind().into())
}
