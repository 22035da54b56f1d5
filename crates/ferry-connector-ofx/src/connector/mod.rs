//! The OFX Direct Connect connector. Each exchange is one POST of an OFX file to the
//! institution's server: the login signs on and asks for the account list (ACCTINFO); a pull
//! signs on again and asks every account's statement in one file. A CLIENTUID is made once per
//! member and kept in its state (banks that require one approve it out of band, so it must
//! never change); the discovered accounts are kept too, for servers that answer ACCTINFO
//! only sometimes. MFA (3000) asks the server's questions as challenges and answers the
//! automatic ones (MFA101–MFA107) itself; an AUTHTOKEN (15512) is asked as a text challenge.

mod config;
mod map;
mod status_map;

pub use config::OfxConfig;

use std::time::Duration as StdDuration;

use ferry_connector::net::{AddressPolicy, BodyError, describe, guarded_client, read_limited};
use ferry_connector::{
    AccountData, Answer, CatalogProfile, Challenge, Connector, ConnectorError, Failure, FieldSpec, LoginOutcome,
    LoginRequest, PullRequest, Pulled, Refusal, Result, Session, TransactionData,
};
use ferry_domain::Product;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{
    AccountInfo, AccountRef, AccountType, BankStatementRequest, CardStatementRequest, InvestmentStatementRequest, Item,
    OfxDate, Request, Response, Signon, Style, parse_response, write,
};

/// The credential fields of an OFX institution.
pub const LOGIN_FIELD: &str = "LOGIN";
pub const PASSWORD_FIELD: &str = "PASSWORD";

/// The largest response Ferry reads.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The OFX connector.
pub struct OfxConnector {
    http: reqwest::Client,
    policy: AddressPolicy,
}

impl OfxConnector {
    /// A connector whose requests obey `policy` and time out after `timeout`.
    pub fn new(policy: AddressPolicy, timeout: StdDuration) -> Self {
        Self { http: guarded_client(policy, timeout, "InetClntApp/3.0"), policy }
    }
}

/// What a member's state keeps between jobs.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    client_uid: Option<String>,
    /// The version the server accepted after refusing the configured one (2021).
    #[serde(default)]
    version: Option<u16>,
    /// Whether the server's profile was read (institutions with `profile = true`).
    #[serde(default)]
    profiled: bool,
    /// The profile asks clients to fetch MFA challenges before signing on.
    #[serde(default)]
    mfa_first: bool,
    /// The accounts the server listed last, as `(kind, bank_id or broker_id, acct_id, type)`.
    #[serde(default)]
    accounts: Vec<KnownAccount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct KnownAccount {
    kind: String,
    institution_id: String,
    acct_id: String,
    acct_type: Option<String>,
    desc: Option<String>,
}

impl KnownAccount {
    fn of(info: &AccountInfo) -> Self {
        let (kind, institution_id, acct_type) = match &info.account {
            AccountRef::Bank { bank_id, acct_type, .. } => {
                ("bank", bank_id.clone(), Some(acct_type.as_str().to_owned()))
            }
            AccountRef::CreditCard { .. } => ("card", String::new(), None),
            AccountRef::Investment { broker_id, .. } => ("inv", broker_id.clone(), None),
        };
        KnownAccount {
            kind: kind.into(),
            institution_id,
            acct_id: info.account.acct_id().to_owned(),
            acct_type,
            desc: info.desc.clone(),
        }
    }

    fn info(&self) -> Option<AccountInfo> {
        let account = match self.kind.as_str() {
            "bank" => AccountRef::Bank {
                bank_id: self.institution_id.clone(),
                branch_id: None,
                acct_id: self.acct_id.clone(),
                acct_type: AccountType::parse(self.acct_type.as_deref().unwrap_or("CHECKING")),
            },
            "card" => AccountRef::CreditCard { acct_id: self.acct_id.clone() },
            "inv" => AccountRef::Investment { broker_id: self.institution_id.clone(), acct_id: self.acct_id.clone() },
            _ => return None,
        };
        Some(AccountInfo { account, desc: self.desc.clone(), phone: None, svc_status: None, supports_download: true })
    }
}

