//! A deterministic sample organization, so costbot runs with no AWS account.
//!
//! Four linked accounts, twenty-two services with Cost Explorer's real SERVICE
//! names, three regions, `team` and `env` tags, 400 days of daily data with
//! weekly seasonality and growth, and a few injected anomalies placed
//! relative to "today" so every demo has something to find. Every answer
//! built on it says it is sample data.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::periods::{add_months, month_start};
use super::{
    CostError, CostQuery, CostResult, CostSource, Dimension, Granularity, GroupAmount, TimeBucket,
};

mod budgets;
mod catalog;
mod commitments;
mod events;
mod insights;
mod rightsizing;

pub use catalog::ACCOUNTS;
use catalog::{service_index, ServiceSpec, ENVS, REGIONS, SERVICES};
use events::{DemoEvent, Injection, DEMO_EVENTS};

/// How many days of history the sample keeps before "today".
/// The `team` and `env` tag values the sample organization uses.
pub const TAG_VALUES: &[(&str, &str)] = &[
    ("team", "payments"),
    ("team", "platform"),
    ("team", "data"),
    ("team", "search"),
    ("env", "prod"),
    ("env", "staging"),
    ("env", "dev"),
    ("env", "data"),
];

pub const HISTORY_DAYS: i64 = 430;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordType {
    Usage,
    Credit,
    Refund,
}

#[derive(Debug, Clone)]
struct Record {
    day: NaiveDate,
    account: usize,
    service: usize,
    region: usize,
    usage_type: String,
    team: &'static str,
    amount: Decimal,
    kind: RecordType,
}

pub struct SampleSource {
    clock: super::cache::Today,
    /// The data as generated for one "today"; generated again when the day changes.
    data: RwLock<Option<(NaiveDate, Arc<Vec<Record>>)>>,
    /// Recent results by day and query: generating one is most of a warm answer's time.
    answered: Mutex<HashMap<String, CostResult>>,
}

/// How many recent results are kept.
const ANSWERED: usize = 256;

impl SampleSource {
    /// The sample organization as seen on a fixed `today` (today's data is partial).
    pub fn new(today: NaiveDate) -> Self {
        Self::with_clock(Arc::new(move || today))
    }

    /// Follows `clock`, so a long-running server's sample moves on each day.
    pub fn with_clock(clock: super::cache::Today) -> Self {
        SampleSource {
            clock,
            data: RwLock::new(None),
            answered: Mutex::default(),
        }
    }

