//! A SQLite cache in front of any [`CostSource`]. Cost Explorer charges
//! $0.01 per request and per page, so the same question must not cost twice.
//! Closed days change rarely (long TTL); today and yesterday are still being
//! filled in by AWS (short TTL).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::{CostError, CostQuery, CostResult, CostSource};
use crate::config::CacheConfig;
use crate::keyed_lock::KeyedLocks;
use crate::store::Store;

/// Counters shown by `/metrics` and the CLI.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

pub type Today = Arc<dyn Fn() -> NaiveDate + Send + Sync>;

pub struct CachedSource {
    inner: Arc<dyn CostSource>,
    store: Store,
    ttl: CacheConfig,
    today: Today,
    metrics: Arc<SourceMetrics>,
    monthly_limit: Option<u64>,
    /// One request in flight per query: a second asker waits and reads the cache.
    flights: KeyedLocks,
}

impl CachedSource {
    pub fn new(inner: Arc<dyn CostSource>, store: Store, ttl: CacheConfig, today: Today) -> Self {
        CachedSource {
            inner,
            store,
            ttl,
            today,
            metrics: Arc::new(SourceMetrics::default()),
            monthly_limit: None,
            flights: KeyedLocks::new(),
        }
    }

    /// Refuse new requests once this many were recorded in the calendar month.
    pub fn with_monthly_limit(mut self, limit: u64) -> Self {
        self.monthly_limit = Some(limit);
        self
    }

    pub fn metrics(&self) -> Arc<SourceMetrics> {
        self.metrics.clone()
    }

    fn key(&self, q: &CostQuery) -> String {
        let mut h = Sha256::new();
        h.update(self.inner.name().as_bytes());
        h.update([0]);
        h.update(q.canonical().as_bytes());
        format!("{:x}", h.finalize())
    }

    fn ttl_for(&self, q: &CostQuery, estimated: bool) -> Duration {
        let yesterday = (self.today)() - Duration::days(1);
        // Estimated figures (an open or just-closed month) still change.
        if q.period.end <= yesterday && !estimated {
            Duration::hours(self.ttl.closed_ttl_hours as i64)
        } else {
            Duration::minutes(self.ttl.recent_ttl_minutes as i64)
        }
    }
}

impl CachedSource {
    async fn cached(&self, key: &str) -> Result<Option<CostResult>, CostError> {
        let text = self
            .store
            .cache_get(key, Utc::now())
            .await
            .map_err(|e| CostError::Cache(e.to_string()))?;
        // An unreadable entry (an older format) is a miss, refreshed below.
        let Some(mut result) = text.and_then(|t| serde_json::from_str::<CostResult>(&t).ok())
        else {
            return Ok(None);
        };
        self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        result.cached = true;
        result.requests = 0;
        Ok(Some(result))
    }
}

#[async_trait]
impl CostSource for CachedSource {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn is_sample(&self) -> bool {
        self.inner.is_sample()
    }

    fn known_accounts(&self) -> Vec<(String, String)> {
        self.inner.known_accounts()
    }

    fn known_tag_values(&self) -> Vec<(String, String)> {
        self.inner.known_tag_values()
    }

    fn earliest_day(&self, today: NaiveDate) -> NaiveDate {
        self.inner.earliest_day(today)
    }

    async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
        // The sample organization is computed locally and costs nothing.
        if self.inner.is_sample() {
            return self.inner.cost_and_usage(q).await;
        }
        let key = self.key(q);
        if let Some(hit) = self.cached(&key).await? {
            return Ok(hit);
        }
        // Identical questions asked at once pay once: the first asks, the rest read its answer.
        let _flight = self.flights.lock(&key).await;
        if let Some(hit) = self.cached(&key).await? {
            return Ok(hit);
        }
        let now = Utc::now();
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        if let Some(limit) = self.monthly_limit {
            let month = now.format("%Y-%m-01").to_string();
            let used = self
                .store
                .requests_since(&month)
                .await
                .map_err(|e| CostError::Cache(e.to_string()))?;
            if used >= limit {
                return Err(CostError::MonthlyBudget { limit });
            }
        }
        // Requests are counted as they are made, so a query that fails part-way is still on the books.
        let meter = std::sync::atomic::AtomicU32::new(0);
        let outcome = self.inner.cost_and_usage_metered(q, &meter).await;
        let spent = meter.load(Ordering::Relaxed);
        self.metrics
            .requests
            .fetch_add(spent as u64, Ordering::Relaxed);
        let day = now.format("%Y-%m-%d").to_string();
        self.store
            .record_requests(&day, self.inner.name(), spent)
            .await
            .map_err(|e| CostError::Cache(e.to_string()))?;
        let result = outcome?;
        let text = serde_json::to_string(&result).map_err(|e| CostError::Cache(e.to_string()))?;
        self.store
            .cache_put(
                &key,
                self.inner.name(),
                &q.canonical(),
                &text,
                now,
                now + self.ttl_for(q, result.estimated()),
            )
            .await
            .map_err(|e| CostError::Cache(e.to_string()))?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{GroupAmount, Period, TimeBucket};
    use rust_decimal::Decimal;
    use std::sync::atomic::AtomicU32;