/// What the session carries from the login to the pull (in memory; `Session`'s `Debug` hides it).
#[derive(Serialize, Deserialize)]
struct SessionState {
    /// The institution's settings (checked by the login).
    config: serde_json::Value,
    /// The OFX version to speak (the configured one, or the server's fallback).
    version: u16,
    user_id: String,
    user_pass: String,
    client_uid: Option<String>,
    mfa_answers: Vec<(String, String)>,
    auth_token: Option<String>,
    accounts: Vec<KnownAccount>,
    now: i64,
}

/// The challenge round in progress (sealed by the core with the job).
#[derive(Serialize, Deserialize)]
struct ChallengeState {
    /// `(phrase id, label)` of the questions asked of the user.
    questions: Vec<(String, String)>,
    /// The server wants an AUTHTOKEN rather than MFA answers.
    auth_token: bool,
}

fn refused(failure: Failure, message: impl Into<String>) -> ConnectorError {
    ConnectorError::Refused(Refusal::new(failure, message))
}

fn config_of(request_config: &serde_json::Value) -> Result<OfxConfig> {
    OfxConfig::from_json(request_config).map_err(|m| {
        tracing::warn!(problem = %m, "an OFX institution's settings are invalid");
        refused(Failure::Failed, "This institution is not set up correctly in Ferry. The operator should check it.")
    })
}

/// Answers the automatic MFA phrases (MFA101–MFA107) the way desktop clients do.
fn automatic_answer(phrase_id: &str, now: OffsetDateTime) -> Option<String> {
    Some(match phrase_id {
        "MFA101" => OfxDate::DateTime(now).to_string(),
        "MFA102" => "ferry".into(),
        "MFA103" => "127.0.0.1".into(),
        "MFA104" => "00:00:00:00:00:00".into(),
        "MFA105" => "Linux".into(),
        "MFA106" => "x86_64".into(),
        "MFA107" => "InetClntApp/3.0".into(),
        _ => return None,
    })
}

impl OfxConnector {
    /// Sends one OFX file and reads the answer; transport failures are the member's status.
    async fn exchange(&self, cfg: &OfxConfig, request: &Request) -> Result<Response> {
        let url =
            url::Url::parse(&cfg.ofx_url).map_err(|_| refused(Failure::Failed, "The OFX server's URL is invalid."))?;
        self.policy.check_url(&url).map_err(|_| {
            refused(
                Failure::Failed,
                "The institution's OFX server is on a loopback or private address, which Ferry does not call (the \
                 operator may allow it with FERRY_CONNECTORS_ALLOW_LOOPBACK=1 or FERRY_CONNECTORS_ALLOW_PRIVATE=1).",
            )
        })?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if url.scheme() != "https" && !(loopback && self.policy.allow_loopback) {
            // The password travels in the body: never over plain http to the world.
            return Err(refused(
                Failure::Failed,
                "The institution's OFX server URL does not use HTTPS; Ferry does not send passwords without it. \
                 The operator should fix its ofx_url.",
            ));
        }
        let mut ofx = request.to_ofx();
        if cfg.no_new_file_uid {
            ofx.header.new_file_uid = "NONE".into();
        }
        let style = Style { closed_leaves: !cfg.unclosed_elements || ofx.header.is_v2(), pretty: cfg.pretty };
        let body = write(&ofx, style);
        let mut builder = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-ofx")
            .header(reqwest::header::ACCEPT, "*/*, application/x-ofx, application/xml;q=0.9");
        if let Some(ua) = &cfg.user_agent {
            builder = builder.header(reqwest::header::USER_AGENT, ua);
        }
        let response = builder.body(body).send().await.map_err(|e| {
            tracing::info!(error = %describe(&e), "OFX request failed");
            refused(Failure::Disconnected, "The bank's OFX server could not be reached. Ferry will try again later.")
        })?;
        let status = response.status();
        if status.is_server_error() {
            return Err(refused(
                Failure::Disconnected,
                "The bank's OFX server is failing. Ferry will try again later.",
            ));
        }
        if !status.is_success() {
            return Err(refused(
                Failure::Failed,
                format!("The bank's OFX server refused Ferry's request (HTTP {}).", status.as_u16()),
            ));
        }
        let bytes = read_limited(response, MAX_BODY).await.map_err(|e| match e {
            BodyError::TooLarge => refused(Failure::Failed, "The bank's OFX server sent more data than Ferry reads."),
            BodyError::Transport(_) => refused(
                Failure::Disconnected,
                "The bank's OFX server could not be reached. Ferry will try again later.",
            ),
        })?;
        parse_response(&bytes).map_err(|e| {
            // The error's kind only: its text may quote the body, which holds account data.
            let kind = match e {
                crate::ParseError::NotOfx(_) => "not OFX",
                crate::ParseError::Header(_) | crate::ParseError::UnsupportedVersion(_) => "a bad header",
                crate::ParseError::Charset(_) => "an unknown character set",
                crate::ParseError::TooDeep(_) => "nested too deep",
                crate::ParseError::Missing(_) => "a required element missing",
                _ => "malformed",
            };
            tracing::info!(problem = kind, "the OFX server's answer could not be read");
            refused(Failure::Failed, "The bank's OFX server answered with something that is not OFX.")
        })
    }

