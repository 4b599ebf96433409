//! Digest subscriptions made in chat, and digest runs: one row per
//! (subscription, period), moved planned -> built -> delivering ->
//! delivered | failed. Every move is one UPDATE guarded by the state it
//! expects, so two workers (or a restarted process) can never both make it.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use super::{now_rfc3339, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Planned,
    Built,
    Delivering,
    Delivered,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Planned => "planned",
            RunState::Built => "built",
            RunState::Delivering => "delivering",
            RunState::Delivered => "delivered",
            RunState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Result<RunState, StoreError> {
        Ok(match s {
            "planned" => RunState::Planned,
            "built" => RunState::Built,
            "delivering" => RunState::Delivering,
            "delivered" => RunState::Delivered,
            "failed" => RunState::Failed,
            other => return Err(StoreError::Corrupt(format!("digest run state '{other}'"))),
        })
    }
}

/// One digest run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestRun {
    pub id: String,
    pub subscription: String,
    /// The local date the run is for, "YYYY-MM-DD".
    pub period: String,
    pub scheduled_for: DateTime<Utc>,
    pub state: RunState,
    /// Planned after its time had passed (costbot was down).
    pub delayed: bool,
    /// What was built (JSON), kept so a re-send sends the same body.
    pub content: Option<String>,
    pub chart: Option<Vec<u8>>,
    /// Billable Cost Explorer requests the build made.
    pub ce_requests: Option<u32>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What the destination answered (a message id, a status).
    pub receipt: Option<String>,
    /// The process moving the run, "<pid>:<uuid>".
    pub claimed_by: Option<String>,
    pub updated_at: String,
}

/// A subscription made in chat.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSubscription {
    pub name: String,
    pub schedule: String,
    pub time_zone: String,
    pub destination: String,
    pub scope: String,
    pub budget: Option<String>,
    pub created_by: String,
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn run_of(r: &sqlx::sqlite::SqliteRow) -> Result<DigestRun, StoreError> {
    let scheduled: String = r.get("scheduled_for");
    Ok(DigestRun {
        id: r.get("id"),
        subscription: r.get("subscription"),
        period: r.get("period"),
        scheduled_for: DateTime::parse_from_rfc3339(&scheduled)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .with_timezone(&Utc),
        state: RunState::parse(&r.get::<String, _>("state"))?,
        delayed: r.get::<i64, _>("delayed") != 0,
        content: r.get("content"),
        chart: r.get("chart"),
        ce_requests: r
            .get::<Option<i64>, _>("ce_requests")
            .map(|n| n.max(0) as u32),
        attempts: r.get::<i64, _>("attempts").max(0) as u32,
        last_error: r.get("last_error"),
        receipt: r.get("receipt"),
        claimed_by: r.get("claimed_by"),
        updated_at: r.get("updated_at"),
    })
}

const COLUMNS: &str = "id, subscription, period, scheduled_for, state, delayed, content, chart,
    ce_requests, attempts, last_error, receipt, claimed_by, updated_at";

impl Store {
    /// Plans the run for (subscription, period) unless one exists; returns
    /// the run either way.
    pub async fn digest_plan(
        &self,
        subscription: &str,
        period: &str,
        scheduled_for: DateTime<Utc>,
        delayed: bool,
    ) -> Result<DigestRun, StoreError> {
        self.digest_insert(
            subscription,
            period,
            scheduled_for,
            delayed,
            RunState::Planned,
            None,
        )
        .await
    }

    /// Records a run that will not happen (too late to be useful), so a
    /// missed digest is never silent.
    pub async fn digest_skip(
        &self,
        subscription: &str,
        period: &str,
        scheduled_for: DateTime<Utc>,
        why: &str,
    ) -> Result<DigestRun, StoreError> {
        self.digest_insert(
            subscription,
            period,
            scheduled_for,
            true,
            RunState::Failed,
            Some(why),
        )
        .await
    }

