//! An async (embassy-style) flash driver runs the same decision code
//! through `flash::Blocking`.

use abboot::flash::Blocking;
use abboot::journal::{Geometry, Journal};
use abboot::sim::{SimError, SimFlash};
use abboot::state::{BootState, Slot};
use embedded_storage::nor_flash::{NorFlash as _, ReadNorFlash as _};

/// An async driver, as a HAL exposes it, over the simulated part.
struct AsyncSim(SimFlash<1, 4, 4096>);

impl embedded_storage_async::nor_flash::ErrorType for AsyncSim {
    type Error = SimError;
}

impl embedded_storage_async::nor_flash::ReadNorFlash for AsyncSim {
    const READ_SIZE: usize = 1;
    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        // Yield once, as a driver waiting on its DMA would.
        embassy_futures::yield_now().await;
        self.0.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl embedded_storage_async::nor_flash::NorFlash for AsyncSim {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    async fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        embassy_futures::yield_now().await;
        self.0.erase(from, to)
    }
    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        embassy_futures::yield_now().await;
        self.0.write(offset, bytes)
    }
}

#[test]
fn journal_over_an_async_driver() {
    let mut j = Journal::new(
        Blocking(AsyncSim(SimFlash::new(8192))),
        Geometry::contiguous(0, 4096),
    )
    .unwrap();
    for i in 0..40u16 {
        let s = BootState {
            primary: Some(Slot::B),
            failure_count: i,
            ..BootState::default()
        };
        j.append(&s).unwrap();
    }
    let Blocking(AsyncSim(flash)) = j.into_inner();
    assert_eq!(flash.stats().writes, 40);
    // 16 + 16 records fill both sectors; moving back erases the first.
    assert_eq!(flash.stats().erases, 1);
    let mut j = Journal::new(Blocking(AsyncSim(flash)), Geometry::contiguous(0, 4096)).unwrap();
    assert_eq!(j.read().record.map(|r| r.state.failure_count), Some(39));
}