    fn signon(&self, cfg: &OfxConfig, s: &SessionState) -> Signon {
        Signon {
            dtclient: OfxDate::DateTime(
                OffsetDateTime::from_unix_timestamp(s.now).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            ),
            user_id: s.user_id.clone(),
            user_pass: s.user_pass.clone(),
            language: "ENG".into(),
            org: cfg.org.clone(),
            fid: cfg.fid.clone(),
            app_id: cfg.app_id.clone(),
            app_ver: cfg.app_ver.clone(),
            client_uid: if cfg.sends_client_uid() && s.version >= 103 { s.client_uid.clone() } else { None },
            auth_token: s.auth_token.clone(),
            mfa_answers: s.mfa_answers.clone(),
        }
    }

    fn request(&self, cfg: &OfxConfig, s: &SessionState, items: Vec<Item>) -> Request {
        // A fresh TRNUID for every transaction of every file: servers refuse a repeated one (2019).
        Request::new(s.version, self.signon(cfg, s), items, || uuid::Uuid::new_v4().to_string().to_uppercase())
    }

    /// Reads the server's profile once (institutions with `profile = true`): some servers
    /// expect it, and it says whether MFA questions come before the sign-on. A server that
    /// does not answer it is not refused for that.
    async fn read_profile(
        &self,
        request: &LoginRequest,
        cfg: &OfxConfig,
        s: &SessionState,
        st: &mut State,
    ) -> Result<()> {
        if !cfg.profile || st.profiled {
            return Ok(());
        }
        let anonymous = SessionState {
            user_id: "anonymous00000000000000000000000".into(),
            user_pass: "anonymous00000000000000000000000".into(),
            client_uid: None,
            mfa_answers: Vec::new(),
            auth_token: None,
            accounts: Vec::new(),
            config: serde_json::Value::Null,
            version: s.version,
            now: s.now,
        };
        let item = Item::Profile { dtprofup: OfxDate::Date(time::macros::date!(1990 - 01 - 01)) };
        match self.exchange(cfg, &self.request(cfg, &anonymous, vec![item])).await {
            Ok(response) => {
                let infos = response.profile.and_then(|p| p.body).map(|p| p.signon_infos).unwrap_or_default();
                st.mfa_first = infos.iter().any(|i| i.mfa_challenge_first);
            }
            Err(e) => tracing::info!(error = %e, "the OFX server's profile could not be read"),
        }
        st.profiled = true;
        request.state_store.save(&serde_json::to_string(&st).unwrap_or_default(), false).await
    }

