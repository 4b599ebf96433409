-- Discord: the outcome of registering costbot's application commands at
-- start, one row per target (a guild, or global), so `doctor` can say
-- whether /cost is registered without calling Discord.
CREATE TABLE discord_registrations (
    target          TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    ok              INTEGER NOT NULL CHECK (ok IN (0, 1)),
    detail          TEXT NOT NULL,
    at              TEXT NOT NULL,
    PRIMARY KEY (application_id, target)
);
