-- Webhooks and their outbox. Every event is fanned out to the matching enabled webhooks in the
-- transaction that writes it, so a delivery can never be lost between a status change and its
-- webhook; the delivery worker claims due deliveries with a lease and records each attempt.

-- Events about objects that belong to no inquiry (a webhook being disabled) need a nullable
-- inquiry_id, and each event now stores a snapshot of its object (JSON) as the API shows it.
CREATE TABLE events_v3 (
    id           TEXT PRIMARY KEY,            -- evt_…, time-sortable
    name         TEXT NOT NULL,               -- inquiry.started, verification.passed, webhook.disabled, …
    object_type  TEXT NOT NULL,               -- inquiry, verification, webhook
    object_id    TEXT NOT NULL,
    inquiry_id   TEXT,                        -- the inquiry the object belongs to, if any
    sequence     INTEGER NOT NULL,            -- increasing per object
    payload      TEXT NOT NULL,               -- JSON: {"object": snapshot, "previous-status": …}
    created_at   INTEGER NOT NULL,
    UNIQUE (object_id, sequence)
);
INSERT INTO events_v3 (id, name, object_type, object_id, inquiry_id, sequence, payload, created_at)
    SELECT id, name, object_type, object_id, inquiry_id, sequence, payload, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_by_inquiry ON events (inquiry_id, id);
CREATE INDEX events_by_name ON events (name, id);
CREATE INDEX events_by_created ON events (created_at, id);

CREATE TABLE webhooks (
    id                          TEXT PRIMARY KEY,   -- wbh_…
    url                         TEXT NOT NULL,
    enabled_events              TEXT NOT NULL,      -- JSON array of event names or "*"
    status                      TEXT NOT NULL,      -- enabled | disabled
    secret                      TEXT NOT NULL,      -- the signing secret, sealed with the data key
    previous_secret             TEXT,               -- sealed; keeps signing until the time below
    previous_secret_expires_at  INTEGER,
    last_success_at             INTEGER,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL,
    disabled_at                 INTEGER
);

CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id        TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL REFERENCES events (id),
    status            TEXT NOT NULL,            -- pending | succeeded | failed (given up)
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    claimed_until     INTEGER,                  -- a worker's lease; expired leases are reclaimed
    first_attempt_at  INTEGER,
    created_at        INTEGER NOT NULL,
    completed_at      INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id);

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,             -- wha_…
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    delivery_id   INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    event_name    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,             -- 1, 2, … per delivery
    attempted_at  INTEGER NOT NULL,
    status_code   INTEGER,                      -- NULL when no answer came
    latency_ms    INTEGER NOT NULL,
    error         TEXT,                         -- why it failed, without the response body
    succeeded     INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id);
