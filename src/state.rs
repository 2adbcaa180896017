//! The boot state the journal stores: one value of [`BootState`] is the
//! whole truth about both slots, and every record on flash holds a complete
//! copy of it.
//!
//! The state is plain data. Its byte encoding lives in [`crate::record`];
//! the transitions that change it live in the decision layer above.

use crate::version::Version;

/// One of the two firmware slots.
///
/// Its discriminants are 1 and 2 (what an `as` cast gives): use
/// [`Slot::index`] for 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
// Numbered from 1, not 0: `Option<Slot>`'s `None` then takes the free
// value 0 rather than 2, so a default state (slots, primary, rollback and
// six event slots all `None`) is zero bytes throughout, and each
// "is there a slot" test compares with zero. `index` turns the number
// into 0 or 1 with one shift. 72 B of the digest-only nRF52840
// bootloader, 64 B of the signed one (issue 14).
pub enum Slot {
    /// The first slot.
    A = 1,
    /// The second slot.
    B = 2,
}

impl Slot {
    /// Both slots, in index order.
    pub const ALL: [Slot; 2] = [Slot::A, Slot::B];

    /// 0 for A, 1 for B.
    // A shift of the discriminant (1 or 2), not a match: the match became
    // a subtract the optimiser did not merge into the uses (50 B more).
    pub const fn index(self) -> usize {
        self as usize >> 1
    }

    /// Both slots in index order, as [`Slot::ALL`] is, made from a counter
    /// (`A` is 0, `B` is 1) rather than read from the array: each loop over
    /// `ALL` stored the array on the stack and loaded each slot from it,
    /// and the optimiser, which knew no bound on the slot loaded, kept
    /// checks that a slot from the counter lets it drop (168 B of the
    /// digest-only nRF52840 bootloader).
    pub(crate) fn both() -> Both {
        Both(0)
    }

    /// The other slot.
    pub const fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// The slot with index 0 or 1.
    pub const fn from_index(i: u8) -> Option<Slot> {
        match i {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
        }
    }
}

/// [`Slot::both`]'s iterator: the next slot's index.
pub(crate) struct Both(u8);

impl Iterator for Both {
    type Item = Slot;

    // Always inlined, and a compare rather than a match on the counter:
    // `(0..2).map(..)` was left out of line in the signed bootloader (a
    // call per step), a three-arm match cost 88 B more over the loops.
    #[inline(always)]
    fn next(&mut self) -> Option<Slot> {
        let i = self.0;
        if i > 1 {
            return None;
        }
        self.0 = i + 1;
        Some(if i == 0 { Slot::A } else { Slot::B })
    }
}

impl core::fmt::Display for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// What a slot holds, as far as the boot decision is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum ImageState {
    /// Nothing usable: never written, or invalidated before an erase.
    #[default]
    Empty,
    /// Staged and verified, not booted yet; `tries` trial boots allowed.
    Pending {
        /// Trial boots left.
        tries: u8,
    },
    /// Booted on trial and not confirmed; `tries` further trial boots left.
    Trial {
        /// Trial boots left after the current one.
        tries: u8,
    },
    /// Confirmed by the firmware after its health checks.
    Confirmed,
    /// Refused: failed verification, ran out of tries, or marked bad.
    Rejected,
}

impl ImageState {
    /// Encoded tag of the state, as stored on flash.
    pub const fn tag(self) -> u8 {
        match self {
            ImageState::Empty => 0,
            ImageState::Pending { .. } => 1,
            ImageState::Trial { .. } => 2,
            ImageState::Confirmed => 3,
            ImageState::Rejected => 4,
        }
    }

    /// Tries left for a pending or trial image, 0 otherwise.
    pub const fn tries(self) -> u8 {
        match self {
            ImageState::Pending { tries } | ImageState::Trial { tries } => tries,
            _ => 0,
        }
    }

    /// The state for a tag and a tries byte, or `None` for an unknown tag.
    pub const fn from_parts(tag: u8, tries: u8) -> Option<Self> {
        Some(match tag {
            0 => ImageState::Empty,
            1 => ImageState::Pending { tries },
            2 => ImageState::Trial { tries },
            3 => ImageState::Confirmed,
            4 => ImageState::Rejected,
            _ => return None,
        })
    }
}

/// Everything known about the image in one slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct SlotInfo {
    /// Lifecycle state of the image.
    pub state: ImageState,
    /// Version of the image.
    pub version: Version,
    /// SHA-256 of the image, as its check reported it.
    pub digest: [u8; 32],
    /// Boots of this image so far (trial and confirmed boots that wrote
    /// state); saturates at 255.
    pub attempts: u8,
    /// Security counter of the image (anti-rollback).
    pub security_counter: u32,
    /// Data/config schema epoch the image expects.
    pub data_epoch: u16,
}

/// Where the last (or current) update stands, for a fleet backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum UpdateState {
    /// No update in progress, and none finished since the last reset of the
    /// status.
    #[default]
    Idle,
    /// An image is being written, or written and pending its first boot.
    Staged,
    /// The new image runs on trial.
    Trial,
    /// The new image was confirmed.
    Confirmed,
    /// The new image was rejected after booting and the device went back.
    RolledBack,
    /// The update failed before the new image ever booted.
    Failed,
}

