//! The hardware security counter: anti-rollback that rewriting or erasing
//! the metadata cannot undo, raised only at a confirm, never early and
//! never lost across a power cut.

use std::cell::RefCell;

use abboot::counter::{CounterError, OtpWords, SecurityCounter, Thermometer};
use abboot::flash::{Region, Shared};
use abboot::image::digest::DigestCheck;
use abboot::journal::{Geometry, Journal};
use abboot::machine::Refusal;
use abboot::sim::device::TestImage;
use abboot::sim::{CutMode, SimFlash};
use abboot::state::{BootKind, BootState, ImageState, Slot};
use abboot::{Bootloader, Decision, Error, Layout, Policy, StageOptions, Updater, Version};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

type Flash = SimFlash<1, 4, 4096>;

const SLOT: u32 = 16384;
/// Metadata at 0, slots after it, the counter's words in the last sector.
const OTP: u32 = 8192 + 2 * SLOT;

fn layout() -> Layout {
    Layout::new(
        Geometry::contiguous(0, 4096),
        [Region::new(8192, SLOT), Region::new(8192 + SLOT, SLOT)],
    )
}

/// Counter words on the simulated part, so a power cut reaches them too.
struct Words<'a>(&'a RefCell<Flash>);

impl OtpWords for Words<'_> {
    fn is_erased(&mut self, i: usize) -> Result<bool, CounterError> {
        let mut w = [0u8; 4];
        self.0
            .borrow_mut()
            .read(OTP + 4 * i as u32, &mut w)
            .map_err(|_| CounterError::Unreadable)?;
        Ok(w == [0xFF; 4])
    }
    fn program(&mut self, i: usize) -> Result<(), CounterError> {
        self.0
            .borrow_mut()
            .write(OTP + 4 * i as u32, &[0; 4])
            .map_err(|_| CounterError::Write)
    }
}

type Counter<'a> = Thermometer<Words<'a>, 8>;

fn image(minor: u8, counter: u32, fill: u8) -> Vec<u8> {
    let mut t = TestImage::new(Version::new(1, minor, 0, 0), 3000, fill);
    t.header.security_counter = counter;
    t.build()
}

fn device(a: &[u8]) -> RefCell<Flash> {
    let mut f = Flash::new((OTP + 4096) as usize);
    f.set_contents(8192, a);
    RefCell::new(f)
}

fn boot_with(cell: &RefCell<Flash>, counter: bool) -> Decision {
    let b = Bootloader::new(
        Shared::new(cell),
        Shared::new(cell),
        layout(),
        DigestCheck,
        Policy::default(),
    )
    .unwrap();
    if counter {
        b.with_counter(Counter::new(Words(cell))).select()
    } else {
        let mut b = b;
        b.select()
    }
}

fn boot(cell: &RefCell<Flash>) -> Decision {
    boot_with(cell, true)
}

/// The firmware's updater, told it runs from `running`.
fn updater(
    cell: &RefCell<Flash>,
    running: Slot,
) -> Updater<Shared<'_, Flash>, Shared<'_, Flash>, DigestCheck, Counter<'_>> {
    Updater::new(Shared::new(cell), Shared::new(cell), layout(), DigestCheck)
        .unwrap()
        .running(running)
        .with_counter(Counter::new(Words(cell)))
}

fn hardware(cell: &RefCell<Flash>) -> u32 {
    Counter::new(Words(cell)).read().unwrap()
}

fn journal_floor(cell: &RefCell<Flash>) -> Option<u32> {
    Journal::new(Shared::new(cell), layout().metadata)
        .unwrap()
        .read()
        .record
        .map(|r| r.state.min_security_counter)
}

