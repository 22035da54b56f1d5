//! The Connect widget's URLs and sessions. An app asks for a widget URL for one of its users
//! (one-time, 10 minutes); opening it starts a widget session (256 random bits, 30 minutes past
//! its last call) bound to that client and user and carrying the options the app asked for.
//! The page holds the session token in memory and sends it on every call of the widget's API.
//! Only SHA-256 hashes of both tokens are stored.

use ferry_domain::{
    Client, JobType, Member, MemberGuid, NewMember, Product, SubmittedCredential, UseCase, User, UserGuid,
};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::institutions::InstitutionRef;
use crate::oauth::with_query;
use crate::webhooks::check_callback_payload;
use crate::{CreatedMember, Error, MemberRef, Result, Service, UserRef};

/// How long a widget URL can be opened, as MX's.
pub const WIDGET_URL_TTL: Duration = Duration::minutes(10);
/// How long a widget session lives past its last call.
pub const WIDGET_SESSION_TTL: Duration = Duration::minutes(30);
/// How long a widget session lives at most, however busy (a tab left polling ends too).
pub const WIDGET_SESSION_MAX: Duration = Duration::hours(4);

/// What the widget does: aggregate (accounts and transactions) or verify (account numbers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetMode {
    #[default]
    Aggregation,
    Verification,
}

/// The options of a widget URL, checked; they travel with the session. (`default`: a session
/// stored by an older build, without a newer field, still opens.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetOptions {
    pub mode: WidgetMode,
    /// The job after the first one succeeds, for the products the first does not bring:
    /// `aggregate` (transactions after a verification) or `verify` (numbers after an
    /// aggregation).
    pub follow_up: Option<String>,
    /// Whether the first job brings transactions (MX: default true in aggregation, false in
    /// verification).
    pub include_transactions: bool,
    /// Background aggregation of members created in the widget (MX: disabled by default in
    /// verification mode).
    pub disable_background_agg: bool,
    pub current_institution_guid: Option<String>,
    pub current_member_guid: Option<String>,
    pub disable_institution_search: bool,
    pub update_credentials: bool,
    /// `light`, `dark` or `browser`.
    pub color_scheme: String,
    /// `en`, `es` or `fr-CA`; `None` lets the page's `Accept-Language` decide.
    pub locale: Option<String>,
    pub is_mobile_webview: bool,
    pub ui_message_webview_url_scheme: String,
    /// `BROWSER` or `APP`.
    pub oauth_referral_source: String,
    pub client_redirect_url: Option<String>,
    pub enable_app2app: Option<bool>,
    pub use_cases: Vec<String>,
}

/// A widget URL as the app asked for it, before checks (every field optional, as on the wire).
#[derive(Debug, Clone, Default)]
pub struct WidgetRequest {
    pub widget_type: Option<String>,
    pub mode: Option<String>,
    pub products: Option<Vec<String>>,
    pub include_transactions: Option<bool>,
    pub disable_background_agg: Option<bool>,
    pub current_institution_code: Option<String>,
    pub current_institution_guid: Option<String>,
    pub current_member_guid: Option<String>,
    pub disable_institution_search: Option<bool>,
    pub update_credentials: Option<bool>,
    pub color_scheme: Option<String>,
    pub locale: Option<String>,
    /// The request's `Accept-Language`, the fallback for `locale`.
    pub accept_language: Option<String>,
    pub is_mobile_webview: Option<bool>,
    pub ui_message_version: Option<f64>,
    pub ui_message_webview_url_scheme: Option<String>,
    pub oauth_referral_source: Option<String>,
    pub client_redirect_url: Option<String>,
    pub enable_app2app: Option<bool>,
    pub use_cases: Option<Vec<String>>,
}

/// A live widget session.
#[derive(Debug, Clone)]
pub struct WidgetSession {
    /// Names the session in the widget's messages (`session_guid`); not a secret.
    pub session_guid: String,
    pub client: Client,
    pub user: User,
    pub options: WidgetOptions,
    pub callback_payload: Option<String>,
}

/// The locales the widget speaks.
pub const WIDGET_LOCALES: [&str; 3] = ["en", "es", "fr-CA"];