impl UpdateState {
    /// Encoded tag, as stored on flash.
    pub const fn tag(self) -> u8 {
        match self {
            UpdateState::Idle => 0,
            UpdateState::Staged => 1,
            UpdateState::Trial => 2,
            UpdateState::Confirmed => 3,
            UpdateState::RolledBack => 4,
            UpdateState::Failed => 5,
        }
    }

    /// The state for a tag, or `None` for an unknown tag.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            0 => UpdateState::Idle,
            1 => UpdateState::Staged,
            2 => UpdateState::Trial,
            3 => UpdateState::Confirmed,
            4 => UpdateState::RolledBack,
            5 => UpdateState::Failed,
            _ => return None,
        })
    }
}

/// Why an image was rejected or a slot was passed over.
///
/// Codes below 0x80 are abboot's own; `App(code)` carries a reason the
/// firmware gave to `mark_bad` (0x80..=0xFF on flash).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum Reason {
    /// No reason recorded.
    #[default]
    None,
    /// The trial image used all its tries without being confirmed.
    TriesExhausted,
    /// The image failed its check (digest, signature, header...).
    ImageInvalid,
    /// The staged image was dropped by `abort` before it booted.
    Aborted,
    /// The image's version or security counter is below what is allowed.
    Downgrade,
    /// The primary image no longer verifies; the other slot took over.
    PrimaryCorrupt,
    /// Staging refused: the image was rejected before and not forced.
    KnownBad,
    /// The firmware marked itself bad with its own reason code (0..=127).
    App(u8),
}

impl Reason {
    /// Encoded byte, as stored on flash.
    pub const fn code(self) -> u8 {
        match self {
            Reason::None => 0,
            Reason::TriesExhausted => 1,
            Reason::ImageInvalid => 2,
            Reason::Aborted => 3,
            Reason::Downgrade => 4,
            Reason::PrimaryCorrupt => 5,
            Reason::KnownBad => 6,
            Reason::App(c) => 0x80 | (c & 0x7F),
        }
    }

    /// The reason for a byte, or `None` for an unknown code.
    pub const fn from_code(code: u8) -> Option<Self> {
        // Abboot's own codes tested first, by one compare that lets them
        // through as they are: the firmware's bit tested first was a
        // select for each outcome (8 B of the nRF52840 bootloaders).
        if code > 6 {
            if code & 0x80 != 0 {
                return Some(Reason::App(code & 0x7F));
            }
            return None;
        }
        Some(match code {
            0 => Reason::None,
            1 => Reason::TriesExhausted,
            2 => Reason::ImageInvalid,
            3 => Reason::Aborted,
            4 => Reason::Downgrade,
            5 => Reason::PrimaryCorrupt,
            6 => Reason::KnownBad,
            _ => return None,
        })
    }
}

/// What a boot that changed the state decided; kept in a small ring on
/// flash as failure evidence. Boots that change nothing are not recorded,
/// so that a normal boot writes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum BootKind {
    /// Unused ring entry.
    #[default]
    None,
    /// Booted a confirmed image.
    Normal,
    /// Booted an unconfirmed image on trial.
    Trial,
    /// Rejected an image and went back to the primary.
    Rollback,
    /// The primary was corrupt; booted the other confirmed slot.
    Fallback,
    /// Built a fresh state from the images (blank metadata).
    Fresh,
    /// Nothing bootable; the board's recovery ran.
    Recovery,
}

impl BootKind {
    /// Encoded tag, as stored on flash.
    pub const fn tag(self) -> u8 {
        match self {
            BootKind::None => 0,
            BootKind::Normal => 1,
            BootKind::Trial => 2,
            BootKind::Rollback => 3,
            BootKind::Fallback => 4,
            BootKind::Fresh => 5,
            BootKind::Recovery => 6,
        }
    }

    /// The kind for a tag, or `None` for an unknown tag.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            0 => BootKind::None,
            1 => BootKind::Normal,
            2 => BootKind::Trial,
            3 => BootKind::Rollback,
            4 => BootKind::Fallback,
            5 => BootKind::Fresh,
            6 => BootKind::Recovery,
            _ => return None,
        })
    }
}

/// One entry of the boot event ring: the four bytes a record holds for it
/// (kind tag, slot, reason code, tries left; see [`crate::record`]), read
/// through typed accessors.
///
/// Carried as bytes, not checked when a record is read. An event whose
/// kind, slot or reason this build does not know, such as one a firmware
/// built against a later abboot writes, is kept as it is, and its record
/// stays valid: the boot state is never passed over for an older one
/// because of its history, and a bootloader, which is not updated in the
/// field, keeps reading the records of newer firmware. Its accessors then
/// answer `None`. (Decoded and checked, the ring was also 52 B of the
/// signed nRF52840 bootloader, issue 14.)
///
/// ```
/// use abboot::state::{BootEvent, BootKind, Reason, Slot};
///
/// let e = BootEvent::new(BootKind::Rollback, Some(Slot::A), Reason::TriesExhausted, 0);
/// assert_eq!(e.kind(), Some(BootKind::Rollback));
/// assert_eq!((e.slot(), e.reason(), e.tries()), (Some(Slot::A), Some(Reason::TriesExhausted), 0));
/// assert_eq!(e.to_bytes(), [3, 0, 1, 0]);
/// // A kind this build does not know reads as none, its bytes kept.
/// let later = BootEvent::from_bytes([9, 0, 1, 0]);
/// assert_eq!(later.kind(), None);
/// assert_eq!(later.to_bytes(), [9, 0, 1, 0]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BootEvent([u8; 4]);

