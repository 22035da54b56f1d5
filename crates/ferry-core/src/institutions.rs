//! The institution catalog, shared by all clients; favorites are per client.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ferry_domain::{Client, Institution, InstitutionCredential, InstitutionGuid, Page, PageRequest};
use ferry_store::InstitutionFilter;
use time::{Duration, OffsetDateTime};

use crate::{Error, Result, Service, validate};

/// The connector name of the institution that holds a user's manual accounts: it has no
/// connector, and its member never aggregates.
pub const MANUAL_CONNECTOR: &str = "manual";

/// How a path names an institution: by code, or (v20250224 credentials) by code or guid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstitutionRef {
    Code(String),
    Guid(InstitutionGuid),
}

impl InstitutionRef {
    pub fn code_or_guid(s: &str) -> Self {
        match InstitutionGuid::parse(s) {
            Ok(g) => InstitutionRef::Guid(g),
            Err(_) => InstitutionRef::Code(s.to_owned()),
        }
    }
}

/// How long an institution and its credential fields are served from memory. The catalog
/// changes rarely (connectors publish to it); another process's change shows within this time.
const CATALOG_TTL: Duration = Duration::seconds(60);

/// An institution with its credential fields, as member writes need them.
pub(crate) type CatalogEntry = Arc<(Institution, Vec<InstitutionCredential>)>;

/// The catalog entries used by member writes, by code and by guid.
#[derive(Default)]
pub(crate) struct CatalogCache(RwLock<HashMap<String, (CatalogEntry, OffsetDateTime)>>);

impl CatalogCache {
    /// Forgets every entry (this process changed the catalog).
    pub(crate) fn clear(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Service {
    /// An institution and its credential fields, from the in-memory catalog cache.
    pub(crate) async fn catalog_entry(&self, r: &InstitutionRef) -> Result<CatalogEntry> {
        let key = match r {
            InstitutionRef::Code(c) => format!("code:{c}"),
            InstitutionRef::Guid(g) => format!("guid:{g}"),
        };
        let now = self.now();
        let cache = &self.inner.catalog;
        if let Some((entry, at)) = cache.0.read().unwrap_or_else(|e| e.into_inner()).get(&key)
            && now - *at < CATALOG_TTL
        {
            return Ok(entry.clone());
        }
        let (institution, fields) = self.institution_credentials(r).await?;
        let entry: CatalogEntry = Arc::new((institution, fields));
        cache.0.write().unwrap_or_else(|e| e.into_inner()).insert(key, (entry.clone(), now));
        Ok(entry)
    }

    pub async fn list_institutions(&self, filter: &InstitutionFilter, page: PageRequest) -> Result<Page<Institution>> {
        validate::opt_text("name", filter.name.as_deref(), 255)?;
        for c in &filter.iso_country_codes {
            validate::text("iso_country_code", c, 8)?;
        }
        Ok(self.db().list_institutions(filter, page).await?)
    }

    pub async fn list_favorite_institutions(
        &self,
        client: &Client,
        iso: &[String],
        products: &[ferry_domain::Product],
        page: PageRequest,
    ) -> Result<Page<Institution>> {
        for c in iso {
            validate::text("iso_country_code", c, 8)?;
        }
        Ok(self.db().list_favorite_institutions(&client.id, iso, products, page).await?)
    }

    /// Sets a client's favorites by institution code, in order.
    pub async fn set_favorite_institutions(&self, client: &Client, codes: &[String]) -> Result<()> {
        let mut guids = Vec::with_capacity(codes.len());
        for code in codes {
            guids.push(self.get_institution(&InstitutionRef::code_or_guid(code)).await?.guid);
        }
        Ok(self.db().set_favorite_institutions(&client.id, &guids).await?)
    }

    pub async fn get_institution(&self, r: &InstitutionRef) -> Result<Institution> {
        let found = match r {
            InstitutionRef::Code(code) => {
                if code.contains('\0') || code.len() > 255 {
                    return Err(Error::NotFound("institution"));
                }
                self.db().get_institution_by_code(code).await?
            }
            InstitutionRef::Guid(g) => self.db().get_institution(g).await?,
        };
        found.ok_or(Error::NotFound("institution"))
    }

    pub async fn institution_credentials(
        &self,
        r: &InstitutionRef,
    ) -> Result<(Institution, Vec<InstitutionCredential>)> {
        let inst = self.get_institution(r).await?;
        let creds = self.db().list_institution_credentials(&inst.guid).await?;
        Ok((inst, creds))
    }
}
