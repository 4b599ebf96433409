-- A language model's part in a turn: the tokens it used (on the answer)
-- and the persona a conversation asked for ("explain it for my CFO").
ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE messages ADD COLUMN completion_tokens INTEGER;
ALTER TABLE conversations ADD COLUMN persona TEXT;