impl BootEvent {
    /// The event `kind` in `slot` (none: recovery), for `reason`, with
    /// `tries` left on the slot after the boot.
    #[inline(always)]
    pub const fn new(kind: BootKind, slot: Option<Slot>, reason: Reason, tries: u8) -> Self {
        Self([kind.tag(), slot_byte(slot), reason.code(), tries])
    }

    /// The event its four record bytes describe, whatever they hold.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// Its four record bytes.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// What the boot decided; `None` for a tag this build does not know.
    pub const fn kind(&self) -> Option<BootKind> {
        BootKind::from_tag(self.0[0])
    }

    /// The slot it booted: `None` for none (recovery), and for a slot byte
    /// this build does not know ([`BootEvent::to_bytes`] tells them apart:
    /// none is `0xFF`).
    pub const fn slot(&self) -> Option<Slot> {
        Slot::from_index(self.0[1])
    }

    /// Why; `None` for a code this build does not know.
    pub const fn reason(&self) -> Option<Reason> {
        Reason::from_code(self.0[2])
    }

    /// Tries left on the booted slot after this boot.
    pub const fn tries(&self) -> u8 {
        self.0[3]
    }

    /// The fields as this build reads them, or `None` if one of them is
    /// unknown to it: what `Debug` and `serde` show.
    fn known(&self) -> Option<(BootKind, Option<Slot>, Reason, u8)> {
        let slot = match self.0[1] {
            0xFF => None,
            i => Some(Slot::from_index(i)?),
        };
        Some((self.kind()?, slot, self.reason()?, self.tries()))
    }
}

/// The byte a slot is stored as: 0 for A, 1 for B, `0xFF` for none. One
/// less than the number `Option<Slot>` is (`None` 0, `A` 1, `B` 2), in
/// one subtraction rather than a shift and a test for `None`.
pub(crate) const fn slot_byte(s: Option<Slot>) -> u8 {
    let n = match s {
        Some(s) => s as u8,
        None => 0,
    };
    n.wrapping_sub(1)
}

/// The default event is the zero bytes an unused entry of the ring holds
/// on flash: kind [`BootKind::None`].
impl Default for BootEvent {
    fn default() -> Self {
        Self([0; 4])
    }
}

// The fields by name, as the struct this replaced printed them; the bytes
// for an event this build does not know.
impl core::fmt::Debug for BootEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.known() {
            Some((kind, slot, reason, tries)) => f
                .debug_struct("BootEvent")
                .field("kind", &kind)
                .field("slot", &slot)
                .field("reason", &reason)
                .field("tries", &tries)
                .finish(),
            None => f.debug_tuple("BootEvent").field(&self.0).finish(),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for BootEvent {
    fn format(&self, f: defmt::Formatter) {
        match self.known() {
            Some((kind, slot, reason, tries)) => defmt::write!(
                f,
                "BootEvent {{ kind: {}, slot: {}, reason: {}, tries: {} }}",
                kind,
                slot,
                reason,
                tries
            ),
            None => defmt::write!(f, "BootEvent({=[u8; 4]:02x})", self.0),
        }
    }
}

/// A field of an event as JSON shows it: its name (or its value, for a
/// slot) when this build knows it, its byte when not.
#[cfg(feature = "std")]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Field<T> {
    Known(T),
    Byte(u8),
}

#[cfg(feature = "std")]
impl<T> Field<T> {
    fn new(known: Option<T>, byte: u8) -> Self {
        known.map_or(Field::Byte(byte), Field::Known)
    }

    fn byte(self, code: impl FnOnce(T) -> u8) -> u8 {
        match self {
            Field::Known(v) => code(v),
            Field::Byte(b) => b,
        }
    }
}

/// An event in JSON: the object the struct this replaced was
/// (`{"kind": "Trial", "slot": "A", "reason": "None", "tries": 2}`), a
/// field this build does not know given as its byte.
#[cfg(feature = "std")]
#[derive(serde::Serialize, serde::Deserialize)]
struct EventFields {
    kind: Field<BootKind>,
    slot: Field<Option<Slot>>,
    reason: Field<Reason>,
    tries: u8,
}

#[cfg(feature = "std")]
impl serde::Serialize for BootEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let [kind, slot, reason, tries] = self.0;
        let known_slot = match slot {
            0xFF => Some(None),
            _ => self.slot().map(Some),
        };
        EventFields {
            kind: Field::new(self.kind(), kind),
            slot: Field::new(known_slot, slot),
            reason: Field::new(self.reason(), reason),
            tries,
        }
        .serialize(s)
    }
}

#[cfg(feature = "std")]
impl<'de> serde::Deserialize<'de> for BootEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = EventFields::deserialize(d)?;
        Ok(Self([
            e.kind.byte(BootKind::tag),
            e.slot.byte(slot_byte),
            e.reason.byte(Reason::code),
            e.tries,
        ]))
    }
}

/// Number of boot events kept on flash.
pub const EVENT_RING_LEN: usize = 6;

