//! The Atrium dialect: MX's older member API (the `atrium` SDKs). Auth by the `MX-API-Key`
//! and `MX-Client-ID` headers (the same client credentials as Basic auth on the Platform API),
//! media type `application/vnd.mx.atrium.v1+json`, partner ids as `identifier`, the legacy
//! member `status` beside `connection_status`, OAuth options inside `member`, and Atrium's paths
//! (`/balance`, `/holdings`, ...). Users and members have Atrium's own shapes here; the
//! resources whose shapes Atrium shares with the Platform API (accounts, transactions,
//! institutions, credentials, challenges, account numbers, owners, statements) are served by
//! the Platform handlers, relabelled with Atrium's media type.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use ferry_core::{MemberPatch, MemberRef, Service, UserRef};
use ferry_domain::{
    ConnectionStatus, Member, NewMember, NewUser, PageRequest, Secret, SubmittedCredential, User, UserPatch,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams};
use crate::platform::{accounts, institutions, json, members, records, transactions};
use crate::{ApiError, dialect};

pub const MEDIA_TYPE: &str = "application/vnd.mx.atrium.v1+json";

/// Whether a request speaks Atrium: its key headers, or its media type.
pub fn is_atrium(headers: &HeaderMap) -> bool {
    dialect::speaks(headers, &["mx-api-key", "mx-client-id"], "vnd.mx.atrium")
}

pub fn router(service: Service) -> Router {
    dialect::with_fallbacks(
        Router::new()
            .route("/users", get(list_users).post(create_user))
            .route("/users/{user}", get(read_user).put(update_user).delete(delete_user))
            .route("/users/{user}/connect_widget_url", post(connect_widget_url))
            .route("/users/{user}/members", get(list_members).post(create_member))
            .route("/users/{user}/members/{member}", get(read_member).put(update_member).delete(delete_member))
            .route("/users/{user}/members/{member}/status", get(member_status))
            .route("/users/{user}/members/{member}/aggregate", post(aggregate))
            .route("/users/{user}/members/{member}/balance", post(balance))
            .route("/users/{user}/members/{member}/extend_history", post(extend_history))
            .route("/users/{user}/members/{member}/identify", post(identify))
            .route("/users/{user}/members/{member}/verify", post(verify))
            .route("/users/{user}/members/{member}/fetch_statements", post(fetch_statements))
            .route("/users/{user}/members/{member}/resume", put(resume))
            .route("/users/{user}/members/{member}/oauth_window_uri", get(oauth_window_uri))
            .route("/users/{user}/members/{member}/credentials", get(members::credentials))
            .route("/users/{user}/members/{member}/challenges", get(members::challenges))
            .route("/users/{user}/members/{member}/accounts", get(accounts::list_by_member))
            .route("/users/{user}/members/{member}/accounts/{account}", get(accounts::read_by_member))
            .route("/users/{user}/members/{member}/transactions", get(transactions::list_by_member))
            .route("/users/{user}/members/{member}/account_numbers", get(records::account_numbers_by_member))
            .route("/users/{user}/members/{member}/account_owners", get(records::account_owners_by_member))
            .route("/users/{user}/members/{member}/holdings", get(holdings_by_member))
            .route("/users/{user}/members/{member}/statements", get(records::statements_by_member))
            .route("/users/{user}/members/{member}/statements/{statement}", get(records::statement))
            .route("/users/{user}/accounts", get(accounts::list))
            .route("/users/{user}/accounts/{account}", get(accounts::read))
            .route("/users/{user}/accounts/{account}/transactions", get(transactions::list_by_account))
            .route("/users/{user}/accounts/{account}/account_numbers", get(records::account_numbers_by_account))
            .route("/users/{user}/accounts/{account}/holdings", get(holdings_by_account))
            .route("/users/{user}/transactions", get(transactions::list))
            .route("/users/{user}/transactions/{transaction}", get(transactions::read))
            .route("/users/{user}/holdings", get(holdings))
            .route("/users/{user}/holdings/{holding}", get(holding))
            .route("/institutions", get(institutions::list))
            .route("/institutions/{institution}", get(institutions::read))
            .route("/institutions/{institution}/credentials", get(institutions::credentials)),
    )
    .layer(middleware::from_fn(atrium_shapes))
    .with_state(service)
}

