-- The Connect widget: a widget URL is a one-time token (10 minutes) for one user of one client,
-- carrying the options the app asked for; opening it starts a widget session (30 minutes past
-- its last call) that the page sends on every call of the widget's own API. Only SHA-256
-- hashes of tokens are stored. `options` is JSON; `callback_payload` is X-CALLBACK-PAYLOAD.
CREATE TABLE widget_urls (
    token_hash        TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid         TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    options           TEXT NOT NULL,
    callback_payload  TEXT,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT
);

CREATE TABLE widget_sessions (
    token_hash        TEXT PRIMARY KEY,
    session_guid      TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid         TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    options           TEXT NOT NULL,
    callback_payload  TEXT,
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- Deleting a user or a client cascades here; the purge finds ended rows by expiry.
CREATE INDEX widget_urls_user ON widget_urls (user_guid);
CREATE INDEX widget_urls_client ON widget_urls (client_id);
CREATE INDEX widget_urls_expiry ON widget_urls (expires_at);
CREATE INDEX widget_sessions_user ON widget_sessions (user_guid);
CREATE INDEX widget_sessions_client ON widget_sessions (client_id);
CREATE INDEX widget_sessions_expiry ON widget_sessions (expires_at);
