-- What verify, identify, fetch_statements and investment aggregation bring in: account
-- numbers, account owners, holdings and statements. One table for the four kinds: each row is
-- one record of one account, upserted under the connector's stable id, its fields kept as
-- JSON (`data`); statements keep their document beside it.
CREATE TABLE member_records (
    guid          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_guid     TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    member_guid   TEXT NOT NULL REFERENCES members (guid) ON DELETE CASCADE,
    account_guid  TEXT NOT NULL REFERENCES accounts (guid) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    data          TEXT NOT NULL,
    content       BLOB,
    content_hash  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX member_records_by_external_id ON member_records (member_guid, kind, external_id);
CREATE INDEX member_records_by_user ON member_records (user_guid, kind, created_at, guid);
CREATE INDEX member_records_by_account ON member_records (account_guid, kind, created_at, guid);

-- Fields of accounts that users set (manual accounts; is_business on aggregated ones).
ALTER TABLE accounts ADD COLUMN is_business BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN property_type TEXT;
ALTER TABLE accounts ADD COLUMN original_balance TEXT;
ALTER TABLE accounts ADD COLUMN interest_rate TEXT;
ALTER TABLE accounts ADD COLUMN loan_amount TEXT;
ALTER TABLE accounts ADD COLUMN cash_surrender_value TEXT;
ALTER TABLE accounts ADD COLUMN death_benefit BIGINT;

-- The institution that holds each user's manual accounts (MX's "Manual Institution"). Hidden
-- from the catalog; its connector `manual` never aggregates.
INSERT INTO institutions (
    guid, code, name, url, small_logo_url, medium_logo_url, forgot_password_url,
    forgot_username_url, trouble_signing_in_url, instructional_text, instructional_text_steps,
    iso_country_code, supports_oauth, supports_tax_document, is_hidden, supported_products,
    connector, popularity, created_at
) VALUES (
    'INS-f6b2c0de-5a1e-4c3a-9e7d-6d616e75616c', 'manual_institution', 'Manual Institution', NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, '[]', 'US', FALSE, FALSE, TRUE, '', 'manual', 0,
    1704067200000000
);

-- A user's edits of an aggregated transaction survive re-aggregation: they live beside the
-- institution's values and win when read.
ALTER TABLE transactions ADD COLUMN user_description TEXT;
ALTER TABLE transactions ADD COLUMN user_memo TEXT;