    /// Signs on with account discovery; the outcome of the login. A server that refuses the
    /// version (2021) is asked once more in an older one, which is remembered.
    async fn sign_on(
        &self,
        request: &LoginRequest,
        cfg: &OfxConfig,
        mut s: SessionState,
        mut st: State,
    ) -> Result<LoginOutcome> {
        if st.mfa_first && s.mfa_answers.is_empty() && s.auth_token.is_none() {
            return self.challenge(request, cfg, s, st).await;
        }
        let mut response = self.exchange(cfg, &self.request(cfg, &s, vec![Item::account_info()])).await?;
        if response.signon.status.code == 2021
            && let Some(older) = fallback_version(s.version)
        {
            s.version = older;
            response = self.exchange(cfg, &self.request(cfg, &s, vec![Item::account_info()])).await?;
            if response.signon.status.code != 2021 {
                st.version = Some(older);
                request.state_store.save(&serde_json::to_string(&st).unwrap_or_default(), false).await?;
            }
        }
        let status = &response.signon.status;
        if status.code == 3000 {
            if !s.mfa_answers.is_empty() {
                // Answers were sent and the bank asks again: they were not accepted.
                return Err(refused(Failure::Rejected, "The answers were not accepted. Try again."));
            }
            return self.challenge(request, cfg, s, st).await;
        }
        if status.code == 15512 {
            let state = ChallengeState { questions: Vec::new(), auth_token: true };
            return Ok(LoginOutcome::Challenged {
                challenges: vec![Challenge {
                    guid: "CRD-0f000000-0000-4000-8000-617574687431".into(),
                    label: "Enter the one-time code (authentication token) your bank sent you.".into(),
                    field_name: "AUTHTOKEN".into(),
                    kind: "TEXT".into(),
                    image_data: None,
                    options: Vec::new(),
                }],
                state: serde_json::to_string(&state).unwrap_or_default(),
            });
        }
        if let Some(r) = status_map::signon(status) {
            return Err(ConnectorError::Refused(r));
        }
        if let Some(trn) = &response.account_info
            && trn.status.code == 0
            && let Some(list) = &trn.body
        {
            let listed: Vec<KnownAccount> =
                list.accounts.iter().filter(|a| a.is_downloadable()).map(KnownAccount::of).collect();
            if listed != st.accounts {
                st.accounts = listed;
                request.state_store.save(&serde_json::to_string(&st).unwrap_or_default(), false).await?;
            }
        }
        if st.accounts.is_empty() {
            return Err(refused(
                Failure::Impeded,
                "The bank lists no accounts this login may download through Direct Connect. Check your \
                 enrollment with your bank.",
            ));
        }
        s.accounts = st.accounts.clone();
        Ok(LoginOutcome::Connected(Session {
            member_key: request.member_key.clone(),
            state: serde_json::to_string(&s).unwrap_or_default(),
            state_store: request.state_store.clone(),
        }))
    }

    /// 3000: asks the server's questions; automatic ones are answered without the user.
    async fn challenge(
        &self,
        request: &LoginRequest,
        cfg: &OfxConfig,
        mut s: SessionState,
        st: State,
    ) -> Result<LoginOutcome> {
        let item = Item::MfaChallenge { dtclient: OfxDate::DateTime(request.now) };
        let response = self.exchange(cfg, &self.request(cfg, &s, vec![item])).await?;
        // The challenge request signs on too: a refused sign-on is that refusal (a wrong
        // password is DENIED, not "no questions").
        let status = &response.signon.status;
        if !matches!(status.code, 0 | 3000)
            && let Some(r) = status_map::signon(status)
        {
            return Err(ConnectorError::Refused(r));
        }
        if response.signon.mfa_challenges.is_empty() {
            return Err(refused(
                Failure::Impeded,
                "The bank asked for extra verification but sent no questions. Contact your bank.",
            ));
        }
        let questions: Vec<(String, String)> = response
            .signon
            .mfa_challenges
            .iter()
            .filter(|c| automatic_answer(&c.phrase_id, request.now).is_none())
            .map(|c| {
                (c.phrase_id.clone(), c.label.clone().unwrap_or_else(|| format!("Security question {}", c.phrase_id)))
            })
            .collect();
        let automatic: Vec<(String, String)> = response
            .signon
            .mfa_challenges
            .iter()
            .filter_map(|c| automatic_answer(&c.phrase_id, request.now).map(|a| (c.phrase_id.clone(), a)))
            .collect();
        if questions.is_empty() {
            // Only questions Ferry answers itself: sign on again with the answers, no user.
            s.mfa_answers = automatic;
            return Box::pin(self.sign_on(request, cfg, s, st)).await;
        }
        let challenges = questions
            .iter()
            .enumerate()
            .map(|(n, (id, label))| Challenge {
                guid: format!("CRD-0f000000-0000-4000-8000-{:012x}", n + 1),
                label: label.clone(),
                field_name: id.clone(),
                kind: "TEXT".into(),
                image_data: None,
                options: Vec::new(),
            })
            .collect();
        let mut state = ChallengeState { questions, auth_token: false };
        // Automatic phrases come back with the answers: keep them as questions without a label.
        for (id, _) in automatic {
            state.questions.push((id, String::new()));
        }
        Ok(LoginOutcome::Challenged { challenges, state: serde_json::to_string(&state).unwrap_or_default() })
    }

