//! Injected time and identifiers, so tests are deterministic.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        // Every reading moves a microsecond forward, so rows created in a row keep their order.
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += time::Duration::microseconds(1);
        *t
    }
}

pub trait IdGen: Send + Sync {
    fn next_uuid(&self) -> uuid::Uuid;
}

/// Random version-4 UUIDs.
pub struct RandomIds;

impl IdGen for RandomIds {
    fn next_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }
}

/// Counting UUIDs (`00000000-0000-0000-0000-000000000001`, ...), for tests.
#[derive(Default)]
pub struct FixedIds(AtomicU64);

impl IdGen for FixedIds {
    fn next_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}
