//! Clocks: the system clock and a virtual clock whose offset is persisted in the store.

use crate::store::{ExecutionStore, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of "now" for the engine.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Moves time forward by `by`. Returns `Ok(false)` if this clock cannot be moved.
    fn advance(&self, by: Duration) -> Result<bool, StoreError> {
        let _ = by;
        Ok(false)
    }

    /// Re-reads any shared state (another process may have advanced the clock).
    fn refresh(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether [`Clock::advance`] works.
    fn is_virtual(&self) -> bool {
        false
    }
}

/// Real wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Virtual time: a base (wall clock, or a fixed instant) plus an offset persisted in the store,
/// so `advance_time` in one process is seen by the next.
pub struct VirtualClock {
    store: Arc<dyn ExecutionStore>,
    fixed_base: Option<DateTime<Utc>>,
    offset_ms: AtomicI64,
}

impl VirtualClock {
    /// Wall-clock time plus the store's offset.
    pub fn new(store: Arc<dyn ExecutionStore>) -> Result<Self, StoreError> {
        let offset = store.clock_offset_ms()?;
        Ok(Self {
            store,
            fixed_base: None,
            offset_ms: AtomicI64::new(offset),
        })
    }

    /// A frozen clock: `base` plus the store's offset (time only moves when advanced).
    pub fn fixed(store: Arc<dyn ExecutionStore>, base: DateTime<Utc>) -> Result<Self, StoreError> {
        let offset = store.clock_offset_ms()?;
        Ok(Self {
            store,
            fixed_base: Some(base),
            offset_ms: AtomicI64::new(offset),
        })
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let base = self.fixed_base.unwrap_or_else(Utc::now);
        base + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    fn advance(&self, by: Duration) -> Result<bool, StoreError> {
        let ms = by.num_milliseconds().max(0);
        let new = self.store.add_clock_offset_ms(ms)?;
        self.offset_ms.store(new, Ordering::SeqCst);
        Ok(true)
    }

    fn refresh(&self) -> Result<(), StoreError> {
        let v = self.store.clock_offset_ms()?;
        self.offset_ms.store(v, Ordering::SeqCst);
        Ok(())
    }

    fn is_virtual(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::MemoryExecutionStore;

    #[test]
    fn virtual_clock_is_shared_through_the_store() {
        let store: Arc<dyn ExecutionStore> = Arc::new(MemoryExecutionStore::new());
        let base = Utc::now();
        let a = VirtualClock::fixed(store.clone(), base).unwrap();
        let b = VirtualClock::fixed(store.clone(), base).unwrap();
        assert_eq!(a.now(), base);
        assert!(a.advance(Duration::hours(1)).unwrap());
        assert_eq!(a.now(), base + Duration::hours(1));
        assert_eq!(b.now(), base);
        b.refresh().unwrap();
        assert_eq!(b.now(), base + Duration::hours(1));
        assert!(!SystemClock.advance(Duration::hours(1)).unwrap());
    }
}
