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
    // One update on a booted device: read the state, then append.
    let mut flash = j.into_inner();
    flash.reset_stats();
    let mut j = Journal::new(flash, Geometry::contiguous(0, 4096)).unwrap();
    j.read();
    let after_read = j.flash().stats();
    j.append(&state(99)).unwrap();
    let total = j.flash().stats();
    let upd = total.since(&after_read);
    println!(
        "boot read: {} reads, {} bytes read; one update after it: {} writes, {} bytes written, {} reads (read-back), {} erases",
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

fn main() {
    journal_figures();
}
