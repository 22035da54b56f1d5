//! The institution catalog: `institutions`, their credential fields and per-client favorites.

use ferry_domain::{
    ClientId, CredentialGuid, Institution, InstitutionCredential, InstitutionGuid, Page, PageRequest, Product,
};
use sqlx::{Connection, FromRow, QueryBuilder};

use crate::{Db, Result, corrupt, from_micros, join_list, on_reader, on_writer, parse_list, to_micros};

/// The filters of `GET /institutions`.
#[derive(Debug, Clone, Default)]
pub struct InstitutionFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    pub iso_country_codes: Vec<String>,
    /// Institutions must support every one of these.
    pub products: Vec<Product>,
    /// Include hidden institutions (reads by code always do).
    pub include_hidden: bool,
}

#[derive(FromRow)]
struct InstitutionRow {
    guid: String,
    code: String,
    name: String,
    url: Option<String>,
    small_logo_url: Option<String>,
    medium_logo_url: Option<String>,
    forgot_password_url: Option<String>,
    forgot_username_url: Option<String>,
    trouble_signing_in_url: Option<String>,
    instructional_text: Option<String>,
    instructional_text_steps: String,
    iso_country_code: String,
    supports_oauth: bool,
    supports_tax_document: bool,
    is_hidden: bool,
    supported_products: String,
    connector: String,
    connector_config: String,
    popularity: i64,
    created_at: i64,
}

impl InstitutionRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_institution(self) -> Result<Institution> {
        let key = self.guid.clone();
        self.parse_institution().ok_or_else(|| corrupt("institutions", &key, "one of its columns"))
    }

    fn parse_institution(self) -> Option<Institution> {
        Some(Institution {
            guid: InstitutionGuid::parse(&self.guid).ok()?,
            code: self.code,
            name: self.name,
            url: self.url,
            small_logo_url: self.small_logo_url,
            medium_logo_url: self.medium_logo_url,
            forgot_password_url: self.forgot_password_url,
            forgot_username_url: self.forgot_username_url,
            trouble_signing_in_url: self.trouble_signing_in_url,
            instructional_text: self.instructional_text,
            instructional_text_steps: serde_json::from_str(&self.instructional_text_steps).unwrap_or_default(),
            iso_country_code: self.iso_country_code,
            supports_oauth: self.supports_oauth,
            supports_tax_document: self.supports_tax_document,
            is_hidden: self.is_hidden,
            supported_products: parse_list(&self.supported_products).ok()?,
            connector: self.connector,
            connector_config: serde_json::from_str(&self.connector_config).ok()?,
            popularity: self.popularity,
            created_at: from_micros(self.created_at),
        })
    }
}

#[derive(FromRow)]
struct CredentialRow {
    guid: String,
    institution_guid: String,
    label: String,
    field_name: String,
    field_type: String,
    #[sqlx(rename = "type")]
    kind: String,
    display_order: i64,
    is_required: bool,
}

impl CredentialRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_credential(self) -> Result<InstitutionCredential> {
        let key = self.guid.clone();
        self.parse_credential().ok_or_else(|| corrupt("institution_credentials", &key, "one of its columns"))
    }

    fn parse_credential(self) -> Option<InstitutionCredential> {
        Some(InstitutionCredential {
            guid: CredentialGuid::parse(&self.guid).ok()?,
            institution_guid: InstitutionGuid::parse(&self.institution_guid).ok()?,
            label: self.label,
            field_name: self.field_name,
            field_type: self.field_type,
            kind: self.kind,
            display_order: self.display_order,
            is_required: self.is_required,
        })
    }
}

macro_rules! columns {
    () => {
        "i.guid, i.code, i.name, i.url, i.small_logo_url, i.medium_logo_url, i.forgot_password_url,
         i.forgot_username_url, i.trouble_signing_in_url, i.instructional_text,
         i.instructional_text_steps, i.iso_country_code, i.supports_oauth, i.supports_tax_document,
         i.is_hidden, i.supported_products, i.connector, i.connector_config, i.popularity, i.created_at"
    };
}

macro_rules! push_institution_filter {
    ($qb:expr, $f:expr) => {{
        $qb.push(" WHERE 1 = 1");
        if !$f.include_hidden {
            $qb.push(" AND i.is_hidden = FALSE");
        }
        if let Some(name) = &$f.name {
            $qb.push(" AND LOWER(i.name) LIKE ").push_bind(like_pattern(name));
            $qb.push(" ESCAPE '\\'");
        }
        if !$f.iso_country_codes.is_empty() {
            $qb.push(" AND i.iso_country_code IN (");
            let mut sep = $qb.separated(", ");
            for c in &$f.iso_country_codes {
                sep.push_bind(c.clone());
            }
            $qb.push(")");
        }
        for p in &$f.products {
            $qb.push(" AND (',' || i.supported_products || ',') LIKE ")
                .push_bind(format!("%,{},%", p.as_str().replace('_', "\\_")));
            $qb.push(" ESCAPE '\\'");
        }
    }};
}

