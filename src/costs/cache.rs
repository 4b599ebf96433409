//! A SQLite cache in front of any [`CostSource`]. Cost Explorer charges
//! $0.01 per request and per page, so the same question must not cost twice.
//! Closed days change rarely (long TTL); today and yesterday are still being
//! filled in by AWS (short TTL).
//!
//! Entries are keyed by the source's connection identity as well as the
//! query, so other credentials never see them. The monthly request cap is a
//! reservation in SQLite made before each request (see
//! [`Store::reserve_request`]), so several processes on one database share it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::insights::Paid;
use super::{
    AnomalyQuery, AnomalyResult, CostError, CostQuery, CostResult, CostSource, ForecastQuery,
    ForecastResult, HubQuery, HubResult, Meter, RequestGate, RightsizingQuery, RightsizingResult,
};
use crate::config::CacheConfig;
use crate::keyed_lock::KeyedLocks;
use crate::store::Store;

mod budgets;

/// Counters shown by `/metrics` and the CLI.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Paid-for results that could not be stored in the cache (still returned).
    pub cache_write_failures: AtomicU64,
    /// Requests made whose count could not be written to the database.
    pub request_record_failures: AtomicU64,
}

pub type Today = Arc<dyn Fn() -> NaiveDate + Send + Sync>;

/// What the last request for a query came to, kept for the askers queued
/// behind it (and only as long as somebody is queued).
struct Landed {
    at: Instant,
    outcome: Result<CostResult, CostError>,
}

pub struct CachedSource {
    inner: Arc<dyn CostSource>,
    store: Store,
    ttl: CacheConfig,
    today: Today,
    metrics: Arc<SourceMetrics>,
    monthly_limit: Option<u64>,
    /// One request in flight per query: a second asker waits for its outcome.
    flights: KeyedLocks<Option<Landed>>,
    /// The same for AWS's forecasts and anomalies (outcomes kept as JSON).
    other_flights: KeyedLocks<Option<(Instant, Result<String, CostError>)>>,
    /// The organization's account names (see `budgets.rs`).
    org_names: std::sync::RwLock<budgets::OrgNames>,
    accounts_refresh: tokio::sync::Mutex<()>,
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
            flights: KeyedLocks::default(),
            other_flights: KeyedLocks::default(),
            org_names: Default::default(),
            accounts_refresh: Default::default(),
        }
    }

    /// Refuse new requests once this many were reserved or made in the
    /// calendar month (UTC), by any process using this database.
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
        h.update(self.inner.connection_id(q.connection.as_deref()).as_bytes());
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

/// Reserves each request of one query in the shared monthly budget.
struct BudgetGate<'a> {
    store: &'a Store,
    month: &'a str,
    limit: u64,
    reserved: AtomicU32,
}

