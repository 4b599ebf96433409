-- The monthly Cost Explorer request cap, shared by every process on this
-- database: a request is reserved here (one atomic statement) before it is
-- made, so two processes cannot both pass the check and overshoot.
CREATE TABLE request_budget (
    month  TEXT PRIMARY KEY,            -- 'YYYY-MM', UTC
    used   INTEGER NOT NULL DEFAULT 0   -- requests reserved or made
);

-- Carry over what was already spent before the table existed.
INSERT INTO request_budget (month, used)
SELECT substr(day, 1, 7), SUM(requests) FROM source_requests GROUP BY substr(day, 1, 7);
