//! Slack's own state: handled event ids (exactly-once answers), feedback on
//! answers, and the outbox of replies to deliver again.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use super::{now_rfc3339, Store, StoreError};

/// A reply waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    /// What to call: "post", "update" or "respond".
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Records an event id; false when it was already recorded (a retry or a
    /// second connection's copy), so the caller answers only the first.
    pub async fn slack_event_first_seen(&self, event_id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO slack_events (event_id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets event ids older than `before` (Slack retries within minutes).
    pub async fn slack_events_prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM slack_events WHERE received_at < ?")
                .bind(at(before))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// The id of the latest answer in a conversation, for feedback buttons.
    pub async fn latest_answer_id(&self, conversation_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(id) FROM messages WHERE conversation_id = ? AND role = 'assistant'",
        )
        .bind(conversation_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// Stores a 👍 (1) or 👎 (-1) on an answer of `conversation_id`; false
    /// when no such answer is in that conversation.
    pub async fn slack_feedback(
        &self,
        conversation_id: &str,
        message_id: i64,
        author: &str,
        vote: i8,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO slack_feedback (message_id, conversation_id, author, vote, created_at)
             SELECT id, conversation_id, ?, ?, ? FROM messages
             WHERE id = ? AND conversation_id = ? AND role = 'assistant'
             ON CONFLICT (message_id, author) DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at",
        )
        .bind(author)
        .bind(i64::from(vote.signum()))
        .bind(now_rfc3339())
        .bind(message_id)
        .bind(conversation_id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The votes on an answer: (author, vote).
    pub async fn slack_feedback_for(
        &self,
        message_id: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT author, vote FROM slack_feedback WHERE message_id = ? ORDER BY author",
        )
        .bind(message_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Keeps a reply for a later attempt at `next`.
    pub async fn outbox_push(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO slack_outbox (kind, payload, attempts, next_attempt_at, last_error, created_at)
             VALUES (?, ?, 1, ?, ?, ?)",
        )
        .bind(kind)
        .bind(payload.to_string())
        .bind(at(next))
        .bind(error)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await?
        .last_insert_rowid())
    }

    /// Replies due at `now`, oldest first.
    pub async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts FROM slack_outbox
             WHERE dead = 0 AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(at(now))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.get("id"),
                    kind: r.get("kind"),
                    payload: serde_json::from_str(&r.get::<String, _>("payload"))
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    attempts: r.get::<i64, _>("attempts").max(0) as u32,
                })
            })
            .collect()
    }

    pub async fn outbox_delivered(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM slack_outbox WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Another failed attempt: try again at `next`, or give up (`next` None).
    pub async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE slack_outbox SET attempts = attempts + 1, last_error = ?,
             next_attempt_at = COALESCE(?, next_attempt_at), dead = ? WHERE id = ?",
        )
        .bind(error)
        .bind(next.map(at))
        .bind(next.is_none())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// (waiting, dead) replies, for `doctor` and tests.
    pub async fn outbox_counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(SUM(dead = 0), 0), COALESCE(SUM(dead = 1), 0) FROM slack_outbox",
        )
        .fetch_one(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewTurn;

    #[tokio::test]
    async fn events_feedback_and_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        assert!(store.slack_event_first_seen("Ev1").await.unwrap());
        assert!(!store.slack_event_first_seen("Ev1").await.unwrap());
        assert_eq!(
            store
                .slack_events_prune(Utc::now() - chrono::Duration::minutes(1))
                .await
                .unwrap(),
            0
        );

        let turn = store
            .record_turn(&NewTurn {
                conversation_id: "c1",
                channel_key: Some("slack:T1:C1:1.2"),
                scope: "slack:T1",
                channel: "slack",
                author: "slack:T1:U1",
                question: "spend yesterday",
                slots: None,
                reply: "A",
                answer: None,
                persona: None,
                usage: None,
            })
            .await
            .unwrap();
        assert_eq!(
            store.latest_answer_id("c1").await.unwrap(),
            Some(turn.answer_id)
        );
        assert!(store
            .slack_feedback("c1", turn.answer_id, "slack:T1:U2", 1)
            .await
            .unwrap());
        assert!(store
            .slack_feedback("c1", turn.answer_id, "slack:T1:U2", -1)
            .await
            .unwrap());
        // A question is not an answer, and another conversation's id is refused.
        assert!(!store
            .slack_feedback("c1", turn.question_id, "slack:T1:U2", 1)
            .await
            .unwrap());
        assert!(!store
            .slack_feedback("c2", turn.answer_id, "slack:T1:U2", 1)
            .await
            .unwrap());
        assert_eq!(
            store.slack_feedback_for(turn.answer_id).await.unwrap(),
            vec![("slack:T1:U2".to_string(), -1)]
        );

        let now = Utc::now();
        let id = store
            .outbox_push("post", &serde_json::json!({"a": 1}), "503", now)
            .await
            .unwrap();
        assert!(store
            .outbox_due(now - chrono::Duration::seconds(5), 10)
            .await
            .unwrap()
            .is_empty());
        let due = store.outbox_due(now, 10).await.unwrap();
        assert_eq!(due[0].attempts, 1);
        store
            .outbox_failed(id, "503 again", Some(now + chrono::Duration::seconds(20)))
            .await
            .unwrap();
        assert!(store.outbox_due(now, 10).await.unwrap().is_empty());
        assert_eq!(
            store
                .outbox_due(now + chrono::Duration::seconds(20), 10)
                .await
                .unwrap()[0]
                .attempts,
            2
        );
        store.outbox_failed(id, "gone", None).await.unwrap();
        assert_eq!(store.outbox_counts().await.unwrap(), (0, 1));
        store.outbox_delivered(id).await.unwrap();
        assert_eq!(store.outbox_counts().await.unwrap(), (0, 0));
    }
}
