//! The firmware, linked once for each slot (`fw-a`, `fw-b`): it takes the
//! bootloader's hand-off, and after its health check it confirms the
//! image on trial, or rejects it
//! ([`abboot_board_common::firmware::start`]). It feeds the watchdog
//! ([`crate::wdt`]) from its first instruction on: on a trial boot the
//! bootloader started it, and nothing stops it.
//!
//! Staging an update into the other slot is [`abboot::Updater`], over the
//! same NVMC, with `Board::CHECK`, told the running slot from the hand-off
//! ([`abboot_board_common::firmware::updater`]); see the README.

use core::cell::RefCell;

use abboot::Slot;
use abboot_board_common::firmware::{fence, runs_from, start, updater};

use crate::counter;
use crate::led::Led;
use crate::nvmc::Nvmc;
use crate::{blink_forever, wdt, Board};

/// embassy-nrf's configuration. Its default, `Debug::Allowed`, opens the
/// debug port at every start on the nRF52840 build codes with the
/// "improved" APPROTECT (it writes `UICR.APPROTECT = HwDisabled` and
/// `APPROTECT.DISABLE`): right for a development kit, wrong for a product.
/// With feature `approtect` the firmware leaves APPROTECT to the
/// bootloader (`Debug::NotConfigured`).
fn config() -> embassy_nrf::config::Config {
    #[allow(unused_mut)]
    let mut config = embassy_nrf::config::Config::default();
    #[cfg(feature = "approtect")]
    {
        config.debug = embassy_nrf::config::Debug::NotConfigured;
    }
    config
}

/// Runs the firmware linked for `linked_for`.
pub fn run(linked_for: Slot) -> ! {
    wdt::feed();
    // VTOR at this binary's vector table, as cortex-m-rt's `set-vtor` did
    // in the reset handler (a feature of every binary of this package,
    // the bootloader's too, which does not need it): the bootloader's jump
    // has set it already, but a debugger that starts this binary directly
    // has not. No interrupt is enabled before this.
    extern "C" {
        static __vector_table: u32;
    }
    // SAFETY: only the address of the linker's symbol is taken (no read);
    // writing VTOR with the start of this binary's own vector table, which
    // is aligned as VTOR needs (the header length, `src/lib.rs`), changes
    // nothing else.
    unsafe {
        let core = cortex_m::Peripherals::steal();
        core.SCB
            .vtor
            .write(core::ptr::addr_of!(__vector_table) as u32);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    let p = embassy_nrf::init(config());
    // The bootloader's drivers, not embassy-nrf's: embassy's handles for
    // the NVMC, LED1 and the WDT are held here, unused, so no embassy
    // driver is made for them.
    let _reserved = (p.NVMC, p.P0_13, p.WDT);
    wdt::feed();
    let mut led = Led::new();
    // SAFETY: the one NVMC driver (embassy's handle is held above) and no
    // interrupt handler uses the NVMC. `start` writes only the metadata
    // pages, and the updater only the slot the firmware does not run from,
    // never this firmware's slot; and the driver is fenced to the metadata
    // pages and the slots at once, so nothing through it reaches the
    // bootloader (which the ACL also locks: `board::protect`).
    let mut flash = fence::<Board, _>(unsafe { Nvmc::new() });
    // SAFETY: as the NVMC driver's: the counter programs UICR words
    // through the NVMC, never while the driver is in the middle of a write
    // (both are used from this thread only, one call at a time).
    let mut counter = unsafe { counter::counter() };
    let Ok(boot) =
        start::<Board, _, _>(&mut flash, &mut counter, |boot| runs_from(boot, linked_for))
    else {
        blink_forever(&mut led, 100, 900)
    };
    wdt::feed();

    // The application stages updates (from its radio, its USB) with this
    // updater: it writes only the other slot than the hand-off's.
    let flash = RefCell::new(flash);
    let Ok(_updater) = updater::<Board, _, _>(&flash, boot.running(), counter) else {
        blink_forever(&mut led, 100, 900)
    };

    // The application: LED1 blinks slowly.
    blink_forever(&mut led, 500, 500)
}
