-- Sessions keyed by their inquiry. A session token is always presented together with the id of
-- the inquiry it opens, so a session is found through its inquiry and its hash compared there;
-- the token hash needs no index of its own. That index was the one B-tree each new inquiry
-- wrote at a random place (a hash), and with the rowid table and the id index gone too, a new
-- session is one insert at the end of one B-tree instead of four.
CREATE TABLE inquiry_sessions_v5 (
    inquiry_id   TEXT NOT NULL REFERENCES inquiries (id),
    id           TEXT NOT NULL,
    token_hash   TEXT NOT NULL,               -- sha256 of the token; the token itself is never stored
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    PRIMARY KEY (inquiry_id, id)
) WITHOUT ROWID;
INSERT INTO inquiry_sessions_v5 (inquiry_id, id, token_hash, created_at, expires_at, revoked_at)
    SELECT inquiry_id, id, token_hash, created_at, expires_at, revoked_at FROM inquiry_sessions;
DROP TABLE inquiry_sessions;
ALTER TABLE inquiry_sessions_v5 RENAME TO inquiry_sessions;
