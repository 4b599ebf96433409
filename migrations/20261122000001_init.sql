-- Conversations and their turns. `slots` holds the structured plan of a
-- user's turn so follow-ups ("and the month before?") can reuse it.
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    author           TEXT,
    text             TEXT NOT NULL,
    slots            TEXT,
    answer           TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

-- Cost Explorer charges per request: results are kept here, keyed by the
-- normalized query, until they expire.
CREATE TABLE cost_cache (
    key         TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    query       TEXT NOT NULL,
    result      TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- Billable requests per day and source.
CREATE TABLE source_requests (
    day       TEXT NOT NULL,
    source    TEXT NOT NULL,
    requests  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, source)
);

-- The optimization guides and their chunks, searched with FTS5 (bm25).
CREATE TABLE guides (
    path          TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    meta          TEXT NOT NULL,
    content_hash  TEXT NOT NULL
);

CREATE TABLE chunks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guide_path    TEXT NOT NULL REFERENCES guides(path) ON DELETE CASCADE,
    ord           INTEGER NOT NULL,
    section       TEXT NOT NULL,
    body          TEXT NOT NULL,
    content_hash  TEXT NOT NULL
);
CREATE INDEX chunks_by_guide ON chunks (guide_path, ord);

CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    title, section, body, tags,
    tokenize = 'porter unicode61'
);
