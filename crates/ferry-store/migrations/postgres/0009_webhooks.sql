-- Webhooks: the endpoints each client registers, the outbox of events (written in the same
-- transaction as the change that caused them), one delivery per event and endpoint, and the
-- log of every attempt.

CREATE TABLE webhook_endpoints (
    guid                 TEXT PRIMARY KEY,
    client_id            TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    -- Optional HTTP Basic credentials for the receiver; the password sealed.
    basic_username       TEXT,
    basic_password_key_id TEXT,
    basic_password_sealed TEXT,
    -- The signing secret, sealed (shown once, when the endpoint is created).
    secret_key_id        TEXT NOT NULL,
    secret_sealed        TEXT NOT NULL,
    -- Comma-separated event types (MEMBER, CONNECTION_STATUS, AGGREGATION, ...); '' = all.
    event_types          TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_client ON webhook_endpoints (client_id);

CREATE TABLE webhook_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guid              TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- Not a foreign key: a member's deleted event outlives the member.
    member_guid       TEXT,
    type              TEXT NOT NULL,
    action            TEXT NOT NULL,
    payload           TEXT NOT NULL,
    callback_payload  TEXT,
    created_at        BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    event_guid        TEXT NOT NULL REFERENCES webhook_events (guid) ON DELETE CASCADE,
    endpoint_guid     TEXT NOT NULL REFERENCES webhook_endpoints (guid) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    -- Deliveries of one member to one endpoint go out in event order.
    ordering_key      TEXT NOT NULL,
    event_seq         BIGINT NOT NULL,
    -- PENDING until DELIVERED, or FAILED after the last retry.
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    last_status_code  BIGINT,
    last_error        TEXT,
    delivered_at      BIGINT,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (event_guid, endpoint_guid)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_guid, ordering_key, event_seq);

CREATE TABLE webhook_attempts (
    event_guid     TEXT NOT NULL,
    endpoint_guid  TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    status_code    BIGINT,
    error          TEXT,
    micros         BIGINT NOT NULL,
    PRIMARY KEY (event_guid, endpoint_guid, attempt),
    FOREIGN KEY (event_guid, endpoint_guid) REFERENCES webhook_deliveries (event_guid, endpoint_guid) ON DELETE CASCADE
);
