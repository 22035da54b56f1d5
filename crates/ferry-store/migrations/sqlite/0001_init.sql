-- Clients, users, the institution catalog and members.
-- Times are epoch microseconds (BIGINT); GUIDs, enums and lists are TEXT; flags are BOOLEAN.

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    guid         TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id           TEXT,
    email        TEXT,
    is_disabled  BOOLEAN NOT NULL DEFAULT FALSE,
    metadata     TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_partner_id ON users (client_id, id);
CREATE INDEX users_by_client ON users (client_id, created_at, guid);
CREATE INDEX users_by_email ON users (client_id, email);

CREATE TABLE institutions (
    guid                      TEXT PRIMARY KEY,
    code                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    url                       TEXT,
    small_logo_url            TEXT,
    medium_logo_url           TEXT,
    forgot_password_url       TEXT,
    forgot_username_url       TEXT,
    trouble_signing_in_url    TEXT,
    instructional_text        TEXT,
    instructional_text_steps  TEXT NOT NULL DEFAULT '[]',
    iso_country_code          TEXT NOT NULL DEFAULT 'US',
    supports_oauth            BOOLEAN NOT NULL DEFAULT FALSE,
    supports_tax_document     BOOLEAN NOT NULL DEFAULT FALSE,
    is_hidden                 BOOLEAN NOT NULL DEFAULT FALSE,
    supported_products        TEXT NOT NULL DEFAULT '',
    connector                 TEXT NOT NULL,
    popularity                BIGINT NOT NULL DEFAULT 0,
    created_at                BIGINT NOT NULL
);
CREATE INDEX institutions_by_popularity ON institutions (popularity, name);

CREATE TABLE institution_credentials (
    guid              TEXT PRIMARY KEY,
    institution_guid  TEXT NOT NULL REFERENCES institutions (guid) ON DELETE CASCADE,
    label             TEXT NOT NULL,
    field_name        TEXT NOT NULL,
    field_type        TEXT NOT NULL,
    type              TEXT NOT NULL,
    display_order     BIGINT NOT NULL,
    is_required       BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX institution_credentials_by_institution ON institution_credentials (institution_guid, display_order);

CREATE TABLE favorite_institutions (
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    institution_guid  TEXT NOT NULL REFERENCES institutions (guid) ON DELETE CASCADE,
    position          BIGINT NOT NULL,
    PRIMARY KEY (client_id, institution_guid)
);

CREATE TABLE members (
    guid                                TEXT PRIMARY KEY,
    client_id                           TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid                           TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    id                                  TEXT,
    institution_guid                    TEXT NOT NULL REFERENCES institutions (guid),
    name                                TEXT NOT NULL,
    metadata                            TEXT,
    connection_status                   TEXT NOT NULL,
    connection_status_message           TEXT,
    is_oauth                            BOOLEAN NOT NULL DEFAULT FALSE,
    oauth_window_uri                    TEXT,
    is_being_aggregated                 BOOLEAN NOT NULL DEFAULT FALSE,
    is_authenticated                    BOOLEAN NOT NULL DEFAULT FALSE,
    has_processed_accounts              BOOLEAN NOT NULL DEFAULT FALSE,
    has_processed_transactions          BOOLEAN NOT NULL DEFAULT FALSE,
    has_processed_account_numbers       BOOLEAN NOT NULL DEFAULT FALSE,
    aggregated_at                       BIGINT,
    successfully_aggregated_at          BIGINT,
    background_aggregation_is_disabled  BOOLEAN NOT NULL DEFAULT FALSE,
    needs_updated_credentials           BOOLEAN NOT NULL DEFAULT FALSE,
    use_cases                           TEXT NOT NULL DEFAULT '',
    products                            TEXT NOT NULL DEFAULT '',
    most_recent_job_guid                TEXT,
    most_recent_job_detail_code         BIGINT,
    client_redirect_url                 TEXT,
    enable_app2app                      BOOLEAN,
    referral_source                     TEXT,
    ui_message_webview_url_scheme       TEXT,
    callback_payload                    TEXT,
    credential_guids                    TEXT NOT NULL DEFAULT '',
    -- AEAD ciphertext of the credentials (base64 of nonce || ciphertext) and the id of its key.
    credentials_key_id                  TEXT,
    credentials_sealed                  TEXT,
    -- Keyed HMAC of the normalized credentials ('oauth' for OAuth members): the duplicate guard.
    credentials_fingerprint             TEXT NOT NULL,
    created_at                          BIGINT NOT NULL,
    updated_at                          BIGINT NOT NULL
);
CREATE UNIQUE INDEX members_no_duplicates ON members (user_guid, institution_guid, credentials_fingerprint);
CREATE UNIQUE INDEX members_partner_id ON members (client_id, id);
CREATE INDEX members_by_user ON members (user_guid, created_at, guid);
