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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub role: Role,
    pub author: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<serde_json::Value>,
    pub created_at: String,
}

impl Store {
    /// Creates the conversation if new; refuses one owned by someone else.
    pub async fn ensure_conversation(
        &self,
        id: &str,
        owner: &str,
        channel: &str,
    ) -> Result<(), StoreError> {
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO conversations (id, owner, channel, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(owner)
        .bind(channel)
        .bind(&now)
        .bind(&now)
        .execute(self.pool())
        .await?;
        match self.conversation_owner(id).await? {
            Some(o) if o == owner => Ok(()),
            _ => Err(StoreError::NotOwner(id.to_string())),
        }
    }

    pub async fn conversation_owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT owner FROM conversations WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn append_message(
        &self,
        conversation_id: &str,
        role: Role,
        author: Option<&str>,
        text: &str,
        slots: Option<&serde_json::Value>,
        answer: Option<&serde_json::Value>,
    ) -> Result<i64, StoreError> {
        let now = now_rfc3339();
        let mut tx = self.pool().begin().await?;
        let id = sqlx::query(
            "INSERT INTO messages (conversation_id, role, author, text, slots, answer, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(conversation_id)
        .bind(role.as_str())
        .bind(author)
        .bind(text)
        .bind(slots.map(|s| s.to_string()))
        .bind(answer.map(|a| a.to_string()))
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        sqlx::query("UPDATE conversations SET updated_at = ? WHERE id = ?")
            .bind(&now)
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn messages(&self, conversation_id: &str) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, author, text, slots, answer, created_at FROM messages
             WHERE conversation_id = ? ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let role = match r.get::<String, _>("role").as_str() {
                    "user" => Role::User,
                    _ => Role::Assistant,
                };
                let parse = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
                    r.get::<Option<String>, _>(col)
                        .map(|s| {
                            serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
                        })
                        .transpose()
                };
                Ok(Message {
                    id: r.get("id"),
                    role,
                    author: r.get("author"),
                    text: r.get("text"),
                    slots: parse("slots")?,
                    answer: parse("answer")?,
                    created_at: r.get("created_at"),
                })
            })
            .collect()
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
            "SELECT id, role, author, text, slots, answer, created_at FROM messages
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
        created_at: r.get("created_at"),
    })
}
