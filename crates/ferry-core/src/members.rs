//! Members: a user's connection to one institution. Credentials are checked against the
//! institution's fields, sealed before they reach the store, and fingerprinted so that the
//! database itself refuses a duplicate member.

use ferry_domain::{
    Client, ConnectionStatus, CredentialGuid, Institution, InstitutionCredential, Member, MemberGuid, NewMember, Page,
    PageRequest, Secret, SubmittedCredential, UseCase, User,
};
use ferry_store::{CredentialChange, MemberChanges, MemberFilter, MemberUpdate, SealedCredentials, StoreError};
use serde::{Deserialize, Serialize};

use crate::institutions::InstitutionRef;
use crate::validate::{self, ID_MAX, METADATA_MAX};
use crate::webhooks::check_callback_payload;
use crate::{Error, MemberRef, Result, Service, UserRef};

/// The fingerprint of every OAuth member: the duplicate guard then allows one OAuth member per
/// user and institution.
const OAUTH_FINGERPRINT: &str = "oauth";

/// A new member, and whether the caller asked for aggregation (which decides 202 over 200).
#[derive(Debug, Clone)]
pub struct CreatedMember {
    pub member: Member,
    pub aggregation_requested: bool,
}

/// The fields of a member update; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    pub credentials: Option<Vec<SubmittedCredential>>,
    pub id: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
    pub background_aggregation_is_disabled: Option<bool>,
    pub use_cases: Option<Vec<UseCase>>,
    pub skip_aggregation: Option<bool>,
    pub callback_payload: Option<String>,
    /// `MX-Skip-Webhook`: no MEMBER updated webhook for this request.
    pub skip_webhook: bool,
}