    fn prepare(&self, request: &LoginRequest) -> Result<(OfxConfig, SessionState, State)> {
        let cfg = config_of(&request.config)?;
        // A state that cannot be read is our fault, never a reason to mint a new CLIENTUID
        // (the bank approved the old one).
        let st: State = match &request.state {
            None => State::default(),
            Some(s) => serde_json::from_str(s.expose())
                .map_err(|_| ConnectorError::Internal("the member's OFX state cannot be read".into()))?,
        };
        let get = |f: &str| request.credentials.get(f).map(|v| v.expose().to_owned()).unwrap_or_default();
        let (user_id, user_pass) = (get(LOGIN_FIELD), get(PASSWORD_FIELD));
        if user_id.trim().is_empty() || user_pass.is_empty() {
            return Err(refused(Failure::Impaired, "Enter your Direct Connect user ID and password."));
        }
        if user_id.chars().count() > 32 || user_pass.chars().count() > 171 {
            return Err(refused(
                Failure::Denied,
                "OFX allows user IDs of at most 32 characters and passwords of at most 171.",
            ));
        }
        let s = SessionState {
            config: request.config.clone(),
            version: st.version.unwrap_or(cfg.ofx_version),
            user_id,
            user_pass,
            client_uid: st.client_uid.clone(),
            mfa_answers: Vec::new(),
            auth_token: None,
            accounts: st.accounts.clone(),
            now: request.now.unix_timestamp(),
        };
        Ok((cfg, s, st))
    }

    /// A CLIENTUID for the member, made once and saved before it is ever sent.
    async fn ensure_client_uid(
        &self,
        request: &LoginRequest,
        cfg: &OfxConfig,
        s: &mut SessionState,
        st: &mut State,
    ) -> Result<()> {
        if cfg.sends_client_uid() && st.client_uid.is_none() {
            st.client_uid = Some(uuid::Uuid::new_v4().to_string().to_uppercase());
            request.state_store.save(&serde_json::to_string(&st).unwrap_or_default(), false).await?;
        }
        s.client_uid = st.client_uid.clone();
        Ok(())
    }
}

#[async_trait::async_trait]
impl Connector for OfxConnector {
    fn check_config(&self, config: &serde_json::Value) -> std::result::Result<(), String> {
        OfxConfig::from_json(config).map(|_| ())
    }

    fn catalog_profile(&self, config: &serde_json::Value) -> CatalogProfile {
        let investments = OfxConfig::from_json(config).is_ok_and(|c| c.broker_id.is_some());
        let mut products = vec![Product::Transactions, Product::TransactionHistory, Product::AccountVerification];
        if investments {
            products.push(Product::Investments);
        }
        CatalogProfile {
            fields: vec![
                FieldSpec { field_name: LOGIN_FIELD.into(), label: "Direct Connect user ID".into(), kind: "TEXT" },
                FieldSpec {
                    field_name: PASSWORD_FIELD.into(),
                    label: "Direct Connect password".into(),
                    kind: "PASSWORD",
                },
            ],
            products,
            default_instructions: Some(
                "Use the user ID and password your bank gives for Direct Connect (Quicken, GnuCash and other money \
                 software). Many banks need you to enroll in Direct Connect first, and some use a separate password."
                    .into(),
            ),
        }
    }

    async fn login(&self, request: &LoginRequest) -> Result<LoginOutcome> {
        let (cfg, mut s, mut st) = self.prepare(request)?;
        self.ensure_client_uid(request, &cfg, &mut s, &mut st).await?;
        self.read_profile(request, &cfg, &s, &mut st).await?;
        self.sign_on(request, &cfg, s, st).await
    }

