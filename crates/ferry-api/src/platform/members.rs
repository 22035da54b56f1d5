//! `/users/{user}/members`: create, read, update, delete, list, status, credentials and
//! challenges, with MX's status codes.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_core::{MemberPatch, Service};
use ferry_domain::{JobType, NewMember, PageRequest, Product, Secret, SubmittedCredential, UseCase};
use serde::Deserialize;
use serde_json::json;

use super::users::present;
use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams, Version, header_text};

const CALLBACK_HEADER: &str = "x-callback-payload";

#[derive(Deserialize, Default)]
pub struct CreateBody {
    member: Option<CreateFields>,
    data_request: Option<DataRequest>,
    client_redirect_url: Option<String>,
    enable_app2app: Option<bool>,
    referral_source: Option<String>,
    ui_message_webview_url_scheme: Option<String>,
}

#[derive(Deserialize, Default)]
struct CreateFields {
    institution_code: Option<String>,
    credentials: Option<Vec<CredentialIn>>,
    id: Option<String>,
    metadata: Option<String>,
    is_oauth: Option<bool>,
    skip_aggregation: Option<bool>,
    background_aggregation_is_disabled: Option<bool>,
    use_cases: Option<Vec<String>>,
    // Older clients put the OAuth options inside `member`.
    client_redirect_url: Option<String>,
    enable_app2app: Option<bool>,
    referral_source: Option<String>,
    ui_message_webview_url_scheme: Option<String>,
}

#[derive(Deserialize)]
struct DataRequest {
    products: Option<Vec<String>>,
}

