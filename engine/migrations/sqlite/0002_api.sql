-- The organization's REST API: API keys, accounts, idempotent requests, one-time links, and the
-- inquiry attributes the API sets.

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,           -- key_…
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,       -- sha256 of the whole key; the key itself is never stored
    key_prefix    TEXT NOT NULL,              -- the first characters, to recognise it in a list
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,           -- act_…
    reference_id  TEXT UNIQUE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

ALTER TABLE inquiries ADD COLUMN account_id TEXT REFERENCES accounts (id);
ALTER TABLE inquiries ADD COLUMN note TEXT;
ALTER TABLE inquiries ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE inquiries ADD COLUMN redirect_uri TEXT;
CREATE INDEX inquiries_by_account ON inquiries (account_id, id);
CREATE INDEX inquiries_by_reference ON inquiries (reference_id, id);
CREATE INDEX inquiries_by_template ON inquiries (template_id, id);
CREATE INDEX inquiries_by_status ON inquiries (status, id);

CREATE TABLE idempotency_keys (
    api_key_id     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash   TEXT NOT NULL,             -- sha256 of method, path and body
    response_status INTEGER,                  -- NULL while the first request is in flight
    response_body  BLOB,
    resource_id    TEXT,                      -- the resource the response carried (data.id), for redaction
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_by_resource ON idempotency_keys (resource_id) WHERE resource_id IS NOT NULL;

CREATE TABLE one_time_links (
    code_hash     TEXT PRIMARY KEY,           -- sha256 of the code; the code itself is never stored
    inquiry_id    TEXT NOT NULL REFERENCES inquiries (id),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX one_time_links_by_inquiry ON one_time_links (inquiry_id);
CREATE INDEX events_by_name ON events (name, id);
CREATE INDEX events_by_object ON events (object_id, id);