    async fn answer(&self, request: &LoginRequest, state: &str, answers: &[Answer]) -> Result<LoginOutcome> {
        let (cfg, mut s, mut st) = self.prepare(request)?;
        self.ensure_client_uid(request, &cfg, &mut s, &mut st).await?;
        let challenge: ChallengeState =
            serde_json::from_str(state).map_err(|_| ConnectorError::Other("malformed OFX challenge state".into()))?;
        if challenge.auth_token {
            let token = answers.first().map(|a| a.value.expose().trim().to_owned()).filter(|t| !t.is_empty());
            s.auth_token = Some(token.ok_or_else(|| ConnectorError::BadAnswers("the code is missing".into()))?);
        } else {
            for (n, (id, label)) in challenge.questions.iter().enumerate() {
                if label.is_empty() {
                    if let Some(a) = automatic_answer(id, request.now) {
                        s.mfa_answers.push((id.clone(), a));
                    }
                    continue;
                }
                let guid = format!("CRD-0f000000-0000-4000-8000-{:012x}", n + 1);
                let a = answers
                    .iter()
                    .find(|a| a.guid == guid)
                    .ok_or_else(|| ConnectorError::BadAnswers(format!("no answer to \"{label}\"")))?;
                s.mfa_answers.push((id.clone(), a.value.expose().to_owned()));
            }
        }
        self.sign_on(request, &cfg, s, st).await
    }

    async fn pull(&self, session: &Session, request: &PullRequest) -> Result<Pulled> {
        let s: SessionState =
            serde_json::from_str(&session.state).map_err(|_| ConnectorError::Other("malformed OFX session".into()))?;
        let cfg = config_of(&s.config)?;
        let infos: Vec<AccountInfo> = s.accounts.iter().filter_map(KnownAccount::info).collect();
        let today = OffsetDateTime::from_unix_timestamp(s.now).map(|t| t.date()).unwrap_or(Date::MIN);
        let (start, end) = match request.transactions {
            // Never a DTEND in the future: strict servers refuse the range (2020, 2027).
            Some((from, to)) => (Some(from), Some(to.min(today))),
            None => (Some(OffsetDateTime::from_unix_timestamp(s.now).map(|t| t.date()).unwrap_or(Date::MIN)), None),
        };
        let items: Vec<Item> = infos.iter().map(|info| statement_item(info, &cfg, start, end)).collect();
        let ofx_request = self.request(&cfg, &s, items);
        let response = self.exchange(&cfg, &ofx_request).await?;
        if let Some(r) = status_map::signon(&response.signon.status) {
            return Err(ConnectorError::Refused(r));
        }
        collect(&response, &ofx_request, &infos, request)
    }

    async fn accounts(&self, session: &Session) -> Result<Vec<AccountData>> {
        Ok(self.pull(session, &PullRequest { transactions: None, holdings: false }).await?.accounts)
    }

