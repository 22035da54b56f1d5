-- OAuth members: each institution that connects through OAuth names its provider; each
-- window URI Ferry issues is a row of oauth_states (one-time, expiring); the sandbox bank's
-- own provider keeps the authorization codes it hands out.

CREATE TABLE institution_oauth (
    institution_guid     TEXT PRIMARY KEY REFERENCES institutions (guid) ON DELETE CASCADE,
    -- Absolute URLs, or paths on Ferry's own public URL (the sandbox provider).
    authorize_url        TEXT NOT NULL,
    token_url            TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    -- The app's secret at the provider, sealed like credentials; NULL for public clients.
    client_secret_key_id TEXT,
    client_secret_sealed TEXT,
    scopes               TEXT NOT NULL DEFAULT ''
);

INSERT INTO institution_oauth (institution_guid, authorize_url, token_url, client_id, scopes)
VALUES ('INS-68e96dd6-eabd-42d3-9f05-416897f0746c', '/oauth/sandbox/authorize', '/oauth/sandbox/token',
        'ferry-sandbox', 'accounts transactions');

CREATE TABLE oauth_states (
    -- The `state` parameter: 256 random bits, base64url.
    state                          TEXT PRIMARY KEY,
    member_guid                    TEXT NOT NULL REFERENCES members (guid) ON DELETE CASCADE,
    client_id                      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- The PKCE verifier, sealed, bound to the state.
    verifier_key_id                TEXT NOT NULL,
    verifier_sealed                TEXT NOT NULL,
    client_redirect_url            TEXT,
    referral_source                TEXT,
    ui_message_webview_url_scheme  TEXT,
    enable_app2app                 BOOLEAN,
    skip_aggregation               BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                     BIGINT NOT NULL,
    expires_at                     BIGINT NOT NULL,
    -- When the window URI was followed (it works once), and when the callback finished.
    opened_at                      BIGINT,
    completed_at                   BIGINT
);
CREATE INDEX oauth_states_by_member ON oauth_states (member_guid);

CREATE TABLE sandbox_oauth_codes (
    code            TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