#[async_trait]
impl RequestGate for BudgetGate<'_> {
    async fn admit(&self) -> Result<(), CostError> {
        match self.store.reserve_request(self.month, self.limit).await {
            Ok(true) => {
                self.reserved.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(false) => Err(CostError::MonthlyBudget { limit: self.limit }),
            // Without a reservation the cap cannot be kept: no request.
            Err(e) => Err(CostError::Cache(e.to_string())),
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
        let Some(result) = text.and_then(|t| serde_json::from_str::<CostResult>(&t).ok()) else {
            return Ok(None);
        };
        Ok(Some(self.hit(result)))
    }

    /// A result this asker did not pay for.
    fn hit(&self, mut result: CostResult) -> CostResult {
        self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        result.cached = true;
        result.requests = 0;
        result
    }

    /// Asks the source, within the monthly budget, and caches what came back.
    /// Once requests are paid for, bookkeeping failures only warn: the result
    /// is returned all the same.
    async fn fetch(&self, q: &CostQuery, key: &str) -> Result<CostResult, CostError> {
        let now = Utc::now();
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let month = now.format("%Y-%m").to_string();
        let gate = self.monthly_limit.map(|limit| BudgetGate {
            store: &self.store,
            month: &month,
            limit,
            reserved: AtomicU32::new(0),
        });
        let meter = match &gate {
            Some(g) => Meter::gated(g),
            None => Meter::new(),
        };
        let outcome = self.inner.cost_and_usage_metered(q, &meter).await;
        let spent = meter.spent();
        self.account(&meter, gate.as_ref(), &month, now).await;
        let result = outcome?;
        // A result that cost nothing (e.g. a period not yet started in UTC) is not worth keeping.
        if spent > 0 {
            if let Err(e) = self.put(q, key, &result, now).await {
                self.metrics
                    .cache_write_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "could not cache a cost result; returning it uncached");
            }
        }
        Ok(result)
    }

    async fn put(
        &self,
        q: &CostQuery,
        key: &str,
        result: &CostResult,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), CostError> {
        let text = serde_json::to_string(result).map_err(|e| CostError::Cache(e.to_string()))?;
        self.store
            .cache_put(
                key,
                self.inner.name(),
                &q.canonical(),
                &text,
                now,
                now + self.ttl_for(q, result.estimated()),
            )
            .await
            .map_err(|e| CostError::Cache(e.to_string()))
    }
}

