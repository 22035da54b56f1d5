//! The Platform API's JSON shapes, per version. Field names and types follow MX's OpenAPI
//! documents, including their quirks (see `member`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_domain::{
    Account, Challenge, Institution, InstitutionCredential, Member, Page, Product, Record, RecordData, Transaction,
    User,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
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
        Version::V20250224 => json!(m.most_recent_job_guid.as_ref().map(|g| g.as_str())),
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
        "is_manual": m.institution_code == ferry_core::MANUAL_INSTITUTION_CODE,
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

pub fn challenge(c: &Challenge) -> Value {
    let mut body = json!({
        "field_name": c.field_name,
        "guid": c.guid,
        "label": c.label,
        "type": c.kind,
    });
    if let Some(img) = &c.image_data {
        body["image_data"] = json!(img);
    }
    if !c.options.is_empty() {
        body["options"] = json!(
            c.options.iter().map(|o| json!({ "guid": o.guid, "label": o.label, "value": o.value })).collect::<Vec<_>>()
        );
    }
    body
}

fn money(d: Option<Decimal>) -> Value {
    d.and_then(|v| v.to_f64()).map_or(Value::Null, |f| json!(f))
}

pub fn account(a: &Account) -> Value {
    json!({
        "account_number": a.account_number,
        "apr": money(a.apr),
        "apy": money(a.apy),
        "available_balance": money(a.available_balance),
        "balance": money(a.balance),
        "created_at": timestamp(Some(a.created_at)),
        "credit_limit": money(a.credit_limit),
        "currency_code": a.currency_code,
        "guid": a.guid.as_str(),
        "id": a.id,
        "institution_code": a.institution_code,
        "cash_surrender_value": money(a.details.cash_surrender_value),
        "death_benefit": a.details.death_benefit,
        "interest_rate": money(a.details.interest_rate),
        "is_business": a.is_business,
        "is_closed": a.is_closed,
        "is_hidden": a.is_hidden,
        "is_manual": a.is_manual,
        "loan_amount": money(a.details.loan_amount),
        "original_balance": money(a.details.original_balance),
        "property_type": a.details.property_type,
        "member_guid": a.member_guid.as_str(),
        "member_id": a.member_id,
        "member_is_managed_by_user": false,
        "metadata": a.metadata,
        "name": a.name,
        "nickname": a.nickname,
        "routing_number": a.routing_number,
        "subtype": a.subtype,
        "type": a.kind,
        "updated_at": timestamp(Some(a.updated_at)),
        "user_guid": a.user_guid.as_str(),
        "user_id": a.user_id,
    })
}

pub fn transaction(t: &Transaction) -> Value {
    json!({
        "account_guid": t.account_guid.as_str(),
        "account_id": t.account_id,
        "amount": money(Some(t.amount)),
        "category": t.category,
        "check_number_string": t.check_number_string,
        "created_at": timestamp(Some(t.created_at)),
        "currency_code": t.currency_code,
        "date": t.date.to_string(),
        "description": t.description,
        "guid": t.guid.as_str(),
        "id": t.id,
        "is_bill_pay": t.is_bill_pay,
        "is_direct_deposit": t.is_direct_deposit,
        "is_expense": t.is_debit,
        "is_fee": t.is_fee,
        "is_income": !t.is_debit && t.top_level_category.as_deref() == Some("Income"),
        "is_international": false,
        "is_manual": t.is_manual,
        "is_overdraft_fee": false,
        "is_payroll_advance": false,
        "is_recurring": t.is_subscription,
        "is_subscription": t.is_subscription,
        "latitude": Value::Null,
        "localized_description": Value::Null,
        "localized_memo": Value::Null,
        "longitude": Value::Null,
        "member_guid": t.member_guid.as_str(),
        "member_is_managed_by_user": false,
        "memo": t.memo,
        "merchant_category_code": t.merchant_category_code,
        "metadata": t.metadata,
        "original_description": t.original_description,
        "posted_at": timestamp(t.posted_at),
        "status": if t.is_pending { "PENDING" } else { "POSTED" },
        "top_level_category": t.top_level_category,
        "transacted_at": timestamp(t.transacted_at),
        "type": if t.is_debit { "DEBIT" } else { "CREDIT" },
        "updated_at": timestamp(Some(t.updated_at)),
        "user_guid": t.user_guid.as_str(),
        "user_id": t.user_id,
    })
}

