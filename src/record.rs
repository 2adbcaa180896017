//! The metadata record: one fixed-size, self-contained, CRC-protected copy
//! of the whole [`BootState`].
//!
//! Every record holds the complete state, so the newest valid record alone
//! says everything; a torn or corrupt record is simply skipped and the one
//! before it is the answer. The CRC covers the *whole* record, state
//! included (ESP-IDF's otadata protects only its sequence number, and
//! devices loop on a bad entry whose number checks out).
//!
//! # Byte layout (format version 1, 256 bytes, little-endian)
//!
//! | offset | size | field | meaning |
//! |---:|---:|---|---|
//! | 0x00 | 4 | magic | `41 42 42 54` (`"ABBT"`) |
//! | 0x04 | 1 | format | format version, `1` |
//! | 0x05 | 1 | size16 | record size / 16, `16` |
//! | 0x06 | 2 | reserved | `0` |
//! | 0x08 | 4 | seq | sequence number, compared with serial-number arithmetic ([`seq_newer`]) |
//! | 0x0C | 1 | primary | last confirmed slot: `0` A, `1` B, `0xFF` none |
//! | 0x0D | 1 | rollback | slot kept as the way back: `0`, `1`, `0xFF` none |
//! | 0x0E | 1 | update | [`UpdateState`] tag: idle 0, staged 1, trial 2, confirmed 3, rolled back 4, failed 5 |
//! | 0x0F | 1 | reason | [`Reason`] code of the last rejection: 0 none, 1 tries exhausted, 2 image invalid, 3 aborted, 4 downgrade, 5 primary corrupt, 6 known bad, `0x80 \| n` firmware reason `n` |
//! | 0x10 | 2 | failures | failed or rolled-back updates, saturating |
//! | 0x12 | 2 | data_epoch | epoch the device's data was migrated to |
//! | 0x14 | 4 | min_sec | minimum security counter allowed to boot |
//! | 0x18 | 1 | flags | bit 0: `rejected` digest present; other bits 0 |
//! | 0x19 | 1 | tag_len | length of the update tag, 0..=36 |
//! | 0x1A | 1 | ev_count | boot events in the ring, 0..=6 |
//! | 0x1B | 1 | check_error | which image check failed last (`ImageError::code`), 0 none |
//! | 0x1C | 24 | events | 6 × 4 bytes, oldest first: [`BootKind`] tag, slot (`0`, `1`, `0xFF` none), reason code, tries left; carried as read, not checked ([`BootEvent`]), entries past `ev_count` included |
//! | 0x34 | 52 | slot A | slot entry, below |
//! | 0x68 | 52 | slot B | slot entry, below |
//! | 0x9C | 32 | rejected | SHA-256 of the last rejected image (valid when flag bit 0 is set) |
//! | 0xBC | 36 | tag | opaque update tag given to `stage`, first `tag_len` bytes used, rest 0 |
//! | 0xE0 | 4 | home offset | offset of the erase sector the record was written into (see below) |
//! | 0xE4 | 4 | home size | size of that sector; `0` in both: written without it |
//! | 0xE8 | 16 | rejected before | first 16 bytes of the SHA-256 of the image rejected before the last one; all `0`: none |
//! | 0xF8 | 4 | reserved | `0` |
//! | 0xFC | 4 | crc | CRC-32/ISO-HDLC (zlib's `crc32`) of bytes 0x00..0xFC |
//!
//! Slot entry (52 bytes, offsets within the entry):
//!
//! | offset | size | field | meaning |
//! |---:|---:|---|---|
//! | 0 | 1 | state | [`ImageState`] tag: empty 0, pending 1, trial 2, confirmed 3, rejected 4 |
//! | 1 | 1 | tries | trial boots left (pending, trial) |
//! | 2 | 1 | attempts | boots of this image that wrote state, saturating |
//! | 3 | 1 | reserved | `0` |
//! | 4 | 8 | version | major u8, minor u8, patch u16, build u32 |
//! | 12 | 4 | sec_counter | security counter of the image |
//! | 16 | 2 | data_epoch | data schema epoch the image expects |
//! | 18 | 2 | reserved | `0` |
//! | 20 | 32 | digest | SHA-256 of the image |
//!
//! Why 256 bytes and not 128: the status a fleet backend needs (a full
//! rejected digest, the 36-byte request tag, the boot-event ring) lives in
//! the same record as the boot state, so the two can never disagree after a
//! power cut. 256 divides every `WRITE_SIZE` from 1 to 32 and every erase
//! sector from 1 KiB up, so records never straddle a word or a sector.
//!
//! The *home* fields let a reader prove its geometry: the journal writes
//! the offset and size of the sector a record goes into, and a scan that
//! finds a record whose home is not the sector it was read from is
//! reading with the wrong geometry (another sector size or offset) and
//! must not write ([`crate::journal::Findings::foreign`]). Records with a
//! zero home (an encoder that does not know its sector, such as
//! [`Record::encode`]) are accepted anywhere.
//!
//! Reserved bytes are written as 0 and ignored when read (they are still
//! covered by the CRC), so a later format can use them without a new
//! version number as long as 0 keeps its meaning.

