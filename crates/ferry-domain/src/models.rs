//! The objects of MX's member model as Ferry holds them, independent of any wire format.

use std::fmt;

use time::OffsetDateTime;

use crate::enums::wire_enum;
use crate::{ClientId, ConnectionStatus, CredentialGuid, InstitutionGuid, JobGuid, MemberGuid, UserGuid};

/// A string that must never be shown: its `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for the few places that must see it (encryption, fingerprints, connectors).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A tenant of the server: an app that holds users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub guid: UserGuid,
    pub client_id: ClientId,
    pub id: Option<String>,
    pub email: Option<String>,
    pub is_disabled: bool,
    pub metadata: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub is_disabled: bool,
    pub metadata: Option<String>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub id: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub is_disabled: Option<bool>,
    pub metadata: Option<Option<String>>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.email.is_none() && self.is_disabled.is_none() && self.metadata.is_none()
    }
}

wire_enum!(
    /// The `use_cases` a member opts into.
    UseCase { MoneyMovement => "MONEY_MOVEMENT", Pfm => "PFM" }
);

wire_enum!(
    /// MX's `SupportedProducts`: what an institution offers and what a `data_request` asks for.
    Product {
        AccountVerification => "account_verification",
        IdentityVerification => "identity_verification",
        Transactions => "transactions",
        TransactionHistory => "transaction_history",
        Statements => "statements",
        Investments => "investments",
        Rewards => "rewards",
    }
);

/// An institution of the catalog. The catalog lives in the database; connectors add to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub guid: InstitutionGuid,
    pub code: String,
    pub name: String,
    pub url: Option<String>,
    pub small_logo_url: Option<String>,
    pub medium_logo_url: Option<String>,
    pub forgot_password_url: Option<String>,
    pub forgot_username_url: Option<String>,
    pub trouble_signing_in_url: Option<String>,
    pub instructional_text: Option<String>,
    pub instructional_text_steps: Vec<String>,
    pub iso_country_code: String,
    pub supports_oauth: bool,
    pub supports_tax_document: bool,
    pub is_hidden: bool,
    pub supported_products: Vec<Product>,
    /// Which connector aggregates it (`sandbox`, `ofx`, ...).
    pub connector: String,
    /// The institution's settings for its connector (an OFX server's URL, ORG and FID, ...).
    pub connector_config: serde_json::Value,
    pub popularity: i64,
    pub created_at: OffsetDateTime,
}

impl Institution {
    pub fn supports(&self, product: Product) -> bool {
        self.supported_products.contains(&product)
    }
}

/// A credential field an institution asks for (LOGIN, PASSWORD, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionCredential {
    pub guid: CredentialGuid,
    pub institution_guid: InstitutionGuid,
    pub label: String,
    pub field_name: String,
    pub field_type: String,
    pub kind: String,
    pub display_order: i64,
    pub is_required: bool,
}

/// One `{guid, value}` pair a user submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedCredential {
    pub guid: String,
    pub value: Secret,
}

/// Everything a member-creation request may carry, in both API versions.
#[derive(Debug, Clone, Default)]
pub struct NewMember {
    pub institution: String,
    pub credentials: Vec<SubmittedCredential>,
    pub id: Option<String>,
    pub metadata: Option<String>,
    pub is_oauth: bool,
    pub skip_aggregation: bool,
    pub background_aggregation_is_disabled: bool,
    pub use_cases: Vec<UseCase>,
    pub products: Vec<Product>,
    pub client_redirect_url: Option<String>,
    pub enable_app2app: Option<bool>,
    pub referral_source: Option<String>,
    pub ui_message_webview_url_scheme: Option<String>,
    pub callback_payload: Option<String>,
    /// `MX-Skip-Webhook`: no MEMBER created webhook for this request.
    pub skip_webhook: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub guid: MemberGuid,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub user_id: Option<String>,
    pub id: Option<String>,
    pub institution_guid: InstitutionGuid,
    pub institution_code: String,
    pub name: String,
    pub metadata: Option<String>,
    pub connection_status: ConnectionStatus,
    pub connection_status_message: Option<String>,
    pub is_oauth: bool,
    pub oauth_window_uri: Option<String>,
    pub is_being_aggregated: bool,
    pub is_authenticated: bool,
    pub has_processed_accounts: bool,
    pub has_processed_transactions: bool,
    pub has_processed_account_numbers: bool,
    pub aggregated_at: Option<OffsetDateTime>,
    pub successfully_aggregated_at: Option<OffsetDateTime>,
    pub background_aggregation_is_disabled: bool,
    pub needs_updated_credentials: bool,
    pub use_cases: Vec<UseCase>,
    pub products: Vec<Product>,
    pub most_recent_job_guid: Option<JobGuid>,
    pub most_recent_job_detail_code: Option<i64>,
    pub client_redirect_url: Option<String>,
    pub enable_app2app: Option<bool>,
    pub referral_source: Option<String>,
    pub ui_message_webview_url_scheme: Option<String>,
    pub callback_payload: Option<String>,
    /// The credential fields the member holds values for (never the values).
    pub credential_guids: Vec<CredentialGuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}