impl MemberPatch {
    pub fn is_empty(&self) -> bool {
        self.credentials.is_none()
            && self.id.is_none()
            && self.metadata.is_none()
            && self.background_aggregation_is_disabled.is_none()
            && self.use_cases.is_none()
            && self.skip_aggregation.is_none()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredCredential {
    pub(crate) guid: String,
    pub(crate) value: String,
}

/// The first job of a new member: a verification when `data_request.products` asks for account
/// verification alone (MX's verification mode), else an aggregation.
pub(crate) fn first_job_for(products: &[ferry_domain::Product]) -> ferry_domain::JobType {
    if products == [ferry_domain::Product::AccountVerification] {
        ferry_domain::JobType::Verification
    } else {
        ferry_domain::JobType::Aggregation
    }
}

impl Service {
    pub async fn create_member(&self, client: &Client, user: &UserRef, new: NewMember) -> Result<CreatedMember> {
        let first = first_job_for(&new.products);
        self.create_member_with_job(client, user, new, first).await
    }

    /// Creates a member whose first job (unless `skip_aggregation`, or OAuth, which waits for
    /// the user) is `first_job`: the Connect widget's verification mode starts with a
    /// verification.
    pub async fn create_member_with_job(
        &self,
        client: &Client,
        user: &UserRef,
        new: NewMember,
        first_job: ferry_domain::JobType,
    ) -> Result<CreatedMember> {
        let user = self.get_user(client, user).await?;
        if let Some(id) = &new.id {
            validate::partner_id("member.id", id, MemberGuid::PREFIX)?;
        }
        validate::opt_text("member.metadata", new.metadata.as_deref(), METADATA_MAX)?;
        validate::opt_text("client_redirect_url", new.client_redirect_url.as_deref(), 2048)?;
        validate::opt_text("referral_source", new.referral_source.as_deref(), 16)?;
        validate::opt_text("ui_message_webview_url_scheme", new.ui_message_webview_url_scheme.as_deref(), 255)?;
        if let Some(p) = &new.callback_payload {
            check_callback_payload(p)?;
        }
        if let Some(r) = &new.referral_source
            && r != "APP"
            && r != "BROWSER"
        {
            return Err(Error::bad_request("referral_source must be APP or BROWSER"));
        }
        if new.institution.is_empty() {
            return Err(Error::invalid("member.institution", "is required"));
        }
        // An unknown code in the body is a bad request (404 is for paths).
        let entry = match self.catalog_entry(&InstitutionRef::code_or_guid(&new.institution)).await {
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid(
                    "member.institution",
                    format!(
                        "`{}` does not name an institution; see the list of institutions",
                        new.institution.chars().take(80).collect::<String>()
                    ),
                ));
            }
            other => other?,
        };
        let (institution, fields) = (&entry.0, entry.1.as_slice());
        if institution.connector == crate::institutions::MANUAL_CONNECTOR {
            return Err(Error::bad_request(
                "manual accounts are created with POST /users/{user_guid}/accounts, not as members",
            ));
        }
        for p in &new.products {
            if !institution.supports(*p) {
                return Err(Error::bad_request(format!(
                    "data_request.products: institution `{}` does not support `{}`",
                    institution.code,
                    p.as_str()
                )));
            }
        }

        let guid = MemberGuid::from_uuid(self.uuid());
        let (status, credential_guids, sealed) = if new.is_oauth {
            if !institution.supports_oauth {
                return Err(Error::bad_request(format!(
                    "institution `{}` does not support OAuth; is_oauth must be false",
                    institution.code
                )));
            }
            if !new.credentials.is_empty() {
                return Err(Error::invalid("member.credentials", "must be empty when is_oauth is true"));
            }
            if self.db().get_oauth_provider(&institution.guid).await?.is_none() {
                return Err(Error::bad_request(format!(
                    "institution `{}` has no OAuth provider configured on this server",
                    institution.code
                )));
            }
            let sealed = SealedCredentials {
                key_id: String::new(),
                sealed: String::new(),
                fingerprint: OAUTH_FINGERPRINT.into(),
            };
            (ConnectionStatus::PENDING, Vec::new(), sealed)
        } else {
            if fields.is_empty() && institution.supports_oauth {
                return Err(Error::bad_request(format!(
                    "institution `{}` connects only through OAuth; create the member with is_oauth: true",
                    institution.code
                )));
            }
            let values = check_credentials(institution, fields, &new.credentials, &[])?;
            self.refuse_duplicate_under_previous_keys(&user, institution, &values, None).await?;
            let sealed = self.seal_credentials(&guid, &user, institution, &values);
            (ConnectionStatus::CREATED, values.iter().map(|(f, _)| f.guid.clone()).collect(), sealed)
        };

        let now = self.now();
        let member = Member {
            guid,
            client_id: client.id.clone(),
            user_guid: user.guid.clone(),
            user_id: user.id.clone(),
            id: new.id,
            institution_guid: institution.guid.clone(),
            institution_code: institution.code.clone(),
            name: institution.name.clone(),
            metadata: new.metadata,
            connection_status: status,
            connection_status_message: status.message().map(str::to_owned),
            is_oauth: new.is_oauth,
            oauth_window_uri: None,
            is_being_aggregated: false,
            is_authenticated: false,
            has_processed_accounts: false,
            has_processed_transactions: false,
            has_processed_account_numbers: false,
            aggregated_at: None,
            successfully_aggregated_at: None,
            background_aggregation_is_disabled: new.background_aggregation_is_disabled,
            needs_updated_credentials: false,
            use_cases: new.use_cases,
            products: new.products,
            most_recent_job_guid: None,
            most_recent_job_detail_code: None,
            client_redirect_url: new.client_redirect_url,
            enable_app2app: new.enable_app2app,
            referral_source: new.referral_source,
            ui_message_webview_url_scheme: new.ui_message_webview_url_scheme,
            callback_payload: new.callback_payload,
            credential_guids,
            created_at: now,
            updated_at: now,
        };
        let events = if new.skip_webhook {
            Vec::new()
        } else {
            vec![self.member_event(&member, "created", member.callback_payload.clone())]
        };
        // The member and its first job go in together: a crash cannot leave a member that
        // never aggregates.
        let mut member = member;
        let aggregation_requested = !new.skip_aggregation && !member.is_oauth;
        let first_job = aggregation_requested.then(|| {
            let job = self.new_job(&member, first_job, false, member.callback_payload.clone());
            member.is_being_aggregated = true;
            member.most_recent_job_guid = Some(job.guid.clone());
            job
        });
        match self.db().insert_member(&member, &sealed, first_job.as_ref(), &events).await {
            Ok(()) => {
                self.events_written();
                if first_job.is_some() {
                    self.inner.work.notify_one();
                }
                if member.is_oauth {
                    let opts = crate::oauth::WindowOptions {
                        client_redirect_url: member.client_redirect_url.clone(),
                        referral_source: member.referral_source.clone(),
                        ui_message_webview_url_scheme: member.ui_message_webview_url_scheme.clone(),
                        enable_app2app: member.enable_app2app,
                        skip_aggregation: new.skip_aggregation,
                    };
                    self.issue_window(&mut member, &opts).await?;
                }
                Ok(CreatedMember { aggregation_requested, member })
            }
            Err(StoreError::Conflict(_)) => {
                Err(self.member_conflict(client, &user, institution, &sealed.fingerprint, member.id.as_deref()).await?)
            }
            // The user was deleted between the read and the insert.
            Err(StoreError::MissingParent(_)) => Err(Error::NotFound("user")),
            Err(e) => Err(e.into()),
        }
    }