use crcxx::crc32::{catalog::CRC_32_ISO_HDLC, Crc, LookupTable32};

use crate::state::{
    slot_byte, BootState, ImageState, Reason, Slot, UpdateState, EVENT_RING_LEN, UPDATE_TAG_LEN,
};
#[cfg(doc)]
use crate::state::{BootEvent, BootKind};
use crate::version::Version;

/// Size of one record on flash, in bytes.
pub const RECORD_SIZE: usize = 256;
/// The four bytes every record starts with.
pub const MAGIC: [u8; 4] = *b"ABBT";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

const OFF_SEQ: usize = 0x08;
const OFF_GLOBAL: usize = 0x0C;
const OFF_EVENTS: usize = 0x1C;
const EVENT_LEN: usize = 4;
const OFF_SLOTS: usize = 0x34;
const SLOT_LEN: usize = 52;
const OFF_REJECTED: usize = 0x9C;
const OFF_TAG: usize = 0xBC;
const OFF_HOME: usize = 0xE0;
const OFF_REJECTED_BEFORE: usize = 0xE8;
const OFF_CRC: usize = 0xFC;
const NO_SLOT: u8 = 0xFF;
const FLAG_REJECTED: u8 = 0x01;

/// A decoded record: a sequence number and the state it carries.
/// `Default` is number 0 with the default state: the place a decoder
/// writes into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct Record {
    /// Sequence number; the newest record has the highest in serial order.
    pub seq: u32,
    /// The whole boot state.
    pub state: BootState,
}

/// Why bytes are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum DecodeError {
    /// All bytes are 0xFF: erased flash.
    Blank,
    /// Not the record magic.
    BadMagic,
    /// A format version or size this build does not read.
    UnsupportedFormat,
    /// The CRC does not match: torn, corrupt or random bytes.
    BadCrc,
    /// The CRC matches but a field holds an impossible value.
    BadField,
}

/// The record `Record { seq, state }` encodes to, with the home fields
/// `home` (offset and size of the sector it is written to; `(0, 0)`: none)
/// and one CRC over it all: what the journal writes, without a copy of the
/// state.
pub fn encode_state(seq: u32, state: &BootState, home: (u32, u32)) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    encode_into(&mut b, seq, state, home);
    b
}

/// [`encode_state`] into `b`, where the journal writes from: returned by
/// value, the record was built aside and copied out, twice (a 256-byte
/// `memcpy` from `fields` and one from here).
pub(crate) fn encode_into(
    b: &mut [u8; RECORD_SIZE],
    seq: u32,
    state: &BootState,
    home: (u32, u32),
) {
    fields(b, seq, state);
    put_u32(b, OFF_HOME, home.0);
    put_u32(b, OFF_HOME + 4, home.1);
    let crc = crc32(&b[..OFF_CRC]);
    put_u32(b, OFF_CRC, crc);
}

/// Whether sequence number `a` is newer than `b`, correct across wraparound
/// as long as the two are less than 2³¹ apart (RFC 1982 serial numbers).
pub const fn seq_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// CRC-32/ISO-HDLC of `bytes`, the checksum a factory script gets from
/// zlib's `crc32`, by the `crcxx` crate with its 32-entry table (two
/// 16-entry tables, one per nibble of a byte: 128 bytes of flash instead
/// of the 1 KiB of a 256-entry table). Each byte still takes one step,
/// with two lookups. Measured on the Cortex-M3 (QEMU, `select` on a normal
/// boot, which checks two records): 10,520 instructions with the `crc`
/// crate's 256-entry table, 11,560 with this one; 872 bytes less in every
/// bootloader (issue 14).
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.compute(bytes)
}

const CRC32: Crc<LookupTable32> = Crc::<LookupTable32>::new(&CRC_32_ISO_HDLC);

// One match on the byte: through `Slot::from_index` and its `Option`,
// the optimiser tested the byte again for each wrapping.
fn byte_slot(b: u8) -> Result<Option<Slot>, DecodeError> {
    match b {
        0 => Ok(Some(Slot::A)),
        1 => Ok(Some(Slot::B)),
        NO_SLOT => Ok(None),
        _ => Err(DecodeError::BadField),
    }
}

