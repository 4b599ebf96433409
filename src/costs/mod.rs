//! Cost data: the [`CostSource`] seam, the query and result types, and the
//! analysis built on them. AWS SDK types stay inside `explorer.rs`.

pub mod analysis;
pub mod budgets;
pub mod cache;
pub mod commitments;
pub mod explorer;
pub mod insights;
pub mod money;
pub mod periods;
pub mod rightsizing;
pub mod sample;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use budgets::{AccountList, AccountsQuery, BudgetQuery, BudgetResult};
pub use insights::{AnomalyQuery, AnomalyResult, ForecastQuery, ForecastResult};
pub use periods::Period;
pub use rightsizing::{HubQuery, HubResult, RightsizingQuery, RightsizingResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Metric {
    #[default]
    UnblendedCost,
    AmortizedCost,
    NetUnblendedCost,
    NetAmortizedCost,
    BlendedCost,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::UnblendedCost => "UnblendedCost",
            Metric::AmortizedCost => "AmortizedCost",
            Metric::NetUnblendedCost => "NetUnblendedCost",
            Metric::NetAmortizedCost => "NetAmortizedCost",
            Metric::BlendedCost => "BlendedCost",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Metric::UnblendedCost => "unblended cost",
            Metric::AmortizedCost => "amortized cost",
            Metric::NetUnblendedCost => "net unblended cost",
            Metric::NetAmortizedCost => "net amortized cost",
            Metric::BlendedCost => "blended cost",
        }
    }
    pub fn parse(s: &str) -> Option<Metric> {
        let k: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match k.as_str() {
            "unblended" | "unblendedcost" => Metric::UnblendedCost,
            "amortized" | "amortizedcost" => Metric::AmortizedCost,
            "netunblended" | "netunblendedcost" => Metric::NetUnblendedCost,
            "netamortized" | "netamortizedcost" => Metric::NetAmortizedCost,
            "blended" | "blendedcost" => Metric::BlendedCost,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Granularity {
    #[default]
    Daily,
    Monthly,
}

/// What a result can be grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Service,
    LinkedAccount,
    Region,
    UsageType,
    InstanceType,
    /// A cost allocation tag key.
    Tag(String),
}

impl Dimension {
    /// Cost Explorer's dimension key (for tags, the tag key).
    pub fn key(&self) -> &str {
        match self {
            Dimension::Service => "SERVICE",
            Dimension::LinkedAccount => "LINKED_ACCOUNT",
            Dimension::Region => "REGION",
            Dimension::UsageType => "USAGE_TYPE",
            Dimension::InstanceType => "INSTANCE_TYPE",
            Dimension::Tag(k) => k,
        }
    }
    pub fn label(&self) -> String {
        match self {
            Dimension::Service => "service".into(),
            Dimension::LinkedAccount => "account".into(),
            Dimension::Region => "region".into(),
            Dimension::UsageType => "usage type".into(),
            Dimension::InstanceType => "instance type".into(),
            Dimension::Tag(k) => format!("tag {k}"),
        }
    }
    pub fn parse(s: &str) -> Option<Dimension> {
        let t = s.trim().to_ascii_lowercase();
        if t.starts_with("tag:") {
            let key = s.trim()[4..].trim();
            return (!key.is_empty()).then(|| Dimension::Tag(key.to_string()));
        }
        Some(match t.replace(['-', ' '], "_").as_str() {
            "service" | "services" => Dimension::Service,
            "account" | "accounts" | "linked_account" => Dimension::LinkedAccount,
            "region" | "regions" => Dimension::Region,
            "usage_type" | "usage_types" | "usage" => Dimension::UsageType,
            "instance_type" | "instance_types" => Dimension::InstanceType,
            _ => return None,
        })
    }
}

/// Which slice of the bill to look at. Empty lists mean "no restriction".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct CostFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Linked account ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Tag key and accepted values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
    /// Usage types containing any of these substrings (e.g. "NatGateway").
    /// Cost Explorer only matches dimension values exactly, so sources apply
    /// this by grouping by usage type and keeping the matching rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_type_contains: Vec<String>,
}