/// `%needle%`, lower-cased, with LIKE's wildcards escaped.
fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

impl Db {
    pub async fn list_institutions(&self, filter: &InstitutionFilter, page: PageRequest) -> Result<Page<Institution>> {
        let (total, rows): (i64, Vec<InstitutionRow>) = on_reader!(self, |conn| {
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM institutions i");
            push_institution_filter!(count, filter);
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(concat!("SELECT ", columns!(), " FROM institutions i"));
            push_institution_filter!(select, filter);
            select.push(" ORDER BY i.popularity DESC, i.name, i.guid LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            (total, select.build_query_as().fetch_all(&mut *conn).await?)
        });
        Ok(Page {
            items: rows.into_iter().map(InstitutionRow::into_institution).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }

    /// The client's favorites, in the client's order; when the client has chosen none, the
    /// visible catalog by popularity. Only institutions that offer every one of `products`.
    pub async fn list_favorite_institutions(
        &self,
        client: &ClientId,
        iso_country_codes: &[String],
        products: &[Product],
        page: PageRequest,
    ) -> Result<Page<Institution>> {
        let chosen: i64 = on_reader!(self, |conn| sqlx::query_scalar(
            "SELECT COUNT(*) FROM favorite_institutions WHERE client_id = $1"
        )
        .bind(client.as_str())
        .fetch_one(&mut *conn)
        .await)?;
        let filter = InstitutionFilter {
            iso_country_codes: iso_country_codes.to_vec(),
            products: products.to_vec(),
            ..Default::default()
        };
        if chosen == 0 {
            return self.list_institutions(&filter, page).await;
        }
        let (total, rows): (i64, Vec<InstitutionRow>) = on_reader!(self, |conn| {
            let mut count = QueryBuilder::new(
                "SELECT COUNT(*) FROM institutions i JOIN favorite_institutions f ON f.institution_guid = i.guid",
            );
            push_institution_filter!(count, filter);
            count.push(" AND f.client_id = ").push_bind(client.as_str().to_owned());
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(concat!(
                "SELECT ",
                columns!(),
                " FROM institutions i JOIN favorite_institutions f ON f.institution_guid = i.guid"
            ));
            push_institution_filter!(select, filter);
            select.push(" AND f.client_id = ").push_bind(client.as_str().to_owned());
            select.push(" ORDER BY f.position, i.popularity DESC LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            (total, select.build_query_as().fetch_all(&mut *conn).await?)
        });
        Ok(Page {
            items: rows.into_iter().map(InstitutionRow::into_institution).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }

    /// Replaces the client's favorites with `guids`, in that order.
    pub async fn set_favorite_institutions(&self, client: &ClientId, guids: &[InstitutionGuid]) -> Result<()> {
        on_writer!(self, |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query("DELETE FROM favorite_institutions WHERE client_id = $1")
                .bind(client.as_str())
                .execute(&mut *tx)
                .await?;
            for (i, g) in guids.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO favorite_institutions (client_id, institution_guid, position) VALUES ($1, $2, $3)",
                )
                .bind(client.as_str())
                .bind(g.as_str())
                .bind(i as i64)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn get_institution_by_code(&self, code: &str) -> Result<Option<Institution>> {
        let row: Option<InstitutionRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM institutions i WHERE i.code = $1"
        ))
        .bind(code)
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(InstitutionRow::into_institution).transpose()
    }

    pub async fn get_institution(&self, guid: &InstitutionGuid) -> Result<Option<Institution>> {
        let row: Option<InstitutionRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM institutions i WHERE i.guid = $1"
        ))
        .bind(guid.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(InstitutionRow::into_institution).transpose()
    }

    /// The credential fields of an institution, in display order.
    pub async fn list_institution_credentials(&self, guid: &InstitutionGuid) -> Result<Vec<InstitutionCredential>> {
        let rows: Vec<CredentialRow> = on_reader!(self, |conn| {
            sqlx::query_as(
                "SELECT guid, institution_guid, label, field_name, field_type, type, display_order, is_required
             FROM institution_credentials WHERE institution_guid = $1 ORDER BY display_order, guid",
            )
            .bind(guid.as_str())
            .fetch_all(&mut *conn)
            .await
        })?;
        rows.into_iter().map(CredentialRow::into_credential).collect()
    }

    /// Adds or refreshes an institution and its credential fields (connectors call this to
    /// publish what they serve).
    pub async fn upsert_institution(&self, i: &Institution, credentials: &[InstitutionCredential]) -> Result<()> {
        let steps = serde_json::to_string(&i.instructional_text_steps).unwrap_or_else(|_| "[]".into());
        let products = join_list(i.supported_products.iter().map(|p| p.as_str()));
        on_writer!(self, |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query(
                "INSERT INTO institutions (guid, code, name, url, small_logo_url, medium_logo_url,
                    forgot_password_url, forgot_username_url, trouble_signing_in_url, instructional_text,
                    instructional_text_steps, iso_country_code, supports_oauth, supports_tax_document,
                    is_hidden, supported_products, connector, popularity, created_at, connector_config)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                 ON CONFLICT (guid) DO UPDATE SET code = excluded.code, name = excluded.name, url = excluded.url,
                    small_logo_url = excluded.small_logo_url, medium_logo_url = excluded.medium_logo_url,
                    forgot_password_url = excluded.forgot_password_url,
                    forgot_username_url = excluded.forgot_username_url,
                    trouble_signing_in_url = excluded.trouble_signing_in_url,
                    instructional_text = excluded.instructional_text,
                    instructional_text_steps = excluded.instructional_text_steps,
                    iso_country_code = excluded.iso_country_code, supports_oauth = excluded.supports_oauth,
                    supports_tax_document = excluded.supports_tax_document, is_hidden = excluded.is_hidden,
                    supported_products = excluded.supported_products, connector = excluded.connector,
                    popularity = excluded.popularity, connector_config = excluded.connector_config",
            )
            .bind(i.guid.as_str())
            .bind(&i.code)
            .bind(&i.name)
            .bind(&i.url)
            .bind(&i.small_logo_url)
            .bind(&i.medium_logo_url)
            .bind(&i.forgot_password_url)
            .bind(&i.forgot_username_url)
            .bind(&i.trouble_signing_in_url)
            .bind(&i.instructional_text)
            .bind(&steps)
            .bind(&i.iso_country_code)
            .bind(i.supports_oauth)
            .bind(i.supports_tax_document)
            .bind(i.is_hidden)
            .bind(&products)
            .bind(&i.connector)
            .bind(i.popularity)
            .bind(to_micros(i.created_at))
            .bind(i.connector_config.to_string())
            .execute(&mut *tx)
            .await?;
            // Fields the institution no longer asks for go (members keep their sealed values;
            // a value without its field is never sent to the connector).
            let keep: Vec<&str> = credentials.iter().map(|c| c.guid.as_str()).collect();
            let mut delete = QueryBuilder::new("DELETE FROM institution_credentials WHERE institution_guid = ");
            delete.push_bind(i.guid.as_str().to_owned());
            if !keep.is_empty() {
                delete.push(" AND guid NOT IN (");
                let mut sep = delete.separated(", ");
                for g in &keep {
                    sep.push_bind(g.to_string());
                }
                delete.push(")");
            }
            delete.build().execute(&mut *tx).await?;
            for c in credentials {
                sqlx::query(
                    "INSERT INTO institution_credentials (guid, institution_guid, label, field_name, field_type, type, display_order, is_required)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (guid) DO UPDATE SET label = excluded.label, field_name = excluded.field_name,
                        field_type = excluded.field_type, type = excluded.type,
                        display_order = excluded.display_order, is_required = excluded.is_required",
                )
                .bind(c.guid.as_str())
                .bind(i.guid.as_str())
                .bind(&c.label)
                .bind(&c.field_name)
                .bind(&c.field_type)
                .bind(&c.kind)
                .bind(c.display_order)
                .bind(c.is_required)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes an institution with its credential fields and favorites. `Err(n)` inside `Ok`
    /// when `n` members still connect through it (nothing removed); `Ok(Ok(false))` when no
    /// institution has that code.
    pub async fn delete_institution(&self, code: &str) -> Result<std::result::Result<bool, i64>> {
        on_writer!(self, |conn| {
            let mut tx = conn.begin().await?;
            let guid: Option<String> = sqlx::query_scalar("SELECT guid FROM institutions WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(guid) = guid else { return Ok(Ok(false)) };
            let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE institution_guid = $1")
                .bind(&guid)
                .fetch_one(&mut *tx)
                .await?;
            if members > 0 {
                return Ok(Err(members));
            }
            sqlx::query("DELETE FROM institutions WHERE guid = $1").bind(&guid).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(Ok(true))
    }
}