/// Whether every byte of `bytes` is `value`. One copy of the loop for the
/// decoder's, the journal's and the image header's blank checks (and the
/// decoder's test of the rejected-before field), rather than one inlined
/// at each.
#[inline(never)]
pub(crate) fn all_are(bytes: &[u8], value: u8) -> bool {
    bytes.iter().all(|&b| b == value)
}

// The codec reads and writes through these helpers rather than indexing:
// `get`/`get_mut` with a range cannot panic, so no bounds check (and no
// panic path) is left for the bootloader's link-time no-panic proof, and a
// layout mistake shows up as a failing round-trip test, not a crash.

// Always inlined: its offsets are constants at nearly every call, so the
// range check folds away.
#[inline(always)]
fn put<const N: usize>(buf: &mut [u8; RECORD_SIZE], off: usize, bytes: [u8; N]) {
    let dst = buf.get_mut(off..off.saturating_add(N));
    if let Some(dst) = dst.and_then(|d| <&mut [u8; N]>::try_from(d).ok()) {
        *dst = bytes;
    }
}

fn put_u8(buf: &mut [u8; RECORD_SIZE], off: usize, v: u8) {
    put(buf, off, [v]);
}

fn put_u16(buf: &mut [u8; RECORD_SIZE], off: usize, v: u16) {
    put(buf, off, v.to_le_bytes());
}

fn put_u32(buf: &mut [u8; RECORD_SIZE], off: usize, v: u32) {
    put(buf, off, v.to_le_bytes());
}

