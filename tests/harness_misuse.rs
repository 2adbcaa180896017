//! The simulator and the harness used the way a test engineer would, on
//! their own flow: what they cannot see must not pass as swept, and the
//! model must not be kinder than the part. The first two were written by
//! an adversarial review; every test here failed before its fix.

use abboot::flash::Region;
use abboot::image::digest::DigestCheck;
use abboot::image::signed::read_header;
use abboot::image::{ImageCheck, ImageError, ImageInfo};
use abboot::sim::device::test_image;
use abboot::sim::{Device, Harness, SimError, SimFlash, Stop};
use abboot::state::Slot;
use abboot::{StageOptions, Version};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

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

/// A test engineer's own image check with a bug: when the payload cannot
/// be read it vouches for the image from its header ("a read error is no
/// evidence against it").
#[derive(Clone, Copy)]
struct Lenient;

impl<F: ReadNorFlash> ImageCheck<F> for Lenient {
    fn check(
        &mut self,
        flash: &mut F,
        slot: Slot,
        region: Region,
    ) -> Result<ImageInfo, ImageError> {
        match DigestCheck.check(flash, slot, region) {
            Err(ImageError::Flash) => {
                read_header(flash, region).map(|h| ImageInfo::from_header(&h, h.payload_digest))
            }
            r => r,
        }
    }
}

/// A boot that met a read fault and chose an image that does not verify is
/// a violation even when the state on flash is one the promise allows
/// (here the state before the boot: a read fault on B's payload made the
/// lenient check pass the rotten primary B, so the boot wrote nothing).
/// The harness used to check only the state after the fault and the boots
/// after power-on, and reported this run as swept.
#[test]
fn a_faulted_boot_that_chooses_an_image_that_does_not_verify_fails_the_run() {
    let mut d = Device::new(8192, Lenient);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    let opts = StageOptions {
        tries: 2,
        ..StageOptions::default()
    };
    d.boot().unwrap();
    d.stage(&test_image(Version::new(1, 1, 0, 0), 3000, 2), &opts)
        .unwrap();
    assert_eq!(d.boot().unwrap().slot, Some(Slot::B));
    d.confirm().unwrap();
    // B, the primary now, rots in its payload: a boot falls back to A.
    d.corrupt(Slot::B, 2000, 3);
    let without_fault = d.clone().boot().unwrap();
    assert_eq!(without_fault.slot, Some(Slot::A));
    let reads_only = Harness {
        modes: Vec::new(),
        double_cuts: 0,
        ..Harness::default()
    };
    let v = reads_only.run(&d, |d| d.boot().map(|_| ())).unwrap_err();
    assert!(
        v.what.contains("chose slot B, whose image does not verify"),
        "{v}"
    );
    // With the library's own check, the same sweep passes.
    let mut honest = Device::new(8192, DigestCheck);
    honest.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    honest.boot().unwrap();
    honest
        .stage(&test_image(Version::new(1, 1, 0, 0), 3000, 2), &opts)
        .unwrap();
    honest.boot().unwrap();
    honest.confirm().unwrap();
    honest.corrupt(Slot::B, 2000, 3);
    let report = reads_only.run(&honest, |d| d.boot().map(|_| ())).unwrap();
    assert!(report.read_fault_runs > 0, "{report}");
}

/// The firmware's own update flow — a download written chunk by chunk as
/// it arrives — run through `Device::firmware`, so that the harness cuts
/// power at every operation of it (each chunk's write included) and fails
/// each of its reads, and checks the promise after each. The image is
/// given 5 tries, more than the device's default: the bounded-trial check
/// holds it to the 5 it was given, not to the default (without the
/// bookkeeping, its fourth trial boot was reported as one too many).
#[test]
fn a_chunked_download_of_the_firmwares_own_is_swept() {
    let mut d = Device::new(8192, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    let image = test_image(Version::new(1, 1, 0, 0), 3000, 2);
    let chunks = image.len().div_ceil(512);
    let download = move |d: &mut Device<DigestCheck>| -> Result<(), Stop> {
        let opts = StageOptions {
            tries: 5,
            tag: b"ota-7",
            ..StageOptions::default()
        };
        d.firmware("download", |u| {
            u.stage_begin(&opts)?;
            for (i, chunk) in image.chunks(512).enumerate() {
                u.stage_write((i * 512) as u32, chunk)?;
            }
            u.stage_finish(opts.tries)
        })?;
        // Five trial boots, never confirmed: the fifth is the last.
        for left in (0..5).rev() {
            let b = d.boot()?;
            if b.slot != Some(Slot::B) || b.tries_left != left {
                return Err(Stop::Unexpected(format!("trial {left}: {b:?}")));
            }
        }
        let back = d.boot()?;
        if back.slot != Some(Slot::A) {
            return Err(Stop::Unexpected(format!("no rollback: {back:?}")));
        }
        Ok(())
    };
    let sweep = Harness {
        double_cuts: 40,
        read_faults: 200,
        ..Harness::default()
    };
    let report = sweep.run(&d, download).unwrap();
    // Every chunk's write was one of the operations cut.
    assert!(report.ops > chunks, "{report}");
    assert!(
        report.read_fault_runs > 0 && report.double_cut_runs > 0,
        "{report}"
    );
}
