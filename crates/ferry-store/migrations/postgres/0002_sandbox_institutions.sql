-- MX's two test institutions, with MX's own institution and credential GUIDs
-- (mx-behavior.md §1.5, §6). More institutions arrive with connectors, as data.

INSERT INTO institutions (
    guid, code, name, url, small_logo_url, medium_logo_url, forgot_password_url,
    forgot_username_url, trouble_signing_in_url, instructional_text, instructional_text_steps,
    iso_country_code, supports_oauth, supports_tax_document, is_hidden, supported_products,
    connector, popularity, created_at
) VALUES (
    'INS-1572a04c-912b-59bf-5841-332c7dfafaef', 'mxbank', 'MX Bank', 'https://www.mx.com',
    'https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/50x50/INS-1572a04c-912b-59bf-5841-332c7dfafaef_50x50.png',
    'https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/100x100/INS-1572a04c-912b-59bf-5841-332c7dfafaef_100x100.png',
    'https://www.mx.com/forgot_password', 'https://www.mx.com/forgot_username',
    'https://www.mx.com/trouble_signing_in',
    'Ferry''s sandbox bank. Use the username <b>mxuser</b>; the password chooses the outcome.',
    '["Enter the username mxuser.","Enter any password, or a test password from the README for another outcome."]',
    'US', FALSE, TRUE, FALSE,
    'account_verification,identity_verification,transactions,transaction_history,statements,investments',
    'sandbox', 100, 1704067200000000
), (
    'INS-68e96dd6-eabd-42d3-9f05-416897f0746c', 'mx_bank_oauth', 'MX Bank (OAuth)', 'https://www.mx.com',
    'https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/50x50/INS-68e96dd6-eabd-42d3-9f05-416897f0746c_50x50.png',
    'https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/100x100/INS-68e96dd6-eabd-42d3-9f05-416897f0746c_100x100.png',
    NULL, NULL, NULL,
    'Ferry''s sandbox OAuth bank. You will be sent to the bank to authorize access.',
    '[]',
    'US', TRUE, TRUE, FALSE,
    'account_verification,identity_verification,transactions,transaction_history,statements,investments',
    'sandbox', 90, 1704067200000000
);

INSERT INTO institution_credentials (guid, institution_guid, label, field_name, field_type, type, display_order, is_required) VALUES
    ('CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1', 'INS-1572a04c-912b-59bf-5841-332c7dfafaef', 'Username', 'LOGIN', 'TEXT', 'TEXT', 1, TRUE),
    ('CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d', 'INS-1572a04c-912b-59bf-5841-332c7dfafaef', 'Password', 'PASSWORD', 'PASSWORD', 'PASSWORD', 2, TRUE);
