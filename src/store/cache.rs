//! The cost cache table, the billable-request counter, and the monthly
//! request budget shared across processes.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

impl Store {
    pub async fn cache_get(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT result FROM cost_cache WHERE key = ? AND expires_at > ?")
                .bind(key)
                .bind(now.to_rfc3339())
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn cache_put(
        &self,
        key: &str,
        source: &str,
        query: &str,
        result: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cost_cache (key, source, query, result, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET result = excluded.result, fetched_at = excluded.fetched_at,
             expires_at = excluded.expires_at",
        )
        .bind(key)
        .bind(source)
        .bind(query)
        .bind(result)
        .bind(now.to_rfc3339())
        .bind(expires_at.to_rfc3339())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Drops expired entries; returns how many.
    pub async fn cache_prune(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM cost_cache WHERE expires_at <= ?")
            .bind(now.to_rfc3339())
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    pub async fn record_requests(&self, day: &str, source: &str, n: u32) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO source_requests (day, source, requests) VALUES (?, ?, ?)
             ON CONFLICT (day, source) DO UPDATE SET requests = requests + excluded.requests",
        )
        .bind(day)
        .bind(source)
        .bind(n as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Billable requests recorded on or after `since` (YYYY-MM-DD).
    pub async fn requests_since(&self, since: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(requests), 0) FROM source_requests WHERE day >= ?",
        )
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(n as u64)
    }

    /// Reserves one request in `month` (YYYY-MM) if fewer than `limit` are
    /// reserved or made; false when the month is used up. One statement, so
    /// it is atomic across connections and processes.
    pub async fn reserve_request(&self, month: &str, limit: u64) -> Result<bool, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let used: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO request_budget (month, used) SELECT ?1, 1 WHERE ?2 > 0
             ON CONFLICT (month) DO UPDATE SET used = used + 1 WHERE used < ?2
             RETURNING used",
        )
        .bind(month)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(!used.is_empty())
    }

    /// Corrects `month`'s reservations by `delta` once a query's real request
    /// count is known (negative: reserved but not made).
    pub async fn adjust_reserved(&self, month: &str, delta: i64) -> Result<(), StoreError> {
        if delta == 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO request_budget (month, used) VALUES (?1, MAX(?2, 0))
             ON CONFLICT (month) DO UPDATE SET used = MAX(used + ?2, 0)",
        )
        .bind(month)
        .bind(delta)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Requests reserved or made in `month` (YYYY-MM).
    pub async fn reserved_requests(&self, month: &str) -> Result<u64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar("SELECT used FROM request_budget WHERE month = ?")
            .bind(month)
            .fetch_optional(self.pool())
            .await?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }
}
