//! Conversations and messages.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{now_rfc3339, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub role: Role,
    pub author: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<serde_json::Value>,
    /// For an answer: the question it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    pub created_at: String,
}

/// One turn to record: the question and the reply (an answer or the public
/// error sentence), written together or not at all.
#[derive(Debug, Clone)]
pub struct NewTurn<'a> {
    pub conversation_id: &'a str,
    /// The channel's own name for the conversation, when it has one.
    pub channel_key: Option<&'a str>,
    /// Who may see the conversation.
    pub scope: &'a str,
    pub channel: &'a str,
    pub author: &'a str,
    pub question: &'a str,
    pub slots: Option<&'a serde_json::Value>,
    pub reply: &'a str,
    pub answer: Option<&'a serde_json::Value>,
    /// A persona the turn asked for; it stays with the conversation.
    pub persona: Option<&'a str>,
    /// The language model's tokens for the reply, when a model took part.
    pub usage: Option<crate::llm::Usage>,
}

/// Where a turn landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTurn {
    pub conversation_id: String,
    pub question_id: i64,
    pub answer_id: i64,
}

impl Store {
    pub async fn conversation_owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT owner FROM conversations WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The conversation a channel key names, with its scope.
    pub async fn conversation_by_key(
        &self,
        channel_key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, owner FROM conversations WHERE channel_key = ?")
                .bind(channel_key)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Writes a turn in one transaction, creating the conversation with its
    /// first turn, so a crash leaves either the whole turn or nothing. When two
    /// first turns race under one channel key, the second joins the
    /// conversation the first created.
    pub async fn record_turn(&self, t: &NewTurn<'_>) -> Result<RecordedTurn, StoreError> {
        let now = now_rfc3339();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO conversations (id, owner, channel, channel_key, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(t.conversation_id)
        .bind(t.scope)
        .bind(t.channel)
        .bind(t.channel_key)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let (id, owner): (String, String) = match t.channel_key {
            Some(key) => {
                sqlx::query_as("SELECT id, owner FROM conversations WHERE channel_key = ?")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query_as("SELECT id, owner FROM conversations WHERE id = ?")
                    .bind(t.conversation_id)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        if owner != t.scope {
            return Err(StoreError::NotOwner(id));
        }
        let insert = "INSERT INTO messages (conversation_id, role, author, text, slots, answer, reply_to, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        let question_id = sqlx::query(insert)
            .bind(&id)
            .bind(Role::User.as_str())
            .bind(t.author)
            .bind(t.question)
            .bind(t.slots.map(|s| s.to_string()))
            .bind(None::<String>)
            .bind(None::<i64>)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        let answer_id = sqlx::query(insert)
            .bind(&id)
            .bind(Role::Assistant.as_str())
            .bind(None::<String>)
            .bind(t.reply)
            .bind(None::<String>)
            .bind(t.answer.map(|a| a.to_string()))
            .bind(question_id)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        if let Some(u) = t.usage {
            sqlx::query(
                "UPDATE messages SET prompt_tokens = ?, completion_tokens = ? WHERE id = ?",
            )
            .bind(u.prompt_tokens as i64)
            .bind(u.completion_tokens as i64)
            .bind(answer_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(p) = t.persona {
            sqlx::query("UPDATE conversations SET persona = ? WHERE id = ?")
                .bind(p)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE conversations SET updated_at = ? WHERE id = ?")
            .bind(&now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RecordedTurn {
            conversation_id: id,
            question_id,
            answer_id,
        })
    }

    pub async fn messages(&self, conversation_id: &str) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, author, text, slots, answer, reply_to, created_at FROM messages
             WHERE conversation_id = ? ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The persona a conversation asked for, if it did.
    pub async fn conversation_persona(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT persona FROM conversations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .flatten())
    }

    /// The language model's tokens over a conversation's turns (prompt, completion).
    pub async fn conversation_llm_usage(
        &self,
        conversation_id: &str,
    ) -> Result<crate::llm::Usage, StoreError> {
        let (p, c): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)
             FROM messages WHERE conversation_id = ?",
        )
        .bind(conversation_id)
        .fetch_one(self.pool())
        .await?;
        Ok(crate::llm::Usage {
            prompt_tokens: p as u64,
            completion_tokens: c as u64,
        })
    }

    /// The slots of the latest user turn that had any, for follow-ups.
    pub async fn last_slots(
        &self,
        conversation_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let s: Option<String> = sqlx::query_scalar(
            "SELECT slots FROM messages WHERE conversation_id = ? AND role = 'user' AND slots IS NOT NULL
             ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?;
        s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// The latest assistant answer, for "how did you get that?".
    pub async fn last_answer(
        &self,
        conversation_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let s: Option<String> = sqlx::query_scalar(
            "SELECT answer FROM messages WHERE conversation_id = ? AND role = 'assistant' AND answer IS NOT NULL
             ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?;
        s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}

impl Store {
    /// Up to `limit` messages of a conversation after message id `after`
    /// (from the start when `None`), oldest first, and whether more follow.
    pub async fn messages_page(
        &self,
        conversation_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, author, text, slots, answer, reply_to, created_at FROM messages
             WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(conversation_id)
        .bind(after.unwrap_or(i64::MIN))
        // One more than asked for says whether there is a next page.
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let more = rows.len() > limit as usize;
        let messages = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((messages, more))
    }
}

fn message_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Message, StoreError> {
    let role = match r.get::<String, _>("role").as_str() {
        "user" => Role::User,
        _ => Role::Assistant,
    };
    let parse = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
        r.get::<Option<String>, _>(col)
            .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    };
    Ok(Message {
        id: r.get("id"),
        role,
        author: r.get("author"),
        text: r.get("text"),
        slots: parse("slots")?,
        answer: parse("answer")?,
        reply_to: r.get("reply_to"),
        created_at: r.get("created_at"),
    })
}

/// What a history check found: every count is zero for a sound history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct HistoryCheck {
    pub conversations: i64,
    pub messages: i64,
    /// Conversations with no turn at all.
    pub empty_conversations: i64,
    /// Questions no reply points at.
    pub unanswered_questions: i64,
    /// Replies that point at no question of their own conversation.
    pub unlinked_replies: i64,
}

impl Store {
    /// Checks that history holds whole turns only (for `doctor` and tests).
    pub async fn check_history(&self) -> Result<HistoryCheck, StoreError> {
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(self.pool())
                .await
        };
        Ok(HistoryCheck {
            conversations: count("SELECT COUNT(*) FROM conversations").await?,
            messages: count("SELECT COUNT(*) FROM messages").await?,
            empty_conversations: count(
                "SELECT COUNT(*) FROM conversations c
                 WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)",
            )
            .await?,
            unanswered_questions: count(
                "SELECT COUNT(*) FROM messages q WHERE q.role = 'user'
                 AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.reply_to = q.id)",
            )
            .await?,
            unlinked_replies: count(
                "SELECT COUNT(*) FROM messages a WHERE a.role = 'assistant'
                 AND NOT EXISTS (SELECT 1 FROM messages q WHERE q.id = a.reply_to
                                 AND q.conversation_id = a.conversation_id AND q.role = 'user')",
            )
            .await?,
        })
    }
}