    struct Counting(AtomicU32);

    #[async_trait]
    impl CostSource for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(CostResult {
                query: q.clone(),
                unit: "USD".into(),
                buckets: vec![TimeBucket {
                    start: q.period.start,
                    end: q.period.end,
                    groups: vec![GroupAmount {
                        keys: vec![],
                        amount: "12.3456789012".parse().unwrap(),
                    }],
                    estimated: false,
                }],
                source: "counting".into(),
                requests: 1,
                cached: false,
            })
        }
    }

    #[tokio::test]
    async fn same_query_costs_once_and_amounts_survive_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let inner = Arc::new(Counting(AtomicU32::new(0)));
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let cached = CachedSource::new(
            inner.clone(),
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        );
        let mut q = CostQuery::new(Period::month(2026, 10));
        q.filter.services = vec!["B".into(), "A".into()];
        let first = cached.cost_and_usage(&q).await.unwrap();
        // Same query, filters in another order: normalized to the same key.
        q.filter.services = vec!["A".into(), "B".into(), "A".into()];
        let second = cached.cost_and_usage(&q).await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        assert!(second.cached);
        assert_eq!(second.requests, 0);
        assert_eq!(first.total(), second.total());
        assert_eq!(second.total(), "12.3456789012".parse::<Decimal>().unwrap());
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
        assert_eq!(cached.metrics().cache_hits.load(Ordering::Relaxed), 1);
    }

    /// Counts calls, each taking a while, as a paginated Cost Explorer query does.
    struct SlowCounting(AtomicU32);

    #[async_trait]
    impl CostSource for SlowCounting {
        fn name(&self) -> &str {
            "slow"
        }
        async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Counting(AtomicU32::new(0))
                .cost_and_usage(q)
                .await
                .inspect(|_| {
                    self.0.fetch_add(1, Ordering::SeqCst);
                })
        }
    }

    #[tokio::test]
    async fn identical_queries_at_once_pay_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let inner = Arc::new(SlowCounting(AtomicU32::new(0)));
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let cached = Arc::new(CachedSource::new(
            inner.clone(),
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        ));
        let q = CostQuery::new(Period::month(2026, 10));
        let mut askers = Vec::new();
        for _ in 0..10 {
            let (cached, q) = (cached.clone(), q.clone());
            askers.push(tokio::spawn(async move { cached.cost_and_usage(&q).await }));
        }
        let mut fresh = 0;
        for a in askers {
            let r = a.await.unwrap().unwrap();
            assert_eq!(r.total(), "12.3456789012".parse::<Decimal>().unwrap());
            fresh += usize::from(!r.cached);
        }
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            1,
            "one request for ten askers"
        );
        assert_eq!(fresh, 1);
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
        // The lock is forgotten once the flight has landed.
        assert!(cached.flights.is_empty());
    }

    /// Makes two billable requests, then fails, as a throttled pagination would.
    struct FailsAfterPaying;

    #[async_trait]
    impl CostSource for FailsAfterPaying {
        fn name(&self) -> &str {
            "fails"
        }
        async fn cost_and_usage(&self, _q: &CostQuery) -> Result<CostResult, CostError> {
            Err(CostError::Throttled)
        }
        async fn cost_and_usage_metered(
            &self,
            _q: &CostQuery,
            meter: &std::sync::atomic::AtomicU32,
        ) -> Result<CostResult, CostError> {
            meter.fetch_add(2, Ordering::Relaxed);
            Err(CostError::Throttled)
        }
    }

    #[tokio::test]
    async fn requests_of_failed_queries_are_counted_and_the_month_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let cached = CachedSource::new(
            Arc::new(FailsAfterPaying),
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        )
        .with_monthly_limit(3);
        let q = CostQuery::new(Period::month(2026, 10));
        assert!(matches!(
            cached.cost_and_usage(&q).await,
            Err(CostError::Throttled)
        ));
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
        assert!(matches!(
            cached.cost_and_usage(&q).await,
            Err(CostError::Throttled)
        ));
        // Four requests recorded, over the limit of three: no further request is made.
        assert!(matches!(
            cached.cost_and_usage(&q).await,
            Err(CostError::MonthlyBudget { limit: 3 })
        ));
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 4);
    }

    #[tokio::test]
    async fn recent_periods_expire_sooner() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let cached = CachedSource::new(
            Arc::new(Counting(AtomicU32::new(0))),
            store,
            CacheConfig::default(),
            Arc::new(move || today),
        );
        let closed = CostQuery::new(Period::month(2026, 10));
        let open = CostQuery::new(Period::inclusive(today - Duration::days(3), today));
        assert_eq!(cached.ttl_for(&closed, false), Duration::hours(168));
        assert_eq!(cached.ttl_for(&closed, true), Duration::minutes(60));
        assert_eq!(cached.ttl_for(&open, false), Duration::minutes(60));
    }
}