/// Checks the media type and labels JSON answers (errors too) with Atrium's.
async fn atrium_shapes(req: Request, next: Next) -> Response {
    let ours = [MEDIA_TYPE, "application/vnd.mx.atrium.v1+pdf", "application/pdf"];
    if let Some(message) = dialect::unacceptable(req.headers(), &ours) {
        let mut r = ApiError::new(StatusCode::NOT_ACCEPTABLE, message).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        return r;
    }
    let mut response = next.run(req).await;
    // A field error names the field in Atrium's words (`identifier`, not `id`).
    if let Some(e) = response.extensions().get::<ApiError>().filter(|e| e.field.is_some()) {
        let mut renamed = e.clone();
        renamed.message = e.message_in(atrium_field);
        renamed.field = None;
        response = renamed.into_response();
    }
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    if is_json {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    }
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    response
}

/// Atrium's names for the core's fields.
fn atrium_field(field: &'static str) -> &'static str {
    match field {
        "member.id" => "member.identifier",
        "user.id" => "user.identifier",
        other => crate::error::platform_field(other),
    }
}

fn respond(status: StatusCode, body: Value) -> Response {
    dialect::respond(MEDIA_TYPE, status, body)
}

fn user_ref(s: &str) -> Result<UserRef, ApiError> {
    Ok(UserRef::guid_only(s)?)
}

fn member_ref(s: &str) -> Result<MemberRef, ApiError> {
    Ok(MemberRef::guid_only(s)?)
}

fn user_json(u: &User) -> Value {
    json!({ "guid": u.guid.as_str(), "identifier": u.id, "is_disabled": u.is_disabled, "metadata": u.metadata })
}

/// Atrium's legacy aggregation `status`, derived from the connection status.
fn legacy_status(m: &Member) -> &'static str {
    use ConnectionStatus::*;
    match m.connection_status {
        CHALLENGED => "CHALLENGED",
        CONNECTED if m.is_being_aggregated => "RECEIVED",
        CONNECTED => "COMPLETED",
        DENIED | REJECTED | IMPAIRED => "DENIED",
        PREVENTED | LOCKED | IMPEDED => "PREVENTED",
        FAILED | DEGRADED | DELAYED | DISCONNECTED | DISCONTINUED | CLOSED | EXPIRED => "HALTED",
        _ if m.is_being_aggregated => "REQUESTED",
        _ => "INITIATED",
    }
}

fn member_json(m: &Member) -> Value {
    json!({
        "aggregated_at": json::timestamp(m.aggregated_at),
        "connection_status": m.connection_status.as_str(),
        "guid": m.guid.as_str(),
        "identifier": m.id,
        "institution_code": m.institution_code,
        "is_being_aggregated": m.is_being_aggregated,
        "is_oauth": m.is_oauth,
        "metadata": m.metadata,
        "name": m.name,
        "oauth_window_uri": m.oauth_window_uri,
        "status": legacy_status(m),
        "successfully_aggregated_at": json::timestamp(m.successfully_aggregated_at),
        "user_guid": m.user_guid.as_str(),
    })
}

#[derive(Deserialize, Default)]
pub struct UserBody {
    user: Option<UserFields>,
}

#[derive(Deserialize, Default)]
struct UserFields {
    identifier: Option<String>,
    is_disabled: Option<bool>,
    metadata: Option<String>,
}

