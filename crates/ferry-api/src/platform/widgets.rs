//! `POST /users/{user}/widget_urls`: a one-time URL of the Connect widget (Ferry serves only
//! `connect_widget`; other widget types are a 400).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use ferry_core::{Service, WidgetRequest};
use serde::Deserialize;
use serde_json::json;

use super::{json, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, Version, header_text};

#[derive(Deserialize, Default)]
pub struct WidgetUrlBody {
    widget_url: Option<WidgetUrlFields>,
}

/// MX's `WidgetRequest`; fields for other widget types (`insight_guid`, `style`, ...) are
/// accepted and have no effect.
#[derive(Deserialize, Default)]
pub(crate) struct WidgetUrlFields {
    pub(crate) widget_type: Option<String>,
    pub(crate) mode: Option<String>,
    data_request: Option<DataRequest>,
    pub(crate) include_transactions: Option<bool>,
    disable_background_agg: Option<bool>,
    pub(crate) current_institution_code: Option<String>,
    current_institution_guid: Option<String>,
    pub(crate) current_member_guid: Option<String>,
    pub(crate) disable_institution_search: Option<bool>,
    pub(crate) update_credentials: Option<bool>,
    pub(crate) color_scheme: Option<String>,
    locale: Option<String>,
    pub(crate) is_mobile_webview: Option<bool>,
    pub(crate) ui_message_version: Option<f64>,
    pub(crate) ui_message_webview_url_scheme: Option<String>,
    oauth_referral_source: Option<String>,
    client_redirect_url: Option<String>,
    enable_app2app: Option<bool>,
    use_cases: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct DataRequest {
    products: Option<Vec<String>>,
}

impl WidgetUrlFields {
    pub(crate) fn into_request(self, accept_language: Option<String>) -> WidgetRequest {
        WidgetRequest {
            widget_type: self.widget_type,
            mode: self.mode,
            products: self.data_request.and_then(|d| d.products),
            include_transactions: self.include_transactions,
            disable_background_agg: self.disable_background_agg,
            current_institution_code: self.current_institution_code,
            current_institution_guid: self.current_institution_guid,
            current_member_guid: self.current_member_guid,
            disable_institution_search: self.disable_institution_search,
            update_credentials: self.update_credentials,
            color_scheme: self.color_scheme,
            locale: self.locale,
            accept_language,
            is_mobile_webview: self.is_mobile_webview,
            ui_message_version: self.ui_message_version,
            ui_message_webview_url_scheme: self.ui_message_webview_url_scheme,
            oauth_referral_source: self.oauth_referral_source,
            client_redirect_url: self.client_redirect_url,
            enable_app2app: self.enable_app2app,
            use_cases: self.use_cases,
        }
    }
}

pub async fn create(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<WidgetUrlBody>,
) -> Result<Response, ApiError> {
    let callback_payload = header_text(&headers, "x-callback-payload")?;
    let accept_language = header_text(&headers, header::ACCEPT_LANGUAGE.as_str())?;
    let user = user_ref(v, &user)?;
    let fields = body.widget_url.ok_or_else(|| ApiError::bad_request("widget_url is required"))?;
    let (url, user) =
        s.create_widget_url(&client, &user, fields.into_request(accept_language), callback_payload).await?;
    Ok(json::respond(
        v,
        StatusCode::OK,
        json!({ "widget_url": { "type": "connect_widget", "url": url, "user_id": user.id } }),
    ))
}