fn get_array<const N: usize>(buf: &[u8; RECORD_SIZE], off: usize) -> [u8; N] {
    let src = buf.get(off..off.saturating_add(N));
    src.and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

fn get_u8(buf: &[u8; RECORD_SIZE], off: usize) -> u8 {
    buf.get(off).copied().unwrap_or(0)
}

fn get_u16(buf: &[u8; RECORD_SIZE], off: usize) -> u16 {
    u16::from_le_bytes(get_array(buf, off))
}

fn get_u32(buf: &[u8; RECORD_SIZE], off: usize) -> u32 {
    u32::from_le_bytes(get_array(buf, off))
}

const _: () = assert!(OFF_SLOTS + 2 * SLOT_LEN == OFF_REJECTED);
const _: () = assert!(OFF_REJECTED + 32 == OFF_TAG);
const _: () = assert!(OFF_TAG + UPDATE_TAG_LEN <= OFF_HOME);
const _: () = assert!(OFF_HOME + 8 == OFF_REJECTED_BEFORE);
const _: () = assert!(OFF_REJECTED_BEFORE + 16 <= OFF_CRC);
const _: () = assert!(OFF_EVENTS + EVENT_RING_LEN * EVENT_LEN == OFF_SLOTS);
const _: () = assert!(OFF_CRC + 4 == RECORD_SIZE);
// The size byte (`RECORD_SIZE / 16`) fits its byte: the decoder's `as u8`
// cannot cut it.
const _: () = assert!(RECORD_SIZE / 16 <= u8::MAX as usize);

/// Whether two states encode to the same record: what "the state did not
/// change" means on flash. Compares the encodings rather than with the
/// derived `PartialEq`, which compares field by field: that is about 500 B
/// more in a bootloader that links the encoder anyway (nRF52840, issue 14).
pub fn same_state(a: &BootState, b: &BootState) -> bool {
    let (mut x, mut y) = ([0u8; RECORD_SIZE], [0u8; RECORD_SIZE]);
    fields(&mut x, 0, a);
    fields(&mut y, 0, b);
    x == y
}

/// Whether `state` encodes to the record `written` holds, its sequence
/// number, home and CRC aside: [`same_state`] against a state already
/// encoded (`written` is [`encode_state`]'s), with one encoding instead
/// of two.
pub(crate) fn encodes_same(written: &[u8; RECORD_SIZE], state: &BootState) -> bool {
    let mut b = [0u8; RECORD_SIZE];
    fields(&mut b, get_u32(written, OFF_SEQ), state);
    put(&mut b, OFF_HOME, get_array::<8>(written, OFF_HOME));
    b[..OFF_CRC] == written[..OFF_CRC]
}

/// Every field of a record into `b`, CRC left 0.
fn fields(b: &mut [u8; RECORD_SIZE], seq: u32, s: &BootState) {
    *b = [0u8; RECORD_SIZE];
    // The copies by call first and the loops last (each part writes its
    // own bytes, so the order does not show): the record's and the
    // state's addresses then stay in low registers for the fixed fields,
    // whose stores take the short encodings (24 B of the nRF52840
    // bootloaders).
    if let Some(d) = &s.rejected_digest {
        put(b, OFF_REJECTED, *d);
    }
    if let Some(p) = s.rejected_before {
        put(b, OFF_REJECTED_BEFORE, p);
    }
    // The whole field, the zeros after the tag included (an `UpdateTag`
    // keeps them 0): one copy of a known length instead of a byte loop
    // over the tag's.
    put(b, OFF_TAG, *s.update_tag.field());
    put(b, 0, MAGIC);
    put_u8(b, 4, FORMAT_VERSION);
    put_u8(b, 5, (RECORD_SIZE / 16) as u8);
    put_u32(b, OFF_SEQ, seq);
    put_u8(b, OFF_GLOBAL, slot_byte(s.primary));
    put_u8(b, OFF_GLOBAL + 1, slot_byte(s.rollback));
    put_u8(b, OFF_GLOBAL + 2, s.update.tag());
    put_u8(b, OFF_GLOBAL + 3, s.last_reason.code());
    put_u16(b, 0x10, s.failure_count);
    put_u16(b, 0x12, s.data_epoch);
    put_u32(b, 0x14, s.min_security_counter);
    let flags = if s.rejected_digest.is_some() {
        FLAG_REJECTED
    } else {
        0
    };
    put_u8(b, 0x18, flags);
    put_u8(b, 0x19, s.update_tag.len_byte());
    put_u8(b, 0x1B, s.check_error);
    for slot in Slot::both() {
        let info = s.slot(slot);
        let o = OFF_SLOTS + slot.index() * SLOT_LEN;
        // The tries byte left 0 but for the two states that have one, and
        // stored only for them, not a select of 0 (its zero was kept in a
        // saved register across the loop).
        put(b, o, [info.state.tag(), 0, info.attempts]);
        if let ImageState::Pending { tries } | ImageState::Trial { tries } = info.state {
            put_u8(b, o + 1, tries);
        }
        put(b, o + 4, info.version.to_bytes());
        put_u32(b, o + 12, info.security_counter);
        put_u16(b, o + 16, info.data_epoch);
        put(b, o + 20, info.digest);
    }
    // The ring's 24 bytes as they are, unused entries included (zero, or
    // what the record it was read from held there).
    let (count, events) = s.events.bytes();
    put_u8(b, 0x1A, count);
    put(b, OFF_EVENTS, *events);
}

/// The sector `(offset, size)` an encoded record says it was written
/// into, or `None` when its home fields are zero.
pub fn home(b: &[u8; RECORD_SIZE]) -> Option<(u32, u32)> {
    let h = (get_u32(b, OFF_HOME), get_u32(b, OFF_HOME + 4));
    (h != (0, 0)).then_some(h)
}

/// Writes the home fields of an encoded record and seals its CRC again.
pub fn set_home(b: &mut [u8; RECORD_SIZE], offset: u32, size: u32) {
    put_u32(b, OFF_HOME, offset);
    put_u32(b, OFF_HOME + 4, size);
    let crc = crc32(&b[..OFF_CRC]);
    put_u32(b, OFF_CRC, crc);
}

/// The sequence number field of bytes that carry the record magic,
/// whatever their CRC says: what a torn or rotten record would claim if
/// it ever read as valid.
pub fn raw_seq(b: &[u8; RECORD_SIZE]) -> Option<u32> {
    (get_array::<4>(b, 0) == MAGIC).then(|| get_u32(b, OFF_SEQ))
}

/// The sequence number field, whatever the rest holds: [`raw_seq`] for
/// a caller that knows the magic matched, as the journal's scan does from
/// [`decode_into`]'s refusal (every refusal but `BadMagic` comes after the
/// magic's test).
pub(crate) fn seq_field(b: &[u8; RECORD_SIZE]) -> u32 {
    get_u32(b, OFF_SEQ)
}

impl Record {
    /// Encodes the record into its 256 on-flash bytes.
    pub fn encode(&self) -> [u8; RECORD_SIZE] {
        encode_state(self.seq, &self.state, (0, 0))
    }

    /// Decodes 256 bytes read from flash. Any content is either a record
    /// whose CRC matches and whose every field is in range, or an error;
    /// the event ring is history, carried as it is ([`BootEvent`]).
    pub fn decode(b: &[u8; RECORD_SIZE]) -> Result<Record, DecodeError> {
        if all_are(b, 0xFF) {
            return Err(DecodeError::Blank);
        }
        let mut r = Record::default();
        decode_into(b, &mut r)?;
        Ok(r)
    }
}

/// [`Record::decode`] into `out`, where the caller keeps it: the journal's
/// scan decodes every record it reads into one place instead of moving
/// each through return values (the state is 232 bytes). On an error
/// `out` holds whatever was decoded before it: garbage to the caller.
///
/// Bytes that are all 0xFF are not told apart here: they fail the magic
/// ([`DecodeError::BadMagic`]). The journal has checked them against the
/// part's own erased value already, and reports all 0xFF on a part that
/// erases to 0x00 as programmed; [`Record::decode`] reports them as
/// [`DecodeError::Blank`].
// Out of line although the journal's scan is its one caller in a
// bootloader: inlined there, the scan's loop ran out of registers and
// spilled more than the call costs (20 B on the nRF52840).
#[inline(never)]
pub(crate) fn decode_into(b: &[u8; RECORD_SIZE], out: &mut Record) -> Result<(), DecodeError> {
    if get_array::<4>(b, 0) != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if crc32(&b[..OFF_CRC]) != get_u32(b, OFF_CRC) {
        return Err(DecodeError::BadCrc);
    }
    // Checked after the CRC so that a torn record of a known format is
    // reported as torn, not as foreign.
    // Both bytes as one number: one load and one compare.
    if get_u16(b, 4) != u16::from_le_bytes([FORMAT_VERSION, (RECORD_SIZE / 16) as u8]) {
        return Err(DecodeError::UnsupportedFormat);
    }
    out.seq = get_u32(b, OFF_SEQ);
    // Field by field into the caller's state, not built aside and copied.
    // Reset from the constant, all zeros, which is one `memclr` of the
    // state where it lies: `BootState::default()`, a call, was built in a
    // temporary and copied in (56 B and 188 B of stack on the nRF52840).
    let state = &mut out.state;
    *state = BootState::EMPTY;
    // Every field is checked where it is decoded, after the default: all
    // fail as `BadField`, so their order does not show, and values checked
    // before the call were kept across it in saved registers (48 B more
    // on the nRF52840). On an error `out` is garbage, as documented.
    state.primary = byte_slot(get_u8(b, OFF_GLOBAL))?;
    state.rollback = byte_slot(get_u8(b, OFF_GLOBAL + 1))?;
    state.update = UpdateState::from_tag(get_u8(b, OFF_GLOBAL + 2)).ok_or(DecodeError::BadField)?;
    // Inlined: out of line while the decoder also read the events'
    // reasons, it is 12 B more of the nRF52840 bootloader now that the
    // last reason is its one use.
    state.last_reason =
        Reason::from_code(get_u8(b, OFF_GLOBAL + 3)).ok_or(DecodeError::BadField)?;
    state.failure_count = get_u16(b, 0x10);
    state.check_error = get_u8(b, 0x1B);
    state.data_epoch = get_u16(b, 0x12);
    state.min_security_counter = get_u32(b, 0x14);
    let flags = get_u8(b, 0x18);
    if flags & !FLAG_REJECTED != 0 {
        return Err(DecodeError::BadField);
    }
    if flags & FLAG_REJECTED != 0 {
        state.rejected_digest = Some(get_array(b, OFF_REJECTED));
    }
    // Zero in records written before the field was: none (the default
    // set above). Tested by the blank checks' `all_are`, and copied by a
    // call only when set: as one number, four words loaded, or-ed and
    // stored, it was 8 B more of the nRF52840 bootloaders.
    let before = b.get(OFF_REJECTED_BEFORE..OFF_REJECTED_BEFORE + 16);
    if !all_are(before.unwrap_or(&[]), 0) {
        state.rejected_before = Some(get_array(b, OFF_REJECTED_BEFORE));
    }
    for slot in Slot::both() {
        let o = OFF_SLOTS + slot.index() * SLOT_LEN;
        // The reserved byte read with the three before it: one word
        // loaded rather than a byte and a halfword merged (8 B of the
        // nRF52840 bootloaders); what it holds is ignored.
        let [tag, tries, attempts, _] = get_array::<4>(b, o);
        // Field by field where the entry lies, not built aside and
        // copied in.
        let info = state.slot_mut(slot);
        info.state = ImageState::from_parts(tag, tries).ok_or(DecodeError::BadField)?;
        info.attempts = attempts;
        info.version = Version::from_bytes(&get_array(b, o + 4));
        info.security_counter = get_u32(b, o + 12);
        info.data_epoch = get_u16(b, o + 16);
        info.digest = get_array(b, o + 20);
    }
    // The whole field, its first `tag_len` bytes taken where they lie:
    // through `extend_from_slice` the decoder checked what the tag held
    // already (the default's empty tag, out of sight of the optimiser).
    // Only those bytes are copied: the reset above left the rest 0, so
    // clearing them again was a test per byte.
    let field = b
        .get(OFF_TAG..OFF_TAG + UPDATE_TAG_LEN)
        .and_then(|f| <&[u8; UPDATE_TAG_LEN]>::try_from(f).ok())
        .unwrap_or(&[0; UPDATE_TAG_LEN]);
    state
        .update_tag
        .set_prefix(field, get_u8(b, 0x19))
        .map_err(|_| DecodeError::BadField)?;
    // The ring carried as bytes, its events unchecked (`BootEvent`): only
    // its count is refused past the ring's length.
    state
        .events
        .set_bytes(get_u8(b, 0x1A), get_array(b, OFF_EVENTS))
        .ok_or(DecodeError::BadField)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BootEvent, BootKind, SlotInfo};

    fn sample() -> Record {
        let mut state = BootState {
            primary: Some(Slot::A),
            rollback: Some(Slot::B),
            update: UpdateState::Trial,
            last_reason: Reason::App(17),
            failure_count: 3,
            data_epoch: 7,
            min_security_counter: 42,
            rejected_digest: Some([0x5A; 32]),
            rejected_before: Some([0xA5; 16]),
            // Not 0, so that a decode that drops the field shows.
            check_error: 9,
            ..BootState::default()
        };
        state.slots[0] = SlotInfo {
            state: ImageState::Confirmed,
            version: Version::new(1, 2, 3, 4),
            digest: [1; 32],
            attempts: 9,
            security_counter: 42,
            data_epoch: 7,
        };
        state.slots[1] = SlotInfo {
            state: ImageState::Trial { tries: 2 },
            version: Version::new(1, 3, 0, 0),
            digest: [2; 32],
            attempts: 1,
            security_counter: 43,
            data_epoch: 8,
        };
        state
            .update_tag
            .extend_from_slice(b"0b7d4c1e-2c1a-4d0b-9a55-1f3e8e1c2a77")
            .unwrap();
        // A full ring of events that differ in every field, so that each
        // one's place in the record and the ring's length count.
        let kinds = [
            BootKind::Fresh,
            BootKind::Normal,
            BootKind::Rollback,
            BootKind::Fallback,
            BootKind::Recovery,
            BootKind::Trial,
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            state.push_event(BootEvent::new(
                kind,
                [Some(Slot::A), Some(Slot::B), None][i % 3],
                Reason::from_code(i as u8).unwrap(),
                2 + i as u8,
            ));
        }
        assert!(state.events.is_full());
        Record {
            seq: 0xFFFF_FFFE,
            state,
        }
    }

    #[test]
    fn round_trip() {
        let r = sample();
        assert_eq!(Record::decode(&r.encode()), Ok(r.clone()));
        let blank = Record::default();
        assert_eq!(Record::decode(&blank.encode()), Ok(blank));
    }

    /// The sample record as a tool that knows only the layout table in
    /// this module's documentation would write it: every field at its
    /// offset, spelled out here rather than through the codec.
    #[test]
    fn bytes_follow_the_documented_layout() {
        let mut want = [0u8; RECORD_SIZE];
        let mut at = |off: usize, bytes: &[u8]| want[off..off + bytes.len()].copy_from_slice(bytes);
        at(0x00, b"ABBT");
        at(0x04, &[1, 16, 0, 0]);
        at(0x08, &0xFFFF_FFFEu32.to_le_bytes());
        // primary A, rollback B, update trial, reason App(17).
        at(0x0C, &[0, 1, 2, 0x80 | 17]);
        at(0x10, &3u16.to_le_bytes());
        at(0x12, &7u16.to_le_bytes());
        at(0x14, &42u32.to_le_bytes());
        // Flags (rejected digest), tag length, events, check error.
        at(0x18, &[1, 36, 6, 9]);
        // Kind, slot, reason, tries; oldest first.
        at(
            0x1C,
            &[
                5, 0, 0, 2, 1, 1, 1, 3, 3, 0xFF, 2, 4, 4, 0, 3, 5, 6, 1, 4, 6, 2, 0xFF, 5, 7,
            ],
        );
        // Slot A: confirmed, 0 tries, 9 attempts; 1.2.3+4; counter 42;
        // epoch 7; digest.
        at(
            0x34,
            &[3, 0, 9, 0, 1, 2, 3, 0, 4, 0, 0, 0, 42, 0, 0, 0, 7, 0, 0, 0],
        );
        at(0x34 + 20, &[1; 32]);
        // Slot B: trial with 2 tries, 1 attempt; 1.3.0+0; 43; epoch 8.
        at(
            0x68,
            &[2, 2, 1, 0, 1, 3, 0, 0, 0, 0, 0, 0, 43, 0, 0, 0, 8, 0, 0, 0],
        );
        at(0x68 + 20, &[2; 32]);
        at(0x9C, &[0x5A; 32]);
        at(0xBC, b"0b7d4c1e-2c1a-4d0b-9a55-1f3e8e1c2a77");
        at(0xE8, &[0xA5; 16]);
        let crc = crc32(&want[..0xFC]);
        want[0xFC..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(sample().encode(), want);
        // And the home fields, where the journal writes them.
        let bytes = encode_state(0xFFFF_FFFE, &sample().state, (0x1000, 0x800));
        want[0xE0..0xE8].copy_from_slice(&[0, 0x10, 0, 0, 0, 8, 0, 0]);
        let crc = crc32(&want[..0xFC]);
        want[0xFC..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, want);
        assert_eq!(Record::decode(&want), Ok(sample()));
    }

    #[test]
    fn crc_is_zlib_crc32() {
        // The check value of CRC-32/ISO-HDLC, as zlib.crc32(b"123456789").
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // Against the definition, bit by bit, for every length up to 300.
        let bitwise = |bytes: &[u8]| {
            let mut c = !0u32;
            for &b in bytes {
                c ^= b as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        };
        let data: [u8; 300] = core::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x5A);
        for n in 0..=data.len() {
            assert_eq!(crc32(&data[..n]), bitwise(&data[..n]), "length {n}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let bytes = sample().encode();
        for i in 0..RECORD_SIZE * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(Record::decode(&b).is_err(), "bit {i} flip accepted");
            // What the journal's scan relies on to read the claimed number.
            let e = decode_into(&b, &mut Record::default()).unwrap_err();
            assert_eq!(e != DecodeError::BadMagic, raw_seq(&b).is_some());
        }
    }

    #[test]
    fn classifies_bad_input() {
        assert_eq!(
            Record::decode(&[0xFF; RECORD_SIZE]),
            Err(DecodeError::Blank)
        );
        assert_eq!(
            Record::decode(&[0; RECORD_SIZE]),
            Err(DecodeError::BadMagic)
        );
        let mut b = sample().encode();
        b[0x30] ^= 1;
        assert_eq!(Record::decode(&b), Err(DecodeError::BadCrc));
        // A CRC-correct record with an impossible field.
        let mut b = sample().encode();
        b[OFF_SLOTS] = 9;
        let crc = crc32(&b[..OFF_CRC]);
        put_u32(&mut b, OFF_CRC, crc);
        assert_eq!(Record::decode(&b), Err(DecodeError::BadField));
        // Each field alone, CRC sealed again: one bad field is enough.
        let resealed = |at: usize, v: u8| {
            let mut b = sample().encode();
            b[at] = v;
            let crc = crc32(&b[..OFF_CRC]);
            put_u32(&mut b, OFF_CRC, crc);
            Record::decode(&b)
        };
        assert_eq!(resealed(4, 2), Err(DecodeError::UnsupportedFormat));
        assert_eq!(resealed(5, 32), Err(DecodeError::UnsupportedFormat));
        assert_eq!(resealed(0x18, 0x80), Err(DecodeError::BadField));
        let tag_len = UPDATE_TAG_LEN as u8 + 1;
        assert_eq!(resealed(0x19, tag_len), Err(DecodeError::BadField));
        let ev_count = EVENT_RING_LEN as u8 + 1;
        assert_eq!(resealed(0x1A, ev_count), Err(DecodeError::BadField));
        // At their limits, the same fields are valid.
        assert!(resealed(0x19, UPDATE_TAG_LEN as u8).is_ok());
    }

    /// The ring is history, not state: an event of a kind, slot or reason
    /// this build does not know (as a later abboot may write) leaves its
    /// record valid, every other field as it was, and is written back
    /// byte for byte. Refused, the record would send the bootloader back
    /// to the state before it.
    #[test]
    fn events_this_build_does_not_know_are_carried() {
        for (at, v) in [(0, 7), (0, 0xFF), (1, 2), (1, 0x7F), (2, 7), (2, 0x7F)] {
            let mut b = sample().encode();
            b[OFF_EVENTS + 4 + at] = v;
            let crc = crc32(&b[..OFF_CRC]);
            put_u32(&mut b, OFF_CRC, crc);
            let r = Record::decode(&b).expect("still a record");
            let mut want = sample();
            want.state.events = r.state.events;
            assert_eq!(r, want, "byte {at} = {v:#x}: the rest as it was");
            let e = r.state.events.get(1).unwrap();
            assert_eq!(e.to_bytes()[at], v);
            let unknown = [e.kind().is_none(), e.slot().is_none(), e.reason().is_none()];
            assert!(unknown[at], "byte {at} = {v:#x} reads as unknown");
            // The neighbours are untouched.
            assert_eq!(r.state.events.get(0), sample().state.events.get(0));
            assert_eq!(r.state.events.get(2), sample().state.events.get(2));
            assert_eq!(r.encode(), b, "written back as read");
        }
    }

    /// Bytes past the ring's count are carried too: a record is written
    /// back as it was read, and they never count as events.
    #[test]
    fn bytes_past_the_ring_count_are_carried_not_counted() {
        let mut state = BootState::default();
        state.push_event(BootEvent::new(
            BootKind::Fresh,
            Some(Slot::A),
            Reason::None,
            0,
        ));
        let mut b = Record { seq: 5, state }.encode();
        b[OFF_EVENTS + EVENT_LEN..OFF_EVENTS + 2 * EVENT_LEN].copy_from_slice(&[2, 1, 0, 3]);
        let crc = crc32(&b[..OFF_CRC]);
        put_u32(&mut b, OFF_CRC, crc);
        let r = Record::decode(&b).unwrap();
        assert_eq!(r.state.events.len(), 1);
        assert_eq!(r.state.events.get(1), None);
        assert_eq!(r.state.events.iter().count(), 1);
        assert_eq!(r.encode(), b);
        // A push takes the entry over.
        let mut s = r.state;
        s.push_event(BootEvent::new(
            BootKind::Normal,
            Some(Slot::B),
            Reason::None,
            0,
        ));
        assert_eq!(s.events.get(1).map(BootEvent::to_bytes), Some([1, 1, 0, 0]));
    }

    #[test]
    fn set_home_rewrites_both_fields_and_seals_the_record() {
        let mut b = sample().encode();
        assert_eq!(home(&b), None);
        set_home(&mut b, 0x1000, 0x2000);
        assert_eq!(home(&b), Some((0x1000, 0x2000)));
        assert_eq!(Record::decode(&b), Ok(sample()));
        set_home(&mut b, 0, 0);
        assert_eq!(home(&b), None);
        assert_eq!(b, sample().encode());
    }

    #[test]
    fn serial_order_across_wraparound() {
        assert!(seq_newer(1, 0));
        assert!(seq_newer(0, u32::MAX));
        assert!(seq_newer(5, u32::MAX - 5));
        assert!(!seq_newer(u32::MAX - 5, 5));
        assert!(!seq_newer(7, 7));
        // An 8-bit serial once misordered past 127; ours is fine past 2^31 - 1.
        assert!(seq_newer(0x8000_0000, 0x7FFF_FFFF));
        // Exactly 2^31 apart neither is newer, in either order: the first
        // found stays the newest.
        assert!(!seq_newer(0x8000_0000, 0) && !seq_newer(0, 0x8000_0000));
        assert!(seq_newer(0x7FFF_FFFF, 0));
    }

    #[test]
    fn raw_seq_is_what_magic_bytes_claim_whatever_their_crc() {
        let mut b = sample().encode();
        assert_eq!(raw_seq(&b), Some(0xFFFF_FFFE));
        // Torn: the CRC no longer matches, the number is still claimed.
        b[OFF_CRC] ^= 1;
        assert!(Record::decode(&b).is_err());
        assert_eq!(raw_seq(&b), Some(0xFFFF_FFFE));
        // Without the magic nothing is claimed.
        b[0] ^= 1;
        assert_eq!(raw_seq(&b), None);
    }

    #[test]
    fn same_state_tells_states_apart() {
        let a = sample().state;
        assert!(same_state(&a, &a));
        let mut b = a;
        b.check_error ^= 1;
        assert!(!same_state(&a, &b));
        let mut c = a;
        c.push_event(BootEvent::default());
        assert!(!same_state(&a, &c));
    }

    #[test]
    fn encodes_same_is_same_state_against_an_encoding() {
        let a = sample().state;
        let mut b = a;
        b.check_error ^= 1;
        let mut c = a;
        c.push_event(BootEvent::default());
        let states = [a, b, c, BootState::default()];
        // Whatever number and home the record was written with.
        for (seq, home) in [(0, (0, 0)), (0xFFFF_FFFE, (0x1000, 0x800)), (7, (0, 4096))] {
            for x in &states {
                let written = encode_state(seq, x, home);
                for y in &states {
                    assert_eq!(encodes_same(&written, y), same_state(x, y));
                }
            }
        }
    }

    #[test]
    fn more_events_than_the_ring_holds_are_refused() {
        let mut b = sample().encode();
        b[0x1A] = EVENT_RING_LEN as u8 + 1;
        let crc = crc32(&b[..OFF_CRC]);
        put_u32(&mut b, OFF_CRC, crc);
        assert_eq!(Record::decode(&b), Err(DecodeError::BadField));
        // Refused by its count, not by what lies past the ring: with slot A
        // empty, its first four bytes (all 0) would read as a valid event.
        let mut b = Record {
            seq: 1,
            state: BootState::default(),
        }
        .encode();
        assert_eq!(
            get_array::<4>(&b, OFF_EVENTS + EVENT_RING_LEN * EVENT_LEN),
            [0; 4]
        );
        b[0x1A] = EVENT_RING_LEN as u8 + 1;
        let crc = crc32(&b[..OFF_CRC]);
        put_u32(&mut b, OFF_CRC, crc);
        assert_eq!(Record::decode(&b), Err(DecodeError::BadField));
    }
}