/// The boot event ring: the most recent boots that changed the state,
/// oldest first, at most [`EVENT_RING_LEN`].
///
/// Held as the record holds it, four bytes per entry ([`BootEvent`]), and
/// handed out by value: a state is copied and compared as plain bytes,
/// the record's encoder and decoder copy the ring whole, and pushing onto
/// a full ring shifts five entries down, which is cheaper in a
/// bootloader's flash than a deque's wrapping indices.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// The first `len` entries are the events; the rest are zero, or what
    /// the record the ring was read from held there (carried, so that a
    /// record is written back as it was read).
    bytes: [u8; EVENT_BYTES],
    len: u8,
}

/// The ring's bytes in a record: four per entry.
pub(crate) const EVENT_BYTES: usize = EVENT_RING_LEN * 4;

/// [`Events::iter`]'s iterator.
pub type EventIter<'a> =
    core::iter::Map<core::iter::Take<core::slice::ChunksExact<'a, u8>>, fn(&[u8]) -> BootEvent>;

impl Events {
    /// The empty ring, as a constant for [`BootState::EMPTY`] (the
    /// derived default is not `const`).
    const EMPTY: Self = Self {
        bytes: [0; EVENT_BYTES],
        len: 0,
    };

    /// How many events the ring holds.
    pub fn len(&self) -> usize {
        // Capped, so that a count past the ring can never be handed out
        // (the decoder refuses one).
        (self.len as usize).min(EVENT_RING_LEN)
    }

    /// Whether the ring holds no event.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the next push drops the oldest event.
    pub fn is_full(&self) -> bool {
        self.len() == EVENT_RING_LEN
    }

    /// The event at `index`, oldest first.
    pub fn get(&self, index: usize) -> Option<BootEvent> {
        if index >= self.len() {
            return None;
        }
        entry(&self.bytes, index)
    }

    /// The events, oldest first.
    pub fn iter(&self) -> EventIter<'_> {
        let event: fn(&[u8]) -> BootEvent =
            |b| BootEvent(<[u8; 4]>::try_from(b).unwrap_or_default());
        self.bytes.chunks_exact(4).take(self.len()).map(event)
    }

    /// The oldest event.
    pub fn front(&self) -> Option<BootEvent> {
        self.get(0)
    }

    /// The newest event.
    pub fn back(&self) -> Option<BootEvent> {
        // The entry at `len - 1`, none for an empty ring (`len - 1` wraps
        // past the ring): `len` never exceeds the ring, so no clamp.
        entry(&self.bytes, (self.len as usize).wrapping_sub(1))
    }

    /// Appends an event, dropping the oldest when the ring is full.
    #[inline(never)]
    pub fn push(&mut self, event: BootEvent) {
        // `len` straight from the field, not through `len()`, whose clamp
        // is a second compare: `len` never exceeds the ring.
        let mut n = self.len as usize;
        if n >= EVENT_RING_LEN {
            // Shifted down by `copy_within`, one `memmove` call of 20
            // bytes. The boards link their own small `memmove`
            // (`abboot-board-common`'s `small-mem`), not compiler
            // builtins' 1.5 KB one.
            self.bytes.copy_within(4.., 0);
            n = EVENT_RING_LEN - 1;
        }
        self.len = n as u8 + 1;
        if let Some(free) = entry_mut(&mut self.bytes, n) {
            *free = event.0;
        }
    }

    /// The ring as a record holds it: the count, and the six entries'
    /// bytes, oldest first, those past the events included.
    pub(crate) fn bytes(&self) -> (u8, &[u8; EVENT_BYTES]) {
        (self.len, &self.bytes)
    }

    /// The decoder's: the ring holds the first `n` of the entries in
    /// `bytes`, as they are, from now on; `None`, changing nothing, for
    /// more than the ring holds.
    pub(crate) fn set_bytes(&mut self, n: u8, bytes: [u8; EVENT_BYTES]) -> Option<()> {
        if n as usize > EVENT_RING_LEN {
            return None;
        }
        self.len = n;
        self.bytes = bytes;
        Some(())
    }
}

/// Entry `index` of a ring's bytes, for an index below the ring's length
/// or `usize::MAX` (`None`): wrapping arithmetic, whose range for that
/// index ends before it starts, rather than two checked steps (30 B of
/// the signed nRF52840 bootloader). No other index is passed.
fn entry(bytes: &[u8; EVENT_BYTES], index: usize) -> Option<BootEvent> {
    let start = index.wrapping_mul(4);
    let b = bytes.get(start..start.wrapping_add(4))?;
    Some(BootEvent(<[u8; 4]>::try_from(b).ok()?))
}

/// [`entry`], to write, for an index below the ring's length.
fn entry_mut(bytes: &mut [u8; EVENT_BYTES], index: usize) -> Option<&mut [u8; 4]> {
    let start = index.wrapping_mul(4);
    let b = bytes.get_mut(start..start.wrapping_add(4))?;
    <&mut [u8; 4]>::try_from(b).ok()
}

// The events, oldest first: the entries past them are not shown.
impl core::fmt::Debug for Events {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Events {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "[");
        for (i, e) in self.iter().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{}", e);
        }
        defmt::write!(f, "]");
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = BootEvent;
    type IntoIter = EventIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

