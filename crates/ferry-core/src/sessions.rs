//! Per-user sessions (the Nexus dialect): a client obtains a one-time API token for one of its
//! users (10 minutes), exchanges it for a session token, and the session lives 30 minutes past
//! its last call. Tokens are 256 random bits; only their SHA-256 hashes are stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_domain::{Client, ClientId, User, UserGuid};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::{Error, Result, Service, UserRef};

const API_TOKEN_TTL: Duration = Duration::minutes(10);
const SESSION_TTL: Duration = Duration::minutes(30);

fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Service {
    /// `POST /users/{user}/api_token`: a one-time token for `user`, valid 10 minutes.
    pub async fn create_api_token(&self, client: &Client, user: &UserRef) -> Result<String> {
        let u = self.get_user(client, user).await?;
        let token = new_token();
        self.db().insert_api_token(&hash(&token), &client.id, &u.guid, self.now() + API_TOKEN_TTL).await?;
        Ok(token)
    }

    /// `POST /sessions` with `MD-API-TOKEN`: a session token; an unknown, used or expired API
    /// token is unauthorized.
    pub async fn open_session(&self, api_token: &str) -> Result<String> {
        let session = new_token();
        let now = self.now();
        match self.db().open_session(&hash(api_token), &hash(&session), now, now + SESSION_TTL).await? {
            Some(_) => Ok(session),
            None => Err(Error::Unauthorized),
        }
    }

    /// The client and user of a live session, renewing it for 30 minutes.
    pub async fn session(&self, token: &str) -> Result<(Client, User)> {
        let now = self.now();
        let Some((client_id, user_guid)) = self.db().touch_session(&hash(token), now, now + SESSION_TTL).await? else {
            return Err(Error::Unauthorized);
        };
        let client_id = ClientId::parse(&client_id).map_err(|_| Error::Unauthorized)?;
        let record = self.db().get_client(&client_id).await?.ok_or(Error::Unauthorized)?;
        let user_guid = UserGuid::parse(&user_guid).map_err(|_| Error::Unauthorized)?;
        let user = self.get_user(&record.client, &UserRef::Guid(user_guid)).await.map_err(|e| match e {
            Error::NotFound(_) => Error::Unauthorized,
            other => other,
        })?;
        Ok((record.client, user))
    }
}
