//! Gives each binary its own `memory.x`: cortex-m-rt's `link.x` includes
//! `memory.x` from the linker search path, so each binary gets the folder
//! with its own (`link/boot`, `link/fw-a`, `link/fw-b`). The binaries'
//! names carry the board's, so that boards built into one target
//! directory do not overwrite each other's.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for name in ["boot", "fw-a", "fw-b"] {
        let path = dir.join("link").join(name);
        println!(
            "cargo:rustc-link-arg-bin=nrf52840-{name}=-L{}",
            path.display()
        );
        println!("cargo:rerun-if-changed={}", path.join("memory.x").display());
    }
    // `link/device.x`, for cortex-m-rt's `device` feature (src/vectors.rs).
    println!("cargo:rustc-link-arg-bins=-L{}", dir.join("link").display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("link").join("device.x").display()
    );
    // Here rather than in rustflags: a RUSTFLAGS in the environment
    // replaces config rustflags but not these.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // No ELF headers in a loadable segment: without it the linker puts
    // them in the 64 KiB page below a firmware's first section (the
    // metadata pages), and a flasher or `abboot sign` would take them
    // for part of the image.
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rerun-if-changed=build.rs");
}