    /// Explains a refused member write: a duplicate of an existing member (named by guid), or
    /// a partner id already in use.
    async fn member_conflict(
        &self,
        client: &Client,
        user: &User,
        institution: &Institution,
        fingerprint: &str,
        id: Option<&str>,
    ) -> Result<Error> {
        if let Some(existing) = self.db().find_member_by_fingerprint(&user.guid, &institution.guid, fingerprint).await?
        {
            let message = if fingerprint == OAUTH_FINGERPRINT {
                format!("the user already has an OAuth member for institution `{}`", institution.code)
            } else {
                duplicate_message(institution)
            };
            return Ok(Error::Conflict { message, guid: Some(existing.into_string()) });
        }
        let existing = match id {
            Some(id) => self.db().get_member_by_id(&client.id, &user.guid, id).await?.map(|m| m.guid.into_string()),
            None => None,
        };
        Ok(Error::Conflict {
            message: format!("a member with id `{}` already exists", id.unwrap_or_default()),
            guid: existing,
        })
    }

    fn seal_credentials(
        &self,
        member: &MemberGuid,
        user: &User,
        institution: &Institution,
        values: &[(InstitutionCredential, Secret)],
    ) -> SealedCredentials {
        let stored: Vec<StoredCredential> = values
            .iter()
            .map(|(f, v)| StoredCredential { guid: f.guid.to_string(), value: v.expose().to_owned() })
            .collect();
        let plaintext = serde_json::to_vec(&stored).unwrap_or_default();
        let keyring = &self.inner.keyring;
        let (key_id, sealed) = keyring.seal(member.as_str().as_bytes(), &plaintext);
        let parts = fingerprint_parts(user.guid.as_str(), institution.guid.as_str(), values);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        SealedCredentials { key_id, sealed, fingerprint: keyring.fingerprint(&refs) }
    }

    /// While a key rotation is under way (previous keys configured), members not yet rotated
    /// carry fingerprints made with an old key, which the unique index cannot match against a
    /// new one: they are looked up here under every previous key. `except`: the member whose
    /// credentials these are.
    async fn refuse_duplicate_under_previous_keys(
        &self,
        user: &User,
        institution: &Institution,
        values: &[(InstitutionCredential, Secret)],
        except: Option<&MemberGuid>,
    ) -> Result<()> {
        let keyring = &self.inner.keyring;
        if !keyring.has_previous() {
            return Ok(());
        }
        let parts = fingerprint_parts(user.guid.as_str(), institution.guid.as_str(), values);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        for fingerprint in keyring.previous_fingerprints(&refs) {
            if let Some(existing) =
                self.db().find_member_by_fingerprint(&user.guid, &institution.guid, &fingerprint).await?
                && Some(&existing) != except
            {
                return Err(Error::Conflict {
                    message: duplicate_message(institution),
                    guid: Some(existing.into_string()),
                });
            }
        }
        Ok(())
    }

    /// Opens a member's stored credentials (for connectors and for merging updates).
    pub(crate) async fn open_credentials(&self, member: &Member) -> Result<Vec<(CredentialGuid, Secret)>> {
        let Some(sealed) = self.db().get_member_credentials(&member.guid).await? else {
            return Ok(Vec::new());
        };
        if sealed.sealed.is_empty() {
            return Ok(Vec::new());
        }
        let plain = self
            .inner
            .keyring
            .open(&sealed.key_id, &sealed.sealed, member.guid.as_str().as_bytes())
            .map_err(|e| Error::Internal(format!("member {}: {e}", member.guid)))?;
        let stored: Vec<StoredCredential> = serde_json::from_slice(&plain)
            .map_err(|_| Error::Internal(format!("member {}: sealed credentials are malformed", member.guid)))?;
        stored
            .into_iter()
            .map(|c| match CredentialGuid::parse(&c.guid) {
                Ok(g) => Ok((g, Secret::new(c.value))),
                Err(_) => {
                    Err(Error::Internal(format!("member {}: a sealed credential has a malformed guid", member.guid)))
                }
            })
            .collect()
    }

    pub async fn get_member(&self, client: &Client, user: &UserRef, member: &MemberRef) -> Result<Member> {
        let user = self.get_user(client, user).await?;
        self.find_member(client, &user, member).await
    }

    async fn find_member(&self, client: &Client, user: &User, member: &MemberRef) -> Result<Member> {
        let found = match member {
            MemberRef::Guid(g) => self.db().get_member(&client.id, &user.guid, g).await?,
            MemberRef::Id(id) => {
                validate::text("member id", id, ID_MAX).map_err(|_| Error::NotFound("member"))?;
                self.db().get_member_by_id(&client.id, &user.guid, id).await?
            }
        };
        found.ok_or(Error::NotFound("member"))
    }