impl CostFilter {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.accounts.is_empty()
            && self.regions.is_empty()
            && self.tags.is_empty()
            && self.usage_type_contains.is_empty()
    }
    pub fn usage_type_matches(&self, usage_type: &str) -> bool {
        self.usage_type_contains.is_empty()
            || self
                .usage_type_contains
                .iter()
                .any(|needle| usage_type.contains(needle.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TagFilter {
    pub key: String,
    pub values: Vec<String>,
}

/// One request for cost data, normalized: equal queries hit the same cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CostQuery {
    pub period: Period,
    pub granularity: Granularity,
    pub metric: Metric,
    /// At most two dimensions, as Cost Explorer allows.
    pub group_by: Vec<Dimension>,
    pub filter: CostFilter,
    /// Credits and refunds are excluded unless asked for.
    pub include_credits_refunds: bool,
    /// A configured connection (account with its own credentials); None = default.
    pub connection: Option<String>,
}

impl CostQuery {
    pub fn new(period: Period) -> Self {
        CostQuery {
            period,
            granularity: Granularity::Daily,
            metric: Metric::UnblendedCost,
            group_by: Vec::new(),
            filter: CostFilter::default(),
            include_credits_refunds: false,
            connection: None,
        }
    }

    pub fn validate(&self) -> Result<(), CostError> {
        if self.group_by.len() > 2 {
            return Err(CostError::InvalidQuery(
                "Cost Explorer groups by at most two dimensions".into(),
            ));
        }
        if self.period.start >= self.period.end {
            return Err(CostError::InvalidQuery(format!(
                "the period {} is empty",
                self.period.label()
            )));
        }
        Ok(())
    }

    /// The canonical text of the query, for cache keys.
    pub fn canonical(&self) -> String {
        let mut q = self.clone();
        q.filter.services.sort();
        q.filter.services.dedup();
        q.filter.accounts.sort();
        q.filter.accounts.dedup();
        q.filter.regions.sort();
        q.filter.regions.dedup();
        q.filter.usage_type_contains.sort();
        for t in &mut q.filter.tags {
            t.values.sort();
            t.values.dedup();
        }
        q.filter.tags.sort_by(|a, b| a.key.cmp(&b.key));
        serde_json::to_string(&q).expect("a query always serializes")
    }
}

/// The amount for one group (one combination of group keys) in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAmount {
    /// One key per grouped dimension; empty for an ungrouped query.
    pub keys: Vec<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBucket {
    pub start: NaiveDate,
    /// Exclusive, as Cost Explorer returns it.
    pub end: NaiveDate,
    pub groups: Vec<GroupAmount>,
    /// Cost Explorer marks data of open periods as estimated.
    pub estimated: bool,
}

impl TimeBucket {
    pub fn total(&self) -> Decimal {
        self.groups.iter().map(|g| g.amount).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostResult {
    pub query: CostQuery,
    pub unit: String,
    pub buckets: Vec<TimeBucket>,
    /// Which source answered, e.g. "sample" or "cost-explorer".
    pub source: String,
    /// Billable requests made to produce this result (0 when cached or sample).
    pub requests: u32,
    /// Whether this result came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// The buckets are UTC days (Cost Explorer's), which may differ from the
    /// configured time zone's days; the answer should say so.
    #[serde(default)]
    pub days_are_utc: bool,
    /// Set when the source asked for less than the query's period because the
    /// rest had not started yet in UTC: the (exclusive) end actually asked for.
    /// Equal to the period's start when nothing could be asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_clamped_to: Option<NaiveDate>,
}

impl CostResult {
    pub fn total(&self) -> Decimal {
        self.buckets.iter().map(TimeBucket::total).sum()
    }
    pub fn estimated(&self) -> bool {
        self.buckets.iter().any(|b| b.estimated)
    }
    /// Totals per group over the whole period, largest first (ties by name).
    pub fn totals_by_group(&self) -> Vec<(Vec<String>, Decimal)> {
        let mut sums: BTreeMap<Vec<String>, Decimal> = BTreeMap::new();
        for b in &self.buckets {
            for g in &b.groups {
                *sums.entry(g.keys.clone()).or_default() += g.amount;
            }
        }
        let mut v: Vec<_> = sums.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
    /// (day, total) for each bucket.
    pub fn series(&self) -> Vec<(NaiveDate, Decimal)> {
        self.buckets.iter().map(|b| (b.start, b.total())).collect()
    }
    /// Daily series per group key (first key), days without data as zero.
    pub fn series_by_group(&self) -> BTreeMap<String, Vec<(NaiveDate, Decimal)>> {
        let mut out: BTreeMap<String, Vec<(NaiveDate, Decimal)>> = BTreeMap::new();
        let keys: std::collections::BTreeSet<String> = self
            .buckets
            .iter()
            .flat_map(|b| b.groups.iter().map(|g| g.keys.join(" / ")))
            .collect();
        for k in keys {
            let series = self
                .buckets
                .iter()
                .map(|b| {
                    let amount = b
                        .groups
                        .iter()
                        .filter(|g| g.keys.join(" / ") == k)
                        .map(|g| g.amount)
                        .sum();
                    (b.start, amount)
                })
                .collect();
            out.insert(k, series);
        }
        out
    }
}

// Clone: one failed request is handed to every asker queued behind it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CostError {
    #[error("Cost Explorer is throttling requests; try again in a minute")]
    Throttled,
    #[error(
        "AWS refused the credentials: {0}. Check the profile or role with `costbot doctor --aws`"
    )]
    AccessDenied(String),
    #[error("the query is not valid: {0}")]
    InvalidQuery(String),
    #[error("no connection named '{0}' is configured; add it under [[aws.accounts]]")]
    UnknownConnection(String),
    #[error("answering this would take more than {limit} Cost Explorer requests; narrow the period or grouping")]
    RequestBudget { limit: u32 },
    #[error("this month's Cost Explorer request budget ({limit} requests) is used up; raise aws.max_requests_per_month or wait for next month")]
    MonthlyBudget { limit: u64 },
    #[error("data for {0} is not available: Cost Explorer keeps about 13 months (14 with multi-year data enabled)")]
    OutOfRange(String),
    /// Cost Explorer said it has no data for the period (its own words inside).
    #[error("Cost Explorer has no data for that period: {0}")]
    Unavailable(String),
    /// Cost Explorer refused a query costbot built (its own words inside).
    #[error("Cost Explorer rejected the query: {0}")]
    Rejected(String),
    #[error("Cost Explorer failed: {0}")]
    Service(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the cost cache failed: {0}")]
    Cache(String),
}

impl CostError {
    /// The query asked for something the data cannot give (a period out of
    /// range, a value that does not exist, a split too wide): whoever wrote
    /// the query can fix it. The others are the service's or the setup's.
    pub fn is_request_fault(&self) -> bool {
        matches!(
            self,
            CostError::InvalidQuery(_)
                | CostError::UnknownConnection(_)
                | CostError::RequestBudget { .. }
                | CostError::OutOfRange(_)
                | CostError::Unavailable(_)
                | CostError::Rejected(_)
                | CostError::Unsupported(_)
        )
    }
}

/// Asked before each billable request of a query; may refuse it (a spending cap).
#[async_trait]
pub trait RequestGate: Send + Sync {
    async fn admit(&self) -> Result<(), CostError>;
}

/// Counts a query's billable requests as they are made, so requests spent on
/// a query that then fails are still counted, and lets a [`RequestGate`]
/// refuse each one before it is made.
#[derive(Default)]
pub struct Meter<'a> {
    spent: AtomicU32,
    gate: Option<&'a dyn RequestGate>,
}

impl<'a> Meter<'a> {
    pub fn new() -> Self {
        Meter::default()
    }
    pub fn gated(gate: &'a dyn RequestGate) -> Self {
        Meter {
            spent: AtomicU32::new(0),
            gate: Some(gate),
        }
    }
    /// Before each billable request.
    pub async fn admit(&self) -> Result<(), CostError> {
        match self.gate {
            Some(g) => g.admit().await,
            None => Ok(()),
        }
    }
    /// After each billable request, whether or not it succeeded.
    pub fn record(&self, requests: u32) {
        self.spent.fetch_add(requests, Ordering::Relaxed);
    }
    pub fn spent(&self) -> u32 {
        self.spent.load(Ordering::Relaxed)
    }
}

/// A source of cost data. Implementations: [`explorer::ExplorerSource`],
/// [`sample::SampleSource`], and [`cache::CachedSource`] in front of either.
#[async_trait]
pub trait CostSource: Send + Sync {
    /// A short name shown in answers' basis line.
    fn name(&self) -> &str;
    /// Whether the numbers are the built-in sample organization.
    fn is_sample(&self) -> bool {
        false
    }
    /// Who answers a query on `connection` (None = the default one): equal
    /// only when the same organization would answer, so cached results are
    /// never served across credentials. Never contains secrets in clear.
    /// The default suits sources without credentials: the name.
    fn connection_id(&self, _connection: Option<&str>) -> String {
        self.name().to_string()
    }
    /// Linked accounts this source knows by name: (name, id).
    fn known_accounts(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Tag (key, value) pairs this source knows, in the data's own case
    /// (Cost Explorer's tag filters are case-sensitive).
    fn known_tag_values(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The oldest day with data, for a given today: Cost Explorer keeps 13
    /// months by default (up to 38 with multi-year data).
    fn earliest_day(&self, today: chrono::NaiveDate) -> chrono::NaiveDate {
        periods::add_months(today, -13)
    }
    async fn cost_and_usage(&self, query: &CostQuery) -> Result<CostResult, CostError>;
    /// Like `cost_and_usage`, passing each billable request through `meter`.
    /// Sources that page should admit and record each page; this default
    /// admits once and records the result's count afterwards.
    async fn cost_and_usage_metered(
        &self,
        query: &CostQuery,
        meter: &Meter<'_>,
    ) -> Result<CostResult, CostError> {
        meter.admit().await?;
        let r = self.cost_and_usage(query).await?;
        meter.record(r.requests);
        Ok(r)
    }
    /// AWS's own forecast (GetCostForecast), each billable request through `meter`.
    async fn forecast_metered(
        &self,
        _query: &ForecastQuery,
        _meter: &Meter<'_>,
    ) -> Result<ForecastResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide AWS's forecast",
            self.name()
        )))
    }
    async fn forecast(&self, query: &ForecastQuery) -> Result<ForecastResult, CostError> {
        self.forecast_metered(query, &Meter::new()).await
    }
    /// Cost Anomaly Detection's findings (GetAnomalies), each page through `meter`.
    async fn anomalies_metered(
        &self,
        _query: &AnomalyQuery,
        _meter: &Meter<'_>,
    ) -> Result<AnomalyResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide Cost Anomaly Detection's findings",
            self.name()
        )))
    }
    async fn anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyResult, CostError> {
        self.anomalies_metered(query, &Meter::new()).await
    }
    /// Savings Plans or Reserved Instance purchase recommendations, each page through `meter`.
    async fn recommendations_metered(
        &self,
        _query: &commitments::RecommendationQuery,
        _meter: &Meter<'_>,
    ) -> Result<commitments::RecommendationResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide AWS's purchase recommendations",
            self.name()
        )))
    }
    async fn recommendations(
        &self,
        query: &commitments::RecommendationQuery,
    ) -> Result<commitments::RecommendationResult, CostError> {
        self.recommendations_metered(query, &Meter::new()).await
    }
    /// Coverage or utilization of Savings Plans or reservations, each page through `meter`.
    async fn commitment_usage_metered(
        &self,
        _query: &commitments::UsageQuery,
        _meter: &Meter<'_>,
    ) -> Result<commitments::UsageResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide commitment coverage or utilization",
            self.name()
        )))
    }
    async fn commitment_usage(
        &self,
        query: &commitments::UsageQuery,
    ) -> Result<commitments::UsageResult, CostError> {
        self.commitment_usage_metered(query, &Meter::new()).await
    }
    /// Cost Explorer's EC2 rightsizing recommendations
    /// (GetRightsizingRecommendation), each page through `meter`.
    async fn rightsizing_metered(
        &self,
        _query: &RightsizingQuery,
        _meter: &Meter<'_>,
    ) -> Result<RightsizingResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide AWS's rightsizing recommendations",
            self.name()
        )))
    }
    async fn rightsizing(&self, query: &RightsizingQuery) -> Result<RightsizingResult, CostError> {
        self.rightsizing_metered(query, &Meter::new()).await
    }
    /// Cost Optimization Hub's recommendations (ListRecommendations), each
    /// page through `meter`; `Unsupported` where it is not switched on.
    async fn hub_recommendations_metered(
        &self,
        _query: &HubQuery,
        _meter: &Meter<'_>,
    ) -> Result<HubResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not read Cost Optimization Hub (set aws.cost_optimization_hub = true)",
            self.name()
        )))
    }
    async fn hub_recommendations(&self, query: &HubQuery) -> Result<HubResult, CostError> {
        self.hub_recommendations_metered(query, &Meter::new()).await
    }
    /// Whether Cost Optimization Hub is read (switched on, or the sample's stand-in).
    fn reads_optimization_hub(&self) -> bool {
        false
    }
    /// AWS Budgets (DescribeBudgets), each page through `meter`. Free of
    /// charge: callers pass an ungated meter (not the Cost Explorer cap).
    async fn budgets_metered(
        &self,
        _query: &BudgetQuery,
        _meter: &Meter<'_>,
    ) -> Result<BudgetResult, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not provide AWS Budgets",
            self.name()
        )))
    }
    async fn budgets(&self, query: &BudgetQuery) -> Result<BudgetResult, CostError> {
        self.budgets_metered(query, &Meter::new()).await
    }
    /// The organization's accounts (Organizations ListAccounts), each page
    /// through `meter`. Free of charge, like Budgets.
    async fn organization_accounts_metered(
        &self,
        _query: &AccountsQuery,
        _meter: &Meter<'_>,
    ) -> Result<AccountList, CostError> {
        Err(CostError::Unsupported(format!(
            "{} does not list the organization's accounts",
            self.name()
        )))
    }
    /// Makes the organization's account names known to `known_accounts`
    /// (a cache decides when to ask again). Returns the list when this call
    /// asked for it, for "how did you get that?"; None when nothing was asked.
    async fn refresh_accounts(&self) -> Option<AccountList> {
        None
    }
    /// The organization's accounts as last read by `refresh_accounts`.
    fn organization_account_names(&self) -> Vec<budgets::OrgAccount> {
        Vec::new()
    }
}
