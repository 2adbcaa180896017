//! Counted figures (flash operations, bytes, erases), not timings: they do
//! not drift with a noisy machine. Run with `cargo bench --bench figures`.

use abboot::journal::{Geometry, Journal};
use abboot::record::RECORD_SIZE;
use abboot::sim::SimFlash;
use abboot::state::{BootState, Slot};

fn state(i: u32) -> BootState {
    BootState {
        primary: Some(Slot::A),
        failure_count: i as u16,
        ..BootState::default()
    }
}

fn journal_figures() {
    println!("## journal (W4 / 4 KiB sectors)");
    println!("record size: {RECORD_SIZE} bytes");
    let mut j = Journal::new(
        SimFlash::<1, 4, 4096>::new(8192),
        Geometry::contiguous(0, 4096),
    )
    .unwrap();
    for i in 0..20 {
        j.append(&state(i)).unwrap();
    }
    // One update on a booted device: read the state, then append. The
    // flash is shared so its counters can be read between the two calls
    // (`Journal::flash` would drop the journal's cached tail).
    let mut flash = j.into_inner();
    flash.reset_stats();
    let cell = std::cell::RefCell::new(flash);
    let mut j = Journal::new(
        abboot::flash::Shared::new(&cell),
        Geometry::contiguous(0, 4096),
    )
    .unwrap();
    j.read();
    let after_read = cell.borrow().stats();
    j.append(&state(99)).unwrap();
    let upd = cell.borrow().stats().since(&after_read);
    println!(
        "boot read: {} reads, {} bytes read; one update after it: {} writes, {} bytes written, {} reads (read-back and a boot-style scan), {} erases",
        after_read.reads, after_read.bytes_read, upd.writes, upd.bytes_written, upd.reads, upd.erases
    );
    let mut j = Journal::new(
        SimFlash::<1, 4, 4096>::new(8192),
        Geometry::contiguous(0, 4096),
    )
    .unwrap();
    j.read();
    for i in 0..1000 {
        j.append(&state(i)).unwrap();
    }
    let flash = j.into_inner();
    println!(
        "1000 updates: {} erases (per sector {:?}), {} bytes written",
        flash.stats().erases,
        flash.sector_erases(),
        flash.stats().bytes_written
    );
}

/// Flash operations of each lifecycle step on the simulated device
/// (4 KiB sectors, 4-byte words, 3,000-byte payload in 12 chunks).
fn lifecycle_figures() {
    use abboot::image::digest::DigestCheck;
    use abboot::sim::device::test_image;
    use abboot::sim::Device;
    use abboot::{StageOptions, Version};

    println!("\n## lifecycle (metadata and slots on one 4 KiB-sector flash)");
    let mut d = Device::new(16384, DigestCheck);
    d.factory(Slot::A, &test_image(Version::new(1, 0, 0, 0), 3000, 1));
    d.boot().unwrap();
    let image = test_image(Version::new(1, 1, 0, 0), 3000, 2);
    let chunks = image.len().div_ceil(256) as u64;
    let step = |name: &str, d: &mut Device<DigestCheck>, f: &dyn Fn(&mut Device<DigestCheck>)| {
        let before = d.flash().stats();
        f(d);
        let x = d.flash().stats().since(&before);
        println!(
            "{name}: {} writes ({} bytes), {} sector erases, {} reads ({} bytes)",
            x.writes, x.bytes_written, x.erases, x.reads, x.bytes_read
        );
        x
    };
    step("normal boot", &mut d, &|d| {
        d.boot().unwrap();
    });
    let stage = step("stage (incl. payload)", &mut d, &|d| {
        d.stage(&image, &StageOptions::default()).unwrap();
    });
    println!(
        "  of which metadata: {} writes ({} bytes); payload: {chunks} writes, 4 sector erases",
        stage.writes - chunks,
        stage.bytes_written - image.len().div_ceil(4) as u64 * 4
    );
    step("trial boot", &mut d, &|d| {
        d.boot().unwrap();
    });
    step("confirm", &mut d, &|d| d.confirm().unwrap());
    step("normal boot after confirm", &mut d, &|d| {
        d.boot().unwrap();
    });
    println!(
        "full update cycle excluding the payload (stage begin + finish, trial boot, confirm): 4 record writes = 1024 bytes, 0 metadata erases (1 per 16 records when the journal moves)"
    );
}

fn main() {
    journal_figures();
    lifecycle_figures();
}
