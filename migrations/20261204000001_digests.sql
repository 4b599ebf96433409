-- Scheduled digests: subscriptions made from chat (those in costbot.toml
-- live in the config), and one run per (subscription, period) whose state
-- moves planned -> built -> delivering -> delivered | failed, each step one
-- guarded UPDATE, so a crash anywhere leaves a state to resume from and the
-- UNIQUE key makes a second run for the same period impossible.
CREATE TABLE digest_subscriptions (
    name         TEXT PRIMARY KEY,
    schedule     TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    destination  TEXT NOT NULL,
    scope        TEXT NOT NULL DEFAULT '{}',
    budget       TEXT,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE digest_runs (
    id               TEXT PRIMARY KEY,
    subscription     TEXT NOT NULL,
    period           TEXT NOT NULL,
    scheduled_for    TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('planned', 'built', 'delivering', 'delivered', 'failed')),
    delayed          INTEGER NOT NULL DEFAULT 0,
    content          TEXT,
    chart            BLOB,
    ce_requests      INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    receipt          TEXT,
    -- The process moving the run ("<pid>:<uuid>") and until when: another
    -- process leaves it alone unless that process is gone or the claim expired.
    claimed_by       TEXT,
    claimed_until    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (subscription, period)
);
CREATE INDEX digest_runs_open ON digest_runs (state, next_attempt_at);
