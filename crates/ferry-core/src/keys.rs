//! Master key rotation: every sealed value re-sealed under the current key, and every duplicate
//! fingerprint made again with it, while the server keeps serving.
//!
//! The operator starts every process with the new key as `FERRY_MASTER_KEY` and the old one in
//! `FERRY_MASTER_KEY_PREVIOUS`, then runs `ferry keys rotate`. New values are sealed with the
//! new key at once; duplicates are still found across keys (members not yet rotated are looked
//! up under each previous key). Rotation walks each sealed column in row-key order, a batch at a
//! time; each value is rewritten by itself, only if it is still the value that was read (a
//! concurrent write, made with the new key, wins). So a crash loses nothing, and running it
//! again continues where it stopped: it picks up exactly the values still under an old key.
//! When `ferry keys status` shows none, the old key can be dropped.

use ferry_domain::{CredentialGuid, InstitutionCredential, InstitutionGuid, Secret};
use ferry_store::StoreError;
use ferry_store::keys::{MEMBER_CREDENTIALS, SEALED_COLUMNS, SealedColumn};

use crate::members::{StoredCredential, fingerprint_parts};
use crate::{Error, Result, Service};

const BATCH: i64 = 200;

/// What one sealed column holds, by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnKeys {
    pub column: &'static str,
    /// (key id, values) for each key, the current one included.
    pub by_key: Vec<(String, i64)>,
}

impl ColumnKeys {
    /// Values under another key than `current`.
    pub fn under_old_keys(&self, current: &str) -> i64 {
        self.by_key.iter().filter(|(k, _)| k != current).map(|(_, n)| n).sum()
    }
}

/// What a rotation did, per column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// (column, values re-sealed).
    pub resealed: Vec<(&'static str, u64)>,
    /// Values that changed while being rotated (already written with the new key by a running
    /// server): left as they are.
    pub skipped_concurrent: u64,
    /// Values under a key this process does not have: they cannot be opened (their key must be
    /// added to `FERRY_MASTER_KEY_PREVIOUS`).
    pub unknown_key: u64,
    /// Values that did not open (or whose contents are malformed) under their key: left as
    /// they are, named in the log, so one bad row cannot stop the rotation of the others.
    pub unreadable: u64,
    /// Members whose new fingerprint matches another member of the same user: duplicates made
    /// while detection could not see across keys. Left under the old key, for the operator.
    pub duplicates: Vec<String>,
}

impl RotationReport {
    pub fn total(&self) -> u64 {
        self.resealed.iter().map(|(_, n)| n).sum()
    }
}

fn context(column: &SealedColumn, row_key: &str) -> Vec<u8> {
    match column.name {
        "jobs.state" => row_key.as_bytes().to_vec(),
        "member_connector_states.state" => format!("connector-state:{row_key}").into_bytes(),
        "webhook_endpoints.secret" => format!("webhook:{row_key}").into_bytes(),
        "webhook_endpoints.basic_password" => format!("webhook-basic:{row_key}").into_bytes(),
        "institution_oauth.client_secret" => b"oauth-client-secret".to_vec(),
        "oauth_states.verifier" => format!("oauth-state:{row_key}").into_bytes(),
        // Every column is listed above; a new one must say its context here.
        other => format!("unknown-column:{other}").into_bytes(),
    }
}