/// A credential or an MX answer as sent: `{guid, value}`, either possibly missing (the core says
/// which is wrong). The Connect widget's API takes the same.
#[derive(Deserialize)]
pub(crate) struct CredentialIn {
    guid: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct UpdateBody {
    member: Option<UpdateFields>,
}

#[derive(Deserialize, Default)]
struct UpdateFields {
    credentials: Option<Vec<CredentialIn>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    metadata: Option<Option<String>>,
    background_aggregation_is_disabled: Option<bool>,
    use_cases: Option<Vec<String>>,
    skip_aggregation: Option<bool>,
}

pub(crate) fn credentials_in(creds: Vec<CredentialIn>) -> Vec<SubmittedCredential> {
    creds
        .into_iter()
        .map(|c| SubmittedCredential {
            guid: c.guid.unwrap_or_default(),
            value: Secret::new(c.value.unwrap_or_default()),
        })
        .collect()
}

fn use_cases_in(values: Vec<String>) -> Result<Vec<UseCase>, ApiError> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let u: UseCase = v.parse().map_err(|e| ApiError::bad_request(format!("member.use_cases[{i}]: {e}")))?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

fn products_in(values: Vec<String>) -> Result<Vec<Product>, ApiError> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let p: Product = v.parse().map_err(|e| ApiError::bad_request(format!("data_request.products[{i}]: {e}")))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `MX-Skip-Webhook: true` asks for no entity webhook from this request.
fn skip_webhook(headers: &HeaderMap) -> bool {
    headers
        .get("mx-skip-webhook")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

fn member_body(v: Version, status: StatusCode, m: &ferry_domain::Member) -> Response {
    json::respond(v, status, json!({ "member": json::member(v, m) }))
}

pub async fn create(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    let callback_payload = header_text(&headers, CALLBACK_HEADER)?;
    let user = user_ref(v, &user)?;
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let is_oauth = f.is_oauth.unwrap_or(false);
    let credentials = match f.credentials {
        Some(c) => credentials_in(c),
        None if is_oauth => Vec::new(),
        None => {
            return Err(ApiError::bad_request("member.credentials is required (or set member.is_oauth to true)"));
        }
    };
    let products = match body.data_request {
        Some(DataRequest { products: Some(p) }) => products_in(p)?,
        Some(DataRequest { products: None }) => {
            return Err(ApiError::bad_request("data_request.products is required"));
        }
        None => Vec::new(),
    };
    let new = NewMember {
        institution: f.institution_code.ok_or_else(|| ApiError::bad_request("member.institution_code is required"))?,
        credentials,
        id: f.id,
        metadata: f.metadata,
        is_oauth,
        skip_aggregation: f.skip_aggregation.unwrap_or(false),
        background_aggregation_is_disabled: f.background_aggregation_is_disabled.unwrap_or(false),
        use_cases: use_cases_in(f.use_cases.unwrap_or_default())?,
        products,
        client_redirect_url: body.client_redirect_url.or(f.client_redirect_url),
        enable_app2app: body.enable_app2app.or(f.enable_app2app),
        referral_source: body.referral_source.or(f.referral_source),
        ui_message_webview_url_scheme: body.ui_message_webview_url_scheme.or(f.ui_message_webview_url_scheme),
        callback_payload,
        skip_webhook: skip_webhook(&headers),
    };
    let created = s.create_member(&client, &user, new).await?;
    // 202 when aggregation was asked for, 200 when it was skipped (MX's create semantics).
    let status = if created.aggregation_requested { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(member_body(v, status, &created.member))
}

pub async fn read(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = s.get_member(&client, &user_ref(v, &user)?, &member_ref(v, &member)?).await?;
    Ok(member_body(v, StatusCode::OK, &m))
}

pub async fn update(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response, ApiError> {
    let callback_payload = header_text(&headers, CALLBACK_HEADER)?;
    let f = body.member.ok_or_else(|| ApiError::bad_request("member is required"))?;
    let patch = MemberPatch {
        credentials: f.credentials.map(credentials_in),
        id: f.id,
        metadata: f.metadata,
        background_aggregation_is_disabled: f.background_aggregation_is_disabled,
        use_cases: f.use_cases.map(use_cases_in).transpose()?,
        skip_aggregation: f.skip_aggregation,
        callback_payload,
        skip_webhook: skip_webhook(&headers),
    };
    let m = s.update_member(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, patch).await?;
    Ok(member_body(v, StatusCode::OK, &m))
}

pub async fn delete(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    s.delete_member(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, skip_webhook(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let use_case = match q.get("use_case").filter(|u| !u.is_empty()) {
        Some(u) => Some(u.parse::<UseCase>().map_err(|e| ApiError::bad_request(format!("use_case: {e}")))?),
        None => None,
    };
    let page = s.list_members(&client, &user_ref(v, &user)?, use_case, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list("members", &page, |m| json::member(v, m))))
}

pub async fn status(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (user, member) = (user_ref(v, &user)?, member_ref(v, &member)?);
    let m = s.get_member(&client, &user, &member).await?;
    let challenges = s.challenges_of(&m).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "member": json::member_status(&m, challenges.as_deref()) })))
}

pub async fn credentials(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page = s
        .member_credentials(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, q.page(PageRequest::MAX_PER_PAGE)?)
        .await?;
    Ok(json::respond(v, StatusCode::OK, json::list("credentials", &page, json::credential)))
}

/// 204 unless the member is CHALLENGED, as MX answers.
pub async fn challenges(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page_req = q.page(PageRequest::MAX_PER_PAGE)?;
    let Some(all) = s.member_challenges(&client, &user_ref(v, &user)?, &member_ref(v, &member)?).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let page = ferry_domain::Page::of(all, page_req);
    Ok(json::respond(v, StatusCode::OK, json::list("challenges", &page, json::challenge)))
}

/// The job-starting actions: 202 with the member (a job of the same type already running is
/// also 202, with no new job; another type running is 409). `verify` answers 200, as MX does.
/// The actions of `POST .../members/{member}/{action}` and the jobs they start.
pub(crate) const ACTIONS: &[(&str, JobType)] = &[
    ("aggregate", JobType::Aggregation),
    ("check_balance", JobType::Balance),
    ("extend_history", JobType::History),
    ("identify", JobType::Identification),
    ("verify", JobType::Verification),
    ("fetch_statements", JobType::Statement),
];

pub async fn action(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(&(_, job_type)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no route for POST .../members/{{member}}/{}", action.chars().take(40).collect::<String>()),
        ));
    };
    let callback_payload = header_text(&headers, CALLBACK_HEADER)?;
    let m =
        s.member_action(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, job_type, callback_payload).await?;
    // MX answers verify with 200 and every other action with 202.
    let status = if job_type == JobType::Verification { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok(member_body(v, status, &m))
}

#[derive(Deserialize, Default)]
pub struct ResumeBody {
    member: Option<ResumeFields>,
}

#[derive(Deserialize, Default)]
struct ResumeFields {
    challenges: Option<Vec<CredentialIn>>,
}

/// `PUT .../resume`: MFA answers; 202 with the member (now RESUMED).
pub async fn resume(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<ResumeBody>,
) -> Result<Response, ApiError> {
    let answers =
        body.member.and_then(|m| m.challenges).ok_or_else(|| ApiError::bad_request("member.challenges is required"))?;
    let m = s.resume_member(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, credentials_in(answers)).await?;
    Ok(member_body(v, StatusCode::ACCEPTED, &m))
}

/// `GET .../oauth_window_uri`: a fresh one-time window URI for an OAuth member.
pub async fn oauth_window_uri(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let opts = q.window_options(true)?;
    let m = s.oauth_window_uri(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, opts).await?;
    Ok(json::respond(
        v,
        StatusCode::OK,
        serde_json::json!({ "member": { "guid": m.guid.as_str(), "oauth_window_uri": m.oauth_window_uri } }),
    ))
}
