//! The `member_records` table: account numbers, account owners, holdings and statements, one
//! row per record of an account, upserted under the connector's stable id.

use std::str::FromStr;

use ferry_domain::{AccountGuid, ClientId, MemberGuid, Page, PageRequest, Record, RecordData, RecordKind, UserGuid};
use sqlx::{FromRow, QueryBuilder};

use crate::{Db, Result, corrupt, from_micros, on_reader, on_writer, to_micros};

#[derive(FromRow)]
struct RecordRow {
    guid: String,
    kind: String,
    client_id: String,
    user_guid: String,
    member_guid: String,
    account_guid: String,
    data: String,
    content_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RecordRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_record(self) -> Result<Record> {
        let key = self.guid.clone();
        self.parse_record().ok_or_else(|| corrupt("member_records", &key, "one of its columns"))
    }

    fn parse_record(self) -> Option<Record> {
        let kind = RecordKind::from_str(&self.kind).ok()?;
        Some(Record {
            guid: self.guid,
            client_id: ClientId::parse(&self.client_id).ok()?,
            user_guid: UserGuid::parse(&self.user_guid).ok()?,
            member_guid: MemberGuid::parse(&self.member_guid).ok()?,
            account_guid: AccountGuid::parse(&self.account_guid).ok()?,
            data: RecordData::from_json(kind, &self.data)?,
            content_hash: self.content_hash,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! record_columns {
    () => {
        "r.guid, r.kind, r.client_id, r.user_guid, r.member_guid, r.account_guid, r.data, r.content_hash,
         r.created_at, r.updated_at"
    };
}

/// The WHERE clause of a record listing (expanded per backend).
macro_rules! push_record_where {
    ($qb:ident, $client:ident, $user:ident, $kind:ident, $scope:ident) => {
        $qb.push(" WHERE r.user_guid = ").push_bind($user.as_str().to_owned());
        $qb.push(" AND r.client_id = ").push_bind($client.as_str().to_owned());
        $qb.push(" AND r.kind = ").push_bind($kind.as_str());
        match $scope {
            RecordScope::User => {}
            RecordScope::Member(m) => {
                $qb.push(" AND r.member_guid = ").push_bind(m.as_str().to_owned());
            }
            RecordScope::Account(a) => {
                $qb.push(" AND r.account_guid = ").push_bind(a.as_str().to_owned());
            }
        }
    };
}

/// Where to list records from: every account of the user, one member's, or one account's.
#[derive(Debug, Clone)]
pub enum RecordScope {
    User,
    Member(MemberGuid),
    Account(AccountGuid),
}

/// A record to store, with its document (statements).
pub struct NewRecord<'a> {
    pub record: &'a Record,
    pub content: Option<&'a [u8]>,
}

impl Db {
    /// Stores a member's records of one kind as the connector reported them: new ones are
    /// inserted, known ones (same external id) keep their guid and are rewritten only if they
    /// changed. With `replace`, records of the kind the connector no longer reports are
    /// removed (a sold position, a removed owner). Returns how many were inserted.
    pub async fn store_records(
        &self,
        member: &MemberGuid,
        kind: RecordKind,
        rows: &[NewRecord<'_>],
        replace: bool,
    ) -> Result<u64> {
        let known: Vec<String> = on_writer!(self, |conn| sqlx::query_scalar(
            "SELECT external_id FROM member_records WHERE member_guid = $1 AND kind = $2"
        )
        .bind(member.as_str())
        .bind(kind.as_str())
        .fetch_all(&mut *conn)
        .await)?;
        let known: std::collections::HashSet<String> = known.into_iter().collect();
        let inserted = rows.iter().filter(|r| !known.contains(r.record.data.external_id())).count() as u64;
        for chunk in rows.chunks(200) {
            on_writer!(self, |conn| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO member_records (guid, kind, client_id, user_guid, member_guid, account_guid,
                        external_id, data, content, content_hash, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    let rec = r.record;
                    b.push_bind(rec.guid.clone())
                        .push_bind(kind.as_str())
                        .push_bind(rec.client_id.as_str().to_owned())
                        .push_bind(rec.user_guid.as_str().to_owned())
                        .push_bind(rec.member_guid.as_str().to_owned())
                        .push_bind(rec.account_guid.as_str().to_owned())
                        .push_bind(rec.data.external_id().to_owned())
                        .push_bind(rec.data.to_json())
                        .push_bind(r.content.map(<[u8]>::to_vec))
                        .push_bind(rec.content_hash.clone())
                        .push_bind(to_micros(rec.created_at))
                        .push_bind(to_micros(rec.updated_at));
                });
                // The account of a record never changes: it is not updated here.
                qb.push(
                    " ON CONFLICT (member_guid, kind, external_id) DO UPDATE SET data = excluded.data,
                        content = excluded.content, content_hash = excluded.content_hash,
                        updated_at = excluded.updated_at
                     WHERE member_records.data IS DISTINCT FROM excluded.data
                        OR member_records.content_hash IS DISTINCT FROM excluded.content_hash",
                );
                qb.build().execute(&mut *conn).await?;
            });
        }
        if replace {
            on_writer!(self, |conn| {
                let mut qb = QueryBuilder::new("DELETE FROM member_records WHERE member_guid = ");
                qb.push_bind(member.as_str().to_owned()).push(" AND kind = ").push_bind(kind.as_str());
                if !rows.is_empty() {
                    qb.push(" AND external_id NOT IN (");
                    let mut sep = qb.separated(", ");
                    for r in rows {
                        sep.push_bind(r.record.data.external_id().to_owned());
                    }
                    qb.push(")");
                }
                qb.build().execute(&mut *conn).await?;
            });
        }
        Ok(inserted)
    }

    /// A page of records of one kind. `user` and the scope's member or account must come from
    /// reads scoped to `client`; the client is tested too.
    pub async fn list_records(
        &self,
        client: &ClientId,
        user: &UserGuid,
        kind: RecordKind,
        scope: &RecordScope,
        page: PageRequest,
    ) -> Result<Page<Record>> {
        let (total, rows): (i64, Vec<RecordRow>) = on_reader!(self, |conn| {
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM member_records r");
            push_record_where!(count, client, user, kind, scope);
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(concat!("SELECT ", record_columns!(), " FROM member_records r"));
            push_record_where!(select, client, user, kind, scope);
            select.push(" ORDER BY r.created_at, r.guid LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            (total, select.build_query_as().fetch_all(&mut *conn).await?)
        });
        Ok(Page {
            items: rows.into_iter().map(RecordRow::into_record).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }

    pub async fn get_record(
        &self,
        client: &ClientId,
        user: &UserGuid,
        kind: RecordKind,
        guid: &str,
    ) -> Result<Option<Record>> {
        let row: Option<RecordRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            record_columns!(),
            " FROM member_records r WHERE r.guid = $1 AND r.user_guid = $2 AND r.client_id = $3 AND r.kind = $4"
        ))
        .bind(guid)
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(RecordRow::into_record).transpose()
    }

    /// The document of a record (a statement's PDF).
    pub async fn record_content(&self, client: &ClientId, user: &UserGuid, guid: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<Option<Vec<u8>>> = on_reader!(self, |conn| sqlx::query_scalar(
            "SELECT content FROM member_records WHERE guid = $1 AND user_guid = $2 AND client_id = $3"
        )
        .bind(guid)
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.flatten())
    }
}