// Serialized as the sequence of events, oldest first, as the deque it
// replaced was.
#[cfg(feature = "std")]
impl serde::Serialize for Events {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(feature = "std")]
impl<'de> serde::Deserialize<'de> for Events {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let all = Vec::<BootEvent>::deserialize(d)?;
        if all.len() > EVENT_RING_LEN {
            return Err(serde::de::Error::invalid_length(
                all.len(),
                &"at most EVENT_RING_LEN boot events",
            ));
        }
        let mut events = Events::default();
        all.into_iter().for_each(|e| events.push(e));
        Ok(events)
    }
}

/// Longest update tag `stage` accepts (a UUID in text form is 36 bytes).
pub const UPDATE_TAG_LEN: usize = 36;

/// The opaque tag the caller gave to `stage`, at most [`UPDATE_TAG_LEN`]
/// bytes; reads as a byte slice.
///
/// A fixed array and a length rather than a general vector, so that a
/// [`BootState`] is `Copy`: a bootloader copies and clears it as plain
/// bytes instead of linking a field-by-field clone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UpdateTag {
    /// The first `len` bytes are the tag; the rest stay 0, so the derived
    /// comparison compares the tag only.
    bytes: [u8; UPDATE_TAG_LEN],
    len: u8,
}

/// A tag longer than [`UPDATE_TAG_LEN`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TagTooLong;

impl UpdateTag {
    /// The empty tag.
    pub const fn new() -> Self {
        Self {
            bytes: [0; UPDATE_TAG_LEN],
            len: 0,
        }
    }

    /// The tag `tag`, if it fits.
    pub fn from_slice(tag: &[u8]) -> Result<Self, TagTooLong> {
        let mut t = Self::new();
        t.extend_from_slice(tag)?;
        Ok(t)
    }

    /// Appends `more`, or changes nothing if the result would not fit.
    pub fn extend_from_slice(&mut self, more: &[u8]) -> Result<(), TagTooLong> {
        let start = self.as_slice().len();
        let end = start.saturating_add(more.len());
        let dst = self.bytes.get_mut(start..end).ok_or(TagTooLong)?;
        dst.iter_mut().zip(more).for_each(|(d, s)| *d = *s);
        self.len = end as u8;
        Ok(())
    }

    /// The decoder's: on the empty tag, the tag's `len` first bytes of
    /// `field`, the tag field as a record holds it; or [`TagTooLong`],
    /// changing nothing, for a `len` past [`UPDATE_TAG_LEN`]. The bytes
    /// past `len` are not written: they stay the empty tag's zeros.
    pub(crate) fn set_prefix(
        &mut self,
        field: &[u8; UPDATE_TAG_LEN],
        len: u8,
    ) -> Result<(), TagTooLong> {
        let n = len as usize;
        let (Some(dst), Some(src)) = (self.bytes.get_mut(..n), field.get(..n)) else {
            return Err(TagTooLong);
        };
        // The length stored first and the bytes copied last to first: the
        // loop then counts the length itself down to 0 as the index of
        // both, with no copy of it kept for the store and no pointers
        // stepped (8 B of the nRF52840 bootloaders). A field, not a
        // slice, so that the source always holds `len` bytes when the
        // tag does.
        self.len = len;
        dst.iter_mut().zip(src).rev().for_each(|(d, s)| *d = *s);
        Ok(())
    }

    /// The whole array, the tag's bytes and the zeros after them (every
    /// change keeps them 0): what a record stores in its tag field.
    pub(crate) fn field(&self) -> &[u8; UPDATE_TAG_LEN] {
        &self.bytes
    }

    /// The tag's length as it is kept, never past [`UPDATE_TAG_LEN`]
    /// (every change checks it): the encoder's, without the cap
    /// [`UpdateTag::as_slice`] needs to index.
    pub(crate) fn len_byte(&self) -> u8 {
        self.len
    }

    /// Empties the tag.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The tag's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // Capped, as `Events::len` is.
        let n = (self.len as usize).min(UPDATE_TAG_LEN);
        self.bytes.get(..n).unwrap_or(&[])
    }
}

impl Default for UpdateTag {
    fn default() -> Self {
        Self::new()
    }
}

impl core::ops::Deref for UpdateTag {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl core::fmt::Debug for UpdateTag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for UpdateTag {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{=[u8]}", self.as_slice())
    }
}

// Serialized as the sequence of its bytes, as the vector it replaced was.
#[cfg(feature = "std")]
impl serde::Serialize for UpdateTag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

#[cfg(feature = "std")]
impl<'de> serde::Deserialize<'de> for UpdateTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        UpdateTag::from_slice(&bytes).map_err(|_| {
            serde::de::Error::invalid_length(bytes.len(), &"at most UPDATE_TAG_LEN bytes")
        })
    }
}

