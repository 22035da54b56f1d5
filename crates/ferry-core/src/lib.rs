//! Ferry's use cases. [`Service`] is the one door the HTTP dialects and the CLI go through: it
//! validates input, applies MX's rules, seals credentials and talks to the store.

mod clients;
mod clock;
mod error;
mod institutions;
mod members;
pub mod secrets;
mod users;
mod validate;

use std::sync::Arc;

pub use clock::{Clock, FixedIds, IdGen, ManualClock, RandomIds, SystemClock};
pub use error::{Error, Result};
pub use ferry_store::{Db, InstitutionFilter, UserFilter};
pub use institutions::InstitutionRef;
pub use members::{CALLBACK_PAYLOAD_MAX, CreatedMember, MemberPatch, MemberRef, check_callback_payload};
pub use secrets::{ApiKey, Keyring, MasterKey};
pub use users::UserRef;

/// The application: database, secrets, clock and id source, shared by every request.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    auth_cache: clients::AuthCache,
    catalog: institutions::CatalogCache,
}

impl Service {
    pub fn new(db: Db, keyring: Keyring, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keyring,
                clock,
                ids,
                auth_cache: clients::AuthCache::default(),
                catalog: Default::default(),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    fn uuid(&self) -> uuid::Uuid {
        self.inner.ids.next_uuid()
    }
}
