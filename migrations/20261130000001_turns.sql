-- A conversation can be named by its channel (a Slack thread, a Discord
-- thread), and every answer points at the question it answers.
ALTER TABLE conversations ADD COLUMN channel_key TEXT;
CREATE UNIQUE INDEX conversations_by_channel_key ON conversations (channel_key)
    WHERE channel_key IS NOT NULL;

ALTER TABLE messages ADD COLUMN reply_to INTEGER REFERENCES messages(id);
UPDATE messages SET reply_to = (
    SELECT MAX(q.id) FROM messages q
    WHERE q.conversation_id = messages.conversation_id AND q.role = 'user' AND q.id < messages.id
) WHERE role = 'assistant';

-- Earlier versions could leave a conversation without turns after a crash.
DELETE FROM conversations WHERE id NOT IN (SELECT conversation_id FROM messages);
