-- Real institutions. The catalog carries each institution's settings for its connector (OFX
-- server URL, ORG/FID, quirks; JSON, checked by the connector when the operator imports it),
-- and a member keeps, sealed like its credentials, what its connector must remember between
-- jobs (a SimpleFIN access URL, an OFX CLIENTUID and the accounts it discovered), with the
-- time before which no job should call the institution again (a spent quota).

ALTER TABLE institutions ADD COLUMN connector_config TEXT NOT NULL DEFAULT '{}';

-- The organisation holding an account, when one member reaches several (SimpleFIN).
ALTER TABLE accounts ADD COLUMN organization TEXT;

CREATE TABLE member_connector_states (
    member_guid  TEXT PRIMARY KEY REFERENCES members (guid) ON DELETE CASCADE,
    key_id       TEXT,
    sealed       TEXT,
    retry_at     BIGINT,
    updated_at   BIGINT NOT NULL
);

-- SimpleFIN Bridge: one member reaches every account the end user linked at the Bridge (or at
-- another SimpleFIN server). Its one field takes the Setup Token; once claimed, only the
-- sealed access URL is kept.
INSERT INTO institutions (
    guid, code, name, url, small_logo_url, medium_logo_url, forgot_password_url,
    forgot_username_url, trouble_signing_in_url, instructional_text, instructional_text_steps,
    iso_country_code, supports_oauth, supports_tax_document, is_hidden, supported_products,
    connector, popularity, created_at, connector_config
) VALUES (
    'INS-5e3f1a2b-7c4d-4e8f-9a0b-73696d706c65', 'simplefin', 'SimpleFIN Bridge', 'https://beta-bridge.simplefin.org',
    NULL, NULL, NULL, NULL, NULL,
    'Connect the accounts you linked at the SimpleFIN Bridge. Create a Setup Token at the Bridge and paste it here; it works once.',
    '["Sign in at https://beta-bridge.simplefin.org and link your banks there.","Choose New connection, then Create Setup Token, and copy the token.","Paste the token here. It works once: Ferry exchanges it for access and forgets it."]',
    'US', FALSE, FALSE, FALSE, 'transactions,investments',
    'simplefin', 50, 1764115200000000, '{}'
);

INSERT INTO institution_credentials (guid, institution_guid, label, field_name, field_type, type, display_order, is_required) VALUES
    ('CRD-5e3f1a2b-7c4d-4e8f-9a0b-746f6b656e31', 'INS-5e3f1a2b-7c4d-4e8f-9a0b-73696d706c65', 'SimpleFIN Setup Token', 'setup_token', 'PASSWORD', 'PASSWORD', 1, TRUE);
