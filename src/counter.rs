//! A hardware security counter: the anti-rollback floor where no firmware
//! can lower it.
//!
//! The journal keeps a minimum security counter, but the journal is flash
//! that a compromised firmware can rewrite or erase; erased, the fresh-state
//! rule would then make an old, vulnerable, correctly signed image bootable
//! again. Where the part has a monotonic store — OTP bits, nRF52840 UICR
//! customer words, STM32 option bytes or OTP, a secure element — a
//! [`SecurityCounter`] keeps the floor there too (MCUboot's
//! `MCUBOOT_HW_ROLLBACK_PROT`). The bootloader never boots an image below
//! the higher of the two.
//!
//! # When it rises
//!
//! Only when an image is **confirmed** — never at staging, never at a trial
//! boot (raising early bricks the way back when the update is rolled back;
//! MCUboot issues 2282 and 2549). The firmware's
//! [`Updater::confirm`](crate::app::Updater::confirm) raises it after the
//! confirmation is on flash, and the bootloader raises it at the next boot
//! if a power cut came in between, so a raise is never lost and never early.
//!
//! # When it fails
//!
//! A counter that cannot be read gives no floor of its own: the journal's
//! floor still applies, and nothing below it boots. A counter that is used
//! up cannot rise: confirming still succeeds, and the counter's remaining
//! budget ([`SecurityCounter::remaining`]) says so.

/// Why a hardware counter operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CounterError {
    /// The counter could not be read.
    Unreadable,
    /// Every step of the counter is used: it cannot rise further.
    Exhausted,
    /// The write to the counter failed.
    Write,
}

/// A monotonic counter that firmware cannot lower.
pub trait SecurityCounter {
    /// The counter's value.
    fn read(&mut self) -> Result<u32, CounterError>;

    /// Raises the counter to at least `value`; a `value` not above the
    /// counter's changes nothing. On a thermometer code this programs one
    /// bit per step.
    fn raise(&mut self, value: u32) -> Result<(), CounterError>;

    /// Steps the counter can still rise, when the store is bounded.
    fn remaining(&mut self) -> Option<u32> {
        None
    }
}

/// No hardware counter: the journal's floor is the only one. Anti-rollback
/// then holds only against attackers who cannot write the metadata flash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoCounter;

impl SecurityCounter for NoCounter {
    fn read(&mut self) -> Result<u32, CounterError> {
        Ok(0)
    }

    fn raise(&mut self, _value: u32) -> Result<(), CounterError> {
        Ok(())
    }
}

impl<T: SecurityCounter + ?Sized> SecurityCounter for &mut T {
    fn read(&mut self) -> Result<u32, CounterError> {
        T::read(self)
    }

    fn raise(&mut self, value: u32) -> Result<(), CounterError> {
        T::raise(self, value)
    }

    fn remaining(&mut self) -> Option<u32> {
        T::remaining(self)
    }
}

/// A counter kept as a thermometer code in `N` words of one-time
/// programmable memory: the value is one past the last word that is
/// programmed (not erased) — the number of programmed words, since each
/// raise programs words in order and never erases, so no write can lower
/// it. A word programmed past an erased one counts with every word below
/// it: programming one stray word can only raise the floor. The shape of
/// the nRF52840 UICR customer words and the STM32L4 OTP area. `W` does the
/// word access.
pub struct Thermometer<W, const N: usize> {
    words: W,
}

/// Word access for a [`Thermometer`].
pub trait OtpWords {
    /// Whether word `i` is still erased. `Err` when it cannot be read.
    fn is_erased(&mut self, i: usize) -> Result<bool, CounterError>;
    /// Programs word `i` (to any value that is not the erased one).
    fn program(&mut self, i: usize) -> Result<(), CounterError>;
}

impl<W, const N: usize> Thermometer<W, N> {
    /// A counter over `words`.
    pub const fn new(words: W) -> Self {
        Self { words }
    }

    /// Gives the word access back.
    pub fn into_inner(self) -> W {
        self.words
    }
}

impl<W: OtpWords, const N: usize> SecurityCounter for Thermometer<W, N> {
    fn read(&mut self) -> Result<u32, CounterError> {
        self.level()
    }

    // Never inlined: its loop and locals stay off the frame of the
    // bootloader's flow, which holds the check's buffers.
    #[inline(never)]
    fn raise(&mut self, value: u32) -> Result<(), CounterError> {
        let now = self.level()?;
        if value <= now {
            return Ok(());
        }
        // One loop for both cases: up to `value`, or as far as it goes
        // when `value` is past the last word, which is then said to be
        // used up. The bound is tested where the loop reaches it: no
        // second bound (`N.min(value)`) and no test of `value` after.
        for i in now..value {
            let i = i as usize;
            if i >= N {
                return Err(CounterError::Exhausted);
            }
            self.words.program(i)?;
        }
        match self.level()? {
            v if v >= value => Ok(()),
            _ => Err(CounterError::Write),
        }
    }

    fn remaining(&mut self) -> Option<u32> {
        self.read().ok().map(|v| N as u32 - v.min(N as u32))
    }
}

