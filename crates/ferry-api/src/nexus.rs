//! The Nexus dialect: MX's per-user session API. A client gets a one-time API token for one of
//! its users from the Platform side (`POST /users/{user}/api_token`), exchanges it here for a
//! session (`POST /sessions` with `MD-API-TOKEN`), and sends `MD-SESSION-TOKEN` on every call;
//! resources are the session user's. Media type `application/vnd.mx.nexus.v1+json`; errors are
//! `{"error": {"code", "message", "status"}}` with MX's codes (4011 for a dead session, 4220
//! for a duplicate member).

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use ferry_core::{DataScope, InstitutionRef, MemberPatch, MemberRef, Service, UserRef};
use ferry_domain::{Client, Member, NewMember, PageRequest, Secret, SubmittedCredential, User};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{JsonBody, Path, QueryParams, Version};
use crate::platform::json;
use crate::{ApiError, dialect};

pub const MEDIA_TYPE: &str = "application/vnd.mx.nexus.v1+json";

/// Whether a request speaks Nexus: its session headers, or its media type.
pub fn is_nexus(headers: &HeaderMap) -> bool {
    dialect::speaks(headers, &["md-session-token", "md-api-token"], "vnd.mx.nexus")
}

pub fn router(service: Service) -> Router {
    dialect::with_fallbacks(
        Router::new()
            .route("/sessions", post(open_session))
            .route("/members", get(list_members).post(create_member))
            .route("/members/{member}", get(read_member).put(update_member).delete(delete_member))
            .route("/members/{member}/oauth_window_uri", get(oauth_window_uri))
            .route("/members/{member}/aggregate", post(aggregate))
            .route("/jobs/{job}", get(read_job))
            .route("/accounts", get(list_accounts))
            .route("/accounts/{account}", get(read_account))
            .route("/transactions", get(list_transactions))
            .route("/institutions", get(list_institutions))
            .route("/institutions/{institution}", get(read_institution))
            .route("/institutions/{institution}/credentials", get(institution_credentials)),
    )
    .layer(middleware::from_fn(nexus_shapes))
    .with_state(service)
}

/// MX's Nexus error code for a status.
fn code_for(status: StatusCode) -> u16 {
    match status.as_u16() {
        401 => 4011,
        409 | 422 => 4220,
        s => s * 10,
    }
}

/// Checks the media type; turns every error into Nexus's body (a duplicate's 409 becomes 422
/// with code 4220) and labels answers with Nexus's media type.
async fn nexus_shapes(req: Request, next: Next) -> Response {
    if let Some(message) = dialect::unacceptable(req.headers(), &[MEDIA_TYPE]) {
        return error_response(StatusCode::NOT_ACCEPTABLE, &message);
    }
    let response = next.run(req).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        let mut response = response;
        if response.headers().get(header::CONTENT_TYPE).is_some() {
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        }
        return response;
    }
    // The error itself, as its handler raised it; anything else (a plain status from a layer)
    // is named by its status.
    let message = match response.extensions().get::<ApiError>() {
        Some(e) => e.message_in(nexus_field),
        None => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let status = if status == StatusCode::CONFLICT { StatusCode::UNPROCESSABLE_ENTITY } else { status };
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let mut shaped = error_response(status, &message);
    if let Some(v) = retry_after {
        shaped.headers_mut().insert(header::RETRY_AFTER, v);
    }
    shaped
}

