//! From a verified slot to running code: copy the payload to its load
//! address, hash the copy, jump.

use abboot::flash::Region;
use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKeys};
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::state::Slot;
use embedded_storage::nor_flash::ReadNorFlash;

use crate::config;
use crate::flash::FileFlash;
use crate::sh;

/// The bootloader's image check: the signed-image check
/// ([`SignedCheck`]), or a size probe's lesser one. What the copy needs
/// (load address, payload length and digest) comes back in the
/// decision's [`ImageInfo`], so no header is kept here.
pub struct BoardCheck<'a> {
    signed: SignedCheck<'a>,
}

impl<'a> BoardCheck<'a> {
    /// A check with these keys for this board.
    pub const fn new(keys: TrustedKeys<'a>, profile: BoardProfile) -> Self {
        Self {
            signed: SignedCheck::new(keys, profile),
        }
    }
}

impl<F: ReadNorFlash> ImageCheck<F> for BoardCheck<'_> {
    /// The image check, then the payload's first two words as the vector
    /// table [`jump`] will use ([`entry_ok`]; [`ImageError::BadEntry`]
    /// when they are not). The firmware's updater runs the same check, so
    /// an image this bootloader would not start is refused when it is
    /// staged, and rejected before its trial rather than found out after
    /// the try is counted.
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        // The result stays in place rather than moving through `?`: this
        // frame is under the signature check, the deepest stack of a boot.
        #[cfg(not(any(feature = "size-probe-digest-only", feature = "size-probe-no-crypto")))]
        let checked = self.signed.check(flash, slot, region);
        #[cfg(feature = "size-probe-digest-only")]
        let checked = abboot::image::digest::DigestCheck.check(flash, slot, region);
        #[cfg(all(
            feature = "size-probe-no-crypto",
            not(feature = "size-probe-digest-only")
        ))]
        let checked = probe::no_crypto(flash, region);
        if let Ok(info) = &checked {
            entry_check(flash, region, info)?;
        }
        checked
    }

    /// The signed check's refusals from the header alone (the firmware's
    /// updater refuses before it erases the slot).
    fn precheck(
        &mut self,
        slot: Slot,
        region: Region,
        header: &[u8],
    ) -> Result<Option<ImageInfo>, ImageError> {
        ImageCheck::<F>::precheck(&mut self.signed, slot, region, header)
    }
}

/// Size probe: the same bootloader with no cryptography at all, built
/// only to measure what Ed25519 and SHA-256 cost in flash. Its `jump`
/// refuses.
#[cfg(all(
    feature = "size-probe-no-crypto",
    not(feature = "size-probe-digest-only")
))]
mod probe {
    use super::*;
    use abboot::image::signed::read_header;

    /// Header parsed, nothing checked.
    pub fn no_crypto<F: ReadNorFlash>(
        flash: &mut F,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        let h = read_header(flash, region)?;
        match h.image_len() {
            Some(n) if n <= region.len => {}
            _ => return Err(ImageError::TooLarge),
        }
        Ok(ImageInfo::from_header(&h, h.payload_digest))
    }
}

/// Why a verified image is not started.
pub type LoadError = &'static str;

/// Copies the payload of `slot`'s verified image (`image`, as its check
/// found it) from the flash file to its load address; the address of the
/// copy.
pub fn copy_payload(
    flash: &mut FileFlash,
    slot: Slot,
    image: &ImageInfo,
) -> Result<u32, LoadError> {
    let want = *config::LOAD_ADDRESS
        .get(slot.index())
        .ok_or("no such slot")?;
    // The check already refused another load address; this copy writes
    // memory, so it checks again rather than trust that.
    if image.load_address != want {
        return Err("load address is not this slot's");
    }
    if image.payload_len > config::EXEC_WINDOW {
        return Err("payload larger than the slot's execution window");
    }
    let region = config::LAYOUT
        .slots
        .get(slot.index())
        .ok_or("no such slot")?;
    let from = region
        .at(image.header_len, image.payload_len)
        .ok_or("payload outside the slot")?;
    if !sh::seek(flash.handle(), from) {
        return Err("flash file seek failed");
    }
    // SAFETY: `want .. want + payload_len` lies in this slot's execution
    // window of the code SSRAM (checked above), which neither the
    // bootloader's code (below 1 MiB) nor its RAM (0x2000_0000) overlaps,
    // and nothing else uses it before the jump.
    if unsafe { sh::read_raw(flash.handle(), want as *mut u8, image.payload_len) } {
        Ok(want)
    } else {
        Err("flash file read failed")
    }
}

