-- Verity's initial schema. Times are unix milliseconds (UTC); statuses are the domain's stored forms.

CREATE TABLE template_versions (
    id           TEXT PRIMARY KEY,           -- itmplv_…, derived from the content
    template_id  TEXT NOT NULL,              -- itmpl_…
    content      TEXT NOT NULL,              -- the TOML as loaded
    created_at   INTEGER NOT NULL
);
CREATE INDEX template_versions_by_template ON template_versions (template_id, created_at);

CREATE TABLE inquiries (
    id                   TEXT PRIMARY KEY,
    template_id          TEXT NOT NULL,
    template_version_id  TEXT NOT NULL REFERENCES template_versions (id),
    status               TEXT NOT NULL,
    reference_id         TEXT,
    fields               TEXT NOT NULL DEFAULT '{}',  -- JSON object of field key → value
    field_draft          TEXT,                        -- JSON of refused typed values, kept so nothing is lost
    fields_submitted_at  INTEGER,
    created_at           INTEGER NOT NULL,
    started_at           INTEGER,
    completed_at         INTEGER,
    failed_at            INTEGER,
    expired_at           INTEGER,
    decisioned_at        INTEGER,
    redacted_at          INTEGER,
    expires_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX inquiries_open_by_expiry ON inquiries (expires_at) WHERE status IN ('created', 'pending');

CREATE TABLE inquiry_sessions (
    id           TEXT PRIMARY KEY,
    inquiry_id   TEXT NOT NULL REFERENCES inquiries (id),
    token_hash   TEXT NOT NULL UNIQUE,        -- sha256 of the token; the token itself is never stored
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX inquiry_sessions_by_inquiry ON inquiry_sessions (inquiry_id);

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    inquiry_id    TEXT NOT NULL REFERENCES inquiries (id),
    kind          TEXT NOT NULL,              -- government_id
    side          TEXT NOT NULL,              -- front, back
    object_key    TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    byte_size     INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX documents_by_inquiry ON documents (inquiry_id);

CREATE TABLE verifications (
    id            TEXT PRIMARY KEY,
    inquiry_id    TEXT NOT NULL REFERENCES inquiries (id),
    kind          TEXT NOT NULL,              -- government-id
    attempt       INTEGER NOT NULL,           -- 1, 2, … per inquiry and kind
    status        TEXT NOT NULL,
    document_id   TEXT REFERENCES documents (id),
    checks        TEXT NOT NULL DEFAULT '[]', -- JSON array of check results
    created_at    INTEGER NOT NULL,
    submitted_at  INTEGER,
    completed_at  INTEGER,
    UNIQUE (inquiry_id, kind, attempt)
);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,            -- evt_…, time-sortable
    name         TEXT NOT NULL,               -- inquiry.started, verification.passed, …
    object_type  TEXT NOT NULL,               -- inquiry, verification
    object_id    TEXT NOT NULL,
    inquiry_id   TEXT NOT NULL,
    sequence     INTEGER NOT NULL,            -- increasing per object
    payload      TEXT NOT NULL,               -- JSON: the object's status change, no personal data
    created_at   INTEGER NOT NULL,
    UNIQUE (object_id, sequence)
);
CREATE INDEX events_by_inquiry ON events (inquiry_id, id);