/// Nexus's names for the core's fields.
fn nexus_field(field: &'static str) -> &'static str {
    match field {
        "member.id" => "member.external_guid",
        "member.institution" => "member.institution_guid",
        other => other,
    }
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": { "code": code_for(status), "message": message, "status": status.as_u16() } });
    respond(status, body)
}

fn respond(status: StatusCode, body: Value) -> Response {
    dialect::respond(MEDIA_TYPE, status, body)
}

/// The session of a request: its client and user.
pub struct Session(pub Client, pub User);

impl FromRequestParts<Service> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("md-session-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "MD-SESSION-TOKEN is required"))?;
        match service.session(token).await {
            Ok((client, user)) => {
                if let Some(limiter) = parts.extensions.get::<crate::limits::Limiter>() {
                    limiter.admit(client.id.as_str())?;
                }
                Ok(Session(client, user))
            }
            Err(ferry_core::Error::Unauthorized) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the session has expired or does not exist; open a new one",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

fn user_of(u: &User) -> UserRef {
    UserRef::Guid(u.guid.clone())
}

fn member_json(m: &Member) -> Value {
    json!({
        "aggregated_at": json::timestamp(m.aggregated_at),
        "background_aggregation_is_disabled": m.background_aggregation_is_disabled,
        "connection_status": m.connection_status.as_str(),
        "connection_status_id": m.connection_status.id(),
        "connection_status_message": m.connection_status_message,
        "created_at": json::timestamp(Some(m.created_at)),
        "external_guid": m.id,
        "guid": m.guid.as_str(),
        "institution_guid": m.institution_guid.as_str(),
        "is_being_aggregated": m.is_being_aggregated,
        "is_oauth": m.is_oauth,
        "job_guid": m.most_recent_job_guid.as_ref().map(|g| g.as_str()),
        "metadata": m.metadata,
        "name": m.name,
        "oauth_window_uri": m.oauth_window_uri,
        // Increases with every change of the member.
        "revision": (m.updated_at.unix_timestamp_nanos() / 1_000) as i64,
        "successfully_aggregated_at": json::timestamp(m.successfully_aggregated_at),
        "updated_at": json::timestamp(Some(m.updated_at)),
        "user_guid": m.user_guid.as_str(),
    })
}

async fn open_session(State(s): State<Service>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = headers
        .get("md-api-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "MD-API-TOKEN is required"))?;
    match s.open_session(token).await {
        Ok(session) => Ok(respond(StatusCode::OK, json!({ "session": { "token": session } }))),
        Err(ferry_core::Error::Unauthorized) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "the API token is unknown, used or expired"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn list_members(State(s): State<Service>, Session(c, u): Session, q: QueryParams) -> Result<Response, ApiError> {
    let page = s.list_members(&c, &user_of(&u), None, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(respond(StatusCode::OK, json::list("members", &page, member_json)))
}

#[derive(Deserialize, Default)]
pub struct MemberBody {
    member: Option<MemberFields>,
}

#[derive(Deserialize, Default)]
struct MemberFields {
    institution_guid: Option<String>,
    credentials: Option<Vec<CredentialIn>>,
    external_guid: Option<String>,
    metadata: Option<String>,
    skip_aggregation: Option<bool>,
    is_oauth: Option<bool>,
    background_aggregation_is_disabled: Option<bool>,
}

#[derive(Deserialize)]
struct CredentialIn {
    guid: String,
    value: String,
}

fn credentials(list: Vec<CredentialIn>) -> Vec<SubmittedCredential> {
    list.into_iter().map(|c| SubmittedCredential { guid: c.guid, value: Secret::new(c.value) }).collect()
}

/// MX's answer to credential guids the institution does not (or no longer) have.
async fn check_credential_guids(s: &Service, institution: &str, given: &[SubmittedCredential]) -> Result<(), ApiError> {
    let r = InstitutionRef::code_or_guid(institution);
    let (_, fields) = s.institution_credentials(&r).await?;
    if given.iter().any(|c| !fields.iter().any(|f| f.guid.as_str() == c.guid)) {
        return Err(ApiError::bad_request(
            "The credential guids submitted are no longer valid. Get the institution's current credentials and try again.",
        ));
    }
    Ok(())
}

async fn create_member(
    State(s): State<Service>,
    Session(c, u): Session,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Response, ApiError> {
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let institution = f.institution_guid.ok_or_else(|| ApiError::bad_request("member.institution_guid is required"))?;
    if ferry_domain::InstitutionGuid::parse(&institution).is_err() {
        return Err(ApiError::bad_request("member.institution_guid must be an institution guid (INS-...)"));
    }
    let is_oauth = f.is_oauth.unwrap_or(false);
    let creds = credentials(f.credentials.unwrap_or_default());
    if !is_oauth && creds.is_empty() {
        return Err(ApiError::bad_request("member.credentials is required (or set member.is_oauth to true)"));
    }
    // The institution must exist before its credentials are judged.
    s.get_institution(&InstitutionRef::code_or_guid(&institution))
        .await
        .map_err(|_| ApiError::bad_request("member.institution_guid does not name an institution"))?;
    check_credential_guids(&s, &institution, &creds).await?;
    if let Some(ext) = &f.external_guid
        && s.member_id_in_use(&c, ext).await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("a member with external_guid `{}` already exists", ext.chars().take(80).collect::<String>()),
        ));
    }
    let new = NewMember {
        institution,
        credentials: creds,
        id: f.external_guid,
        metadata: f.metadata,
        is_oauth,
        skip_aggregation: f.skip_aggregation.unwrap_or(false),
        background_aggregation_is_disabled: f.background_aggregation_is_disabled.unwrap_or(false),
        use_cases: Vec::new(),
        products: Vec::new(),
        client_redirect_url: None,
        enable_app2app: None,
        referral_source: None,
        ui_message_webview_url_scheme: None,
        callback_payload: None,
        skip_webhook: false,
    };
    let created = s.create_member(&c, &user_of(&u), new).await?;
    let status = if created.aggregation_requested { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(respond(status, json!({ "member": member_json(&created.member) })))
}

fn member_ref(guid: &str) -> Result<MemberRef, ApiError> {
    Ok(MemberRef::guid_only(guid)?)
}

async fn read_member(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(m): Path<String>,
) -> Result<Response, ApiError> {
    let m = s.get_member(&c, &user_of(&u), &member_ref(&m)?).await?;
    Ok(respond(StatusCode::OK, json!({ "member": member_json(&m) })))
}

async fn update_member(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(m): Path<String>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Response, ApiError> {
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let r = member_ref(&m)?;
    let existing = s.get_member(&c, &user_of(&u), &r).await?;
    let creds = f.credentials.map(credentials);
    if let Some(given) = &creds {
        check_credential_guids(&s, existing.institution_guid.as_str(), given).await?;
    }
    if let Some(ext) = &f.external_guid
        && existing.id.as_deref() != Some(ext.as_str())
        && s.member_id_in_use(&c, ext).await?
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "another member has this external_guid"));
    }
    let patch = MemberPatch {
        credentials: creds,
        id: f.external_guid.map(Some),
        metadata: f.metadata.map(Some),
        background_aggregation_is_disabled: f.background_aggregation_is_disabled,
        use_cases: None,
        skip_aggregation: f.skip_aggregation,
        callback_payload: None,
        skip_webhook: false,
    };
    if patch.is_empty() {
        return Err(ApiError::bad_request("member has no field to update"));
    }
    let m = s.update_member(&c, &user_of(&u), &r, patch).await?;
    Ok(respond(StatusCode::OK, json!({ "member": member_json(&m) })))
}

async fn delete_member(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(m): Path<String>,
) -> Result<Response, ApiError> {
    s.delete_member(&c, &user_of(&u), &member_ref(&m)?, false).await?;
    Ok(respond(StatusCode::OK, json!({})))
}

async fn aggregate(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(m): Path<String>,
) -> Result<Response, ApiError> {
    let m = s.aggregate_member(&c, &user_of(&u), &member_ref(&m)?, None).await?;
    Ok(respond(StatusCode::ACCEPTED, json!({ "member": member_json(&m) })))
}

async fn oauth_window_uri(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(m): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let r = member_ref(&m)?;
    let existing = s.get_member(&c, &user_of(&u), &r).await?;
    if !existing.is_oauth {
        return Err(ApiError::bad_request("Member cannot use OAuth"));
    }
    let opts = q.window_options(true)?;
    let m = s.oauth_window_uri(&c, &user_of(&u), &r, opts).await?;
    Ok(respond(
        StatusCode::OK,
        json!({ "member": { "guid": m.guid.as_str(), "oauth_window_uri": m.oauth_window_uri } }),
    ))
}

/// MX's numeric job statuses (the Connect widget's): the job's state and, once it ended, the
/// connection status it ended with.
fn job_json(j: &ferry_domain::Job, m: &Member) -> Value {
    use ferry_domain::JobStatus;
    let status = match j.status {
        JobStatus::Queued | JobStatus::Running => ferry_domain::ConnectionStatus::RESUMED,
        JobStatus::Challenged => ferry_domain::ConnectionStatus::CHALLENGED,
        JobStatus::Succeeded | JobStatus::Failed => j.outcome.unwrap_or(m.connection_status),
    };
    json!({
        "created_at": json::timestamp(Some(j.created_at)),
        "error_message": j.error_message,
        "finished_at": json::timestamp(j.finished_at),
        "guid": j.guid.as_str(),
        "institution_guid": m.institution_guid.as_str(),
        "is_authenticated": m.is_authenticated,
        "job_type": j.job_type.as_str(),
        "member_guid": m.guid.as_str(),
        "started_at": json::timestamp(j.started_at),
        "status": status.id(),
        "status_name": status.as_str(),
        "updated_at": json::timestamp(Some(j.updated_at)),
        "user_guid": m.user_guid.as_str(),
    })
}

async fn read_job(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(j): Path<String>,
) -> Result<Response, ApiError> {
    let (job, member) = s.get_job(&c, &user_of(&u), &j).await?;
    Ok(respond(StatusCode::OK, json!({ "job": job_json(&job, &member) })))
}

async fn list_accounts(State(s): State<Service>, Session(c, u): Session, q: QueryParams) -> Result<Response, ApiError> {
    let page = s.list_accounts(&c, &user_of(&u), None, Default::default(), q.page(PageRequest::MAX_PER_PAGE)?).await?;
    let mut guids = std::collections::HashMap::new();
    for a in &page.items {
        if !guids.contains_key(&a.institution_code) {
            guids.insert(a.institution_code.clone(), institution_guid_of(&s, &a.institution_code).await?);
        }
    }
    Ok(respond(StatusCode::OK, json::list("accounts", &page, |a| account_json(a, &guids[&a.institution_code]))))
}

async fn read_account(
    State(s): State<Service>,
    Session(c, u): Session,
    Path(a): Path<String>,
) -> Result<Response, ApiError> {
    let a = s.get_account(&c, &user_of(&u), &a).await?;
    let institution = institution_guid_of(&s, &a.institution_code).await?;
    Ok(respond(StatusCode::OK, json!({ "account": account_json(&a, &institution) })))
}

async fn list_transactions(
    State(s): State<Service>,
    Session(c, u): Session,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let date = |k: &str| -> Result<Option<time::Date>, ApiError> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("{k} must be a date (YYYY-MM-DD)"))),
        }
    };
    let page = s
        .list_transactions(
            &c,
            &user_of(&u),
            &DataScope::User,
            date("from_date")?,
            date("to_date")?,
            q.page(PageRequest::MAX_PER_PAGE)?,
        )
        .await?;
    Ok(respond(StatusCode::OK, json::list("transactions", &page, json::transaction)))
}