/// A device updated from counter 1 to 2: the counter rose once, at the
/// confirm, and not at staging or at the trial boot.
fn updated() -> RefCell<Flash> {
    let cell = device(&image(0, 1, 1));
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    assert_eq!(hardware(&cell), 1, "the fresh state's floor");
    updater(&cell, Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    assert_eq!(hardware(&cell), 1, "not at staging");
    assert!(boot(&cell).is_trial());
    assert_eq!(hardware(&cell), 1, "not at a trial boot");
    updater(&cell, Slot::B).confirm().unwrap();
    assert_eq!(hardware(&cell), 2, "at the confirm");
    cell
}

#[test]
fn the_counter_rises_once_per_update_at_the_confirm() {
    let cell = updated();
    let ops = cell.borrow().mutating_ops();
    for _ in 0..3 {
        assert_eq!(boot(&cell).slot, Some(Slot::B));
    }
    assert_eq!(hardware(&cell), 2);
    assert_eq!(
        cell.borrow().mutating_ops(),
        ops,
        "no wear when nothing happens"
    );
}

/// Someone who can write the metadata writes a record that makes the old,
/// vulnerable image primary with a floor of 0. Without a hardware counter
/// it boots; with one, it never does.
#[test]
fn rewritten_metadata_cannot_downgrade_below_the_counter() {
    let attack = |cell: &RefCell<Flash>| {
        let mut st: BootState = Journal::new(Shared::new(cell), layout().metadata)
            .unwrap()
            .read()
            .record
            .unwrap()
            .state;
        st.primary = Some(Slot::A);
        st.min_security_counter = 0;
        st.slot_mut(Slot::A).state = ImageState::Confirmed;
        st.slot_mut(Slot::B).state = ImageState::Rejected;
        st.rejected_digest = Some(st.slot(Slot::B).digest);
        Journal::new(Shared::new(cell), layout().metadata)
            .unwrap()
            .append(&st)
            .unwrap();
    };
    let cell = updated();
    attack(&cell);
    let d = boot(&cell);
    assert_ne!(d.slot, Some(Slot::A), "the old image never boots");
    assert_eq!(d.kind, BootKind::Recovery);

    // The same attack without a counter: the limit the README states.
    let cell = updated();
    attack(&cell);
    assert_eq!(boot_with(&cell, false).slot, Some(Slot::A));
}

/// Erased metadata: the fresh state would make the older image primary;
/// with the counter, the older image is below the floor and never boots.
#[test]
fn erased_metadata_cannot_downgrade_below_the_counter() {
    let cell = updated();
    cell.borrow_mut().set_contents(0, &[0xFF; 8192]);
    // The fresh state leaves the image below the floor out: B is the
    // confirmed primary at once, not an update on trial beside A.
    for _ in 0..6 {
        let d = boot(&cell);
        assert_eq!(d.slot, Some(Slot::B));
        assert!(!d.is_trial());
    }
    let st = Journal::new(Shared::new(&cell), layout().metadata)
        .unwrap()
        .read()
        .record
        .unwrap()
        .state;
    assert_eq!(st.slot(Slot::A).state, ImageState::Empty);
    // Staging the old image is refused before anything is erased.
    let ops = cell.borrow().mutating_ops();
    let mut u = Updater::new(
        Shared::new(&cell),
        Shared::new(&cell),
        layout(),
        DigestCheck,
    )
    .unwrap()
    .running(Slot::B)
    .with_counter(Counter::new(Words(&cell)));
    let force = StageOptions {
        force: true,
        ..StageOptions::default()
    };
    assert_eq!(
        u.stage(&image(0, 1, 1), &force).map(|_| ()),
        Err(Error::Refused(Refusal::SecurityCounter))
    );
    assert_eq!(cell.borrow().mutating_ops(), ops);
}

/// A power cut at every flash operation of the confirm (the record, then
/// the counter's word): the counter is never above the journal's floor
/// after the cut (never early), and after the next boot equal to it
/// (never lost).
#[test]
fn no_cut_raises_the_counter_early_or_loses_a_raise() {
    let base = device(&image(0, 1, 1));
    boot(&base);
    updater(&base, Slot::A)
        .stage(&image(1, 2, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&base).is_trial());
    let start = base.borrow().mutating_ops();
    let dry = RefCell::new(base.borrow().clone());
    updater(&dry, Slot::B).confirm().unwrap();
    let ops = dry.borrow().mutating_ops() - start;
    assert!(ops >= 2, "a record and a counter word");
    let mut runs = 0;
    for k in 0..ops {
        for mode in CutMode::ALL {
            let cell = RefCell::new(base.borrow().clone().seed(k ^ (mode as u64) << 8));
            cell.borrow_mut().cut_at(start + k, mode);
            let _ = updater(&cell, Slot::B).confirm();
            assert!(cell.borrow().cut_happened());
            cell.borrow_mut().power_on();
            let floor = journal_floor(&cell).unwrap();
            let hw = hardware(&cell);
            assert!(
                hw <= floor,
                "op {k} {mode:?}: counter {hw} above the floor {floor}"
            );
            let d = boot(&cell);
            assert!(d.slot.is_some());
            assert_eq!(
                hardware(&cell),
                journal_floor(&cell).unwrap(),
                "op {k} {mode:?}"
            );
            runs += 1;
        }
    }
    println!("confirm with a hardware counter: {ops} operations, {runs} cut runs, 0 violations");
}

/// A used-up counter does not stop a confirm, and says it is used up; an
/// unreadable one gives no floor below the journal's; one with a stray
/// word programmed past a gap reads as high as that word (fail closed).
#[test]
fn exhausted_and_unreadable_counters() {
    let cell = device(&image(0, 1, 1));
    boot(&cell);
    updater(&cell, Slot::A)
        .stage(&image(1, 12, 2), &StageOptions::default())
        .unwrap();
    assert!(boot(&cell).is_trial());
    let mut u = updater(&cell, Slot::B);
    assert_eq!(u.counter_remaining(), Some(7));
    u.confirm().unwrap();
    assert_eq!(u.counter_remaining(), Some(0));
    assert_eq!(hardware(&cell), 8);
    assert_eq!(journal_floor(&cell), Some(12));
    assert_eq!(boot(&cell).slot, Some(Slot::B));

    // A word programmed after an erased one: the counter is 6, above
    // both images (2 and 1), and neither boots.
    let cell = updated();
    cell.borrow_mut()
        .set_contents(OTP as usize + 4 * 5, &[0; 4]);
    assert_eq!(Counter::new(Words(&cell)).read(), Ok(6));
    assert_eq!(boot(&cell).slot, None);

    // Unreadable: the counter's words fail every read.
    let cell = updated();
    cell.borrow_mut()
        .fail_reads(OTP..OTP + 32, abboot::sim::ReadFault::Permanent);
    assert_eq!(
        Counter::new(Words(&cell)).read(),
        Err(CounterError::Unreadable)
    );
    assert_eq!(boot(&cell).slot, Some(Slot::B));
    let mut st = Journal::new(Shared::new(&cell), layout().metadata)
        .unwrap()
        .read()
        .record
        .unwrap()
        .state;
    assert_eq!(
        st.min_security_counter, 2,
        "the journal's floor still holds"
    );
    st.primary = Some(Slot::A);
    st.slot_mut(Slot::B).state = ImageState::Empty;
    Journal::new(Shared::new(&cell), layout().metadata)
        .unwrap()
        .append(&st)
        .unwrap();
    // A is below the journal's floor: B, which verifies, is adopted.
    let d = boot(&cell);
    assert_eq!((d.slot, d.kind), (Some(Slot::B), BootKind::Fresh));
}

/// The counter follows only a floor that is on flash: a fresh state built
/// while a slot cannot be read is not written, and must not raise the
/// counter either (the unreadable image may be the one to keep). Nor does
/// it rise at a trial boot: it catches up at the next boot of a confirmed
/// image.
#[test]
fn the_counter_never_follows_a_floor_that_is_not_on_flash() {
    let cell = device(&image(0, 1, 1));
    cell.borrow_mut()
        .set_contents((8192 + SLOT) as usize, &image(1, 5, 2));
    cell.borrow_mut()
        .fail_reads(8192..8192 + SLOT, abboot::sim::ReadFault::Permanent);
    let d = boot(&cell);
    assert_eq!(d.slot, Some(Slot::B));
    assert_eq!(journal_floor(&cell), None, "nothing written");
    assert_eq!(hardware(&cell), 0, "not raised");
    cell.borrow_mut().clear_read_faults();
    // The fresh state on flash: A primary (floor 1), B (newer) on trial.
    let d = boot(&cell);
    assert_eq!((d.slot, d.kind), (Some(Slot::B), BootKind::Trial));
    assert_eq!(journal_floor(&cell), Some(1));
    assert_eq!(hardware(&cell), 0, "not raised at a trial boot");
    updater(&cell, Slot::B).mark_bad(1).unwrap();
    assert_eq!(boot(&cell).slot, Some(Slot::A));
    assert_eq!(hardware(&cell), journal_floor(&cell).unwrap());
}

/// A counter that counts the calls the bootloader makes on it.
struct Spy {
    value: u32,
    raises: u32,
}

impl SecurityCounter for Spy {
    fn read(&mut self) -> Result<u32, CounterError> {
        Ok(self.value)
    }
    fn raise(&mut self, value: u32) -> Result<(), CounterError> {
        self.raises += 1;
        self.value = self.value.max(value);
        Ok(())
    }
}

/// The catch-up raise is made only when the counter is below the floor:
/// a boot at the counter's value does not call it (on a part whose raise
/// reads or programs the counter's store, that would be work, or wear, at
/// every reset).
#[test]
fn a_boot_at_the_counters_value_does_not_raise_it() {
    let cell = device(&image(0, 3, 0xA1));
    let boot = |value: u32| {
        let mut b = Bootloader::new(
            Shared::new(&cell),
            Shared::new(&cell),
            layout(),
            DigestCheck,
            Policy::default(),
        )
        .unwrap()
        .with_counter(Spy { value, raises: 0 });
        let d = b.select();
        let spy = b.counter();
        (d.kind, spy.value, spy.raises)
    };
    // First boot: the fresh state's floor is the image's counter, 3; the
    // counter at 0 follows it up, once.
    assert_eq!(boot(0), (BootKind::Fresh, 3, 1));
    // Normal boots at the floor: nothing to raise, no call.
    assert_eq!(boot(3), (BootKind::Normal, 3, 0));
    assert_eq!(boot(3), (BootKind::Normal, 3, 0));
    // Below it (a counter that lost a raise): caught up, once.
    assert_eq!(boot(2), (BootKind::Normal, 3, 1));
}
