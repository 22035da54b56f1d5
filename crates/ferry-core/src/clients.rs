//! Clients (tenants) and authentication of their API keys.

use std::collections::HashMap;
use std::sync::RwLock;

use ferry_domain::{Client, ClientId};
use ferry_store::ClientRecord;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::secrets::ApiKey;
use crate::{Error, Result, Service, validate};

/// How long a verified key hash is trusted without asking the database again. A key rotated by
/// another process stops working within this time.
const AUTH_CACHE_TTL: Duration = Duration::seconds(5);

#[derive(Default)]
pub(crate) struct AuthCache(RwLock<HashMap<ClientId, (String, Client, OffsetDateTime)>>);

impl Service {
    /// Creates a client; the returned key is shown once and only its hash is kept.
    pub async fn create_client(&self, name: &str) -> Result<(Client, ApiKey)> {
        validate::text("name", name, 255)?;
        if name.trim().is_empty() {
            return Err(Error::bad_request("name must not be empty"));
        }
        let client = Client { id: ClientId::from_uuid(self.uuid()), name: name.to_owned(), created_at: self.now() };
        let key = ApiKey::generate();
        self.db()
            .insert_client(&ClientRecord { client: client.clone(), api_key_hash: ApiKey::hash(key.expose()) })
            .await?;
        Ok((client, key))
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        Ok(self.db().list_clients().await?)
    }

    pub async fn count_clients(&self) -> Result<i64> {
        Ok(self.db().count_clients().await?)
    }

    /// Replaces a client's API key; the old one stops working at once in this process.
    pub async fn rotate_client_key(&self, id: &str) -> Result<ApiKey> {
        let id = ClientId::parse(id).map_err(|_| Error::NotFound("client"))?;
        let key = ApiKey::generate();
        if !self.db().set_client_key(&id, &ApiKey::hash(key.expose()), self.now()).await? {
            return Err(Error::NotFound("client"));
        }
        self.write_cache().remove(&id);
        Ok(key)
    }

    /// Checks HTTP Basic credentials.
    pub async fn authenticate(&self, client_id: &str, api_key: &str) -> Result<Client> {
        let id = ClientId::parse(client_id).map_err(|_| Error::Unauthorized)?;
        let presented = ApiKey::hash(api_key);
        let now = self.now();
        if let Some((hash, client, at)) = self.read_cache().get(&id) {
            // A mismatch falls through to the database: the key may have been rotated by
            // another process.
            if now - *at < AUTH_CACHE_TTL && bool::from(hash.as_bytes().ct_eq(presented.as_bytes())) {
                return Ok(client.clone());
            }
        }
        let record = self.db().get_client(&id).await?.ok_or(Error::Unauthorized)?;
        self.write_cache().insert(id, (record.api_key_hash.clone(), record.client.clone(), now));
        if bool::from(record.api_key_hash.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(record.client)
        } else {
            Err(Error::Unauthorized)
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ClientId, (String, Client, OffsetDateTime)>> {
        self.inner.auth_cache.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ClientId, (String, Client, OffsetDateTime)>> {
        self.inner.auth_cache.0.write().unwrap_or_else(|e| e.into_inner())
    }
}