    /// Whether any member of the client has the partner id `id` (Nexus's `external_guid` is
    /// unique within a client).
    pub async fn member_id_in_use(&self, client: &Client, id: &str) -> Result<bool> {
        validate::text("external_guid", id, ID_MAX)?;
        Ok(self.db().member_id_in_use(&client.id, id).await?)
    }

    pub async fn list_members(
        &self,
        client: &Client,
        user: &UserRef,
        use_case: Option<UseCase>,
        page: PageRequest,
    ) -> Result<Page<Member>> {
        let user = self.get_user(client, user).await?;
        Ok(self.db().list_members(&client.id, &user.guid, &MemberFilter { use_case }, page).await?)
    }

    /// Applies an update. New credentials are merged over the stored ones (a caller may send
    /// only the password), checked, resealed, and move the member to UPDATED.
    pub async fn update_member(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        patch: MemberPatch,
    ) -> Result<Member> {
        if patch.is_empty() {
            return Err(Error::bad_request("the member update is empty: send at least one field of `member`"));
        }
        if let Some(Some(id)) = &patch.id {
            validate::partner_id("member.id", id, MemberGuid::PREFIX)?;
        }
        if let Some(Some(m)) = &patch.metadata {
            validate::text("member.metadata", m, METADATA_MAX)?;
        }
        if let Some(p) = &patch.callback_payload {
            check_callback_payload(p)?;
        }
        let user = self.get_user(client, user).await?;
        let m = self.find_member(client, &user, member).await?;
        let entry = self.catalog_entry(&InstitutionRef::Guid(m.institution_guid.clone())).await?;
        let (institution, fields) = (&entry.0, entry.1.as_slice());
        let mut new_credentials = None;
        if let Some(creds) = &patch.credentials {
            if m.is_oauth {
                return Err(Error::invalid("member.credentials", "cannot be set on an OAuth member"));
            }
            let stored = self.open_credentials(&m).await?;
            let values = check_credentials(institution, fields, creds, &stored)?;
            let guids: Vec<CredentialGuid> = values.iter().map(|(f, _)| f.guid.clone()).collect();
            self.refuse_duplicate_under_previous_keys(&user, institution, &values, Some(&m.guid)).await?;
            new_credentials = Some((self.seal_credentials(&m.guid, &user, institution, &values), guids));
        }
        let updated = ConnectionStatus::UPDATED;
        let changes = MemberChanges {
            id: patch.id.as_ref().map(|v| v.as_deref()),
            metadata: patch.metadata.as_ref().map(|v| v.as_deref()),
            background_aggregation_is_disabled: patch.background_aggregation_is_disabled,
            use_cases: patch.use_cases.as_deref(),
            callback_payload: patch.callback_payload.as_deref(),
            credentials: new_credentials.as_ref().map(|(sealed, guids)| CredentialChange {
                sealed,
                guids,
                status: updated,
                message: updated.message(),
            }),
            updated_at: self.now(),
        };
        // The member as this update leaves it, for its MEMBER updated webhook.
        let mut after = m.clone();
        if let Some(id) = &patch.id {
            after.id = id.clone();
        }
        if let Some(md) = &patch.metadata {
            after.metadata = md.clone();
        }
        if let Some(b) = patch.background_aggregation_is_disabled {
            after.background_aggregation_is_disabled = b;
        }
        if new_credentials.is_some() {
            after.connection_status = updated;
            after.connection_status_message = updated.message().map(str::to_owned);
        }
        after.updated_at = changes.updated_at;
        let events = if patch.skip_webhook {
            Vec::new()
        } else {
            vec![self.member_event(&after, "updated", patch.callback_payload.clone())]
        };
        // New credentials start a new aggregation (a challenge raised with the old ones is moot),
        // in the transaction of the update.
        let restart = (new_credentials.is_some() && patch.skip_aggregation != Some(true))
            .then(|| self.new_job(&m, first_job_for(&m.products), false, patch.callback_payload.clone()));
        match self.db().update_member(&client.id, &m.guid, &changes, &events, restart.as_ref()).await {
            Ok(MemberUpdate::Applied { job_started }) => {
                self.events_written();
                if job_started {
                    self.inner.work.notify_one();
                }
            }
            Ok(MemberUpdate::Gone) => return Err(Error::NotFound("member")),
            Err(StoreError::Conflict(_)) => {
                let fingerprint = new_credentials.as_ref().map(|(s, _)| s.fingerprint.clone()).unwrap_or_default();
                let id = patch.id.as_ref().and_then(|v| v.as_deref()).or(m.id.as_deref());
                return Err(self.member_conflict(client, &user, institution, &fingerprint, id).await?);
            }
            Err(e) => return Err(e.into()),
        }
        self.find_member(client, &user, &MemberRef::Guid(m.guid.clone())).await
    }

