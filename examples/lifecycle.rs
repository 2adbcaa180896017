//! The whole abboot update lifecycle on simulated flash, for a first read.
//!
//! ```sh
//! cargo run --example lifecycle
//! ```
//!
//! A device with slots A and B boots its factory image, updates to a new
//! version and confirms it, receives a version whose health check fails and
//! rolls back, refuses that version when it comes again, refuses a forged
//! image, and survives a power cut in the middle of staging.

use abboot::image::signed::{BoardProfile, SignedCheck, TrustedKeys};
use abboot::sim::device::{describe, test_public_key, TestImage};
use abboot::sim::{CutMode, Device, Stop};
use abboot::state::Slot;
use abboot::{StageOptions, Version};

const SLOT_SIZE: u32 = 16 * 1024;
const HARDWARE_ID: u32 = 0x0AB0_0001;

type Dev = Device<SignedCheck<'static>>;

/// An image of `version` linked to run from `slot`, signed with the
/// release key (or another one).
fn image(dev: &Dev, version: Version, slot: Slot, fill: u8) -> TestImage {
    let mut img = TestImage::new(version, 3000, fill);
    img.header.hardware_id = HARDWARE_ID;
    img.header.load_address = dev.layout().slots[slot.index()].offset + img.header.header_len;
    img.header.security_counter = 1;
    img
}

fn boot(dev: &mut Dev) -> Result<(), Stop> {
    let d = dev.boot()?;
    println!("  {}", describe(&d));
    Ok(())
}

fn main() -> Result<(), Stop> {
    // The bootloader trusts one release key; images must be built for this
    // hardware and linked for the slot they are in.
    let keys: &'static [[u8; 32]] = Box::leak(Box::new([test_public_key()]));
    let layout_probe = Device::new(
        SLOT_SIZE,
        SignedCheck::new(
            TrustedKeys::new(keys),
            BoardProfile {
                header_len: None,
                hardware_id: 0,
                load_address: [0; 2],
            },
        ),
    );
    let load = |s: Slot| layout_probe.layout().slots[s.index()].offset + 256;
    let profile = BoardProfile {
        header_len: None,
        hardware_id: HARDWARE_ID,
        load_address: [load(Slot::A), load(Slot::B)],
    };
    let mut dev = Device::new(SLOT_SIZE, SignedCheck::new(TrustedKeys::new(keys), profile));

    println!("1. Factory: v1.0.0 programmed into slot A, metadata blank.");
    let a = image(&dev, Version::new(1, 0, 0, 0), Slot::A, 1).build();
    dev.factory(Slot::A, &a);
    boot(&mut dev)?;
    boot(&mut dev)?;

    println!("\n2. Update to v1.1.0: staged into slot B, booted on trial, confirmed.");
    let b = image(&dev, Version::new(1, 1, 0, 0), Slot::B, 2).build();
    let tag = b"5d1c7e0a-6b9f-4c42-9e4b-1f0d2a7c9e11";
    dev.stage(
        &b,
        &StageOptions {
            tries: 3,
            tag,
            ..StageOptions::default()
        },
    )?;
    println!("  stage: v1.1.0 written to slot B, checked, pending with 3 tries");
    boot(&mut dev)?;
    dev.confirm()?;
    println!("  confirm: health check passed, slot B is now primary");
    boot(&mut dev)?;

    println!("\n3. Update to v1.2.0: its health check fails, it never confirms.");
    let c = image(&dev, Version::new(1, 2, 0, 0), Slot::A, 3).build();
    dev.stage(
        &c,
        &StageOptions {
            tries: 2,
            ..StageOptions::default()
        },
    )?;
    println!("  stage: v1.2.0 written to slot A, pending with 2 tries");
    for _ in 0..3 {
        boot(&mut dev)?;
    }
    let s = dev.status()?;
    println!(
        "  status: update {:?}, reason {:?}, failures {}",
        s.update, s.last_reason, s.failure_count
    );

    println!("\n4. The same v1.2.0 is offered again.");
    let again = dev.stage(&c, &StageOptions::default());
    match &again {
        Err(Stop::Error(e)) => println!("  stage: {e}"),
        other => println!("  stage: unexpected {other:?}"),
    }

    println!("\n5. A forged v9.0.0, signed with a key the bootloader does not trust.");
    let mut forged = image(&dev, Version::new(9, 0, 0, 0), Slot::A, 4);
    forged.key_seed = [0x66; 32];
    match dev.stage(&forged.build(), &StageOptions::default()) {
        Err(Stop::Error(e)) => println!("  stage: {e}"),
        other => println!("  stage: unexpected {other:?}"),
    }
    let mut tampered = image(&dev, Version::new(1, 3, 0, 0), Slot::A, 5).build();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    match dev.stage(&tampered, &StageOptions::default()) {
        Err(Stop::Error(e)) => println!("  stage (one payload bit flipped): {e}"),
        other => println!("  stage: unexpected {other:?}"),
    }

    println!("\n6. Power is cut while v1.3.0 is being written into slot A.");
    let d = image(&dev, Version::new(1, 3, 0, 0), Slot::A, 6).build();
    let op = dev.flash().mutating_ops() + 6;
    dev.flash_mut().cut_at(op, CutMode::Torn);
    match dev.stage(&d, &StageOptions::default()) {
        Err(Stop::PowerCut) => println!("  stage: power lost at flash operation {op} (torn write)"),
        other => println!("  stage: unexpected {other:?}"),
    }
    dev.power_on();
    println!("  power on:");
    boot(&mut dev)?;

    let s = dev.status()?;
    println!("\nStatus record, as a fleet agent would report it:");
    println!(
        "  running slot {:?} v{}, update {:?}, last reason {:?}, failures {}, tag {:?}",
        s.running.unwrap_or(Slot::A),
        s.installed_version.unwrap_or_default(),
        s.update,
        s.last_reason,
        s.failure_count,
        String::from_utf8_lossy(&s.update_tag)
    );
    println!("  recent boots:");
    for e in &s.events {
        println!(
            "    {:?} slot {:?} ({:?}, {} tries left)",
            e.kind, e.slot, e.reason, e.tries
        );
    }
    println!("  JSON: {}", s.to_json());

    let f = dev.flash().stats();
    println!(
        "\nFlash operations in all: {} reads ({} bytes), {} writes ({} bytes), {} erases",
        f.reads, f.bytes_read, f.writes, f.bytes_written, f.erases
    );
    Ok(())
}
