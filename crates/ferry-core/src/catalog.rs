//! The operator's side of the institution catalog: importing institutions served by real
//! connectors (upserted by code, their settings checked by the connector), listing and
//! removing them. The credential fields and products of an imported institution come from its
//! connector, so they always match what the connector reads.

use ferry_domain::{CredentialGuid, Institution, InstitutionCredential, InstitutionGuid, PageRequest};
use ferry_store::InstitutionFilter;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::institutions::MANUAL_CONNECTOR;
use crate::{Error, Result, Service};

/// Institutions that ship with Ferry: an import may not replace them, nor may they be removed.
pub const BUILT_IN_INSTITUTIONS: &[&str] = &["mxbank", "mx_bank_oauth", "manual_institution", "simplefin"];

/// One institution as an operator describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstitutionImport {
    pub code: String,
    pub name: String,
    /// The connector that reaches it (`ofx`, `simplefin`).
    pub connector: String,
    pub url: Option<String>,
    pub logo_url: Option<String>,
    pub forgot_password_url: Option<String>,
    pub instructions: Option<String>,
    /// Two letters; `US` when not given.
    pub iso_country_code: Option<String>,
    /// The connector's own settings (an OFX server's URL, ORG, FID, ...).
    pub config: serde_json::Map<String, Value>,
}

/// What an import did with one institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub code: String,
    pub guid: InstitutionGuid,
    pub created: bool,
}

/// How an import of several institutions went wrong: which one, and why.
fn invalid(code: &str, problem: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("institution `{code}`: {problem}"))
}

/// A guid derived from `kind` and `key`, the same on every node and every run, so an import
/// repeated elsewhere names the same institution.
fn derived_uuid(kind: &str, key: &str) -> uuid::Uuid {
    let digest = Sha256::digest(format!("ferry-catalog:{kind}:{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn check_url(code: &str, field: &str, value: &Option<String>) -> Result<()> {
    if let Some(v) = value {
        let ok = url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok || v.len() > 2048 {
            return Err(invalid(code, format!("`{field}` must be an absolute http(s) URL")));
        }
    }
    Ok(())
}

impl Service {
    /// Imports institutions: each is checked first (code, name, connector, URLs, and the
    /// connector's settings), then all are written; an institution with the same code is
    /// updated in place (its guid and members stay).
    pub async fn import_institutions(&self, items: &[InstitutionImport]) -> Result<Vec<Imported>> {
        let mut seen = std::collections::HashSet::new();
        let mut prepared = Vec::with_capacity(items.len());
        for item in items {
            let code = item.code.trim();
            let valid_code = !code.is_empty()
                && code.len() <= 64
                && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid_code {
                return Err(Error::bad_request(format!(
                    "institution code `{code}` must be 1 to 64 characters of a-z, 0-9, _ and -"
                )));
            }
            if !seen.insert(code.to_owned()) {
                return Err(invalid(code, "appears twice in the file"));
            }
            if BUILT_IN_INSTITUTIONS.contains(&code) {
                return Err(invalid(code, "is built into Ferry and cannot be replaced"));
            }
            let name = item.name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                return Err(invalid(code, "`name` must be 1 to 255 characters"));
            }
            if matches!(item.connector.as_str(), "sandbox" | MANUAL_CONNECTOR) {
                return Err(invalid(code, format!("connector `{}` cannot be imported", item.connector)));
            }
            let Some(connector) = self.inner.connectors.0.get(&item.connector) else {
                let mut known: Vec<&str> = self
                    .inner
                    .connectors
                    .0
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !matches!(*k, "sandbox" | MANUAL_CONNECTOR))
                    .collect();
                known.sort_unstable();
                return Err(invalid(
                    code,
                    format!("unknown connector `{}` (this build has: {})", item.connector, known.join(", ")),
                ));
            };
            check_url(code, "url", &item.url)?;
            check_url(code, "logo_url", &item.logo_url)?;
            check_url(code, "forgot_password_url", &item.forgot_password_url)?;
            if item.instructions.as_ref().is_some_and(|t| t.chars().count() > 2000) {
                return Err(invalid(code, "`instructions` must be at most 2,000 characters"));
            }
            let country = item.iso_country_code.clone().unwrap_or_else(|| "US".into()).to_ascii_uppercase();
            if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(invalid(code, "`iso_country_code` must be two letters"));
            }
            let config = Value::Object(item.config.clone());
            connector.check_config(&config).map_err(|m| invalid(code, m))?;
            let profile = connector.catalog_profile(&config);
            let existing = self.db().get_institution_by_code(code).await?;
            let guid = match &existing {
                Some(i) => i.guid.clone(),
                None => InstitutionGuid::from_uuid(derived_uuid("institution", code)),
            };
            let institution = Institution {
                guid: guid.clone(),
                code: code.to_owned(),
                name: name.to_owned(),
                url: item.url.clone(),
                small_logo_url: item.logo_url.clone(),
                medium_logo_url: item.logo_url.clone(),
                forgot_password_url: item.forgot_password_url.clone(),
                forgot_username_url: None,
                trouble_signing_in_url: None,
                instructional_text: item.instructions.clone().or_else(|| profile.default_instructions.clone()),
                instructional_text_steps: Vec::new(),
                iso_country_code: country,
                supports_oauth: false,
                supports_tax_document: false,
                is_hidden: false,
                supported_products: profile.products.clone(),
                connector: item.connector.clone(),
                connector_config: config,
                popularity: existing.as_ref().map_or(0, |i| i.popularity),
                created_at: existing.as_ref().map_or_else(|| self.now(), |i| i.created_at),
            };
            let fields: Vec<InstitutionCredential> = profile
                .fields
                .iter()
                .enumerate()
                .map(|(n, f)| InstitutionCredential {
                    guid: CredentialGuid::from_uuid(derived_uuid("credential", &format!("{code}:{}", f.field_name))),
                    institution_guid: guid.clone(),
                    label: f.label.clone(),
                    field_name: f.field_name.clone(),
                    field_type: f.kind.to_owned(),
                    kind: f.kind.to_owned(),
                    display_order: n as i64 + 1,
                    is_required: true,
                })
                .collect();
            prepared.push((institution, fields, existing.is_none()));
        }
        let mut out = Vec::with_capacity(prepared.len());
        for (institution, fields, created) in prepared {
            self.db().upsert_institution(&institution, &fields).await?;
            out.push(Imported { code: institution.code.clone(), guid: institution.guid.clone(), created });
        }
        self.inner.catalog.clear();
        Ok(out)
    }

    /// Every institution of the catalog, hidden ones too, by popularity then name.
    pub async fn catalog(&self) -> Result<Vec<Institution>> {
        let filter = InstitutionFilter { include_hidden: true, ..Default::default() };
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let p = self.db().list_institutions(&filter, PageRequest::new(Some(page), Some(1000), 1000)).await?;
            let done = p.items.len() < 1000;
            out.extend(p.items);
            if done {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// Removes an imported institution. Refused for built-in institutions and while members
    /// still connect through it (delete those first).
    pub async fn remove_institution(&self, code: &str) -> Result<()> {
        if BUILT_IN_INSTITUTIONS.contains(&code) {
            return Err(Error::bad_request(format!("institution `{code}` is built into Ferry and cannot be removed")));
        }
        match self.db().delete_institution(code).await? {
            Ok(true) => {
                self.inner.catalog.clear();
                Ok(())
            }
            Ok(false) => Err(Error::NotFound("institution")),
            Err(n) => Err(Error::bad_request(format!(
                "institution `{code}` still has {n} member(s); delete them before removing it"
            ))),
        }
    }
}