async fn list_institutions(
    State(s): State<Service>,
    Session(_, _): Session,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let filter = ferry_core::InstitutionFilter { name: q.get("name").map(str::to_owned), ..Default::default() };
    let page = s.list_institutions(&filter, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(respond(StatusCode::OK, json::list("institutions", &page, institution_json)))
}

async fn read_institution(
    State(s): State<Service>,
    Session(_, _): Session,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    let i = s.get_institution(&InstitutionRef::code_or_guid(&i)).await?;
    Ok(respond(StatusCode::OK, json!({ "institution": institution_json(&i) })))
}

/// Nexus accounts: the Platform's fields plus `institution_guid`, the key Nexus clients use for
/// institutions (members and institutions carry guids, not codes, here).
fn account_json(a: &ferry_domain::Account, institution_guid: &str) -> Value {
    let mut body = json::account(a);
    body["institution_guid"] = json!(institution_guid);
    body
}

/// The guid of the institution an account's code names (from the cached catalog).
async fn institution_guid_of(s: &Service, code: &str) -> Result<String, ApiError> {
    Ok(s.get_institution(&InstitutionRef::code_or_guid(code)).await?.guid.into_string())
}

/// Nexus institutions: the Platform's fields plus `guid`, which Nexus members are created with
/// (`institution_guid`).
fn institution_json(i: &ferry_domain::Institution) -> Value {
    let mut body = json::institution(Version::V20111101, i);
    body["guid"] = json!(i.guid.as_str());
    body
}

async fn institution_credentials(
    State(s): State<Service>,
    Session(_, _): Session,
    Path(i): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (_, creds) = s.institution_credentials(&InstitutionRef::code_or_guid(&i)).await?;
    let page = ferry_domain::Page::of(creds, q.page(PageRequest::MAX_PER_PAGE)?);
    Ok(respond(StatusCode::OK, json::list("credentials", &page, json::credential)))
}
