//! The server faces: other apps read a user's data from Ferry over SimpleFIN (setup tokens,
//! access URLs) or OFX Direct Connect (a sign-on per user). This module holds their use cases
//! and the dialect-neutral view of a user's data ([`FaceView`]) both render; `ferry-api` owns
//! the wire formats.

use std::collections::{HashMap, HashSet};

use ferry_domain::{
    Account, Client, ClientId, Institution, InstitutionGuid, Page, PageRequest, Record, RecordKind, Transaction,
    UserGuid,
};
use ferry_store::{NewSimplefinAccess, RecordScope, SimplefinAccess, TransactionScope};
use subtle::ConstantTimeEq;
use time::{Date, Duration, OffsetDateTime};

use crate::secrets::ApiKey;
use crate::{Error, Result, Service, UserRef};

/// How long a SimpleFIN setup token can be claimed.
pub const SETUP_TOKEN_TTL: Duration = Duration::hours(24);
/// Wrong OFX passwords in a row that lock a sign-on.
pub const OFX_LOCK_AFTER: i64 = 5;
/// How long a locked OFX sign-on stays locked (a new password unlocks it at once).
pub const OFX_LOCK_FOR: Duration = Duration::minutes(30);
/// How often an access URL's `last_used_at` is written, at most (not on every read).
const TOUCH_EVERY: Duration = Duration::minutes(5);
/// Transactions per page when reading a history for a face.
const EXPORT_PAGE: i64 = 2000;

/// A setup token: the base64 of its claim URL, shown once.
#[derive(Clone)]
pub struct SetupToken {
    pub setup_token: String,
    pub claim_url: String,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for SetupToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// What an OFX sign-on came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfxSignon {
    /// The user whose data the session reads.
    User(ClientId, UserGuid),
    /// Unknown USERID or wrong password (OFX 15500).
    Invalid,
    /// Too many wrong passwords (OFX 15502).
    Locked,
    /// Too many sign-ons are being checked at once: try again shortly (HTTP 503).
    Busy,
}

/// Which of a user's data a face asks for.
#[derive(Debug, Clone, Default)]
pub struct FaceQuery {
    /// Transactions at or after this instant.
    pub start: Option<OffsetDateTime>,
    /// Transactions before this instant (exclusive).
    pub end: Option<OffsetDateTime>,
    /// Include pending transactions.
    pub pending: bool,
    /// Only these accounts (by guid); all when empty.
    pub accounts: Vec<String>,
    /// No transactions.
    pub balances_only: bool,
}

/// One account as a face shows it.
#[derive(Debug, Clone)]
pub struct FaceAccount {
    pub account: Account,
    pub institution: Option<Institution>,
    /// Newest first.
    pub transactions: Vec<Transaction>,
    pub holdings: Vec<Record>,
}

/// A user's data as the faces show it.
#[derive(Debug, Clone)]
pub struct FaceView {
    pub accounts: Vec<FaceAccount>,
    /// The institutions (names) of the user's members that need the user to act.
    pub attention: Vec<String>,
}

/// The instant a face files a transaction under: when it posted, or (pending) when it was
/// made; noon UTC of its date when the institution gave no time (noon, so the date stays the
/// same wherever between UTC-12 and UTC+11 an app shows it).
pub fn face_time(t: &Transaction) -> OffsetDateTime {
    let noon = t.date.with_time(time::Time::MIDNIGHT).assume_utc() + Duration::hours(12);
    if t.is_pending { t.transacted_at.or(t.posted_at) } else { t.posted_at.or(t.transacted_at) }.unwrap_or(noon)
}

impl Service {
    /// Issues a one-time SimpleFIN setup token for a user of the client.
    pub async fn issue_simplefin_token(&self, client: &Client, user: &UserRef) -> Result<SetupToken> {
        let user = self.get_user(client, user).await?;
        let secret = ApiKey::generate();
        let now = self.now();
        // Whole seconds: the instant is shown to people and parsed by strict clients.
        let expires_at = (now + SETUP_TOKEN_TTL).replace_nanosecond(0).unwrap_or(now + SETUP_TOKEN_TTL);
        self.db()
            .insert_simplefin_token(&ApiKey::hash(secret.expose()), &client.id, &user.guid, now, expires_at)
            .await?;
        let claim_url = format!("{}/simplefin/claim/{}", self.public_url(), secret.expose());
        use base64::Engine;
        let setup_token = base64::engine::general_purpose::STANDARD.encode(claim_url.as_bytes());
        Ok(SetupToken { setup_token, claim_url, expires_at })
    }