/// The widget locale for a language tag or an `Accept-Language` list: the first tag (by
/// quality, then order) whose language the widget speaks.
pub fn widget_locale(tags: &str) -> Option<&'static str> {
    let mut ranked: Vec<(f32, usize, &str)> = Vec::new();
    for (i, part) in tags.split(',').enumerate().take(32) {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|v| v.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if !tag.is_empty() && q > 0.0 {
            ranked.push((q, i, tag));
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().find_map(|(_, _, tag)| {
        let lang = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match lang.as_str() {
            "en" => Some("en"),
            "es" => Some("es"),
            "fr" => Some("fr-CA"),
            _ => None,
        }
    })
}

fn hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && s.len() <= 64
        // Schemes that would run or load something in the page instead of reaching the app.
        && !["javascript", "vbscript", "data", "blob", "file", "about", "http", "https"]
            .contains(&s.to_ascii_lowercase().as_str())
}

impl Service {
    /// Checks a widget request against the user's members and the catalog.
    async fn widget_options(&self, client: &Client, user: &User, r: WidgetRequest) -> Result<WidgetOptions> {
        match r.widget_type.as_deref() {
            None | Some("") => return Err(Error::invalid("widget_type", "is required")),
            Some("connect_widget") => {}
            Some(other) => {
                return Err(Error::invalid(
                    "widget_type",
                    format!(
                        "`{}` is not a widget this server offers; it offers `connect_widget`",
                        other.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
        let products: Vec<Product> = r
            .products
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.parse::<Product>()
                    .map_err(|_| Error::invalid_at("data_request.products", format!("[{i}]"), "is not a product"))
            })
            .collect::<Result<_>>()?;
        // MX's SDK allows a comma list (`aggregation,verification`): verification wins.
        let modes: Option<Vec<&str>> = r.mode.as_deref().map(|m| m.split(',').map(str::trim).collect());
        let mode = match modes.as_deref() {
            None => {
                // MX's data_request replaces mode: verification alone is verification mode.
                if products.contains(&Product::AccountVerification) && !products.contains(&Product::Transactions) {
                    WidgetMode::Verification
                } else {
                    WidgetMode::Aggregation
                }
            }
            Some(list) if list.iter().all(|m| *m == "aggregation" || *m == "verification") => {
                if list.contains(&"verification") { WidgetMode::Verification } else { WidgetMode::Aggregation }
            }
            Some(_) => return Err(Error::invalid("mode", "must be `aggregation` or `verification`")),
        };
        let verification = mode == WidgetMode::Verification;
        let include_transactions =
            r.include_transactions.unwrap_or(!verification || products.contains(&Product::Transactions));
        let color_scheme = match r.color_scheme.as_deref() {
            None => "light",
            Some(c @ ("light" | "dark" | "browser")) => c,
            Some(_) => return Err(Error::invalid("color_scheme", "must be `light`, `dark` or `browser`")),
        };
        if let Some(v) = r.ui_message_version
            && v != 4.0
        {
            return Err(Error::invalid("ui_message_version", "must be 4 (earlier versions are retired)"));
        }
        let locale = match r.locale.as_deref() {
            Some(l) => {
                crate::validate::text("locale", l, 35)?;
                widget_locale(l).or_else(|| r.accept_language.as_deref().and_then(widget_locale))
            }
            None => r.accept_language.as_deref().and_then(widget_locale),
        };
        let scheme = r.ui_message_webview_url_scheme.unwrap_or_else(|| "mx".into());
        if !is_scheme(&scheme) {
            return Err(Error::invalid(
                "ui_message_webview_url_scheme",
                "must be a URL scheme (a letter, then letters, digits, `+`, `-` or `.`)",
            ));
        }
        let webview = r.is_mobile_webview.unwrap_or(false);
        let referral = match r.oauth_referral_source.as_deref() {
            None => if webview { "APP" } else { "BROWSER" }.to_owned(),
            Some(s @ ("APP" | "BROWSER")) => s.to_owned(),
            Some(_) => return Err(Error::invalid("oauth_referral_source", "must be `APP` or `BROWSER`")),
        };
        if let Some(u) = &r.client_redirect_url {
            crate::validate::text("client_redirect_url", u, 2048)?;
            with_query(u, &[]).map_err(|_| Error::invalid("client_redirect_url", "must be an absolute URL"))?;
        }
        let use_cases = r.use_cases.unwrap_or_default();
        for (i, u) in use_cases.iter().enumerate() {
            u.parse::<UseCase>()
                .map_err(|_| Error::invalid_at("use_cases", format!("[{i}]"), "must be `PFM` or `MONEY_MOVEMENT`"))?;
        }
        // current_member_guid takes precedence over the institution fields, as at MX.
        let mut current_member_guid = None;
        let mut current_institution_guid = None;
        if let Some(m) = r.current_member_guid.as_deref().filter(|m| !m.is_empty()) {
            let member =
                MemberGuid::parse(m).map_err(|_| Error::invalid("current_member_guid", "is not a member guid"))?;
            let m = self
                .get_member(client, &UserRef::Guid(user.guid.clone()), &MemberRef::Guid(member))
                .await
                .map_err(|e| match e {
                    Error::NotFound(_) => Error::invalid("current_member_guid", "names no member of this user"),
                    other => other,
                })?;
            current_member_guid = Some(m.guid.into_string());
        } else {
            let by = match (r.current_institution_guid.as_deref(), r.current_institution_code.as_deref()) {
                (Some(g), _) if !g.is_empty() => Some(("current_institution_guid", InstitutionRef::code_or_guid(g))),
                (_, Some(c)) if !c.is_empty() => Some(("current_institution_code", InstitutionRef::Code(c.to_owned()))),
                _ => None,
            };
            if let Some((field, r)) = by {
                let i = self.catalog_entry(&r).await.map_err(|e| match e {
                    Error::NotFound(_) => Error::invalid(field, "names no institution"),
                    other => other,
                })?;
                let institution = &i.0;
                if institution.is_hidden || institution.connector == crate::institutions::MANUAL_CONNECTOR {
                    return Err(Error::invalid(field, "names no institution"));
                }
                if verification && !institution.supports(Product::AccountVerification) {
                    return Err(Error::invalid(field, "names an institution that does not support verification"));
                }
                current_institution_guid = Some(institution.guid.to_string());
            }
        }
        let disable_institution_search = r.disable_institution_search.unwrap_or(false);
        if disable_institution_search && current_member_guid.is_none() && current_institution_guid.is_none() {
            return Err(Error::invalid(
                "disable_institution_search",
                "needs current_member_guid, current_institution_guid or current_institution_code",
            ));
        }
        let follow_up = if verification {
            include_transactions.then(|| "aggregate".to_owned())
        } else {
            products.contains(&Product::AccountVerification).then(|| "verify".to_owned())
        };
        Ok(WidgetOptions {
            mode,
            follow_up,
            include_transactions,
            disable_background_agg: r.disable_background_agg.unwrap_or(verification),
            current_institution_guid,
            current_member_guid,
            disable_institution_search,
            update_credentials: r.update_credentials.unwrap_or(false),
            color_scheme: color_scheme.to_owned(),
            locale: locale.map(str::to_owned),
            is_mobile_webview: webview,
            ui_message_webview_url_scheme: scheme,
            oauth_referral_source: referral,
            client_redirect_url: r.client_redirect_url,
            enable_app2app: r.enable_app2app,
            use_cases,
        })
    }

    /// `POST /users/{user}/widget_urls`: a one-time widget URL (10 minutes) and the user.
    pub async fn create_widget_url(
        &self,
        client: &Client,
        user: &UserRef,
        request: WidgetRequest,
        callback_payload: Option<String>,
    ) -> Result<(String, User)> {
        if let Some(p) = &callback_payload {
            check_callback_payload(p)?;
        }
        let user = self.get_user(client, user).await?;
        let options = self.widget_options(client, &user, request).await?;
        let json = serde_json::to_string(&options).map_err(|e| Error::Internal(format!("widget options: {e}")))?;
        let token = crate::oauth::random_token();
        self.db()
            .insert_widget_url(
                &hash(&token),
                &client.id,
                &user.guid,
                &json,
                callback_payload.as_deref(),
                self.now() + WIDGET_URL_TTL,
            )
            .await?;
        Ok((format!("{}/connect/{token}", self.public_url()), user))
    }

    /// Opens a widget URL (once, within 10 minutes): a new session and its token. An unknown,
    /// used or expired URL is `Unauthorized`.
    pub async fn open_widget(&self, url_token: &str) -> Result<(String, WidgetSession)> {
        if url_token.len() > 128 {
            return Err(Error::Unauthorized);
        }
        let token = crate::oauth::random_token();
        let session_guid = format!("WSN-{}", self.uuid());
        let now = self.now();
        let row = self
            .db()
            .open_widget_session(&hash(url_token), &hash(&token), &session_guid, now, now + WIDGET_SESSION_TTL)
            .await?
            .ok_or(Error::Unauthorized)?;
        Ok((token, self.widget_session_of(row).await?))
    }

    /// The live session of a token, renewed for 30 minutes; `Unauthorized` otherwise (also
    /// when its user or client is gone).
    pub async fn widget_session(&self, token: &str) -> Result<WidgetSession> {
        if token.is_empty() || token.len() > 128 {
            return Err(Error::Unauthorized);
        }
        let now = self.now();
        // Renewed when less than TTL minus a minute is left: one write a minute, not one a call.
        let row = self
            .db()
            .touch_widget_session(
                &hash(token),
                now,
                now - WIDGET_SESSION_MAX,
                now + WIDGET_SESSION_TTL - Duration::minutes(1),
                now + WIDGET_SESSION_TTL,
            )
            .await?
            .ok_or(Error::Unauthorized)?;
        self.widget_session_of(row).await
    }

    async fn widget_session_of(&self, row: ferry_store::WidgetSessionRow) -> Result<WidgetSession> {
        let client_id = ferry_domain::ClientId::parse(&row.client_id).map_err(|_| Error::Unauthorized)?;
        let record = self.db().get_client(&client_id).await?.ok_or(Error::Unauthorized)?;
        let user_guid = UserGuid::parse(&row.user_guid).map_err(|_| Error::Unauthorized)?;
        let user = self.get_user(&record.client, &UserRef::Guid(user_guid)).await.map_err(|e| match e {
            Error::NotFound(_) => Error::Unauthorized,
            other => other,
        })?;
        let options: WidgetOptions = serde_json::from_str(&row.options)
            .map_err(|_| Error::Internal("a widget session's options are malformed".into()))?;
        Ok(WidgetSession {
            session_guid: row.session_guid,
            client: record.client,
            user,
            options,
            callback_payload: row.callback_payload,
        })
    }

    /// Creates a member from the widget: credentials, or OAuth. Its first job follows the
    /// session's mode, and the widget URL's callback payload goes with it.
    pub async fn widget_create_member(
        &self,
        w: &WidgetSession,
        institution_guid: &str,
        credentials: Vec<SubmittedCredential>,
        is_oauth: bool,
    ) -> Result<CreatedMember> {
        let o = &w.options;
        let verification = o.mode == WidgetMode::Verification;
        let mut products = Vec::new();
        if verification {
            products.push(Product::AccountVerification);
        }
        let new = NewMember {
            institution: institution_guid.to_owned(),
            credentials,
            id: None,
            metadata: None,
            is_oauth,
            skip_aggregation: false,
            background_aggregation_is_disabled: o.disable_background_agg,
            use_cases: o.use_cases.iter().filter_map(|u| u.parse().ok()).collect(),
            products,
            client_redirect_url: o.client_redirect_url.clone(),
            enable_app2app: o.enable_app2app,
            referral_source: Some(o.oauth_referral_source.clone()),
            ui_message_webview_url_scheme: Some(o.ui_message_webview_url_scheme.clone()),
            callback_payload: w.callback_payload.clone(),
            skip_webhook: false,
        };
        // Verification first in verification mode; balances without transactions when the app
        // asked for none; else an aggregation.
        let job = if verification {
            JobType::Verification
        } else if o.include_transactions {
            JobType::Aggregation
        } else {
            JobType::Balance
        };
        self.create_member_with_job(&w.client, &UserRef::Guid(w.user.guid.clone()), new, job).await
    }

    /// A member of the session's user.
    pub async fn widget_member(&self, w: &WidgetSession, guid: &str) -> Result<Member> {
        let g = MemberGuid::parse(guid).map_err(|_| Error::NotFound("member"))?;
        self.get_member(&w.client, &UserRef::Guid(w.user.guid.clone()), &MemberRef::Guid(g)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_follow_accept_language() {
        assert_eq!(widget_locale("fr-CA"), Some("fr-CA"));
        assert_eq!(widget_locale("fr"), Some("fr-CA"));
        assert_eq!(widget_locale("es-MX,es;q=0.9"), Some("es"));
        assert_eq!(widget_locale("de-DE,en;q=0.5,es;q=0.8"), Some("es"));
        assert_eq!(widget_locale("en-US"), Some("en"));
        assert_eq!(widget_locale("de, ja"), None);
        assert_eq!(widget_locale("es;q=0, en"), Some("en"));
        assert_eq!(widget_locale(""), None);
    }

    #[test]
    fn schemes() {
        assert!(is_scheme("mx"));
        assert!(is_scheme("my-app.v2+x"));
        assert!(!is_scheme("1mx"));
        assert!(!is_scheme("mx://"));
        assert!(!is_scheme(""));
        assert!(!is_scheme("javascript:alert(1)"));
        assert!(!is_scheme("JavaScript"));
        assert!(!is_scheme("https"));
    }
}
