-- The SimpleFIN and OFX server faces: how other apps read a user's data from Ferry.

-- One-time SimpleFIN setup tokens, kept as hashes; a claimed one is kept (claimed_at) so a
-- second claim is told apart from a token that never existed, both answered 403.
CREATE TABLE simplefin_tokens (
    token_hash  TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid   TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    claimed_at  BIGINT
);
CREATE INDEX simplefin_tokens_by_user ON simplefin_tokens (user_guid);

-- The access a claimed token became: a Basic username and the hash of its secret.
CREATE TABLE simplefin_access (
    guid          TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid     TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    username      TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX simplefin_access_by_client ON simplefin_access (client_id, created_at);
CREATE INDEX simplefin_access_by_user ON simplefin_access (user_guid);

-- A user's OFX sign-on: the USERID (unique across clients, as OFX has no client), a password
-- hash, and the count of wrong passwords since the last right one (for the lockout).
CREATE TABLE ofx_logins (
    user_guid      TEXT PRIMARY KEY REFERENCES users (guid) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    login          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    failures       BIGINT NOT NULL DEFAULT 0,
    locked_until   BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
