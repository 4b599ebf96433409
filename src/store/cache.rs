//! The cost cache table and the billable-request counter.

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
}