impl Service {
    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        self.inner.keyring.current_key_id()
    }

    /// How many values each key holds, per sealed column.
    pub async fn key_status(&self) -> Result<Vec<ColumnKeys>> {
        let mut out = Vec::new();
        for column in std::iter::once(&MEMBER_CREDENTIALS).chain(SEALED_COLUMNS) {
            out.push(ColumnKeys { column: column.name, by_key: self.db().count_by_key(column).await? });
        }
        Ok(out)
    }

    /// Re-seals every value under an old key with the current one (and the members'
    /// fingerprints with it). Idempotent; safe to stop at any point and run again.
    pub async fn rotate_keys(&self) -> Result<RotationReport> {
        let mut report = RotationReport::default();
        let n = self.rotate_members(&mut report).await?;
        report.resealed.push((MEMBER_CREDENTIALS.name, n));
        for column in SEALED_COLUMNS {
            let n = self.rotate_column(column, &mut report).await?;
            report.resealed.push((column.name, n));
        }
        Ok(report)
    }

    async fn rotate_column(&self, column: &SealedColumn, report: &mut RotationReport) -> Result<u64> {
        let keyring = &self.inner.keyring;
        let current = keyring.current_key_id().to_owned();
        let (mut after, mut done) = (String::new(), 0);
        loop {
            let rows = self.db().sealed_to_rotate(column, &current, &after, BATCH).await?;
            let Some(last) = rows.last() else { return Ok(done) };
            after = last.row_key.clone();
            for row in rows {
                if !keyring.knows(&row.key_id) {
                    report.unknown_key += 1;
                    continue;
                }
                let ctx = context(column, &row.row_key);
                let plain = match keyring.open(&row.key_id, &row.sealed, &ctx) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(column = column.name, row = %row.row_key, error = %e, "key rotation: a value does not open");
                        report.unreadable += 1;
                        continue;
                    }
                };
                let (key_id, sealed) = keyring.seal(&ctx, &plain);
                if self.db().reseal(column, &row.row_key, &row.sealed, &key_id, &sealed).await? {
                    done += 1;
                } else {
                    report.skipped_concurrent += 1;
                }
            }
        }
    }

    async fn rotate_members(&self, report: &mut RotationReport) -> Result<u64> {
        let keyring = &self.inner.keyring;
        let current = keyring.current_key_id().to_owned();
        let (mut after, mut done) = (String::new(), 0);
        let mut fields: std::collections::HashMap<String, Vec<InstitutionCredential>> = Default::default();
        loop {
            let rows = self.db().members_to_rotate(&current, &after, BATCH).await?;
            let Some(last) = rows.last() else { return Ok(done) };
            after = last.guid.clone();
            for m in rows {
                if !keyring.knows(&m.key_id) {
                    report.unknown_key += 1;
                    continue;
                }
                // Credentials are bound to the member; OAuth tokens to `oauth:<member>`.
                let ctx = if m.is_oauth { format!("oauth:{}", m.guid) } else { m.guid.clone() };
                let Ok(plain) = keyring.open(&m.key_id, &m.sealed, ctx.as_bytes()) else {
                    tracing::warn!(member = %m.guid, "key rotation: the member's credentials do not open");
                    report.unreadable += 1;
                    continue;
                };
                let fingerprint = if m.is_oauth {
                    None // a constant, not keyed
                } else {
                    let Ok(stored) = serde_json::from_slice::<Vec<StoredCredential>>(&plain) else {
                        tracing::warn!(member = %m.guid, "key rotation: the member's credentials are malformed");
                        report.unreadable += 1;
                        continue;
                    };
                    if !fields.contains_key(&m.institution_guid) {
                        let guid = InstitutionGuid::parse(&m.institution_guid)
                            .map_err(|_| Error::Internal(format!("member {}: bad institution guid", m.guid)))?;
                        fields.insert(m.institution_guid.clone(), self.db().list_institution_credentials(&guid).await?);
                    }
                    let known = &fields[&m.institution_guid];
                    let values: Vec<(InstitutionCredential, Secret)> = stored
                        .into_iter()
                        .filter_map(|c| {
                            let field = known.iter().find(|f| f.guid.as_str() == c.guid).cloned().or_else(|| {
                                // A field the catalog no longer has: compared exactly.
                                Some(InstitutionCredential {
                                    guid: CredentialGuid::parse(&c.guid).ok()?,
                                    institution_guid: known.first()?.institution_guid.clone(),
                                    label: String::new(),
                                    field_name: String::new(),
                                    field_type: String::new(),
                                    kind: String::new(),
                                    display_order: 0,
                                    is_required: false,
                                })
                            })?;
                            Some((field, Secret::new(c.value)))
                        })
                        .collect();
                    let parts = fingerprint_parts(&m.user_guid, &m.institution_guid, &values);
                    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                    Some(keyring.fingerprint(&refs))
                };
                let (key_id, sealed) = keyring.seal(ctx.as_bytes(), &plain);
                match self.db().reseal_member(&m.guid, &m.sealed, &key_id, &sealed, fingerprint.as_deref()).await {
                    Ok(true) => done += 1,
                    Ok(false) => report.skipped_concurrent += 1,
                    Err(StoreError::Conflict(_)) => {
                        tracing::warn!(member = %m.guid, "key rotation: another member of the user has these credentials");
                        report.duplicates.push(m.guid.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}