/// The whole boot state: both slots and the update status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct BootState {
    /// Slot A and slot B, by [`Slot::index`].
    pub slots: [SlotInfo; 2],
    /// The last confirmed slot: what boots when nothing is on trial.
    pub primary: Option<Slot>,
    /// The confirmed slot kept as the way back after an update.
    pub rollback: Option<Slot>,
    /// Where the last update stands.
    pub update: UpdateState,
    /// Why the last image was rejected or passed over.
    pub last_reason: Reason,
    /// Updates that failed or were rolled back, ever; saturates.
    pub failure_count: u16,
    /// Which image check failed behind the last `ImageInvalid` reason, as
    /// [`ImageError::code`](crate::image::ImageError::code); 0 for none.
    pub check_error: u8,
    /// The data/config schema epoch the device's data was last migrated to.
    pub data_epoch: u16,
    /// No image with a lower security counter boots. Rises only on confirm.
    pub min_security_counter: u32,
    /// Digest of the last rejected image, refused if staged again.
    pub rejected_digest: Option<[u8; 32]>,
    /// The first 16 bytes of the digest of the image rejected before the
    /// last one: refused if staged again too, so that two failed updates
    /// offered in turn do not loop ([`BootState::was_rejected`]).
    pub rejected_before: Option<[u8; 16]>,
    /// Opaque tag the caller gave to `stage` (e.g. a request UUID).
    pub update_tag: UpdateTag,
    /// The most recent boots that changed the state, oldest first.
    pub events: Events,
}

/// [`SlotInfo::default`] as a constant. `BootState::EMPTY` lists it
/// twice: both slots are then zeroed where they are built, where
/// `[SlotInfo::default(); 2]` (or a repeat of this constant) was zeroed
/// in a temporary, by a loop, and copied.
const EMPTY_SLOT: SlotInfo = SlotInfo {
    state: ImageState::Empty,
    version: Version::new(0, 0, 0, 0),
    digest: [0; 32],
    attempts: 0,
    security_counter: 0,
    data_epoch: 0,
};

impl Default for BootState {
    /// No slot, no update, nothing recorded.
    // Inlined: a copy of the constant, one `memclr` call where the state
    // is built (a record's default is then one of 240 bytes). The derived
    // default was inlined field by field, about 116 bytes each.
    #[inline]
    fn default() -> Self {
        Self::EMPTY
    }
}

impl BootState {
    /// [`BootState::default`] as a constant. Every field of it is zero,
    /// so a copy of it is a `memclr` where it lands, not a temporary.
    pub(crate) const EMPTY: Self = Self {
        slots: [EMPTY_SLOT, EMPTY_SLOT],
        primary: None,
        rollback: None,
        update: UpdateState::Idle,
        last_reason: Reason::None,
        failure_count: 0,
        check_error: 0,
        data_epoch: 0,
        min_security_counter: 0,
        rejected_digest: None,
        rejected_before: None,
        update_tag: UpdateTag::new(),
        events: Events::EMPTY,
    };
}

impl BootState {
    /// The information about one slot.
    pub fn slot(&self, slot: Slot) -> &SlotInfo {
        // `& 1` keeps the index visibly in bounds: no bounds check and no
        // panic path (the no-panic proof), and no branch.
        &self.slots[slot.index() & 1]
    }

    /// Mutable information about one slot.
    pub fn slot_mut(&mut self, slot: Slot) -> &mut SlotInfo {
        &mut self.slots[slot.index() & 1]
    }

    /// Appends a boot event, dropping the oldest when the ring is full.
    pub fn push_event(&mut self, event: BootEvent) {
        self.events.push(event);
    }

    /// Whether the image with `digest` was rejected: the last rejected
    /// image, or the one before it (by its first 16 bytes).
    pub fn was_rejected(&self, digest: &[u8; 32]) -> bool {
        self.rejected_digest == Some(*digest) || self.rejected_before == Some(digest_prefix(digest))
    }

    /// Records `digest` as the last rejected image; the one rejected
    /// before it is kept as [`BootState::rejected_before`].
    pub fn remember_rejected(&mut self, digest: [u8; 32]) {
        if let Some(last) = &self.rejected_digest {
            self.rejected_before = Some(digest_prefix(last));
        }
        self.rejected_digest = Some(digest);
    }
}

