//! Gives each binary its own `memory.x`: cortex-m-rt's `link.x` includes
//! `memory.x` from the linker search path, so each binary gets the folder
//! with its own.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for (bin, folder) in [("boot", "boot"), ("fw-a", "slot-a"), ("fw-b", "slot-b")] {
        let path = dir.join("link").join(folder);
        println!("cargo:rustc-link-arg-bin={bin}=-L{}", path.display());
        println!("cargo:rerun-if-changed={}", path.join("memory.x").display());
    }
    // `device.x`, which cortex-m-rt's `device` feature includes, for all.
    println!("cargo:rustc-link-arg-bins=-L{}", dir.join("link").display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("link/device.x").display()
    );
    // In the build script, not in rustflags: a RUSTFLAGS in the
    // environment replaces config rustflags but not these.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=build.rs");
}