    /// Claims a setup token: the access URL, once. `None` for a token that is unknown,
    /// already claimed or expired (all answered alike, 403).
    pub async fn claim_simplefin_token(&self, token: &str) -> Result<Option<String>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let secret = ApiKey::generate();
        let mut username_bytes = [0u8; 10];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut username_bytes);
        let username = format!("sf{}", hex::encode(username_bytes));
        let guid = format!("SFA-{}", self.uuid());
        // The URL first: a token is never spent on an access URL that cannot be written.
        let mut url = url::Url::parse(&format!("{}/simplefin", self.public_url()))
            .map_err(|_| Error::Internal("the public URL is not a URL".into()))?;
        url.set_username(&username)
            .and_then(|()| url.set_password(Some(secret.expose())))
            .map_err(|()| Error::Internal("the public URL cannot carry credentials".into()))?;
        let access =
            NewSimplefinAccess { guid: &guid, username: &username, secret_hash: &ApiKey::hash(secret.expose()) };
        let claimed = self.db().claim_simplefin_token(&ApiKey::hash(token), self.now(), &access).await?;
        Ok(claimed.map(|_| url.to_string()))
    }

    /// The user an access URL's credentials read, or `None` (403): unknown, wrong secret or
    /// revoked.
    pub async fn simplefin_user(&self, username: &str, secret: &str) -> Result<Option<(ClientId, UserGuid)>> {
        if username.is_empty() || username.len() > 64 {
            return Ok(None);
        }
        let Some(c) = self.db().simplefin_credentials(username).await? else { return Ok(None) };
        let presented = ApiKey::hash(secret);
        if !bool::from(presented.as_bytes().ct_eq(c.secret_hash.as_bytes())) || c.revoked {
            return Ok(None);
        }
        let now = self.now();
        if c.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
            self.db().touch_simplefin_access(&c.guid, now).await?;
        }
        Ok(Some((c.client_id, c.user_guid)))
    }

    /// A client's SimpleFIN access URLs (never their secrets), one user's when given.
    pub async fn list_simplefin_access(&self, client: &Client, user: Option<&UserRef>) -> Result<Vec<SimplefinAccess>> {
        let user = match user {
            Some(u) => Some(self.get_user(client, u).await?.guid),
            None => None,
        };
        Ok(self.db().list_simplefin_access(&client.id, user.as_ref()).await?)
    }

    /// Revokes an access URL: it gets 403 from then on.
    pub async fn revoke_simplefin_access(&self, client: &Client, guid: &str) -> Result<()> {
        if !self.db().revoke_simplefin_access(&client.id, guid, self.now()).await? {
            return Err(Error::NotFound("SimpleFIN access"));
        }
        Ok(())
    }

    /// Sets a user's OFX password (8 to 32 characters) and answers the USERID to sign on
    /// with: the user's partner id when it fits OFX (32 characters at most), else the login
    /// the user already has, else a new short one.
    pub async fn set_ofx_password(&self, client: &Client, user: &UserRef, password: &str) -> Result<String> {
        let chars = password.chars().count();
        if !(8..=32).contains(&chars) || password.chars().any(char::is_control) {
            return Err(Error::Invalid {
                field: "password",
                at: String::new(),
                problem: "must be 8 to 32 characters, none of them control characters".into(),
            });
        }
        let user = self.get_user(client, user).await?;
        let hash = hash_password(password.to_owned()).await?;
        let existing = self.db().ofx_login_of_user(&client.id, &user.guid).await?.map(|l| l.login);
        let mut candidates: Vec<String> = Vec::new();
        if let Some(id) = user.id.as_deref().filter(|id| fits_ofx_login(id)) {
            candidates.push(id.to_owned());
        }
        candidates.extend(existing);
        for _ in 0..4 {
            candidates.push(new_login());
        }
        for login in candidates {
            match self.db().set_ofx_login(&client.id, &user.guid, &login, &hash, self.now()).await {
                Ok(()) => return Ok(login),
                // Another user (of any client) signs on with it: try the next.
                Err(ferry_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Internal("no free OFX login".into()))
    }

    /// The USERID of a user's OFX sign-on, if a password was set.
    pub async fn ofx_login_of(&self, client: &Client, user: &UserRef) -> Result<Option<String>> {
        let user = self.get_user(client, user).await?;
        Ok(self.db().ofx_login_of_user(&client.id, &user.guid).await?.map(|l| l.login))
    }

    /// Checks an OFX sign-on. The attempt is counted before the password is checked (see
    /// [`ferry_store::Db::reserve_ofx_attempt`]); an unknown USERID costs the same time as a
    /// wrong password; at most a few password checks run at once ([`OfxSignon::Busy`] beyond).
    pub async fn ofx_signon(&self, login: &str, password: &str) -> Result<OfxSignon> {
        let Some(_permit) = argon2_permit().await else { return Ok(OfxSignon::Busy) };
        let now = self.now();
        let reserved = if fits_ofx_login(login) {
            self.db().reserve_ofx_attempt(login, now, OFX_LOCK_AFTER, now + OFX_LOCK_FOR).await?
        } else {
            Err(false)
        };
        let found = match reserved {
            Ok(found) => found,
            Err(true) => return Ok(OfxSignon::Locked),
            Err(false) => {
                verify_against_nothing(password.to_owned()).await;
                return Ok(OfxSignon::Invalid);
            }
        };
        if !verify_password(password.to_owned(), found.password_hash.clone()).await? {
            // This attempt was the one that locked it.
            return Ok(if found.locked_until.is_some() { OfxSignon::Locked } else { OfxSignon::Invalid });
        }
        self.db().clear_ofx_failures(&found.user_guid).await?;
        Ok(OfxSignon::User(found.client_id, found.user_guid))
    }

    /// A user's accounts, with their transactions within the query's window, holdings and
    /// institutions, and the members that need the user. The caller authenticated the user
    /// as the client's (an access URL or an OFX sign-on).
    pub async fn face_view(&self, client: &ClientId, user: &UserGuid, q: &FaceQuery) -> Result<FaceView> {
        if let (Some(s), Some(e)) = (q.start, q.end)
            && s > e
        {
            return Err(Error::bad_request("the start date must not be after the end date"));
        }
        let accounts: Vec<Account> = all_pages(|page| self.db().list_accounts(client, user, None, None, page))
            .await?
            .into_iter()
            .filter(|a| q.accounts.is_empty() || q.accounts.iter().any(|id| id == a.guid.as_str()))
            .collect();
        let no_filter = ferry_store::MemberFilter::default();
        let members = all_pages(|page| self.db().list_members(client, user, &no_filter, page)).await?;
        let mut institutions: HashMap<InstitutionGuid, Option<Institution>> = HashMap::new();
        for m in &members {
            if !institutions.contains_key(&m.institution_guid) {
                let i = self.db().get_institution(&m.institution_guid).await?;
                institutions.insert(m.institution_guid.clone(), i);
            }
        }
        let institution_of_member: HashMap<_, _> = members
            .iter()
            .map(|m| (m.guid.clone(), institutions.get(&m.institution_guid).cloned().flatten()))
            .collect();
        let mut attention: Vec<String> = Vec::new();
        for m in members.iter().filter(|m| m.connection_status.needs_user()) {
            let name = institution_of_member.get(&m.guid).cloned().flatten().map(|i| i.name).unwrap_or(m.name.clone());
            if !attention.contains(&name) {
                attention.push(name);
            }
        }
        let wanted: HashSet<&str> = accounts.iter().map(|a| a.guid.as_str()).collect();
        let mut by_account: HashMap<String, Vec<Transaction>> = HashMap::new();
        if !q.balances_only && !wanted.is_empty() {
            for t in self.face_transactions(user, q).await? {
                if wanted.contains(t.account_guid.as_str()) {
                    by_account.entry(t.account_guid.as_str().to_owned()).or_default().push(t);
                }
            }
        }
        let mut holdings: HashMap<String, Vec<Record>> = HashMap::new();
        let records =
            all_pages(|page| self.db().list_records(client, user, RecordKind::Holding, &RecordScope::User, page))
                .await?;
        for r in records {
            holdings.entry(r.account_guid.as_str().to_owned()).or_default().push(r);
        }
        let accounts = accounts
            .into_iter()
            .map(|a| FaceAccount {
                institution: institution_of_member.get(&a.member_guid).cloned().flatten(),
                transactions: by_account.remove(a.guid.as_str()).unwrap_or_default(),
                holdings: holdings.remove(a.guid.as_str()).unwrap_or_default(),
                account: a,
            })
            .collect();
        Ok(FaceView { accounts, attention })
    }

    /// The user's transactions within the query's window (pending ones only when asked),
    /// newest first, read in keyset pages; one account's when the query names exactly one
    /// (the store checks it is the user's). Only the transactions: a face that already holds
    /// the accounts (an OFX statement) reads no more than it needs.
    pub async fn face_transactions(&self, user: &UserGuid, q: &FaceQuery) -> Result<Vec<Transaction>> {
        // The store filters by date; a transaction's instant may fall a day or so either side
        // of its date, so read with slack and filter exactly here.
        let slack = Duration::days(7);
        let earliest = Date::from_calendar_date(1900, time::Month::January, 1).unwrap_or(Date::MIN);
        let latest = Date::from_calendar_date(9999, time::Month::December, 31).unwrap_or(Date::MAX);
        let from = q.start.map_or(earliest, |s| s.date().checked_sub(slack).unwrap_or(earliest).max(earliest));
        let to = q.end.map_or(latest, |e| e.date().checked_add(slack).unwrap_or(latest).min(latest));
        // One account (an OFX statement) reads through that account's index.
        let scope = match q.accounts.as_slice() {
            [one] => match ferry_domain::AccountGuid::parse(one) {
                Ok(a) => TransactionScope::Account(a),
                Err(_) => return Ok(Vec::new()),
            },
            _ => TransactionScope::User,
        };
        let mut out = Vec::new();
        let mut after: Option<(Date, ferry_domain::TransactionGuid)> = None;
        loop {
            let page = self
                .db()
                .export_transactions(user, &scope, from, to, after.as_ref().map(|(d, g)| (*d, g)), EXPORT_PAGE)
                .await?;
            let full = page.len() as i64 == EXPORT_PAGE;
            after = page.last().map(|t| (t.date, t.guid.clone()));
            out.extend(page.into_iter().filter(|t| {
                let at = face_time(t);
                (q.pending || !t.is_pending) && q.start.is_none_or(|s| at >= s) && q.end.is_none_or(|e| at < e)
            }));
            if !full {
                return Ok(out);
            }
        }
    }

    /// The service clock's time (the faces stamp their answers with it).
    pub fn clock_now(&self) -> OffsetDateTime {
        self.now()
    }
}

/// Every page of a listing.
async fn all_pages<T, F, Fut>(mut list: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = ferry_store::Result<Page<T>>>,
{
    let mut out = Vec::new();
    for n in 1.. {
        let page = list(PageRequest { page: n, per_page: PageRequest::MAX_PER_PAGE }).await?;
        let got = page.items.len();
        out.extend(page.items);
        if got < PageRequest::MAX_PER_PAGE as usize {
            break;
        }
    }
    Ok(out)
}

/// An OFX USERID Ferry accepts: 1 to 32 printable ASCII characters without spaces or markup.
fn fits_ofx_login(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic() && !b"<>&".contains(&b))
}

/// A new login: `ferry-` and eight lowercase letters and digits.
fn new_login() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let tail: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("ferry-{tail}")
}