async fn create_user(
    State(s): State<Service>,
    Auth(c): Auth,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, ApiError> {
    let f = body.user.unwrap_or_default();
    let new =
        NewUser { id: f.identifier, email: None, is_disabled: f.is_disabled.unwrap_or(false), metadata: f.metadata };
    let u = s.create_user(&c, new).await?;
    Ok(respond(StatusCode::OK, json!({ "user": user_json(&u) })))
}

async fn list_users(State(s): State<Service>, Auth(c): Auth, q: QueryParams) -> Result<Response, ApiError> {
    let page = s.list_users(&c, &Default::default(), q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(respond(StatusCode::OK, json::list("users", &page, user_json)))
}

async fn read_user(State(s): State<Service>, Auth(c): Auth, Path(u): Path<String>) -> Result<Response, ApiError> {
    let u = s.get_user(&c, &user_ref(&u)?).await?;
    Ok(respond(StatusCode::OK, json!({ "user": user_json(&u) })))
}

async fn update_user(
    State(s): State<Service>,
    Auth(c): Auth,
    Path(u): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, ApiError> {
    let f = body.user.ok_or_else(|| ApiError::bad_request("user is required"))?;
    let patch = UserPatch {
        id: f.identifier.map(Some),
        email: None,
        is_disabled: f.is_disabled,
        metadata: f.metadata.map(Some),
    };
    let u = s.update_user(&c, &user_ref(&u)?, patch).await?;
    Ok(respond(StatusCode::OK, json!({ "user": user_json(&u) })))
}

async fn delete_user(State(s): State<Service>, Auth(c): Auth, Path(u): Path<String>) -> Result<Response, ApiError> {
    s.delete_user(&c, &user_ref(&u)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_members(
    State(s): State<Service>,
    Auth(c): Auth,
    Path(u): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page = s.list_members(&c, &user_ref(&u)?, None, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(respond(StatusCode::OK, json::list("members", &page, member_json)))
}

#[derive(Deserialize, Default)]
pub struct MemberBody {
    member: Option<MemberFields>,
}

#[derive(Deserialize, Default)]
struct MemberFields {
    institution_code: Option<String>,
    credentials: Option<Vec<CredentialIn>>,
    identifier: Option<String>,
    metadata: Option<String>,
    is_oauth: Option<bool>,
    skip_aggregation: Option<bool>,
    referral_source: Option<String>,
    ui_message_webview_url_scheme: Option<String>,
    client_redirect_url: Option<String>,
}

#[derive(Deserialize)]
struct CredentialIn {
    guid: Option<String>,
    value: Option<String>,
}

fn credentials(list: Vec<CredentialIn>, field: &str) -> Result<Vec<SubmittedCredential>, ApiError> {
    list.into_iter()
        .enumerate()
        .map(|(i, c)| match (c.guid, c.value) {
            (Some(guid), Some(value)) => Ok(SubmittedCredential { guid, value: Secret::new(value) }),
            _ => Err(ApiError::bad_request(format!("member.{field}[{i}] needs a guid and a value"))),
        })
        .collect()
}

async fn create_member(
    State(s): State<Service>,
    Auth(c): Auth,
    Path(u): Path<String>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Response, ApiError> {
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let is_oauth = f.is_oauth.unwrap_or(false);
    let creds = credentials(f.credentials.unwrap_or_default(), "credentials")?;
    if !is_oauth && creds.is_empty() {
        return Err(ApiError::bad_request("member.credentials is required (or set member.is_oauth to true)"));
    }
    let new = NewMember {
        institution: f.institution_code.ok_or_else(|| ApiError::bad_request("member.institution_code is required"))?,
        credentials: creds,
        id: f.identifier,
        metadata: f.metadata,
        is_oauth,
        skip_aggregation: f.skip_aggregation.unwrap_or(false),
        background_aggregation_is_disabled: false,
        use_cases: Vec::new(),
        products: Vec::new(),
        client_redirect_url: f.client_redirect_url,
        enable_app2app: None,
        referral_source: f.referral_source,
        ui_message_webview_url_scheme: f.ui_message_webview_url_scheme,
        callback_payload: None,
        skip_webhook: false,
    };
    let created = s.create_member(&c, &user_ref(&u)?, new).await?;
    let status = if created.aggregation_requested { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(respond(status, json!({ "member": member_json(&created.member) })))
}

/// `POST /users/{guid}/connect_widget_url`: Atrium's widget URL, its options flat in the body.
async fn connect_widget_url(
    State(s): State<Service>,
    Auth(c): Auth,
    Path(u): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<crate::platform::widgets::WidgetUrlFields>,
) -> Result<Response, ApiError> {
    let callback_payload = crate::extract::header_text(&headers, "x-callback-payload")?;
    let accept_language = crate::extract::header_text(&headers, header::ACCEPT_LANGUAGE.as_str())?;
    let mut fields = body;
    fields.widget_type.get_or_insert_with(|| "connect_widget".into());
    let (url, user) =
        s.create_widget_url(&c, &user_ref(&u)?, fields.into_request(accept_language), callback_payload).await?;
    Ok(respond(StatusCode::OK, json!({ "user": { "connect_widget_url": url, "guid": user.guid.as_str() } })))
}

async fn read_member(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = s.get_member(&c, &user_ref(&u)?, &member_ref(&m)?).await?;
    Ok(respond(StatusCode::OK, json!({ "member": member_json(&m) })))
}

async fn update_member(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Response, ApiError> {
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let patch = MemberPatch {
        credentials: f.credentials.map(|c| credentials(c, "credentials")).transpose()?,
        id: f.identifier.map(Some),
        metadata: f.metadata.map(Some),
        background_aggregation_is_disabled: None,
        use_cases: None,
        skip_aggregation: f.skip_aggregation,
        callback_payload: None,
        skip_webhook: false,
    };
    if patch.is_empty() {
        return Err(ApiError::bad_request("member has no field to update"));
    }
    let m = s.update_member(&c, &user_ref(&u)?, &member_ref(&m)?, patch).await?;
    Ok(respond(StatusCode::OK, json!({ "member": member_json(&m) })))
}

async fn delete_member(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.delete_member(&c, &user_ref(&u)?, &member_ref(&m)?, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn member_status(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = s.get_member(&c, &user_ref(&u)?, &member_ref(&m)?).await?;
    let challenges = s.challenges_of(&m).await?;
    let mut body = json::member_status(&m, challenges.as_deref());
    body["status"] = json!(legacy_status(&m));
    Ok(respond(StatusCode::OK, json!({ "member": body })))
}

async fn start(
    s: &Service,
    c: &ferry_domain::Client,
    u: &str,
    m: &str,
    job: ferry_domain::JobType,
) -> Result<Member, ApiError> {
    Ok(s.member_action(c, &user_ref(u)?, &member_ref(m)?, job, None).await?)
}

macro_rules! action {
    ($name:ident, $job:expr, $status:expr) => {
        async fn $name(State(s): State<Service>, Auth(c): Auth, Path((u, m)): Path<(String, String)>) -> Result<Response, ApiError> {
            let m = start(&s, &c, &u, &m, $job).await?;
            Ok(respond($status, json!({ "member": member_json(&m) })))
        }
    };
}

action!(aggregate, ferry_domain::JobType::Aggregation, StatusCode::ACCEPTED);
action!(balance, ferry_domain::JobType::Balance, StatusCode::ACCEPTED);
action!(extend_history, ferry_domain::JobType::History, StatusCode::ACCEPTED);
action!(identify, ferry_domain::JobType::Identification, StatusCode::ACCEPTED);
action!(verify, ferry_domain::JobType::Verification, StatusCode::ACCEPTED);
action!(fetch_statements, ferry_domain::JobType::Statement, StatusCode::ACCEPTED);

#[derive(Deserialize, Default)]
pub struct ResumeBody {
    member: Option<ResumeFields>,
}

#[derive(Deserialize, Default)]
struct ResumeFields {
    challenges: Option<Vec<CredentialIn>>,
}

async fn resume(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
    JsonBody(body): JsonBody<ResumeBody>,
) -> Result<Response, ApiError> {
    let answers =
        body.member.and_then(|m| m.challenges).ok_or_else(|| ApiError::bad_request("member.challenges is required"))?;
    let m = s.resume_member(&c, &user_ref(&u)?, &member_ref(&m)?, credentials(answers, "challenges")?).await?;
    Ok(respond(StatusCode::ACCEPTED, json!({ "member": member_json(&m) })))
}

async fn oauth_window_uri(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let opts = q.window_options(false)?;
    let m = s.oauth_window_uri(&c, &user_ref(&u)?, &member_ref(&m)?, opts).await?;
    Ok(respond(StatusCode::OK, json!({ "member": member_json(&m) })))
}

/// Atrium's holding: the Platform record with `shares` (a number) for `quantity`.
fn holding_json(r: &ferry_domain::Record) -> Value {
    let mut body = json::record(r);
    if let ferry_domain::RecordData::Holding(h) = &r.data {
        body["shares"] = json!(rust_decimal::prelude::ToPrimitive::to_f64(&h.quantity));
        body["updated_at"] = json::timestamp(Some(r.updated_at));
    }
    body
}

async fn holdings_of(
    s: &Service,
    c: &ferry_domain::Client,
    u: &str,
    of: ferry_core::DataScope,
    q: &QueryParams,
) -> Result<Response, ApiError> {
    let page = s
        .list_records(c, &user_ref(u)?, ferry_domain::RecordKind::Holding, &of, q.page(PageRequest::MAX_PER_PAGE)?)
        .await?;
    Ok(respond(StatusCode::OK, json::list("holdings", &page, holding_json)))
}

async fn holdings(
    State(s): State<Service>,
    Auth(c): Auth,
    Path(u): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    holdings_of(&s, &c, &u, ferry_core::DataScope::User, &q).await
}

async fn holdings_by_member(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, m)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    holdings_of(&s, &c, &u, ferry_core::DataScope::Member(member_ref(&m)?), &q).await
}

async fn holdings_by_account(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, a)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    holdings_of(&s, &c, &u, ferry_core::DataScope::Account(a), &q).await
}

async fn holding(
    State(s): State<Service>,
    Auth(c): Auth,
    Path((u, h)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let r = s.get_record(&c, &user_ref(&u)?, None, ferry_domain::RecordKind::Holding, &h).await?;
    Ok(respond(StatusCode::OK, json!({ "holding": holding_json(&r) })))
}