    /// Deletes the member and everything aggregated through it.
    pub async fn delete_member(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        skip_webhook: bool,
    ) -> Result<()> {
        let user = self.get_user(client, user).await?;
        let m = self.find_member(client, &user, member).await?;
        let events = if skip_webhook { Vec::new() } else { vec![self.member_event(&m, "deleted", None)] };
        if self.db().delete_member(&client.id, &user.guid, &m.guid, &events).await? {
            self.events_written();
            Ok(())
        } else {
            Err(Error::NotFound("member"))
        }
    }

    /// The credential fields the member holds (never their values).
    pub async fn member_credentials(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        page: PageRequest,
    ) -> Result<Page<InstitutionCredential>> {
        let m = self.get_member(client, user, member).await?;
        let fields = self.db().list_institution_credentials(&m.institution_guid).await?;
        let held: Vec<InstitutionCredential> =
            fields.into_iter().filter(|f| m.credential_guids.contains(&f.guid)).collect();
        Ok(Page::of(held, page))
    }
}

fn duplicate_message(institution: &Institution) -> String {
    format!("a member with these credentials already exists for this user and institution `{}`", institution.code)
}

/// What a member's duplicate fingerprint is made of: its user, its institution, and each
/// credential's guid and normalized value (length-prefixed by the fingerprint).
pub(crate) fn fingerprint_parts(
    user: &str,
    institution: &str,
    values: &[(InstitutionCredential, Secret)],
) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = vec![user.as_bytes().to_vec(), institution.as_bytes().to_vec()];
    for (f, v) in values {
        parts.push(f.guid.as_str().as_bytes().to_vec());
        parts.push(normalize(f, v.expose()).into_bytes());
    }
    parts
}

/// Normalizes a value for the duplicate fingerprint: usernames compare without case or
/// surrounding spaces; every other field (passwords) exactly.
fn normalize(field: &InstitutionCredential, value: &str) -> String {
    if field.field_name.eq_ignore_ascii_case("LOGIN") || field.field_name.eq_ignore_ascii_case("USERNAME") {
        value.trim().to_lowercase()
    } else {
        value.to_owned()
    }
}

/// Matches submitted credentials to the institution's fields: every guid must be one of its
/// fields, at most once, and every required field must end up with a non-empty value (from the
/// submission or, on update, from `stored`). Returns the values in display order.
fn check_credentials(
    institution: &Institution,
    fields: &[InstitutionCredential],
    submitted: &[SubmittedCredential],
    stored: &[(CredentialGuid, Secret)],
) -> Result<Vec<(InstitutionCredential, Secret)>> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in submitted.iter().enumerate() {
        if c.guid.is_empty() {
            return Err(Error::invalid_at("member.credentials", format!("[{i}].guid"), "is required"));
        }
        if !fields.iter().any(|f| f.guid.as_str() == c.guid) {
            return Err(Error::invalid_at(
                "member.credentials",
                format!("[{i}].guid"),
                format!(
                    "`{}` is not a credential of institution `{}`; see the institution's credentials",
                    truncate(&c.guid, 80),
                    institution.code
                ),
            ));
        }
        if seen.contains(&c.guid.as_str()) {
            return Err(Error::invalid_at(
                "member.credentials",
                format!("[{i}].guid"),
                format!("`{}` is given more than once", c.guid),
            ));
        }
        if c.value.expose().len() > 4096 {
            return Err(Error::invalid_at("member.credentials", format!("[{i}].value"), "is longer than 4096 bytes"));
        }
        seen.push(&c.guid);
    }
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for f in fields {
        let value = submitted
            .iter()
            .find(|c| c.guid == f.guid.as_str())
            .map(|c| c.value.clone())
            .or_else(|| stored.iter().find(|(g, _)| *g == f.guid).map(|(_, v)| v.clone()));
        match value {
            Some(v) if !v.expose().is_empty() => values.push((f.clone(), v)),
            _ if f.is_required => missing.push(format!("{} ({})", f.field_name, f.guid)),
            _ => {}
        }
    }
    if !missing.is_empty() {
        return Err(Error::invalid(
            "member.credentials",
            format!("is missing required fields: {}", missing.join(", ")),
        ));
    }
    Ok(values)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
