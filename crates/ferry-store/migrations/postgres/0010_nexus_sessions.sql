-- Nexus sessions: a client obtains a one-time API token for one of its users, exchanges it for
-- a session, and sends the session token on every Nexus call. Only SHA-256 hashes of tokens
-- are stored.
CREATE TABLE api_tokens (
    token_hash   TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid    TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid    TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    -- Sliding: each call moves it 30 minutes ahead.
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