    async fn transactions(
        &self,
        session: &Session,
        account_id: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<TransactionData>> {
        let pulled = self.pull(session, &PullRequest { transactions: Some((from, to)), holdings: false }).await?;
        Ok(pulled.transactions.into_iter().filter(|t| t.account_id == account_id).collect())
    }

    async fn account_numbers(&self, session: &Session) -> Result<Vec<ferry_connector::AccountNumberData>> {
        let s: SessionState =
            serde_json::from_str(&session.state).map_err(|_| ConnectorError::Other("malformed OFX session".into()))?;
        Ok(s.accounts
            .iter()
            .filter_map(KnownAccount::info)
            .filter_map(|info| match &info.account {
                AccountRef::Bank { bank_id, acct_id, .. } if !bank_id.is_empty() => {
                    Some(ferry_connector::AccountNumberData {
                        account_id: map::account_id(&info.account),
                        account_number: acct_id.clone(),
                        routing_number: Some(bank_id.clone()),
                        institution_number: None,
                        transit_number: None,
                        passed_validation: bank_id.len() == 9 && bank_id.chars().all(|c| c.is_ascii_digit()),
                    })
                }
                _ => None,
            })
            .collect())
    }
}

/// The version to try when a server refuses one (2021): OFX 2.x servers that refuse fall back
/// to 1.0.3 (SGML), 1.x to 1.0.2.
fn fallback_version(version: u16) -> Option<u16> {
    match version {
        200.. => Some(103),
        103..=199 => Some(102),
        _ => None,
    }
}

fn statement_item(info: &AccountInfo, cfg: &OfxConfig, start: Option<Date>, end: Option<Date>) -> Item {
    let dtstart = start.map(OfxDate::Date);
    let dtend = end.map(OfxDate::Date);
    match &info.account {
        AccountRef::Bank { bank_id, branch_id, acct_id, acct_type } => Item::BankStatement(BankStatementRequest {
            bank_id: if bank_id.is_empty() { cfg.bank_id.clone().unwrap_or_default() } else { bank_id.clone() },
            branch_id: branch_id.clone(),
            acct_id: acct_id.clone(),
            acct_type: acct_type.clone(),
            dtstart,
            dtend,
        }),
        AccountRef::CreditCard { acct_id } => {
            Item::CreditCardStatement(CardStatementRequest { acct_id: acct_id.clone(), dtstart, dtend })
        }
        AccountRef::Investment { broker_id, acct_id } => Item::InvestmentStatement(InvestmentStatementRequest {
            broker_id: if broker_id.is_empty() { cfg.broker_id.clone().unwrap_or_default() } else { broker_id.clone() },
            acct_id: acct_id.clone(),
            dtstart,
            dtend,
            // Always: an investment account's balance is its positions plus its cash.
            include_positions: true,
            include_balance: true,
        }),
    }
}

/// Accounts, transactions and holdings of a statement response, in discovery order. Each
/// statement is matched to its account by the TRNUID it answers (so a refusal without a body
/// still names its account), or by the account it carries.
fn collect(response: &Response, sent: &Request, infos: &[AccountInfo], request: &PullRequest) -> Result<Pulled> {
    let asked: std::collections::HashMap<&str, String> = sent
        .items
        .iter()
        .filter_map(|i| {
            let acct = match &i.item {
                Item::BankStatement(r) => r.acct_id.clone(),
                Item::CreditCardStatement(r) => r.acct_id.clone(),
                Item::InvestmentStatement(r) => r.acct_id.clone(),
                _ => return None,
            };
            Some((i.trnuid.as_str(), acct))
        })
        .collect();
    let answers_for = |acct: &str, trnuid: &str, body_acct: Option<&str>| {
        asked.get(trnuid).map(String::as_str) == Some(acct) || body_acct == Some(acct)
    };
    let mut accounts = Vec::new();
    let mut transactions = Vec::new();
    let mut holdings = Vec::new();
    let mut closed = 0usize;
    for info in infos {
        let acct = info.account.acct_id();
        let id = map::account_id(&info.account);
        let mut account = map::account(info, "USD");
        let status = if let AccountRef::Investment { .. } = info.account {
            let trn = response
                .investment_statements
                .iter()
                .find(|t| answers_for(acct, &t.trnuid, t.body.as_ref().map(|b| b.account.acct_id())));
            let Some(trn) = trn else { continue };
            if let Some(body) = &trn.body {
                let (h, t) = map::investment(body, response, &mut account);
                holdings.extend(h);
                if request.transactions.is_some() {
                    transactions.extend(t);
                }
            }
            trn.status.clone()
        } else {
            let trn = response
                .bank_statements
                .iter()
                .chain(&response.card_statements)
                .find(|t| answers_for(acct, &t.trnuid, t.body.as_ref().map(|b| b.account.acct_id())));
            let Some(trn) = trn else { continue };
            if let Some(body) = &trn.body {
                map::apply_balances(&mut account, body);
                if request.transactions.is_some() {
                    transactions.extend(map::transactions(body, &id, &account.currency_code));
                }
            }
            trn.status.clone()
        };
        match status_map::statement(&status) {
            Err(r) => return Err(ConnectorError::Refused(r)),
            Ok(Some(true)) => {
                closed += 1;
                account.is_closed = true;
            }
            Ok(Some(false)) => continue, // Unknown to the server now: left as it was.
            Ok(None) => {}
        }
        accounts.push(account);
    }
    if !infos.is_empty() && closed == infos.len() {
        return Err(refused(Failure::Closed, "The bank says every account of this login is closed."));
    }
    Ok(Pulled {
        accounts,
        transactions,
        holdings: request.holdings.then_some(holdings),
        complete_since: None,
        partial: None,
    })
}
