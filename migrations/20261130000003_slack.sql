-- Slack: events already handled (Slack retries what it thinks was not
-- acknowledged, and Socket Mode may deliver one event on two connections),
-- feedback on answers, and replies waiting to be delivered again.
CREATE TABLE slack_events (
    event_id     TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL
);
CREATE INDEX slack_events_by_time ON slack_events (received_at);

-- 👍/👎 on an answer: one vote per person per answer, the latest wins.
CREATE TABLE slack_feedback (
    message_id       INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author           TEXT NOT NULL,
    vote             INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    created_at       TEXT NOT NULL,
    PRIMARY KEY (message_id, author)
);

-- A reply Slack did not take (an outage, a restart mid-delivery), retried
-- with backoff until delivered or given up (dead = 1, kept for the operator).
CREATE TABLE slack_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    dead             INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);
CREATE INDEX slack_outbox_due ON slack_outbox (dead, next_attempt_at);
