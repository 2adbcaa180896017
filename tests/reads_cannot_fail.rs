//! `flash::ReadsCannotFail`: the declaration that a part's reads cannot
//! fail. A read through it is always `Ok`; one that fails anyway fills its
//! buffer with `UNREADABLE` (never what the buffer held before); writes,
//! erases and their errors pass through.

use abboot::flash::{ReadsCannotFail, UNREADABLE};
use abboot::sim::{SimError, SimFlash};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

type Flash = SimFlash<4, 4, 4096>;

fn device() -> Flash {
    let mut f = Flash::new(8192);
    f.set_contents(0, &[0x11; 64]);
    f
}

/// A failed read is reported as `Ok`, and the buffer, which held bytes a
/// caller had read before (here a copy of what is on flash), holds only
/// `UNREADABLE`; the next read is the flash's again.
#[test]
fn a_failed_read_reads_as_unreadable_bytes() {
    let mut flash = ReadsCannotFail(device());
    let mut buf = [0x11u8; 16];
    let next = flash.0.reads_done();
    flash.0.fail_read_at(next);
    assert_eq!(flash.read(0, &mut buf), Ok(()));
    assert_eq!(buf, [UNREADABLE; 16]);
    assert_eq!(flash.read(16, &mut buf), Ok(()));
    assert_eq!(buf, [0x11; 16]);
    // Out of bounds, the one failure of a mapped part's read: the same.
    let mut tail = [0u8; 8];
    assert_eq!(flash.read(8188, &mut tail), Ok(()));
    assert_eq!(tail, [UNREADABLE; 8]);
}

/// Writes and erases reach the part, and so do their errors.
#[test]
fn writes_erases_and_their_errors_pass_through() {
    let mut flash = ReadsCannotFail(device());
    assert_eq!(flash.capacity(), 8192);
    assert_eq!(
        (
            <ReadsCannotFail<Flash> as ReadNorFlash>::READ_SIZE,
            <ReadsCannotFail<Flash> as NorFlash>::WRITE_SIZE,
            <ReadsCannotFail<Flash> as NorFlash>::ERASE_SIZE,
        ),
        (4, 4, 4096)
    );
    flash.0.protect(0..4096);
    assert_eq!(flash.write(64, &[0x22; 4]), Err(SimError::Protected));
    assert_eq!(flash.erase(0, 4096), Err(SimError::Protected));
    assert_eq!(flash.write(4096, &[0x22; 4]), Ok(()));
    assert_eq!(flash.0.contents()[4096..4100], [0x22; 4]);
    assert_eq!(flash.erase(4096, 8192), Ok(()));
    assert_eq!(flash.0.contents()[4096..4100], [0xFF; 4]);
    assert_eq!(flash.0.contents()[..4], [0x11; 4]);
}
