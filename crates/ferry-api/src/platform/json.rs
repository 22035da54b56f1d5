//! The Platform API's JSON shapes, per version. Field names and types follow MX's OpenAPI
//! documents, including their quirks (see `member`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_domain::{ConnectionStatus, Institution, InstitutionCredential, Member, Page, Product, User};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::extract::Version;

/// A JSON response with the version's media type.
pub fn respond(v: Version, status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(v.content_type()));
    response
}

/// `2016-10-13T17:57:37.000Z`, as MX writes times.
pub fn timestamp(t: Option<OffsetDateTime>) -> Value {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    match t.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&fmt).ok()) {
        Some(s) => Value::String(s),
        None => Value::Null,
    }
}

pub fn pagination<T>(page: &Page<T>) -> Value {
    json!({
        "current_page": page.request.page,
        "per_page": page.request.per_page,
        "total_entries": page.total_entries,
        "total_pages": page.total_pages(),
    })
}

pub fn list<T>(key: &str, page: &Page<T>, item: impl Fn(&T) -> Value) -> Value {
    let mut body = json!({ "pagination": pagination(page) });
    body[key] = Value::Array(page.items.iter().map(item).collect());
    body
}

pub fn user(v: Version, u: &User) -> Value {
    let email = match (&u.email, v) {
        (Some(e), _) => json!(e),
        // v20250224 declares email a non-nullable string.
        (None, Version::V20250224) => json!(""),
        (None, Version::V20111101) => Value::Null,
    };
    json!({
        "guid": u.guid.as_str(),
        "id": u.id,
        "email": email,
        "is_disabled": u.is_disabled,
        "metadata": u.metadata,
    })
}

pub fn member(v: Version, m: &Member) -> Value {
    // v20111101 types most_recent_job_guid and most_recent_job_detail_text as boolean (a bug in
    // MX's document that the official SDKs enforce), so that version always gets null there.
    let job_guid = match v {
        Version::V20111101 => Value::Null,
        Version::V20250224 => json!(m.most_recent_job_guid),
    };
    json!({
        "aggregated_at": timestamp(m.aggregated_at),
        "background_aggregation_is_disabled": m.background_aggregation_is_disabled,
        "connection_status": m.connection_status.as_str(),
        "connection_status_message": m.connection_status_message,
        "guid": m.guid.as_str(),
        "id": m.id,
        "institution_code": m.institution_code,
        "institution_guid": m.institution_guid.as_str(),
        "is_being_aggregated": m.is_being_aggregated,
        "is_managed_by_user": false,
        "is_manual": false,
        "is_oauth": m.is_oauth,
        "metadata": m.metadata,
        "most_recent_job_detail_code": m.most_recent_job_detail_code,
        "most_recent_job_detail_text": Value::Null,
        "most_recent_job_guid": job_guid,
        "name": m.name,
        "needs_updated_credentials": m.needs_updated_credentials,
        "oauth_window_uri": m.oauth_window_uri,
        "successfully_aggregated_at": timestamp(m.successfully_aggregated_at),
        "use_cases": m.use_cases.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "user_guid": m.user_guid.as_str(),
        "user_id": m.user_id,
    })
}

pub fn member_status(m: &Member) -> Value {
    let mut body = json!({
        "aggregated_at": timestamp(m.aggregated_at),
        "connection_status": m.connection_status.as_str(),
        "guid": m.guid.as_str(),
        "has_processed_account_numbers": m.has_processed_account_numbers,
        "has_processed_accounts": m.has_processed_accounts,
        "has_processed_transactions": m.has_processed_transactions,
        "is_authenticated": m.is_authenticated,
        "is_being_aggregated": m.is_being_aggregated,
        "successfully_aggregated_at": timestamp(m.successfully_aggregated_at),
    });
    if m.connection_status == ConnectionStatus::CHALLENGED {
        body["challenges"] = json!([]);
    }
    body
}

pub fn institution(v: Version, i: &Institution) -> Value {
    let mut body = json!({
        "code": i.code,
        "forgot_password_url": i.forgot_password_url,
        "forgot_username_url": i.forgot_username_url,
        "instructional_text": i.instructional_text,
        "instructional_text_steps": i.instructional_text_steps,
        "is_disabled_by_client": false,
        "iso_country_code": i.iso_country_code,
        "medium_logo_url": i.medium_logo_url,
        "name": i.name,
        "small_logo_url": i.small_logo_url,
        "supports_oauth": i.supports_oauth,
        "supports_tax_document": i.supports_tax_document,
        "trouble_signing_in_url": i.trouble_signing_in_url,
        "url": i.url,
    });
    match v {
        Version::V20111101 => {
            body["supports_account_identification"] = json!(i.supports(Product::IdentityVerification));
            body["supports_account_statement"] = json!(i.supports(Product::Statements));
            body["supports_account_verification"] = json!(i.supports(Product::AccountVerification));
            body["supports_transaction_history"] = json!(i.supports(Product::TransactionHistory));
        }
        Version::V20250224 => {
            body["guid"] = json!(i.guid.as_str());
            body["created_at"] = timestamp(Some(i.created_at));
            body["is_hidden"] = json!(i.is_hidden);
            body["supported_products"] = json!(i.supported_products.iter().map(|p| p.as_str()).collect::<Vec<_>>());
        }
    }
    body
}

pub fn credential(c: &InstitutionCredential) -> Value {
    json!({
        "display_order": c.display_order,
        "field_name": c.field_name,
        "field_type": c.field_type,
        "guid": c.guid.as_str(),
        "label": c.label,
        "type": c.kind,
    })
}