pub fn member_status(m: &Member, challenges: Option<&[Challenge]>) -> Value {
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
    if let Some(cs) = challenges {
        body["challenges"] = Value::Array(cs.iter().map(challenge).collect());
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

/// An account number, owner, holding or statement, by its kind's shape.
pub fn record(r: &Record) -> Value {
    let ids = |mut body: Value| {
        body["guid"] = json!(r.guid);
        body["account_guid"] = json!(r.account_guid.as_str());
        body["user_guid"] = json!(r.user_guid.as_str());
        body
    };
    match &r.data {
        RecordData::AccountNumber(d) => ids(json!({
            "account_number": d.account_number,
            "institution_number": d.institution_number,
            "loan_guarantor": Value::Null,
            "loan_reference_number": Value::Null,
            "member_guid": r.member_guid.as_str(),
            "passed_validation": d.passed_validation,
            "routing_number": d.routing_number,
            "sequence_number": Value::Null,
            "transit_number": d.transit_number,
        })),
        RecordData::AccountOwner(d) => ids(json!({
            "address": d.address,
            "city": d.city,
            "country": d.country,
            "email": d.email,
            "first_name": d.first_name,
            "last_name": d.last_name,
            "member_guid": r.member_guid.as_str(),
            "owner_name": d.owner_name,
            "phone": d.phone,
            "postal_code": d.postal_code,
            "state": d.state,
        })),
        RecordData::Holding(d) => {
            let gain = match (d.market_value, d.cost_basis) {
                (Some(v), Some(c)) => Some(v - c),
                _ => None,
            };
            let gain_pct = match (gain, d.cost_basis) {
                (Some(g), Some(c)) if !c.is_zero() => Some((g / c * Decimal::ONE_HUNDRED).round_dp(2)),
                _ => None,
            };
            ids(json!({
                "cost_basis": money(d.cost_basis),
                "coupon_yield": Value::Null,
                "created_at": timestamp(Some(r.created_at)),
                "currency_code": d.currency_code,
                "current_price": money(d.current_price),
                "current_price_as_of": d.current_price_as_of.map(|t| t.to_string()),
                "daily_change": Value::Null,
                "description": d.description,
                "expiration": Value::Null,
                "face_value": Value::Null,
                "frequency": Value::Null,
                "holding_type": d.holding_type,
                "issue_date": Value::Null,
                "market_value": money(d.market_value),
                "maturity_date": Value::Null,
                "member_guid": r.member_guid.as_str(),
                "percentage_change": Value::Null,
                "purchase_price": money(d.purchase_price),
                "put_or_call": Value::Null,
                "quantity": d.quantity.normalize().to_string(),
                "rate": Value::Null,
                "strike_price": Value::Null,
                "symbol": d.symbol,
                "term": Value::Null,
                "term_unit": Value::Null,
                "today_ugl_amount": Value::Null,
                "today_ugl_percentage": Value::Null,
                "total_ugl_amount": money(gain),
                "total_ugl_percentage": money(gain_pct),
                "unvested_quantity": Value::Null,
                "unvested_value": Value::Null,
                "updated_at": timestamp(Some(r.updated_at)),
                "vested_quantity": Value::Null,
                "vested_value": Value::Null,
                "vesting_end_date": Value::Null,
                "vesting_start_date": Value::Null,
            }))
        }
        RecordData::Statement(_) => ids(json!({
            "content_hash": r.content_hash,
            "created_at": timestamp(Some(r.created_at)),
            "member_guid": r.member_guid.as_str(),
            "updated_at": timestamp(Some(r.updated_at)),
            "uri": format!("/users/{}/members/{}/statements/{}.pdf", r.user_guid, r.member_guid, r.guid),
        })),
    }
}