/// A billed call other than GetCostAndUsage.
#[derive(Clone, Copy)]
enum Call<'a> {
    Forecast(&'a ForecastQuery),
    Anomalies(&'a AnomalyQuery),
    Recommendations(&'a super::commitments::RecommendationQuery),
    CommitmentUsage(&'a super::commitments::UsageQuery),
    Rightsizing(&'a RightsizingQuery),
    Hub(&'a HubQuery),
}

/// Forecasts, anomalies, recommendations and commitment figures change daily:
/// they keep for the short TTL only.
impl CachedSource {
    fn other_key(&self, connection: Option<&str>, canonical: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.inner.name().as_bytes());
        h.update([0]);
        h.update(self.inner.connection_id(connection).as_bytes());
        h.update([0]);
        h.update(canonical.as_bytes());
        format!("{:x}", h.finalize())
    }

    async fn stored(&self, key: &str) -> Result<Option<String>, CostError> {
        self.store
            .cache_get(key, Utc::now())
            .await
            .map_err(|e| CostError::Cache(e.to_string()))
    }

    fn hit_of<T: Paid + serde::de::DeserializeOwned>(&self, text: &str) -> Option<T> {
        // An unreadable entry (an older format) is a miss.
        let mut r = serde_json::from_str::<T>(text).ok()?;
        self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        r.mark_cached();
        Some(r)
    }

    /// The cost path's cache, budget, counting and single flight for another
    /// billed call.
    async fn through<T>(&self, call: Call<'_>) -> Result<T, CostError>
    where
        T: Paid + serde::de::DeserializeOwned,
    {
        let (connection, canonical) = match call {
            Call::Forecast(q) => (q.connection.as_deref(), q.canonical()),
            Call::Anomalies(q) => (q.connection.as_deref(), q.canonical()),
            Call::Recommendations(q) => (q.connection.as_deref(), q.canonical()),
            Call::CommitmentUsage(q) => (q.connection.as_deref(), q.canonical()),
            Call::Rightsizing(q) => (q.connection.as_deref(), q.canonical()),
            Call::Hub(q) => (q.connection.as_deref(), q.canonical()),
        };
        let key = self.other_key(connection, &canonical);
        if let Some(r) = self.stored(&key).await?.and_then(|t| self.hit_of(&t)) {
            return Ok(r);
        }
        // Identical questions asked at once pay once (see `cost_and_usage`).
        let arrived = Instant::now();
        let mut flight = self.other_flights.lock(&key).await;
        match flight.as_ref() {
            Some((_, Ok(text))) => {
                if let Some(r) = self.hit_of(text) {
                    return Ok(r);
                }
            }
            Some((at, Err(e))) if *at >= arrived => return Err(e.clone()),
            _ => {}
        }
        if let Some(r) = self.stored(&key).await?.and_then(|t| self.hit_of(&t)) {
            return Ok(r);
        }
        let now = Utc::now();
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let month = now.format("%Y-%m").to_string();
        let gate = self.monthly_limit.map(|limit| BudgetGate {
            store: &self.store,
            month: &month,
            limit,
            reserved: AtomicU32::new(0),
        });
        let meter = match &gate {
            Some(g) => Meter::gated(g),
            None => Meter::new(),
        };
        let text = match call {
            Call::Forecast(q) => self
                .inner
                .forecast_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
            Call::Anomalies(q) => self
                .inner
                .anomalies_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
            Call::Recommendations(q) => self
                .inner
                .recommendations_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
            Call::CommitmentUsage(q) => self
                .inner
                .commitment_usage_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
            Call::Rightsizing(q) => self
                .inner
                .rightsizing_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
            Call::Hub(q) => self
                .inner
                .hub_recommendations_metered(q, &meter)
                .await
                .map(|r| serde_json::to_string(&r)),
        }
        .and_then(|t| t.map_err(|e| CostError::Cache(e.to_string())));
        let spent = meter.spent();
        self.account(&meter, gate.as_ref(), &month, now).await;
        *flight = Some((Instant::now(), text.clone()));
        let text = text?;
        if spent > 0 {
            let expires = now + Duration::minutes(self.ttl.recent_ttl_minutes as i64);
            if let Err(e) = self
                .store
                .cache_put(&key, self.inner.name(), &canonical, &text, now, expires)
                .await
            {
                self.metrics
                    .cache_write_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "could not cache an AWS result; returning it uncached");
            }
        }
        serde_json::from_str(&text).map_err(|e| CostError::Cache(e.to_string()))
    }

    /// Counts what a call spent: metrics, the monthly reservation, the daily record.
    async fn account(
        &self,
        meter: &Meter<'_>,
        gate: Option<&BudgetGate<'_>>,
        month: &str,
        now: chrono::DateTime<Utc>,
    ) {
        let spent = meter.spent();
        self.metrics
            .requests
            .fetch_add(spent as u64, Ordering::Relaxed);
        if let Some(g) = gate {
            // Reserved but not made (a failure before sending) is given back;
            // made beyond what was reserved (a source that cannot admit per page) is added.
            let delta = spent as i64 - g.reserved.load(Ordering::Relaxed) as i64;
            if let Err(e) = self.store.adjust_reserved(month, delta).await {
                self.metrics
                    .request_record_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, delta, "could not correct the monthly request budget");
            }
        }
        let day = now.format("%Y-%m-%d").to_string();
        if let Err(e) = self
            .store
            .record_requests(&day, self.inner.name(), spent)
            .await
        {
            self.metrics
                .request_record_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, requests = spent, "could not record Cost Explorer requests");
        }
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

    fn connection_id(&self, connection: Option<&str>) -> String {
        self.inner.connection_id(connection)
    }

    fn known_accounts(&self) -> Vec<(String, String)> {
        self.merged_accounts()
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
        // Identical questions asked at once pay once: the first asks, the
        // rest take its outcome. A failure goes to those already queued when
        // it landed (no retry storm); only later askers try again.
        let arrived = Instant::now();
        let mut flight = self.flights.lock(&key).await;
        match flight.as_ref() {
            Some(Landed { outcome: Ok(r), .. }) => return Ok(self.hit(r.clone())),
            Some(Landed {
                outcome: Err(e),
                at,
            }) if *at >= arrived => return Err(e.clone()),
            _ => {}
        }
        // Another process may have answered meanwhile.
        if let Some(hit) = self.cached(&key).await? {
            return Ok(hit);
        }
        let outcome = self.fetch(q, &key).await;
        *flight = Some(Landed {
            at: Instant::now(),
            outcome: outcome.clone(),
        });
        outcome
    }

    async fn forecast_metered(
        &self,
        q: &ForecastQuery,
        meter: &Meter<'_>,
    ) -> Result<ForecastResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.forecast_metered(q, meter).await;
        }
        self.through(Call::Forecast(q)).await
    }

    async fn anomalies_metered(
        &self,
        q: &AnomalyQuery,
        meter: &Meter<'_>,
    ) -> Result<AnomalyResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.anomalies_metered(q, meter).await;
        }
        self.through(Call::Anomalies(q)).await
    }

    async fn recommendations_metered(
        &self,
        q: &super::commitments::RecommendationQuery,
        meter: &Meter<'_>,
    ) -> Result<super::commitments::RecommendationResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.recommendations_metered(q, meter).await;
        }
        self.through(Call::Recommendations(q)).await
    }

    async fn commitment_usage_metered(
        &self,
        q: &super::commitments::UsageQuery,
        meter: &Meter<'_>,
    ) -> Result<super::commitments::UsageResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.commitment_usage_metered(q, meter).await;
        }
        self.through(Call::CommitmentUsage(q)).await
    }

    async fn rightsizing_metered(
        &self,
        q: &RightsizingQuery,
        meter: &Meter<'_>,
    ) -> Result<RightsizingResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.rightsizing_metered(q, meter).await;
        }
        self.through(Call::Rightsizing(q)).await
    }

    async fn hub_recommendations_metered(
        &self,
        q: &HubQuery,
        meter: &Meter<'_>,
    ) -> Result<HubResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.hub_recommendations_metered(q, meter).await;
        }
        self.through(Call::Hub(q)).await
    }

    fn reads_optimization_hub(&self) -> bool {
        self.inner.reads_optimization_hub()
    }

    async fn budgets_metered(
        &self,
        q: &super::BudgetQuery,
        meter: &Meter<'_>,
    ) -> Result<super::BudgetResult, CostError> {
        self.budgets_through(q, meter).await
    }

    async fn organization_accounts_metered(
        &self,
        q: &super::AccountsQuery,
        meter: &Meter<'_>,
    ) -> Result<super::AccountList, CostError> {
        self.inner.organization_accounts_metered(q, meter).await
    }

    async fn refresh_accounts(&self) -> Option<super::AccountList> {
        self.refresh_org_accounts().await
    }

    fn organization_account_names(&self) -> Vec<super::budgets::OrgAccount> {
        self.org_accounts()
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
                days_are_utc: false,
                end_clamped_to: None,
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
            meter: &Meter<'_>,
        ) -> Result<CostResult, CostError> {
            meter.admit().await?;
            meter.record(1);
            meter.admit().await?;
            meter.record(1);
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
        // The next query's first page is the third request; its second would overshoot and is not made.
        assert!(matches!(
            cached.cost_and_usage(&q).await,
            Err(CostError::MonthlyBudget { limit: 3 })
        ));
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 3);
        assert!(matches!(
            cached.cost_and_usage(&q).await,
            Err(CostError::MonthlyBudget { limit: 3 })
        ));
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 3);
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

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn cached_over(inner: Arc<dyn CostSource>, store: &Store) -> CachedSource {
        let today = day("2026-11-19");
        CachedSource::new(
            inner,
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        )
    }

    /// Answers with a different amount per connection identity, as two
    /// organizations would; counts requests.
    struct TwoOrgs {
        identity: String,
        amount: &'static str,
        calls: Arc<AtomicU32>,
    }

    #[async_trait]
    impl CostSource for TwoOrgs {
        fn name(&self) -> &str {
            "orgs"
        }
        fn connection_id(&self, _connection: Option<&str>) -> String {
            self.identity.clone()
        }
        async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut r = Counting(AtomicU32::new(0)).cost_and_usage(q).await?;
            r.buckets[0].groups[0].amount = self.amount.parse().unwrap();
            Ok(r)
        }
    }

    #[tokio::test]
    async fn other_credentials_never_see_cached_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let org = |identity: &str, amount| {
            cached_over(
                Arc::new(TwoOrgs {
                    identity: identity.into(),
                    amount,
                    calls: calls.clone(),
                }),
                &store,
            )
        };
        let (a, b) = (org("org-a", "100"), org("org-b", "200"));
        let q = CostQuery::new(Period::month(2026, 10));
        assert_eq!(
            a.cost_and_usage(&q).await.unwrap().total(),
            Decimal::from(100)
        );
        // Same source name, same query, other credentials: asked again, its own figure.
        let from_b = b.cost_and_usage(&q).await.unwrap();
        assert_eq!(from_b.total(), Decimal::from(200));
        assert!(!from_b.cached);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Each is then served its own cached figure.
        assert_eq!(
            a.cost_and_usage(&q).await.unwrap().total(),
            Decimal::from(100)
        );
        assert_eq!(
            b.cost_and_usage(&q).await.unwrap().total(),
            Decimal::from(200)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// Takes a while, then fails; counts calls.
    struct SlowFailing(AtomicU32);

    #[async_trait]
    impl CostSource for SlowFailing {
        fn name(&self) -> &str {
            "slow-failing"
        }
        async fn cost_and_usage(&self, _q: &CostQuery) -> Result<CostResult, CostError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Err(CostError::Throttled)
        }
    }

    #[tokio::test]
    async fn a_failed_flight_fails_its_waiters_instead_of_each_retrying() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let inner = Arc::new(SlowFailing(AtomicU32::new(0)));
        let cached = Arc::new(cached_over(inner.clone(), &store).with_monthly_limit(100));
        let q = CostQuery::new(Period::month(2026, 10));
        let askers: Vec<_> = (0..10)
            .map(|_| {
                let (cached, q) = (cached.clone(), q.clone());
                tokio::spawn(async move { cached.cost_and_usage(&q).await })
            })
            .collect();
        for a in askers {
            assert!(matches!(a.await.unwrap(), Err(CostError::Throttled)));
        }
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            1,
            "one request for ten askers"
        );
        assert!(cached.flights.is_empty());
        // Asked again later: tried again.
        assert!(cached.cost_and_usage(&q).await.is_err());
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_monthly_cap_holds_across_processes_and_concurrent_queries() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        // Two handles on one file, as two costbot processes would have.
        let stores = [
            Store::open(&db).await.unwrap(),
            Store::open(&db).await.unwrap(),
        ];
        let inner = Arc::new(SlowCounting(AtomicU32::new(0)));
        let sources: Vec<Arc<CachedSource>> = stores
            .iter()
            .map(|s| Arc::new(cached_over(inner.clone(), s).with_monthly_limit(7)))
            .collect();
        let mut askers = Vec::new();
        for i in 0..40 {
            let source = sources[i % 2].clone();
            // Distinct queries: none is answered by another's flight or cache entry.
            let mut q = CostQuery::new(Period::month(2026, 10));
            q.filter.services = vec![format!("service {i}")];
            askers.push(tokio::spawn(async move { source.cost_and_usage(&q).await }));
        }
        let (mut answered, mut refused) = (0, 0);
        for a in askers {
            match a.await.unwrap() {
                Ok(_) => answered += 1,
                Err(CostError::MonthlyBudget { limit: 7 }) => refused += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((answered, refused), (7, 33));
        assert_eq!(inner.0.load(Ordering::SeqCst), 7, "exactly the cap");
        let month = Utc::now().format("%Y-%m").to_string();
        assert_eq!(stores[0].reserved_requests(&month).await.unwrap(), 7);
        assert_eq!(stores[1].requests_since("2000-01-01").await.unwrap(), 7);
    }

    /// Pages like Cost Explorer: admits and records each of three pages.
    struct ThreePages(AtomicU32);

    #[async_trait]
    impl CostSource for ThreePages {
        fn name(&self) -> &str {
            "pages"
        }
        async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
            self.cost_and_usage_metered(q, &Meter::new()).await
        }
        async fn cost_and_usage_metered(
            &self,
            q: &CostQuery,
            meter: &Meter<'_>,
        ) -> Result<CostResult, CostError> {
            for _ in 0..3 {
                meter.admit().await?;
                self.0.fetch_add(1, Ordering::SeqCst);
                meter.record(1);
            }
            let mut r = Counting(AtomicU32::new(0)).cost_and_usage(q).await?;
            r.requests = 3;
            Ok(r)
        }
    }

    #[tokio::test]
    async fn the_cap_stops_a_paginated_query_between_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).await.unwrap();
        let inner = Arc::new(ThreePages(AtomicU32::new(0)));
        let cached = cached_over(inner.clone(), &store).with_monthly_limit(4);
        let q = CostQuery::new(Period::month(2026, 10));
        assert_eq!(cached.cost_and_usage(&q).await.unwrap().requests, 3);
        let mut other = q.clone();
        other.granularity = crate::costs::Granularity::Monthly;
        // The fourth page is within the cap, the fifth is not made.
        assert!(matches!(
            cached.cost_and_usage(&other).await,
            Err(CostError::MonthlyBudget { limit: 4 })
        ));
        assert_eq!(inner.0.load(Ordering::SeqCst), 4);
        let month = Utc::now().format("%Y-%m").to_string();
        assert_eq!(store.reserved_requests(&month).await.unwrap(), 4);
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_paid_result_is_returned_when_the_cache_cannot_store_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let store = Store::open(&db).await.unwrap();
        // Writes to the cache fail; reads still work.
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("CREATE TRIGGER no_cache BEFORE INSERT ON cost_cache BEGIN SELECT RAISE(ABORT, 'cache is read-only'); END")
            .execute(&pool)
            .await
            .unwrap();
        let inner = Arc::new(SlowCounting(AtomicU32::new(0)));
        let cached = Arc::new(cached_over(inner.clone(), &store).with_monthly_limit(100));
        let q = CostQuery::new(Period::month(2026, 10));
        // Three askers at once: the one paid result reaches all, though it is not cached.
        let askers: Vec<_> = (0..3)
            .map(|_| {
                let (cached, q) = (cached.clone(), q.clone());
                tokio::spawn(async move { cached.cost_and_usage(&q).await })
            })
            .collect();
        for a in askers {
            let r = a.await.unwrap().unwrap();
            assert_eq!(r.total(), "12.3456789012".parse::<Decimal>().unwrap());
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        let m = cached.metrics();
        assert_eq!(m.cache_write_failures.load(Ordering::Relaxed), 1);
        assert_eq!(m.request_record_failures.load(Ordering::Relaxed), 0);
        assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);

        // Now counting fails too (after the reservation): still answered.
        sqlx::query("CREATE TRIGGER no_count BEFORE INSERT ON source_requests BEGIN SELECT RAISE(ABORT, 'no'); END")
            .execute(&pool)
            .await
            .unwrap();
        let mut q2 = q.clone();
        q2.granularity = crate::costs::Granularity::Monthly;
        let r = cached.cost_and_usage(&q2).await.unwrap();
        assert_eq!(r.requests, 1);
        assert_eq!(m.request_record_failures.load(Ordering::Relaxed), 1);
        assert_eq!(m.cache_write_failures.load(Ordering::Relaxed), 2);
        // The reservation stands, so the cap still counts the request.
        let month = Utc::now().format("%Y-%m").to_string();
        assert_eq!(store.reserved_requests(&month).await.unwrap(), 2);
        pool.close().await;
    }
}
