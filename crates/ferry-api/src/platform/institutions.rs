//! `/institutions`: the catalog, favorites, and the credential fields of an institution.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferry_core::{InstitutionFilter, InstitutionRef, Service};
use ferry_domain::{PageRequest, Product};
use serde_json::json;

use super::json;
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{Path, QueryParams, Version};

/// The v20111101 boolean filters and the product each stands for.
const SUPPORTS_FILTERS: &[(&str, Product)] = &[
    ("supports_account_identification", Product::IdentityVerification),
    ("supports_account_statement", Product::Statements),
    ("supports_account_verification", Product::AccountVerification),
    ("supports_transaction_history", Product::TransactionHistory),
];

fn parse_product(s: &str) -> Result<Product, ApiError> {
    // The v20250224 query enum says `history` where the schema says `transaction_history`.
    let s = if s == "history" { "transaction_history" } else { s };
    s.parse().map_err(|e| ApiError::bad_request(format!("supported_products: {e}")))
}

pub async fn list(
    State(s): State<Service>,
    v: Version,
    Auth(_client): Auth,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let mut products = Vec::new();
    for (name, product) in SUPPORTS_FILTERS {
        if q.bool(name)? == Some(true) {
            products.push(*product);
        }
    }
    for p in q.list("supported_products") {
        products.push(parse_product(&p)?);
    }
    let filter = InstitutionFilter {
        name: q.get("name").filter(|n| !n.is_empty()).map(str::to_owned),
        iso_country_codes: q.list("iso_country_code"),
        products,
        include_hidden: false,
    };
    let page = s.list_institutions(&filter, q.page(PageRequest::MAX_PER_PAGE_INSTITUTIONS)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list("institutions", &page, |i| json::institution(v, i))))
}

pub async fn favorites(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page = s
        .list_favorite_institutions(
            &client,
            &q.list("iso_country_code"),
            &[],
            q.page(PageRequest::MAX_PER_PAGE_INSTITUTIONS)?,
        )
        .await?;
    Ok(json::respond(v, StatusCode::OK, json::list("institutions", &page, |i| json::institution(v, i))))
}

fn institution_ref(v: Version, s: &str) -> InstitutionRef {
    match v {
        Version::V20111101 => InstitutionRef::Code(s.to_owned()),
        Version::V20250224 => InstitutionRef::code_or_guid(s),
    }
}

pub async fn read(
    State(s): State<Service>,
    v: Version,
    Auth(_client): Auth,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let inst = s.get_institution(&institution_ref(v, &code)).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "institution": json::institution(v, &inst) })))
}

pub async fn credentials(
    State(s): State<Service>,
    v: Version,
    Auth(_client): Auth,
    Path(code): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page_req = q.page(PageRequest::MAX_PER_PAGE)?;
    let (_, creds) = s.institution_credentials(&institution_ref(v, &code)).await?;
    let page = ferry_domain::Page::of(creds, page_req);
    Ok(json::respond(v, StatusCode::OK, json::list("credentials", &page, json::credential)))
}
