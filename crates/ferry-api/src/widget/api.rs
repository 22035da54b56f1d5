//! The widget's own JSON API (`/connect/api/...`): authenticated by the widget session
//! (`Authorization: Bearer <token>`) and nothing else, acting for the session's user only.
//! Shapes are the widget's (docs/connect-widget.md), not MX's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use ferry_core::{
    AccountFilter, Error, InstitutionFilter, InstitutionRef, MemberPatch, MemberRef, UserRef, WidgetMode, WidgetSession,
};
use ferry_domain::{
    Challenge, ConnectionStatus, Institution, InstitutionCredential, JobType, Member, PageRequest, Product,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::WidgetState;
use crate::ApiError;
use crate::extract::{JsonBody, Path, QueryParams};
use crate::platform::members::{CredentialIn, credentials_in};

pub(super) fn routes() -> Router<WidgetState> {
    Router::new()
        .route("/connect/api/ping", post(ping))
        .route("/connect/api/institutions", get(institutions))
        .route("/connect/api/institutions/{institution}", get(institution))
        .route("/connect/api/members", get(members).post(create_member))
        .route("/connect/api/members/{member}", get(member).put(update_member).delete(delete_member))
        .route("/connect/api/members/{member}/resume", put(resume))
        .route("/connect/api/members/{member}/aggregate", post(aggregate))
        .route("/connect/api/members/{member}/verify", post(verify))
        .route("/connect/api/members/{member}/oauth_window_uri", get(oauth_window_uri))
        .route("/connect/api/members/{member}/accounts", get(accounts))
}

/// The widget's error body: `{"error": {"message", "status", "member_guid"?}}`.
pub(super) fn error_response(status: StatusCode, message: &str, member_guid: Option<&str>) -> Response {
    let mut error = json!({ "message": message, "status": status.as_u16() });
    if let Some(g) = member_guid {
        error["member_guid"] = json!(g);
    }
    let mut r = (status, axum::Json(json!({ "error": error }))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error of the widget's API.
pub(super) struct WidgetError(ApiError);

impl From<ApiError> for WidgetError {
    fn from(e: ApiError) -> Self {
        WidgetError(e)
    }
}

impl From<Error> for WidgetError {
    fn from(e: Error) -> Self {
        WidgetError(match e {
            Error::Unauthorized => {
                ApiError::new(StatusCode::UNAUTHORIZED, "this widget session has expired; open the widget again")
            }
            other => ApiError::from(other),
        })
    }
}

impl IntoResponse for WidgetError {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut r = error_response(e.status, &e.message, e.guid.as_deref());
        if let Some(s) = e.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if e.status == StatusCode::UNAUTHORIZED {
            r.extensions_mut().insert(crate::limits::AuthFailure);
        }
        r
    }
}

type Answer = Result<Response, WidgetError>;

fn ok(body: Value) -> Answer {
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The session of a request's `Authorization: Bearer` token.
pub(super) struct Session(WidgetSession);

impl FromRequestParts<WidgetState> for Session {
    type Rejection = WidgetError;

    async fn from_request_parts(parts: &mut Parts, st: &WidgetState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let session = st.service.widget_session(token).await?;
        // The client's rate (FERRY_RATE_LIMIT) covers its widgets' traffic too.
        if let Some(limiter) = parts.extensions.get::<crate::limits::Limiter>() {
            limiter.admit(session.client.id.as_str())?;
        }
        Ok(Session(session))
    }
}

/// Credential submissions (new members, new credentials, MFA answers) per widget session: at
/// most [`SUBMISSIONS_PER_WINDOW`] in [`SUBMISSION_WINDOW`], per node.
#[derive(Clone, Default)]
pub(crate) struct Submissions(Arc<Mutex<HashMap<String, (Instant, u32)>>>);

const SUBMISSIONS_PER_WINDOW: u32 = 10;
const SUBMISSION_WINDOW: Duration = Duration::from_secs(600);

impl Submissions {
    fn admit(&self, session: &str) -> Result<(), WidgetError> {
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < SUBMISSION_WINDOW);
        }
        let entry = map.entry(session.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= SUBMISSION_WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= SUBMISSIONS_PER_WINDOW {
            let wait = SUBMISSION_WINDOW.saturating_sub(now.duration_since(entry.0));
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many attempts in this session; wait a few minutes and try again",
            );
            e.retry_after = Some(wait.as_secs().max(1));
            return Err(e.into());
        }
        entry.1 += 1;
        Ok(())
    }
}

fn user(w: &WidgetSession) -> UserRef {
    UserRef::Guid(w.user.guid.clone())
}

fn institution_json(i: &Institution) -> Value {
    json!({
        "guid": i.guid.as_str(),
        "code": i.code,
        "name": i.name,
        "url": i.url,
        "supports_oauth": i.supports_oauth,
        "supports_verification": i.supports(Product::AccountVerification),
        "forgot_password_url": i.forgot_password_url,
        "forgot_username_url": i.forgot_username_url,
        "trouble_signing_in_url": i.trouble_signing_in_url,
        "instructional_text": i.instructional_text,
        "instructional_text_steps": i.instructional_text_steps,
    })
}

fn credential_json(c: &InstitutionCredential) -> Value {
    json!({
        "guid": c.guid.as_str(),
        "label": c.label,
        "field_name": c.field_name,
        "field_type": c.field_type,
        "display_order": c.display_order,
    })
}

fn challenge_json(c: &Challenge) -> Value {
    json!({
        "guid": c.guid,
        "label": c.label,
        "field_name": c.field_name,
        "type": c.kind,
        "image_data": c.image_data.as_deref().map(image_uri),
        "options": c.options.iter().map(|o| json!({ "guid": o.guid, "label": o.label, "value": o.value })).collect::<Vec<_>>(),
    })
}

/// A challenge's image as a `data:` URI (connectors give base64 PNG, or already a URI).
fn image_uri(data: &str) -> String {
    if data.starts_with("data:image/") { data.to_owned() } else { format!("data:image/png;base64,{data}") }
}

fn member_json(m: &Member, challenges: &[Challenge]) -> Value {
    // To the microsecond, as stored: a member just written and the same member read back agree.
    let at = m.updated_at;
    let at = at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap_or(at);
    let updated_at = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    json!({
        "updated_at": updated_at,
        "guid": m.guid.as_str(),
        "institution_guid": m.institution_guid.as_str(),
        "institution_code": m.institution_code,
        "name": m.name,
        "connection_status": m.connection_status.as_str(),
        "connection_status_id": m.connection_status.id(),
        "is_being_aggregated": m.is_being_aggregated,
        "is_oauth": m.is_oauth,
        "oauth_window_uri": m.oauth_window_uri,
        "message": m.connection_status_message,
        "challenges": challenges.iter().map(challenge_json).collect::<Vec<_>>(),
    })
}

/// A member with its challenges when it waits for answers.
async fn member_body(st: &WidgetState, m: &Member) -> Answer {
    let challenges = if m.connection_status == ConnectionStatus::CHALLENGED {
        st.service.challenges_of(m).await?.unwrap_or_default()
    } else {
        Vec::new()
    };
    ok(json!({ "member": member_json(m, &challenges) }))
}

/// The host's keep-alive (MX's `ping`): the session extractor has renewed the session.
async fn ping(Session(_): Session) -> Answer {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn institutions(State(st): State<WidgetState>, Session(w): Session, q: QueryParams) -> Answer {
    let search = q.get("search").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let page = PageRequest::new(q.int("page")?, Some(25), 25);
    let verification = w.options.mode == WidgetMode::Verification;
    let products = if verification { vec![Product::AccountVerification] } else { Vec::new() };
    let (items, favorites) = match search {
        Some(name) => {
            let filter = InstitutionFilter { name: Some(name), products, ..InstitutionFilter::default() };
            (st.service.list_institutions(&filter, page).await?.items, false)
        }
        None => (st.service.list_favorite_institutions(&w.client, &[], &products, page).await?.items, true),
    };
    let items: Vec<Value> = items.iter().filter(|i| !i.is_hidden).map(institution_json).collect();
    ok(json!({ "institutions": items, "favorites": favorites }))
}

async fn institution(State(st): State<WidgetState>, Session(_): Session, Path(i): Path<String>) -> Answer {
    let (inst, creds) = st.service.institution_credentials(&InstitutionRef::code_or_guid(&i)).await?;
    if inst.is_hidden {
        return Err(Error::NotFound("institution").into());
    }
    let mut creds = creds;
    creds.sort_by_key(|c| c.display_order);
    ok(json!({
        "institution": institution_json(&inst),
        "credentials": creds.iter().map(credential_json).collect::<Vec<_>>(),
    }))
}

async fn members(State(st): State<WidgetState>, Session(w): Session) -> Answer {
    let page = st.service.list_members(&w.client, &user(&w), None, PageRequest::new(Some(1), Some(100), 100)).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .filter(|m| m.institution_code != ferry_core::MANUAL_INSTITUTION_CODE)
        .map(|m| member_json(m, &[]))
        .collect();
    ok(json!({ "members": items }))
}

#[derive(Deserialize, Default)]
struct CreateBody {
    institution_guid: Option<String>,
    credentials: Option<Vec<CredentialIn>>,
    is_oauth: Option<bool>,
}

async fn create_member(
    State(st): State<WidgetState>,
    Session(w): Session,
    JsonBody(body): JsonBody<CreateBody>,
) -> Answer {
    let institution = body
        .institution_guid
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WidgetError(ApiError::bad_request("institution_guid is required")))?;
    let is_oauth = body.is_oauth.unwrap_or(false);
    let credentials = credentials_in(body.credentials.unwrap_or_default());
    if !is_oauth {
        st.submissions.admit(&w.session_guid)?;
    }
    let created = st.service.widget_create_member(&w, &institution, credentials, is_oauth).await?;
    member_body(&st, &created.member).await
}

async fn member(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    let m = st.service.widget_member(&w, &m).await?;
    member_body(&st, &m).await
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    credentials: Option<Vec<CredentialIn>>,
}

async fn update_member(
    State(st): State<WidgetState>,
    Session(w): Session,
    Path(m): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Answer {
    let credentials = body.credentials.ok_or_else(|| WidgetError(ApiError::bad_request("credentials is required")))?;
    let m = st.service.widget_member(&w, &m).await?;
    st.submissions.admit(&w.session_guid)?;
    let patch = MemberPatch {
        credentials: Some(credentials_in(credentials)),
        callback_payload: w.callback_payload.clone(),
        ..MemberPatch::default()
    };
    let updated = st.service.update_member(&w.client, &user(&w), &MemberRef::Guid(m.guid), patch).await?;
    member_body(&st, &updated).await
}

async fn delete_member(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    let m = st.service.widget_member(&w, &m).await?;
    st.service.delete_member(&w.client, &user(&w), &MemberRef::Guid(m.guid), false).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[derive(Deserialize, Default)]
struct ResumeBody {
    challenges: Option<Vec<CredentialIn>>,
}

async fn resume(
    State(st): State<WidgetState>,
    Session(w): Session,
    Path(m): Path<String>,
    JsonBody(body): JsonBody<ResumeBody>,
) -> Answer {
    let answers = body.challenges.ok_or_else(|| WidgetError(ApiError::bad_request("challenges is required")))?;
    let m = st.service.widget_member(&w, &m).await?;
    st.submissions.admit(&w.session_guid)?;
    let resumed =
        st.service.resume_member(&w.client, &user(&w), &MemberRef::Guid(m.guid), credentials_in(answers)).await?;
    member_body(&st, &resumed).await
}

async fn start(st: &WidgetState, w: &WidgetSession, m: &str, job: JobType) -> Answer {
    let m = st.service.widget_member(w, m).await?;
    let m = st
        .service
        .member_action(&w.client, &user(w), &MemberRef::Guid(m.guid), job, w.callback_payload.clone())
        .await?;
    member_body(st, &m).await
}

async fn aggregate(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    start(&st, &w, &m, JobType::Aggregation).await
}

async fn verify(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    start(&st, &w, &m, JobType::Verification).await
}

async fn oauth_window_uri(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    let m = st.service.widget_member(&w, &m).await?;
    let o = &w.options;
    let opts = ferry_core::WindowOptions {
        client_redirect_url: o.client_redirect_url.clone(),
        referral_source: Some(o.oauth_referral_source.clone()),
        ui_message_webview_url_scheme: Some(o.ui_message_webview_url_scheme.clone()),
        enable_app2app: o.enable_app2app,
        skip_aggregation: false,
    };
    let m = st.service.oauth_window_uri(&w.client, &user(&w), &MemberRef::Guid(m.guid), opts).await?;
    member_body(&st, &m).await
}

/// At most the last four digits of an account number; nothing when the number is that short
/// (its last four would be all of it).
fn mask(number: Option<&str>) -> Option<String> {
    let digits: Vec<char> = number?.chars().filter(char::is_ascii_alphanumeric).collect();
    if digits.len() <= 4 {
        return None;
    }
    Some(digits[digits.len().saturating_sub(4)..].iter().collect())
}

async fn accounts(State(st): State<WidgetState>, Session(w): Session, Path(m): Path<String>) -> Answer {
    let m = st.service.widget_member(&w, &m).await?;
    let page = st
        .service
        .list_accounts(
            &w.client,
            &user(&w),
            Some(&MemberRef::Guid(m.guid)),
            AccountFilter::default(),
            PageRequest::new(Some(1), Some(100), 100),
        )
        .await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|a| {
            json!({
                "guid": a.guid.as_str(),
                "name": a.nickname.as_deref().unwrap_or(&a.name),
                "type": a.kind,
                "subtype": a.subtype,
                "balance": a.balance.map(|d| d.to_string()),
                "available_balance": a.available_balance.map(|d| d.to_string()),
                "currency_code": a.currency_code,
                "account_number_mask": mask(a.account_number.as_deref()),
            })
        })
        .collect();
    ok(json!({ "accounts": items }))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_keep_at_most_four_characters() {
        assert_eq!(mask(Some("123456789")), Some("6789".into()));
        assert_eq!(mask(Some("12-345")), Some("2345".into()));
        assert_eq!(mask(Some("1234")), None);
        assert_eq!(mask(Some("12")), None);
        assert_eq!(mask(Some("")), None);
        assert_eq!(mask(None), None);
    }
}
