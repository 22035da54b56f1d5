-- Aggregation: jobs, and the accounts and transactions members bring in.
-- Money is TEXT holding a decimal; dates are TEXT YYYY-MM-DD; times epoch microseconds.

CREATE TABLE jobs (
    guid                   TEXT PRIMARY KEY,
    client_id              TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    member_guid            TEXT NOT NULL REFERENCES members (guid) ON DELETE CASCADE,
    job_type               TEXT NOT NULL,
    -- QUEUED, RUNNING, CHALLENGED, SUCCEEDED, FAILED
    status                 TEXT NOT NULL,
    is_background          BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner            TEXT,
    lease_expires_at       BIGINT,
    attempts               BIGINT NOT NULL DEFAULT 0,
    -- The challenges shown to the user (JSON, no secrets), while CHALLENGED.
    challenges             TEXT,
    challenged_at          BIGINT,
    -- The connector's opaque continuation and the user's answers, sealed like credentials.
    sealed_key_id          TEXT,
    sealed_state           TEXT,
    outcome                TEXT,
    error_message          TEXT,
    transactions_created   BIGINT NOT NULL DEFAULT 0,
    transactions_updated   BIGINT NOT NULL DEFAULT 0,
    callback_payload       TEXT,
    created_at             BIGINT NOT NULL,
    started_at             BIGINT,
    finished_at            BIGINT,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX jobs_queue ON jobs (status, created_at);
CREATE INDEX jobs_by_member ON jobs (member_guid, created_at);
-- One job at a time per member: the database settles races between actions.
CREATE UNIQUE INDEX jobs_one_active_per_member ON jobs (member_guid) WHERE status IN ('QUEUED', 'RUNNING', 'CHALLENGED');

CREATE TABLE accounts (
    guid               TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid          TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    member_guid        TEXT NOT NULL REFERENCES members (guid) ON DELETE CASCADE,
    -- The connector's stable id; results are upserted under it.
    external_id        TEXT NOT NULL,
    id                 TEXT,
    name               TEXT NOT NULL,
    nickname           TEXT,
    type               TEXT NOT NULL,
    subtype            TEXT,
    account_number     TEXT,
    routing_number     TEXT,
    balance            TEXT,
    available_balance  TEXT,
    credit_limit       TEXT,
    apr                TEXT,
    apy                TEXT,
    currency_code      TEXT NOT NULL DEFAULT 'USD',
    is_closed          BOOLEAN NOT NULL DEFAULT FALSE,
    is_hidden          BOOLEAN NOT NULL DEFAULT FALSE,
    is_manual          BOOLEAN NOT NULL DEFAULT FALSE,
    metadata           TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_by_external_id ON accounts (member_guid, external_id);
CREATE INDEX accounts_by_user ON accounts (user_guid, created_at, guid);

CREATE TABLE transactions (
    guid                    TEXT PRIMARY KEY,
    client_id               TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid               TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    member_guid             TEXT NOT NULL REFERENCES members (guid) ON DELETE CASCADE,
    account_guid            TEXT NOT NULL REFERENCES accounts (guid) ON DELETE CASCADE,
    external_id             TEXT NOT NULL,
    id                      TEXT,
    amount                  TEXT NOT NULL,
    type                    TEXT NOT NULL,
    status                  TEXT NOT NULL,
    date                    TEXT NOT NULL,
    transacted_at           BIGINT,
    posted_at               BIGINT,
    description             TEXT,
    original_description    TEXT,
    category                TEXT,
    top_level_category      TEXT,
    memo                    TEXT,
    check_number_string     TEXT,
    merchant_category_code  BIGINT,
    is_bill_pay             BOOLEAN NOT NULL DEFAULT FALSE,
    is_direct_deposit       BOOLEAN NOT NULL DEFAULT FALSE,
    is_fee                  BOOLEAN NOT NULL DEFAULT FALSE,
    is_payroll              BOOLEAN NOT NULL DEFAULT FALSE,
    is_subscription         BOOLEAN NOT NULL DEFAULT FALSE,
    is_manual               BOOLEAN NOT NULL DEFAULT FALSE,
    currency_code           TEXT NOT NULL DEFAULT 'USD',
    metadata                TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
-- Keyed per member, not per account: a transaction never moves between accounts.
CREATE UNIQUE INDEX transactions_by_external_id ON transactions (member_guid, external_id);
CREATE INDEX transactions_by_user_date ON transactions (user_guid, date, guid);
CREATE INDEX transactions_by_member_date ON transactions (member_guid, date, guid);
CREATE INDEX transactions_by_account_date ON transactions (account_guid, date, guid);