    fn records(&self, today: NaiveDate) -> Arc<Vec<Record>> {
        if let Some((day, records)) = self.data.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *day == today {
                return records.clone();
            }
        }
        let records = Arc::new(generate(today));
        *self.data.write().unwrap_or_else(|e| e.into_inner()) = Some((today, records.clone()));
        records
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Deterministic noise in [-1, 1) from the record's identity.
fn noise(parts: &[u64]) -> f64 {
    let mut h = 0x1234_5678_u64;
    for p in parts {
        h = splitmix(h ^ p);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn amount(value: f64) -> Decimal {
    Decimal::from_f64(value.max(0.0))
        .unwrap_or_default()
        .round_dp(10)
}

fn generate(today: NaiveDate) -> Vec<Record> {
    generate_with(today, SERVICES, DEMO_EVENTS)
}

fn generate_with(today: NaiveDate, services: &[ServiceSpec], events: &[DemoEvent]) -> Vec<Record> {
    let first = today - Duration::days(HISTORY_DAYS);
    let injections: Vec<Injection> = events
        .iter()
        .filter_map(|e| match e.resolve(services, today) {
            Ok(i) => Some(i),
            Err(message) => {
                // Caught at test time by tests::every_demo_event_resolves.
                tracing::warn!(%message, "sample demo event skipped");
                None
            }
        })
        .collect();
    let lambda = service_index(services, "AWS Lambda");
    let ec2 = service_index(services, "Amazon Elastic Compute Cloud - Compute");
    let mut out = Vec::with_capacity(100_000);
    let mut day = first;
    while day <= today {
        let months = (day - first).num_days() as f64 / 30.4;
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // Today is still being filled in.
        let partial = if day == today { 0.45 } else { 1.0 };
        for (si, spec) in services.iter().enumerate() {
            for &(ai, weight) in spec.accounts {
                let regions: &[(usize, f64)] = if spec.global {
                    &[(usize::MAX, 1.0)]
                } else if ai == 0 {
                    &[(0, 0.7), (1, 0.3)]
                } else if ai == 3 {
                    &[(2, 1.0)]
                } else {
                    &[(0, 1.0)]
                };
                let weekend_factor = if !weekend {
                    1.0
                } else if ai == 2 {
                    // dev is scheduled off at weekends.
                    spec.weekend * 0.6
                } else {
                    spec.weekend
                };
                for &(ri, rshare) in regions {
                    let prefix = if ri == usize::MAX { "" } else { REGIONS[ri].1 };
                    for (ui, &(usage, ushare)) in spec.usage.iter().enumerate() {
                        let mut value = spec.base
                            * weight
                            * rshare
                            * ushare
                            * weekend_factor
                            * (1.0 + spec.growth).powf(months);
                        value *= 1.0
                            + 0.04
                                * noise(&[
                                    day.num_days_from_ce() as u64,
                                    si as u64,
                                    ai as u64,
                                    ri as u64,
                                    ui as u64,
                                ]);
                        let usage_type = format!("{prefix}{usage}");
                        for i in &injections {
                            if i.applies(si, ai, ri, usage, day) {
                                value *= i.factor;
                            }
                        }
                        out.push(Record {
                            day,
                            account: ai,
                            service: si,
                            region: ri,
                            usage_type,
                            team: spec.team,
                            amount: amount(value * partial),
                            kind: RecordType::Usage,
                        });
                    }
                }
            }
        }
        if day.day() == 1 {
            // Promotional credits and an occasional refund, excluded by default.
            if let Some(service) = lambda {
                out.push(Record {
                    day,
                    account: 0,
                    service,
                    region: 0,
                    usage_type: "USE1-Lambda-GB-Second".into(),
                    team: "payments",
                    amount: -amount(500.0),
                    kind: RecordType::Credit,
                });
            }
            if let (true, Some(service)) = (day.month().is_multiple_of(4), ec2) {
                out.push(Record {
                    day,
                    account: 0,
                    service,
                    region: 0,
                    usage_type: "USE1-BoxUsage:m7i.xlarge".into(),
                    team: "platform",
                    amount: -amount(212.34),
                    kind: RecordType::Refund,
                });
            }
        }
        day += Duration::days(1);
    }
    out
}

fn region_name(ri: usize) -> &'static str {
    if ri == usize::MAX {
        "global"
    } else {
        REGIONS[ri].0
    }
}

fn tag_value(r: &Record, key: &str) -> String {
    match key {
        "team" => r.team.to_string(),
        "env" => ENVS[r.account].to_string(),
        _ => String::new(),
    }
}

fn group_key(r: &Record, d: &Dimension) -> String {
    match d {
        Dimension::Service => SERVICES[r.service].name.to_string(),
        Dimension::LinkedAccount => ACCOUNTS[r.account].1.to_string(),
        Dimension::Region => region_name(r.region).to_string(),
        Dimension::UsageType => r.usage_type.clone(),
        Dimension::InstanceType => r
            .usage_type
            .split_once("Usage:")
            .filter(|(kind, _)| kind.ends_with("Box") || kind.ends_with("Spot"))
            .map(|(_, t)| t.to_string())
            .unwrap_or_else(|| "NoInstanceType".into()),
        // Cost Explorer returns tag groups as "key$value", "key$" when untagged.
        Dimension::Tag(k) => format!("{k}${}", tag_value(r, k)),
    }
}

#[async_trait]
impl CostSource for SampleSource {
    fn name(&self) -> &str {
        "sample"
    }

    fn is_sample(&self) -> bool {
        true
    }

    fn known_accounts(&self) -> Vec<(String, String)> {
        ACCOUNTS
            .iter()
            .map(|(n, id)| (n.to_string(), id.to_string()))
            .collect()
    }

    fn known_tag_values(&self) -> Vec<(String, String)> {
        TAG_VALUES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
        let today = (self.clock)();
        // The organization is a pure function of the query and the day.
        let key = format!("{today}|{}", q.canonical());
        if let Some(r) = self
            .answered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        let result = self.generate(q, today)?;
        let mut answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        if answered.len() >= ANSWERED {
            answered.clear();
        }
        answered.insert(key, result.clone());
        Ok(result)
    }

    async fn forecast_metered(
        &self,
        q: &super::ForecastQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::ForecastResult, CostError> {
        insights::forecast(self, q, (self.clock)()).await
    }

    async fn anomalies_metered(
        &self,
        q: &super::AnomalyQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::AnomalyResult, CostError> {
        insights::anomalies(self, q, (self.clock)())
    }

    async fn recommendations_metered(
        &self,
        q: &super::commitments::RecommendationQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::commitments::RecommendationResult, CostError> {
        commitments::recommendations(self, q, (self.clock)()).await
    }

    async fn commitment_usage_metered(
        &self,
        q: &super::commitments::UsageQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::commitments::UsageResult, CostError> {
        commitments::usage(self, q, (self.clock)()).await
    }

    async fn rightsizing_metered(
        &self,
        q: &super::RightsizingQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::RightsizingResult, CostError> {
        Ok(rightsizing::rightsizing(q, (self.clock)()))
    }

    async fn hub_recommendations_metered(
        &self,
        q: &super::HubQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::HubResult, CostError> {
        Ok(rightsizing::hub(q))
    }

    fn reads_optimization_hub(&self) -> bool {
        true
    }

    async fn budgets_metered(
        &self,
        q: &super::BudgetQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::BudgetResult, CostError> {
        budgets::budgets(self, q, (self.clock)()).await
    }

    async fn organization_accounts_metered(
        &self,
        q: &super::AccountsQuery,
        _meter: &super::Meter<'_>,
    ) -> Result<super::AccountList, CostError> {
        budgets::accounts(q)
    }
}

impl SampleSource {
    fn generate(&self, q: &CostQuery, today: NaiveDate) -> Result<CostResult, CostError> {
        q.validate()?;
        let first_day = today - Duration::days(HISTORY_DAYS);
        if let Some(c) = &q.connection {
            return Err(CostError::UnknownConnection(c.clone()));
        }
        if q.period.start < first_day {
            return Err(CostError::OutOfRange(format!(
                "{} (the sample organization starts on {})",
                q.period.label(),
                first_day
            )));
        }
        let end = q.period.end.min(today + Duration::days(1));
        let f = &q.filter;
        let current_month = month_start(today);
        // Bucket boundaries.
        let mut bounds: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        let mut s = q.period.start;
        while s < end {
            let e = match q.granularity {
                Granularity::Daily => s + Duration::days(1),
                Granularity::Monthly => add_months(s, 1).min(end),
            };
            bounds.push((s, e.min(end)));
            s = e;
        }
        let mut sums: Vec<BTreeMap<Vec<String>, Decimal>> = vec![BTreeMap::new(); bounds.len()];
        let records = self.records(today);
        for r in records.iter() {
            if r.day < q.period.start || r.day >= end {
                continue;
            }
            if !q.include_credits_refunds && r.kind != RecordType::Usage {
                continue;
            }
            if !f.services.is_empty() && !f.services.iter().any(|s| s == SERVICES[r.service].name) {
                continue;
            }
            if !f.accounts.is_empty() && !f.accounts.iter().any(|a| a == ACCOUNTS[r.account].1) {
                continue;
            }
            if !f.regions.is_empty() && !f.regions.iter().any(|x| x == region_name(r.region)) {
                continue;
            }
            if !f
                .tags
                .iter()
                .all(|t| t.values.contains(&tag_value(r, &t.key)))
            {
                continue;
            }
            if !f.usage_type_matches(&r.usage_type) {
                continue;
            }
            let idx = bounds.partition_point(|(_, e)| *e <= r.day);
            let keys: Vec<String> = q.group_by.iter().map(|d| group_key(r, d)).collect();
            *sums[idx].entry(keys).or_default() += r.amount;
        }
        let buckets = bounds
            .into_iter()
            .zip(sums)
            .map(|((start, end), groups)| {
                let mut groups: Vec<GroupAmount> = groups
                    .into_iter()
                    .map(|(keys, amount)| GroupAmount { keys, amount })
                    .collect();
                if q.group_by.is_empty() && groups.is_empty() {
                    groups.push(GroupAmount {
                        keys: vec![],
                        amount: Decimal::ZERO,
                    });
                }
                TimeBucket {
                    start,
                    end,
                    groups,
                    estimated: start >= current_month,
                }
            })
            .collect();
        Ok(CostResult {
            query: q.clone(),
            unit: "USD".into(),
            buckets,
            source: "sample".into(),
            requests: 0,
            cached: false,
            days_are_utc: false,
            end_clamped_to: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{CostFilter, Period};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[tokio::test]
    async fn grouped_sums_equal_the_total() {
        let src = SampleSource::new(d("2026-11-19"));
        let mut q = CostQuery::new(Period::month(2026, 10));
        let total = src.cost_and_usage(&q).await.unwrap().total();
        q.group_by = vec![Dimension::Service, Dimension::Region];
        let grouped = src.cost_and_usage(&q).await.unwrap();
        assert_eq!(grouped.total(), total);
        assert!(grouped.totals_by_group().len() > 20);
        assert!(total > Decimal::from(50_000));
    }

    #[tokio::test]
    async fn deterministic_and_ec2_steps_up_last_week() {
        let a = SampleSource::new(d("2026-11-19"));
        let b = SampleSource::new(d("2026-11-19"));
        let mut q = CostQuery::new(Period::inclusive(d("2026-11-09"), d("2026-11-15")));
        q.filter = CostFilter {
            services: vec!["Amazon Elastic Compute Cloud - Compute".into()],
            ..Default::default()
        };
        let last = a.cost_and_usage(&q).await.unwrap().total();
        assert_eq!(last, b.cost_and_usage(&q).await.unwrap().total());
        q.period = Period::inclusive(d("2026-11-02"), d("2026-11-08"));
        let before = a.cost_and_usage(&q).await.unwrap().total();
        assert!(
            last > before * Decimal::from_f64(1.1).unwrap(),
            "{last} vs {before}"
        );
    }

    #[tokio::test]
    async fn credits_only_when_asked_and_history_is_bounded() {
        let src = SampleSource::new(d("2026-11-19"));
        let mut q = CostQuery::new(Period::month(2026, 10));
        let without = src.cost_and_usage(&q).await.unwrap().total();
        q.include_credits_refunds = true;
        let with = src.cost_and_usage(&q).await.unwrap().total();
        assert_eq!(without - with, Decimal::from(500));
        q.period = Period::month(2025, 1);
        assert!(matches!(
            src.cost_and_usage(&q).await,
            Err(CostError::OutOfRange(_))
        ));
    }

    #[test]
    fn each_demo_event_lands_on_its_named_service_in_any_table_order() {
        let today = d("2026-11-19");
        let mut reversed = SERVICES.to_vec();
        reversed.reverse();
        for table in [SERVICES, &reversed[..]] {
            let plain = generate_with(today, table, &[]);
            for e in DEMO_EVENTS {
                let with = generate_with(today, table, std::slice::from_ref(e));
                assert_eq!(plain.len(), with.len());
                let (from, to) = (e.days)(today);
                let mut changed = 0;
                for (a, b) in plain.iter().zip(&with) {
                    if a.amount == b.amount {
                        continue;
                    }
                    changed += 1;
                    assert_eq!(table[b.service].name, e.service);
                    assert_eq!(ACCOUNTS[b.account].0, e.account);
                    assert!(b.usage_type.ends_with(e.usage), "{}", b.usage_type);
                    if let Some(r) = e.region {
                        assert_eq!(region_name(b.region), r);
                    }
                    assert!(b.day >= from && b.day <= to, "{}", b.day);
                }
                assert!(changed > 0, "the event on '{}' changed nothing", e.service);
            }
        }
    }

    #[tokio::test]
    async fn credits_land_on_lambda() {
        let src = SampleSource::new(d("2026-11-19"));
        let mut q = CostQuery::new(Period::month(2026, 10));
        q.filter = CostFilter {
            services: vec!["AWS Lambda".into()],
            ..Default::default()
        };
        let without = src.cost_and_usage(&q).await.unwrap().total();
        q.include_credits_refunds = true;
        let with = src.cost_and_usage(&q).await.unwrap().total();
        assert_eq!(without - with, Decimal::from(500));
    }

    #[tokio::test]
    async fn tags_look_like_cost_explorer() {
        let src = SampleSource::new(d("2026-11-19"));
        let mut q = CostQuery::new(Period::month(2026, 10));
        q.group_by = vec![Dimension::Tag("team".into())];
        let keys: Vec<String> = src
            .cost_and_usage(&q)
            .await
            .unwrap()
            .totals_by_group()
            .into_iter()
            .map(|(k, _)| k[0].clone())
            .collect();
        assert!(keys.contains(&"team$platform".to_string()));
        assert!(keys.contains(&"team$".to_string()));
    }
}
