//! One `select` on a normal boot of a confirmed image, for instruction
//! counting with callgrind (counted, not timed):
//!
//! ```sh
//! cargo bench --bench select --no-run
//! valgrind --tool=callgrind --toggle-collect='*measured_select*' \
//!     target/release/deps/select-<hash> trial-only
//! ```
//!
//! The argument picks the policy: `trial-only` (the decision alone: a
//! journal scan) or `always` (the decision plus the SHA-256 of the 64 KiB
//! image, as `VerifyPolicy::Always` does at every boot).

use std::cell::RefCell;
use std::hint::black_box;

use abboot::flash::Shared;
use abboot::image::digest::DigestCheck;
use abboot::sim::device::test_image;
use abboot::sim::Device;
use abboot::state::{BootKind, Slot};
use abboot::{Bootloader, Policy, VerifyPolicy, Version};

/// The call callgrind counts: the setup above also runs `select`, so the
/// measurement toggles on this wrapper only.
#[inline(never)]
fn measured_select<M, S, C>(boot: &mut Bootloader<M, S, C>) -> abboot::Decision
where
    M: embedded_storage::nor_flash::NorFlash,
    S: embedded_storage::nor_flash::ReadNorFlash,
    C: abboot::image::ImageCheck<S>,
{
    black_box(boot.select())
}

fn main() {
    let verify = match std::env::args().nth(1).as_deref() {
        Some("always") => VerifyPolicy::Always,
        _ => VerifyPolicy::TrialOnly,
    };
    let mut dev = Device::new(128 * 1024, DigestCheck);
    dev.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 64 * 1024, 1));
    assert_eq!(dev.boot().map(|d| d.kind), Ok(BootKind::Fresh));
    let layout = dev.layout();
    let mut f = dev.flash().clone();
    f.reset_stats();
    let flash = RefCell::new(f);
    let policy = Policy {
        verify,
        ..Policy::default()
    };
    let mut boot = Bootloader::new(
        Shared::new(&flash),
        Shared::new(&flash),
        layout,
        DigestCheck,
        policy,
    )
    .expect("layout");
    let d = measured_select(&mut boot);
    assert_eq!((d.slot, d.kind), (Some(Slot::A), BootKind::Normal));
    let s = flash.borrow().stats();
    println!(
        "select ({verify:?}): {} reads, {} bytes read, {} writes, {} erases",
        s.reads, s.bytes_read, s.writes, s.erases
    );
}