/// The first 16 bytes of a digest: what [`BootState::rejected_before`]
/// keeps of it.
pub fn digest_prefix(digest: &[u8; 32]) -> [u8; 16] {
    digest.first_chunk().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the host tool, the status and the boards print.
    #[test]
    fn slots_display_as_their_letters() {
        assert_eq!(std::format!("{} {}", Slot::A, Slot::B), "A B");
    }

    #[test]
    fn the_empty_slot_is_the_default_one() {
        assert_eq!(EMPTY_SLOT, SlotInfo::default());
        assert_eq!(BootState::default().slots, [SlotInfo::default(); 2]);
        assert_eq!(Events::EMPTY, Events::default());
        assert_eq!(BootState::EMPTY.update_tag, UpdateTag::default());
    }

    #[test]
    fn tags_round_trip() {
        for tag in 0..=255u8 {
            if let Some(s) = ImageState::from_parts(tag, 3) {
                assert_eq!(s.tag(), tag);
            }
            if let Some(u) = UpdateState::from_tag(tag) {
                assert_eq!(u.tag(), tag);
            }
            if let Some(k) = BootKind::from_tag(tag) {
                assert_eq!(k.tag(), tag);
            }
            let r = Reason::from_code(tag);
            if let Some(r) = r {
                assert_eq!(r.code(), tag);
            }
        }
        assert_eq!(ImageState::from_parts(5, 0), None);
        assert_eq!(Reason::from_code(7), None);
    }

    #[test]
    fn update_tag_holds_up_to_its_length_and_a_refusal_changes_nothing() {
        let full = [0x5Eu8; UPDATE_TAG_LEN];
        let t = UpdateTag::from_slice(&full).unwrap();
        assert_eq!(t.as_slice(), &full[..]);
        assert_eq!(
            UpdateTag::from_slice(&[1; UPDATE_TAG_LEN + 1]),
            Err(TagTooLong)
        );
        let mut t = UpdateTag::from_slice(b"req-").unwrap();
        assert_eq!(t.extend_from_slice(b"42"), Ok(()));
        assert_eq!(&*t, b"req-42");
        assert_eq!(
            t.extend_from_slice(&full[..UPDATE_TAG_LEN - 5]),
            Err(TagTooLong)
        );
        assert_eq!(&*t, b"req-42");
        assert_eq!(t.len_byte(), 6);
        assert_eq!(t.extend_from_slice(&full[..UPDATE_TAG_LEN - 6]), Ok(()));
        assert_eq!(t.len(), UPDATE_TAG_LEN);
        assert_eq!(t.len_byte() as usize, UPDATE_TAG_LEN);
        t.clear();
        assert!(t.is_empty());
        // Equal tags compare equal whatever was held before.
        assert_eq!(t, UpdateTag::default());
        // Debug shows the bytes held, as a slice.
        let t = UpdateTag::from_slice(b"ab").unwrap();
        assert_eq!(format!("{t:?}"), format!("{:?}", b"ab".as_slice()));
    }

    #[test]
    fn set_prefix_takes_the_length_on_the_empty_tag() {
        let field = *b"0123456789abcdef0123456789abcdef0123";
        let mut t = UpdateTag::new();
        assert_eq!(t.set_prefix(&field, 3), Ok(()));
        assert_eq!(t, UpdateTag::from_slice(b"012").unwrap());
        // What a record stores: the tag, then zeros.
        assert_eq!(t.field()[..3], *b"012");
        assert_eq!(t.field()[3..], [0; UPDATE_TAG_LEN - 3]);
        assert_eq!(t.set_prefix(&field, 37), Err(TagTooLong));
        assert_eq!(t, UpdateTag::from_slice(b"012").unwrap());
        let mut t = UpdateTag::new();
        assert_eq!(t.set_prefix(&field, 36), Ok(()));
        assert_eq!(&*t, &field[..]);
        let mut t = UpdateTag::new();
        assert_eq!(t.set_prefix(&field, 0), Ok(()));
        assert_eq!(t, UpdateTag::new());
    }

    #[test]
    fn event_ring_keeps_order_below_and_at_its_length() {
        let e = |tries| BootEvent::new(BootKind::Rollback, Some(Slot::A), Reason::App(3), tries);
        let mut r = Events::default();
        assert!(r.is_empty() && r.front().is_none() && r.back().is_none());
        assert_eq!(r.get(0), None);
        for i in 0..EVENT_RING_LEN as u8 {
            assert!(!r.is_full());
            r.push(e(i));
            assert_eq!(r.len(), i as usize + 1);
            assert_eq!(r.back(), Some(e(i)));
            assert_eq!(r.front(), Some(e(0)));
            assert_eq!(
                (r.get(i as usize), r.get(i as usize + 1)),
                (Some(e(i)), None)
            );
        }
        assert!(r.is_full() && !r.is_empty());
        let tries: Vec<u8> = r.iter().map(|e| e.tries()).collect();
        assert_eq!(tries, [0, 1, 2, 3, 4, 5]);
        assert_eq!(r.iter().len(), EVENT_RING_LEN);
        assert_eq!(r.iter().next_back(), Some(e(5)));
        r.push(e(6));
        let tries: Vec<u8> = (&r).into_iter().map(|e| e.tries()).collect();
        assert_eq!(tries, [1, 2, 3, 4, 5, 6]);
    }

    #[cfg(feature = "std")]
    #[test]
    fn state_serializes_its_ring_and_tag_as_sequences_and_back() {
        let mut s = BootState {
            update_tag: UpdateTag::from_slice(b"ab").unwrap(),
            ..BootState::default()
        };
        s.push_event(BootEvent::default());
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["update_tag"], serde_json::json!([97, 98]));
        assert_eq!(json["events"].as_array().map(|a| a.len()), Some(1));
        let back: BootState = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, s);
        let mut long = json.clone();
        long["update_tag"] = serde_json::json!(vec![0u8; UPDATE_TAG_LEN + 1]);
        assert!(serde_json::from_value::<BootState>(long).is_err());
        let mut many = json;
        many["events"] = serde_json::json!(vec![BootEvent::default(); EVENT_RING_LEN]);
        let full: BootState = serde_json::from_value(many.clone()).unwrap();
        assert!(full.events.is_full());
        many["events"] = serde_json::json!(vec![BootEvent::default(); EVENT_RING_LEN + 1]);
        assert!(serde_json::from_value::<BootState>(many).is_err());
    }

    #[test]
    fn two_rejected_images_are_remembered() {
        let (x, y, z) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let mut s = BootState::default();
        assert!(!s.was_rejected(&x));
        s.remember_rejected(x);
        assert!(s.was_rejected(&x) && !s.was_rejected(&y));
        assert_eq!(s.rejected_before, None);
        s.remember_rejected(y);
        assert!(s.was_rejected(&x) && s.was_rejected(&y));
        assert_eq!(s.rejected_before, Some([1; 16]));
        s.remember_rejected(z);
        assert!(!s.was_rejected(&x) && s.was_rejected(&y) && s.was_rejected(&z));
        // Only the prefix is kept: a digest that shares it counts.
        let mut y2 = y;
        y2[31] ^= 1;
        assert!(s.was_rejected(&y2));
        y2[15] ^= 1;
        assert!(!s.was_rejected(&y2));
    }

    #[test]
    fn set_bytes_takes_up_to_the_ring_and_a_refusal_changes_nothing() {
        let mut r = Events::default();
        let bytes: [u8; EVENT_BYTES] = core::array::from_fn(|i| i as u8);
        assert!(r.set_bytes(EVENT_RING_LEN as u8 + 1, bytes).is_none());
        assert_eq!(r, Events::default());
        assert!(r.set_bytes(2, bytes).is_some());
        assert_eq!(r.len(), 2);
        assert_eq!(r.back(), Some(BootEvent::from_bytes([4, 5, 6, 7])));
        assert_eq!(r.bytes(), (2, &bytes));
        assert!(r.set_bytes(EVENT_RING_LEN as u8, bytes).is_some());
        assert!(r.is_full());
        assert_eq!(r.back(), Some(BootEvent::from_bytes([20, 21, 22, 23])));
    }

    /// Each field of an event reads back as it was made, in every kind,
    /// slot and reason; an unknown byte reads as none in its field alone.
    #[test]
    fn an_event_reads_back_its_fields() {
        let kinds = (0..=6).map(|t| BootKind::from_tag(t).unwrap());
        let reasons = [
            Reason::None,
            Reason::KnownBad,
            Reason::App(0),
            Reason::App(127),
        ];
        for kind in kinds {
            for slot in [None, Some(Slot::A), Some(Slot::B)] {
                for reason in reasons {
                    let e = BootEvent::new(kind, slot, reason, 9);
                    assert_eq!(
                        (e.kind(), e.slot(), e.reason(), e.tries()),
                        (Some(kind), slot, Some(reason), 9)
                    );
                    assert_eq!(BootEvent::from_bytes(e.to_bytes()), e);
                    assert_eq!(e.known(), Some((kind, slot, reason, 9)));
                }
            }
        }
        let e = BootEvent::new(BootKind::Trial, Some(Slot::B), Reason::Downgrade, 1);
        assert_eq!(e.to_bytes(), [2, 1, 4, 1]);
        let slot = BootEvent::from_bytes([2, 2, 4, 1]);
        assert_eq!(
            (slot.kind(), slot.slot(), slot.reason()),
            (Some(BootKind::Trial), None, Some(Reason::Downgrade))
        );
        assert_eq!(slot.known(), None, "slot 2 is not none");
        assert_eq!(BootEvent::default().to_bytes(), [0; 4]);
    }

    /// `Debug` names the fields as the struct this replaced did, and
    /// shows the bytes of an event it cannot name.
    #[test]
    fn events_debug_as_fields_or_bytes() {
        let e = BootEvent::new(BootKind::Rollback, Some(Slot::A), Reason::App(5), 2);
        assert_eq!(
            std::format!("{e:?}"),
            "BootEvent { kind: Rollback, slot: Some(A), reason: App(5), tries: 2 }"
        );
        let unknown = BootEvent::from_bytes([9, 0, 1, 2]);
        assert_eq!(std::format!("{unknown:?}"), "BootEvent([9, 0, 1, 2])");
        let mut r = Events::default();
        r.push(e);
        assert_eq!(std::format!("{r:?}"), std::format!("[{e:?}]"));
    }

    /// JSON keeps the object the struct this replaced was, and gives an
    /// unknown field as its byte; both read back.
    #[cfg(feature = "std")]
    #[test]
    fn events_serialize_as_objects_and_back() {
        let e = BootEvent::new(BootKind::Trial, Some(Slot::B), Reason::App(5), 2);
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "Trial", "slot": "B", "reason": {"App": 5}, "tries": 2})
        );
        assert_eq!(serde_json::from_value::<BootEvent>(json).unwrap(), e);
        let none = BootEvent::new(BootKind::Recovery, None, Reason::None, 0);
        let json = serde_json::to_value(none).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "Recovery", "slot": null, "reason": "None", "tries": 0})
        );
        assert_eq!(serde_json::from_value::<BootEvent>(json).unwrap(), none);
        let unknown = BootEvent::from_bytes([9, 7, 0x20, 1]);
        let json = serde_json::to_value(unknown).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": 9, "slot": 7, "reason": 32, "tries": 1})
        );
        assert_eq!(serde_json::from_value::<BootEvent>(json).unwrap(), unknown);
    }

    #[test]
    fn event_ring_drops_oldest() {
        let mut s = BootState::default();
        for i in 0..(EVENT_RING_LEN as u8 + 2) {
            s.push_event(BootEvent::new(
                BootKind::Trial,
                Some(Slot::B),
                Reason::None,
                i,
            ));
        }
        assert_eq!(s.events.len(), EVENT_RING_LEN);
        assert_eq!(s.events.front().map(|e| e.tries()), Some(2));
        assert_eq!(
            s.events.back().map(|e| e.tries()),
            Some(EVENT_RING_LEN as u8 + 1)
        );
    }
}