/// Whether the SHA-256 of `len` bytes of memory at `addr` is `digest`:
/// hashed as abboot hashes the payload in flash
/// ([`sha256_matches`](abboot::image::sha256::sha256_matches)), so the
/// bootloader holds one SHA-256 code, not that one and `sha2::Sha256`'s.
#[cfg(not(feature = "size-probe-no-crypto"))]
pub fn ram_digest_matches(addr: u32, len: u32, digest: &[u8; 32]) -> bool {
    // SAFETY: the caller copied `len` bytes to `addr` (execution memory,
    // plain RAM); the slice is only read, and nothing writes there while
    // it lives.
    let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) };
    abboot::image::sha256::sha256_matches(bytes, digest)
}

/// The no-crypto size probe cannot hash; it never jumps either. The answer
/// still depends on the digest, so the boot path after the check stays in
/// the probe (a constant `false` would drop it, and with it the measure of
/// what the crypto costs).
#[cfg(feature = "size-probe-no-crypto")]
pub fn ram_digest_matches(_addr: u32, _len: u32, digest: &[u8; 32]) -> bool {
    *digest == [0; 32]
}

/// The payload's first two words, read from the slot, as the vector
/// table [`jump`] will start ([`entry_ok`]); [`ImageError::BadEntry`]
/// when they are not one. Out of line: its buffer stays off the stack of
/// the signature check.
#[inline(never)]
fn entry_check<F: ReadNorFlash>(
    flash: &mut F,
    region: Region,
    info: &ImageInfo,
) -> Result<(), ImageError> {
    let mut words = [0u8; 8];
    if info.payload_len < words.len() as u32 {
        return Err(ImageError::BadEntry);
    }
    let at = region
        .offset
        .checked_add(info.header_len)
        .ok_or(ImageError::BadEntry)?;
    // A read that fails is no verdict on the image: the bootloader tries
    // again, and records nothing while a slot cannot be read.
    flash.read(at, &mut words).map_err(|_| ImageError::Flash)?;
    let [s0, s1, s2, s3, r0, r1, r2, r3] = words;
    let (sp, reset) = (
        u32::from_le_bytes([s0, s1, s2, s3]),
        u32::from_le_bytes([r0, r1, r2, r3]),
    );
    if entry_ok(sp, reset, info.load_address, info.payload_len) {
        Ok(())
    } else {
        Err(ImageError::BadEntry)
    }
}

/// Whether `sp` and `reset`, the first two words of a payload of `len`
/// bytes to be copied to `addr`, are a vector table [`jump`] can start:
/// the initial stack pointer in RAM and word-aligned, the reset vector a
/// Thumb address inside the payload.
pub fn entry_ok(sp: u32, reset: u32, addr: u32, len: u32) -> bool {
    let sp_ok = (0x2000_0000..=0x2040_0000).contains(&sp) && sp % 4 == 0;
    let reset_ok = reset & 1 == 1 && (addr..addr.saturating_add(len)).contains(&(reset & !1));
    sp_ok && reset_ok
}

/// Starts the image whose vector table is at `addr`: VTOR, MSP, reset
/// vector. Only call it on a copy whose digest matched the verified one.
pub fn jump(addr: u32) -> ! {
    #[cfg(any(feature = "size-probe-digest-only", feature = "size-probe-no-crypto"))]
    {
        sh::println("boot: size probe build: never starts an image");
        sh::exit(crate::boot::EXIT_REFUSED)
    }
    #[cfg(not(any(feature = "size-probe-digest-only", feature = "size-probe-no-crypto")))]
    // SAFETY: `addr` holds a payload whose SHA-256 equals the digest of a
    // signed, verified image linked to run at `addr`, and whose vector
    // table the image check accepted (`entry_ok`). Nothing of the bootloader is used
    // after the jump: the image sets up its own stack, data and bss.
    unsafe {
        cortex_m::interrupt::disable();
        (*cortex_m::peripheral::SCB::PTR).vtor.write(addr);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
        cortex_m::interrupt::enable();
        cortex_m::asm::bootload(addr as *const u32)
    }
}
