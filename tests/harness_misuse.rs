//! The simulator and the harness used the way a test engineer would, on
//! their own flow: what they cannot see must not pass as swept, and the
//! model must not be kinder than the part. Written by an adversarial
//! review; both tests failed before their fixes.

use abboot::image::digest::DigestCheck;
use abboot::sim::device::test_image;
use abboot::sim::{Device, Harness, SimError, SimFlash, Stop};
use abboot::state::Slot;
use abboot::Version;
use embedded_storage::nor_flash::NorFlash;

/// A scenario that writes the part itself, past the device's calls: the
/// harness cannot cut those operations, so it refuses to report the
/// scenario as swept (it reported 1 of 3 operations, and success).
#[test]
fn operations_the_harness_cannot_cut_fail_the_run() {
    let mut d = Device::new(8192, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 1000, 1));
    let b = d.layout().slots[1].offset;
    let own_flow = move |d: &mut Device<DigestCheck>| -> Result<(), Stop> {
        d.boot()?;
        let f = d.flash_mut();
        f.erase(b, b + 4096).map_err(|_| Stop::PowerCut)?;
        f.write(b, &[0x12; 64]).map_err(|_| Stop::PowerCut)?;
        d.boot()?;
        Ok(())
    };
    let quick = Harness {
        read_faults: 0,
        double_cuts: 0,
        ..Harness::default()
    };
    let v = quick.run(&d, own_flow).unwrap_err();
    assert!(v.what.contains("cannot be cut"), "{v}");
    // Through the device's calls only, the same harness sweeps it.
    let report = quick.run(&d, |d| d.boot().map(|_| ())).unwrap();
    assert!(report.ops >= 1, "{report}");
}

/// On a write-once (ECC) part, planted content (a factory image) is
/// programmed content: a program over it without an erase is refused, as
/// the part refuses it.
#[test]
fn planted_content_cannot_be_programmed_again_on_a_write_once_part() {
    let mut f = SimFlash::<8, 8, 2048>::new(4096).write_once(true);
    f.set_contents(0, &[0x5A; 8]);
    assert_eq!(f.write(0, &[0x5A; 8]), Err(SimError::WriteTwice));
    f.erase(0, 2048).unwrap();
    f.write(0, &[0x5A; 8]).unwrap();
}