impl<W: OtpWords, const N: usize> Thermometer<W, N> {
    /// [`SecurityCounter::read`]'s loop. Always inlined, into `read` and
    /// into both reads of `raise`: through the out-of-line `read`, its
    /// `Result` came back through memory and `raise` tested its tag after
    /// each call, though on a part whose words always read (the nRF52840's
    /// UICR) it is never `Err` (16 B of the signed nRF52840 bootloader).
    #[inline(always)]
    fn level(&mut self) -> Result<u32, CounterError> {
        // One past the last programmed word. A programmed word after an
        // erased one is no code a raise writes, but it is what a firmware
        // that programs one stray word leaves: read as anything lower (or
        // as unreadable, which gives no floor at all), it would lower the
        // floor that no firmware may lower. So it fails closed.
        let mut value = 0u32;
        for i in 0..N {
            if !self.words.is_erased(i)? {
                value = i as u32 + 1;
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Words {
        programmed: [bool; 8],
        fail_read: Option<usize>,
        /// A word whose program reports success and changes nothing.
        stuck: Option<usize>,
    }

    impl OtpWords for Words {
        fn is_erased(&mut self, i: usize) -> Result<bool, CounterError> {
            if self.fail_read == Some(i) {
                return Err(CounterError::Unreadable);
            }
            Ok(!self.programmed[i])
        }
        fn program(&mut self, i: usize) -> Result<(), CounterError> {
            if self.stuck != Some(i) {
                self.programmed[i] = true;
            }
            Ok(())
        }
    }

    /// A raise is read back: a word that did not take is a failed write,
    /// not a raised counter.
    #[test]
    fn a_raise_that_does_not_take_is_an_error() {
        let words = Words {
            stuck: Some(2),
            ..Words::default()
        };
        let mut c = Thermometer::<_, 8>::new(words);
        assert_eq!(c.raise(2), Ok(()));
        assert_eq!(c.raise(3), Err(CounterError::Write));
        assert_eq!(c.read(), Ok(2));
    }

    #[test]
    fn thermometer_rises_and_never_falls() {
        let mut c = Thermometer::<_, 8>::new(Words::default());
        assert_eq!(c.read(), Ok(0));
        assert_eq!(c.remaining(), Some(8));
        c.raise(3).unwrap();
        assert_eq!(c.read(), Ok(3));
        c.raise(2).unwrap();
        assert_eq!(c.read(), Ok(3), "never lowered");
        c.raise(8).unwrap();
        assert_eq!((c.read(), c.remaining()), (Ok(8), Some(0)));
        assert_eq!(c.raise(9), Err(CounterError::Exhausted));
        assert_eq!(c.read(), Ok(8));
    }

    #[test]
    fn thermometer_reads_a_gap_as_programmed_and_an_unreadable_word_as_no_value() {
        // Words 0 and 2 programmed, 1 erased: a code no raise writes, read
        // as its highest word (fail closed), and raised from there.
        let mut w = Words::default();
        w.programmed[0] = true;
        w.programmed[2] = true;
        let mut c = Thermometer::<_, 8>::new(w);
        assert_eq!(c.read(), Ok(3));
        assert_eq!(c.remaining(), Some(5));
        c.raise(5).unwrap();
        assert_eq!(c.read(), Ok(5));
        // One stray word at the end is the whole counter.
        let mut w = Words::default();
        w.programmed[7] = true;
        let mut c = Thermometer::<_, 8>::new(w);
        assert_eq!(c.read(), Ok(8));
        assert_eq!(c.raise(9), Err(CounterError::Exhausted));
        let mut w = c.into_inner();
        w.programmed[7] = false;
        w.fail_read = Some(4);
        let mut c = Thermometer::<_, 8>::new(w);
        assert_eq!(c.read(), Err(CounterError::Unreadable));
        assert_eq!(c.remaining(), None);
    }

    /// A counter lent as `&mut T` (how a board keeps its counter while a
    /// bootloader uses it) is the counter itself: reads, raises and what
    /// is left go through to it, its refusals too. (Found missing by
    /// cargo-mutants: `raise` through `&mut T` replaced by `Ok(())`.)
    #[test]
    fn a_borrowed_counter_forwards_every_call() {
        let mut c = Thermometer::<_, 8>::new(Words::default());
        let mut lent = &mut c;
        assert_eq!(SecurityCounter::raise(&mut lent, 3), Ok(()));
        assert_eq!(SecurityCounter::read(&mut lent), Ok(3));
        assert_eq!(SecurityCounter::remaining(&mut lent), Some(5));
        // Past the last word: raised as far as it goes, and said so.
        assert_eq!(
            SecurityCounter::raise(&mut lent, 9),
            Err(CounterError::Exhausted)
        );
        assert_eq!(c.read(), Ok(8));
    }

    #[test]
    fn no_counter_is_a_floor_of_zero() {
        let mut c = NoCounter;
        assert_eq!(c.read(), Ok(0));
        c.raise(5).unwrap();
        assert_eq!(c.read(), Ok(0));
        assert_eq!(c.remaining(), None);
    }
}
