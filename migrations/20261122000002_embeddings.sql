-- Dense vectors for guide chunks, keyed by the hash of the embedded text and
-- the model, so an edited guide re-embeds only the chunks that changed.
CREATE TABLE embeddings (
    text_hash  TEXT NOT NULL,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    PRIMARY KEY (text_hash, model)
);