/// How many password checks may run at once (each holds 19 MiB for tens of milliseconds),
/// and how long a sign-on waits for a turn before it is answered "busy".
const ARGON2_AT_ONCE: usize = 4;
const ARGON2_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A turn at checking a password: a flood of sign-ons queues briefly, then is turned away,
/// instead of taking every blocking thread and gigabytes of memory.
async fn argon2_permit() -> Option<tokio::sync::SemaphorePermit<'static>> {
    static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ARGON2_AT_ONCE);
    tokio::time::timeout(ARGON2_WAIT, TURNS.acquire()).await.ok()?.ok()
}

/// Argon2id with its default cost.
fn hash_sync(password: &str) -> Option<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).ok()
}

fn verify_sync(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Hashes off the async threads (it takes tens of milliseconds on purpose).
async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_sync(&password))
        .await
        .map_err(|_| Error::Internal("password hashing stopped".into()))?
        .ok_or_else(|| Error::Internal("password hashing failed".into()))
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || verify_sync(&password, &hash))
        .await
        .map_err(|_| Error::Internal("password check stopped".into()))
}

/// Spends the time of a password check on an unknown USERID, so the answer's timing does not
/// tell unknown users from wrong passwords.
async fn verify_against_nothing(password: String) {
    static NOTHING: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let _ = tokio::task::spawn_blocking(move || {
        let hash = NOTHING.get_or_init(|| hash_sync(&hex::encode(uuid::Uuid::new_v4().as_bytes())));
        hash.as_deref().is_some_and(|h| verify_sync(&password, h))
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_fit_ofx() {
        assert!(fits_ofx_login("alice"));
        assert!(fits_ofx_login(&"a".repeat(32)));
        assert!(!fits_ofx_login(&"a".repeat(33)));
        assert!(!fits_ofx_login("has space"));
        assert!(!fits_ofx_login("<x>"));
        assert!(!fits_ofx_login(""));
        let l = new_login();
        assert!(fits_ofx_login(&l) && l.starts_with("ferry-") && l.len() == 14, "{l}");
    }

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), h.clone()).await.unwrap());
        assert!(!verify_password("wrong horse".into(), h).await.unwrap());
        assert!(!verify_password("x".into(), "not a hash".into()).await.unwrap());
    }
}