    async fn digest_insert(
        &self,
        subscription: &str,
        period: &str,
        scheduled_for: DateTime<Utc>,
        delayed: bool,
        state: RunState,
        error: Option<&str>,
    ) -> Result<DigestRun, StoreError> {
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO digest_runs (id, subscription, period, scheduled_for, state, delayed,
                 next_attempt_at, last_error, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (subscription, period) DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(subscription)
        .bind(period)
        .bind(at(scheduled_for))
        .bind(state.as_str())
        .bind(delayed)
        // A planned run is due at its time (runs are planned ahead).
        .bind(at(scheduled_for))
        .bind(error)
        .bind(&now)
        .bind(&now)
        .execute(self.pool())
        .await?;
        self.digest_run(subscription, period)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a planned digest run vanished".into()))
    }

    pub async fn digest_run(
        &self,
        subscription: &str,
        period: &str,
    ) -> Result<Option<DigestRun>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM digest_runs WHERE subscription = ? AND period = ?"
        ))
        .bind(subscription)
        .bind(period)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run_of).transpose()
    }

    /// Claims an open run for `me` until `until`: granted when nobody holds
    /// it, `me` already does, the claim expired, or its holder is `stale`
    /// (a process found gone).
    pub async fn digest_claim(
        &self,
        id: &str,
        me: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        stale: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET claimed_by = ?, claimed_until = ?
             WHERE id = ? AND state IN ('planned', 'built', 'delivering')
               AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until <= ? OR claimed_by = ?)",
        )
        .bind(me)
        .bind(at(until))
        .bind(id)
        .bind(me)
        .bind(at(now))
        .bind(stale)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// planned -> built, with what was built. False when the run was not planned.
    pub async fn digest_built(
        &self,
        id: &str,
        content: &str,
        chart: Option<&[u8]>,
        ce_requests: u32,
        delayed: bool,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET state = 'built', content = ?, chart = ?, ce_requests = ?,
                 delayed = ?, attempts = 0, last_error = NULL, updated_at = ?
             WHERE id = ? AND state = 'planned'",
        )
        .bind(content)
        .bind(chart)
        .bind(i64::from(ce_requests))
        .bind(delayed)
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// built -> delivering. False when the run was not built.
    pub async fn digest_delivering(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET state = 'delivering', updated_at = ?
             WHERE id = ? AND state = 'built'",
        )
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// delivering -> delivered, with the destination's receipt.
    pub async fn digest_delivered(&self, id: &str, receipt: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET state = 'delivered', receipt = ?, attempts = attempts + 1,
                 last_error = NULL, updated_at = ? WHERE id = ? AND state = 'delivering'",
        )
        .bind(receipt)
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// A failed attempt while delivering: try again at `next`, or give up
    /// (`next` None: delivering -> failed).
    pub async fn digest_attempt_failed(
        &self,
        id: &str,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET attempts = attempts + 1, last_error = ?,
                 next_attempt_at = COALESCE(?, next_attempt_at),
                 state = CASE WHEN ? THEN 'failed' ELSE state END, updated_at = ?
             WHERE id = ? AND state = 'delivering'",
        )
        .bind(error)
        .bind(next.map(at))
        .bind(next.is_none())
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// A build that failed for a passing reason: stays planned, due again at `next`.
    pub async fn digest_build_retry(
        &self,
        id: &str,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
                 updated_at = ? WHERE id = ? AND state = 'planned'",
        )
        .bind(error)
        .bind(at(next))
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// planned -> failed (the build failed for good).
    pub async fn digest_build_failed(&self, id: &str, error: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE digest_runs SET state = 'failed', last_error = ?, updated_at = ?
             WHERE id = ? AND state = 'planned'",
        )
        .bind(error)
        .bind(now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Runs not finished and due by `now` (after a restart: every one left behind).
    pub async fn digest_open_runs(&self, now: DateTime<Utc>) -> Result<Vec<DigestRun>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM digest_runs
             WHERE state IN ('planned', 'built', 'delivering') AND next_attempt_at <= ?
             ORDER BY scheduled_for"
        ))
        .bind(at(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_of).collect()
    }

    /// The newest runs of a subscription, newest first.
    pub async fn digest_recent_runs(
        &self,
        subscription: &str,
        limit: u32,
    ) -> Result<Vec<DigestRun>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM digest_runs WHERE subscription = ?
             ORDER BY scheduled_for DESC LIMIT ?"
        ))
        .bind(subscription)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_of).collect()
    }

    /// When the subscription's newest run was scheduled, if it has one.
    pub async fn digest_last_scheduled(
        &self,
        subscription: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let t: Option<String> =
            sqlx::query_scalar("SELECT MAX(scheduled_for) FROM digest_runs WHERE subscription = ?")
                .bind(subscription)
                .fetch_one(self.pool())
                .await?;
        t.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    /// Adds a chat subscription; false when the name is taken.
    pub async fn digest_subscribe(&self, s: &StoredSubscription) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO digest_subscriptions
                 (name, schedule, time_zone, destination, scope, budget, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&s.name)
        .bind(&s.schedule)
        .bind(&s.time_zone)
        .bind(&s.destination)
        .bind(&s.scope)
        .bind(&s.budget)
        .bind(&s.created_by)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Removes a chat subscription; false when there was none by that name.
    pub async fn digest_unsubscribe(&self, name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM digest_subscriptions WHERE name = ?")
                .bind(name)
                .execute(self.pool())
                .await?
                .rows_affected()
                == 1,
        )
    }

    pub async fn digest_subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, schedule, time_zone, destination, scope, budget, created_by
             FROM digest_subscriptions ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| StoredSubscription {
                name: r.get("name"),
                schedule: r.get("schedule"),
                time_zone: r.get("time_zone"),
                destination: r.get("destination"),
                scope: r.get("scope"),
                budget: r.get("budget"),
                created_by: r.get("created_by"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_move_happens_once_from_the_state_it_expects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let t = Utc::now();
        let run = store
            .digest_plan("daily", "2026-11-19", t, false)
            .await
            .unwrap();
        assert_eq!(run.state, RunState::Planned);
        // The same period again is the same run.
        let again = store
            .digest_plan("daily", "2026-11-19", t, true)
            .await
            .unwrap();
        assert_eq!(again.id, run.id);
        assert!(!again.delayed);
        assert!(
            !store.digest_delivering(&run.id).await.unwrap(),
            "not built yet"
        );
        assert!(store
            .digest_built(&run.id, "{}", Some(b"png"), 2, false)
            .await
            .unwrap());
        assert!(!store
            .digest_built(&run.id, "{}", None, 9, false)
            .await
            .unwrap());
        assert!(store.digest_delivering(&run.id).await.unwrap());
        assert!(!store.digest_delivering(&run.id).await.unwrap());
        assert!(store
            .digest_attempt_failed(&run.id, "503", Some(t))
            .await
            .unwrap());
        assert!(store.digest_delivered(&run.id, "200").await.unwrap());
        assert!(!store.digest_delivered(&run.id, "200").await.unwrap());
        let done = store
            .digest_run("daily", "2026-11-19")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.state, RunState::Delivered);
        assert_eq!((done.attempts, done.ce_requests), (2, Some(2)));
        assert_eq!(done.chart.as_deref(), Some(&b"png"[..]));
        assert!(store.digest_open_runs(t).await.unwrap().is_empty());
        let skipped = store
            .digest_skip("daily", "2026-11-01", t, "skipped (too late)")
            .await
            .unwrap();
        assert_eq!(skipped.state, RunState::Failed);
        assert_eq!(
            store.digest_last_scheduled("daily").await.unwrap().map(at),
            Some(at(t))
        );
        store.close().await;
    }
}
