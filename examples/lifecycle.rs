//! The abboot lifecycle on simulated flash, for a first read.
//!
//! Run it with `cargo run --example lifecycle`.

use abboot::journal::{Geometry, Journal};
use abboot::sim::{CutMode, SimFlash};
use abboot::state::{BootState, ImageState, Slot};
use abboot::Version;

type Flash = SimFlash<1, 4, 4096>;

fn main() {
    let geometry = Geometry::contiguous(0, 4096);
    let mut journal = Journal::new(Flash::new(8192), geometry).expect("geometry");

    let loaded = journal.read();
    println!(
        "factory flash: blank = {}, record = {:?}",
        loaded.blank,
        loaded.record.map(|r| r.seq)
    );

    let mut state = BootState {
        primary: Some(Slot::A),
        ..BootState::default()
    };
    state.slots[0].state = ImageState::Confirmed;
    state.slots[0].version = Version::new(1, 0, 0, 0);
    let seq = journal.append(&state).expect("append");
    println!("stored: slot A confirmed v1.0.0 (record {seq})");

    let mut update = state.clone();
    update.slots[1].state = ImageState::Pending { tries: 3 };
    update.slots[1].version = Version::new(1, 1, 0, 0);
    let mut flash = journal.into_inner();
    let op = flash.mutating_ops();
    flash.cut_at(op, CutMode::Torn);
    let mut journal = Journal::new(flash, geometry).expect("geometry");
    println!(
        "power cut while writing 'slot B pending v1.1.0': {:?}",
        journal.append(&update).err()
    );

    let mut flash = journal.into_inner();
    flash.power_on();
    let mut journal = Journal::new(flash, geometry).expect("geometry");
    let loaded = journal.read();
    let r = loaded.record.expect("a record survives");
    println!(
        "after power-on: record {} with slot A {:?}, slot B {:?} (skipped {} torn record)",
        r.seq, r.state.slots[0].state, r.state.slots[1].state, loaded.findings.invalid
    );
    journal.append(&update).expect("retry");
    let r = journal.read().record.expect("record");
    println!(
        "retried: record {} with slot B {:?}",
        r.seq, r.state.slots[1].state
    );
    let stats = journal.into_inner().stats();
    println!(
        "flash operations: {} reads, {} writes ({} bytes), {} erases",
        stats.reads, stats.writes, stats.bytes_written, stats.erases
    );
}
