//! AWS Cost Explorer through `aws-sdk-costexplorer`. The SDK's types stay in
//! this file; the rest of costbot sees [`CostQuery`] and [`CostResult`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_costexplorer::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_costexplorer::types as ce;
use aws_sdk_costexplorer::Client;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::cache::Today;
use super::insights::{
    AnomalyImpact, AnomalyQuery, AnomalyResult, AwsAnomaly, ForecastBucket, ForecastQuery,
    ForecastResult, RootCause,
};
use super::{
    CostError, CostQuery, CostResult, CostSource, Dimension, Granularity, GroupAmount, HubQuery,
    HubResult, Meter, Metric, Period, RightsizingQuery, RightsizingResult, TimeBucket,
};
use crate::config::{AccountConfig, AwsConfig};

mod commitments;
// Rightsizing (GetRightsizingRecommendation) and Cost Optimization Hub, in their own files.
mod budgets;
mod hub;
mod rightsizing;

/// One Cost Explorer client per configured connection.
pub struct ExplorerSource {
    default: Client,
    connections: HashMap<String, Client>,
    /// [`CostSource::connection_id`] of the default connection and of each named one.
    default_identity: String,
    identities: HashMap<String, String>,
    accounts: Vec<(String, String)>,
    max_requests_per_query: u32,
    history_months: u32,
    requests: Arc<AtomicU64>,
    /// Today in UTC, Cost Explorer's calendar (injectable for tests).
    utc_today: Today,
    /// Cost Optimization Hub clients, when `aws.cost_optimization_hub` is on.
    hub: Option<hub::HubClients>,
    /// Budgets and Organizations on the same connections.
    others: budgets::OtherClients,
}

impl ExplorerSource {
    /// Credentials come from the standard AWS chain (environment, profile,
    /// SSO cache, instance role), optionally a named profile or assumed role.
    pub async fn connect(config: &AwsConfig) -> ExplorerSource {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let Some(p) = &config.profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        Self::with_base(base, config).await
    }

    /// Builds the connections on top of an already loaded SDK config.
    pub async fn with_base(base: SdkConfig, config: &AwsConfig) -> ExplorerSource {
        let default_sdk = match &config.role_arn {
            Some(role) => assume(&base, role, None).await,
            None => base.clone(),
        };
        let default_identity = identity(
            &base,
            &AccountConfig {
                name: String::new(),
                id: None,
                profile: config.profile.clone(),
                role_arn: config.role_arn.clone(),
                external_id: None,
            },
        )
        .await;
        let mut connections = HashMap::new();
        let mut identities = HashMap::new();
        let mut hub = config
            .cost_optimization_hub
            .then(|| hub::HubClients::new(&default_sdk));
        let mut others = budgets::OtherClients::new(&default_sdk);
        for account in &config.accounts {
            if !account.has_own_connection() {
                continue;
            }
            let mut sdk = base.clone();
            if let Some(profile) = &account.profile {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(config.region.clone()))
                    .profile_name(profile);
                if let Some(url) = &config.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                sdk = loader.load().await;
            }
            identities.insert(account.name.clone(), identity(&sdk, account).await);
            if let Some(role) = &account.role_arn {
                sdk = assume(
                    &sdk,
                    role,
                    account.external_id.as_ref().map(|s| s.expose().to_string()),
                )
                .await;
            }
            others.add(Some(account.name.clone()), &sdk);
            connections.insert(account.name.clone(), Client::new(&sdk));
            if let Some(h) = &mut hub {
                h.add(&account.name, &sdk);
            }
        }
        ExplorerSource {
            default: Client::new(&default_sdk),
            connections,
            default_identity,
            identities,
            accounts: config
                .accounts
                .iter()
                .filter_map(|a| a.id.clone().map(|id| (a.name.clone(), id)))
                .collect(),
            max_requests_per_query: config.max_requests_per_query.max(1),
            history_months: config.history_months.max(1),
            requests: Arc::new(AtomicU64::new(0)),
            utc_today: Arc::new(|| Utc::now().date_naive()),
            hub,
            others,
        }
    }

    /// Replaces the UTC clock (tests).
    pub fn with_utc_clock(mut self, utc_today: Today) -> Self {
        self.utc_today = utc_today;
        self
    }

    /// Billable Cost Explorer requests this process has made.
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn client(&self, connection: Option<&str>) -> Result<&Client, CostError> {
        match connection {
            None => Ok(&self.default),
            Some(name) => self
                .connections
                .get(name)
                .ok_or_else(|| CostError::UnknownConnection(name.to_string())),
        }
    }
}

/// A digest of what decides which organization answers on one connection:
/// region, endpoint, profile, role and external id, and, when no role is
/// assumed, the access key id the credentials resolve to now. Hashed, so the
/// external id and key id appear nowhere in clear.
///
/// An assumed role's own session keys are left out: they change with every
/// session, and the role ARN already names the account. Temporary base
/// credentials (SSO, instance roles) change key id when they rotate, which
/// only costs a cache miss after a restart.
async fn identity(sdk: &SdkConfig, account: &AccountConfig) -> String {
    let key_id = match account.role_arn {
        Some(_) => None,
        None => Some(match access_key_id(sdk).await {
            Some(id) => id,
            // Unknown credentials share nothing, not even with the next process.
            None => format!("unresolved {}", uuid::Uuid::new_v4()),
        }),
    };
    let fields: [(&str, Option<&str>); 6] = [
        ("region", sdk.region().map(|r| r.as_ref())),
        ("endpoint", sdk.endpoint_url()),
        ("profile", account.profile.as_deref()),
        ("role", account.role_arn.as_deref()),
        (
            "external id",
            account.external_id.as_ref().map(|s| s.expose()),
        ),
        ("access key id", key_id.as_deref()),
    ];
    let mut h = Sha256::new();
    for (name, value) in fields {
        h.update(name.as_bytes());
        match value {
            Some(v) => {
                h.update([1]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
            None => h.update([0]),
        }
    }
    format!("cost-explorer:{:x}", h.finalize())
}

/// The access key id `sdk`'s credentials resolve to, if they do within a few
/// seconds (the default chain may probe the instance metadata service).
async fn access_key_id(sdk: &SdkConfig) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = sdk.credentials_provider()?;
    match tokio::time::timeout(Duration::from_secs(5), provider.provide_credentials()).await {
        Ok(Ok(c)) => Some(c.access_key_id().to_string()),
        _ => None,
    }
}

/// The exclusive end to ask Cost Explorer for. Its days are UTC, while
/// costbot's "today" follows the configured zone and can be a day ahead (east
/// of UTC): a UTC day that has not begun cannot be asked for.
fn utc_end(period: &Period, utc_today: NaiveDate) -> NaiveDate {
    period.end.min(utc_today + chrono::Duration::days(1))
}

async fn assume(base: &SdkConfig, role: &str, external_id: Option<String>) -> SdkConfig {
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("costbot")
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    base.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

fn dimension(d: &Dimension) -> ce::GroupDefinition {
    match d {
        Dimension::Tag(key) => ce::GroupDefinition::builder()
            .r#type(ce::GroupDefinitionType::Tag)
            .key(key)
            .build(),
        other => ce::GroupDefinition::builder()
            .r#type(ce::GroupDefinitionType::Dimension)
            .key(other.key())
            .build(),
    }
}

fn dim_filter(key: ce::Dimension, values: &[String]) -> ce::Expression {
    ce::Expression::builder()
        .dimensions(
            ce::DimensionValues::builder()
                .key(key)
                .set_values(Some(values.to_vec()))
                .build(),
        )
        .build()
}

/// The Filter expression for a query; Cost Explorer wants `And` only around
/// two or more expressions.
pub(crate) fn filter_expression(q: &CostQuery) -> Option<ce::Expression> {
    let f = &q.filter;
    let mut parts = Vec::new();
    if !q.include_credits_refunds {
        parts.push(
            ce::Expression::builder()
                .not(dim_filter(
                    ce::Dimension::RecordType,
                    &["Credit".into(), "Refund".into()],
                ))
                .build(),
        );
    }
    if !f.services.is_empty() {
        parts.push(dim_filter(ce::Dimension::Service, &f.services));
    }
    if !f.accounts.is_empty() {
        parts.push(dim_filter(ce::Dimension::LinkedAccount, &f.accounts));
    }
    if !f.regions.is_empty() {
        parts.push(dim_filter(ce::Dimension::Region, &f.regions));
    }
    for t in &f.tags {
        parts.push(
            ce::Expression::builder()
                .tags(
                    ce::TagValues::builder()
                        .key(&t.key)
                        .set_values(Some(t.values.clone()))
                        .build(),
                )
                .build(),
        );
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(ce::Expression::builder().set_and(Some(parts)).build()),
    }
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> CostError {
    let (code, message) = match &err {
        SdkError::ServiceError(se) => (
            se.err().code().unwrap_or_default().to_string(),
            se.err().message().unwrap_or_default().to_string(),
        ),
        SdkError::TimeoutError(_) => (String::new(), "the request timed out".to_string()),
        SdkError::DispatchFailure(_) => (
            String::new(),
            "could not connect to the Cost Explorer endpoint".to_string(),
        ),
        SdkError::ResponseError(_) => (String::new(), "the response could not be read".to_string()),
        SdkError::ConstructionFailure(_) => (
            String::new(),
            "the request could not be built (check the region and credentials)".to_string(),
        ),
        other => (String::new(), format!("unexpected failure: {other}")),
    };
    match code.as_str() {
        "LimitExceededException" | "ThrottlingException" | "TooManyRequestsException" => {
            CostError::Throttled
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException" => {
            CostError::AccessDenied(if message.is_empty() { code } else { message })
        }
        "DataUnavailableException" | "BillExpirationException" => CostError::Unavailable(message),
        "ValidationException" => CostError::Rejected(message),
        _ if !code.is_empty() => CostError::Service(format!("{code}: {message}")),
        _ => CostError::Service(message),
    }
}

fn parse_day(s: Option<&str>) -> Result<NaiveDate, CostError> {
    let s = s.unwrap_or_default();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| CostError::Service(format!("Cost Explorer returned an unreadable date '{s}'")))
}

fn parse_amount(v: Option<&ce::MetricValue>) -> Result<(Decimal, Option<String>), CostError> {
    let Some(v) = v else {
        return Ok((Decimal::ZERO, None));
    };
    let raw = v.amount().unwrap_or("0");
    // Amounts arrive as decimal strings; parse them exactly, never through f64.
    let amount = raw
        .parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(raw))
        .map_err(|_| {
            CostError::Service(format!(
                "Cost Explorer returned an unreadable amount '{raw}'"
            ))
        })?;
    Ok((amount, v.unit().map(String::from)))
}

#[async_trait]
impl CostSource for ExplorerSource {
    fn name(&self) -> &str {
        "cost-explorer"
    }

    fn connection_id(&self, connection: Option<&str>) -> String {
        match connection {
            None => self.default_identity.clone(),
            Some(name) => self
                .identities
                .get(name)
                .cloned()
                // Fails with UnknownConnection before any request.
                .unwrap_or_else(|| format!("cost-explorer:unknown {name}")),
        }
    }

    fn known_accounts(&self) -> Vec<(String, String)> {
        self.accounts.clone()
    }

    fn earliest_day(&self, today: chrono::NaiveDate) -> chrono::NaiveDate {
        super::periods::add_months(today, -(self.history_months as i32))
    }

    async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
        self.cost_and_usage_metered(q, &Meter::new()).await
    }

    async fn cost_and_usage_metered(
        &self,
        q: &CostQuery,
        meter: &Meter<'_>,
    ) -> Result<CostResult, CostError> {
        q.validate()?;
        let utc_today = (self.utc_today)();
        // Cost Explorer keeps about 13 months (up to 38 with multi-year data): refuse
        // older periods here instead of paying for an error.
        let earliest = super::periods::add_months(utc_today, -(self.history_months as i32));
        if q.period.start < earliest {
            return Err(CostError::OutOfRange(format!(
                "{} (the oldest month configured as available is {})",
                q.period.label(),
                earliest.format("%B %Y")
            )));
        }
        let client = self.client(q.connection.as_deref())?;
        let end = utc_end(&q.period, utc_today);
        let end_clamped_to = (end < q.period.end).then_some(end.max(q.period.start));
        if end <= q.period.start {
            // None of the period has begun in UTC: nothing to ask for, nothing to pay.
            return Ok(CostResult {
                query: q.clone(),
                unit: "USD".into(),
                buckets: Vec::new(),
                source: "cost-explorer".into(),
                requests: 0,
                cached: false,
                days_are_utc: true,
                end_clamped_to,
            });
        }
        // Substring matches on usage types are done here: group by usage type too, keep matching rows.
        let narrow = !q.filter.usage_type_contains.is_empty();
        let mut group_by = q.group_by.clone();
        if narrow && !group_by.contains(&Dimension::UsageType) {
            if group_by.len() == 2 {
                return Err(CostError::InvalidQuery(
                    "this service is narrowed by usage type, so it can be grouped by one more dimension only".into(),
                ));
            }
            group_by.push(Dimension::UsageType);
        }
        let usage_idx = group_by.iter().position(|d| *d == Dimension::UsageType);
        let metric = q.metric.as_str();
        let filter = filter_expression(q);
        let period = ce::DateInterval::builder()
            .start(q.period.start.format("%Y-%m-%d").to_string())
            .end(end.format("%Y-%m-%d").to_string())
            .build()
            .map_err(|e| CostError::InvalidQuery(e.to_string()))?;
        let granularity = match q.granularity {
            Granularity::Daily => ce::Granularity::Daily,
            Granularity::Monthly => ce::Granularity::Monthly,
        };

        let mut buckets: BTreeMap<(NaiveDate, NaiveDate), (BTreeMap<Vec<String>, Decimal>, bool)> =
            BTreeMap::new();
        let mut unit: Option<String> = None;
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query {
                return Err(CostError::RequestBudget {
                    limit: self.max_requests_per_query,
                });
            }
            // Each page is a billable request: the meter may refuse it (the monthly cap).
            meter.admit().await?;
            let mut req = client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(granularity.clone())
                .metrics(metric)
                .set_group_by(
                    (!group_by.is_empty()).then(|| group_by.iter().map(dimension).collect()),
                )
                .set_filter(filter.clone());
            if let Some(t) = &token {
                req = req.next_page_token(t);
            }
            let resp = req.send().await.map_err(classify);
            requests += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            meter.record(1);
            let resp = resp?;
            for r in resp.results_by_time() {
                let tp = r.time_period();
                let start = parse_day(tp.map(|t| t.start()))?;
                let end = parse_day(tp.map(|t| t.end()))?;
                let entry = buckets.entry((start, end)).or_default();
                entry.1 |= r.estimated();
                if group_by.is_empty() {
                    let (amount, u) = parse_amount(r.total().and_then(|t| t.get(metric)))?;
                    unit = unit.or(u);
                    *entry.0.entry(Vec::new()).or_default() += amount;
                    continue;
                }
                for g in r.groups() {
                    let mut keys: Vec<String> = g.keys().to_vec();
                    if narrow {
                        let Some(i) = usage_idx else { continue };
                        let usage = keys.get(i).cloned().unwrap_or_default();
                        if !q.filter.usage_type_matches(&usage) {
                            continue;
                        }
                        if !q.group_by.contains(&Dimension::UsageType) {
                            keys.remove(i);
                        }
                    }
                    let (amount, u) = parse_amount(g.metrics().and_then(|m| m.get(metric)))?;
                    unit = unit.or(u);
                    *entry.0.entry(keys).or_default() += amount;
                }
            }
            token = resp
                .next_page_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        let buckets = buckets
            .into_iter()
            .map(|((start, end), (groups, estimated))| {
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
                    estimated,
                }
            })
            .collect();
        Ok(CostResult {
            query: q.clone(),
            unit: unit.unwrap_or_else(|| "USD".into()),
            buckets,
            source: "cost-explorer".into(),
            requests,
            cached: false,
            days_are_utc: true,
            end_clamped_to,
        })
    }

    async fn forecast_metered(
        &self,
        q: &ForecastQuery,
        meter: &Meter<'_>,
    ) -> Result<ForecastResult, CostError> {
        self.forecast_inner(q, meter).await
    }

    async fn anomalies_metered(
        &self,
        q: &AnomalyQuery,
        meter: &Meter<'_>,
    ) -> Result<AnomalyResult, CostError> {
        self.anomalies_inner(q, meter).await
    }

    async fn recommendations_metered(
        &self,
        q: &super::commitments::RecommendationQuery,
        meter: &Meter<'_>,
    ) -> Result<super::commitments::RecommendationResult, CostError> {
        self.recommendations_inner(q, meter).await
    }

    async fn commitment_usage_metered(
        &self,
        q: &super::commitments::UsageQuery,
        meter: &Meter<'_>,
    ) -> Result<super::commitments::UsageResult, CostError> {
        self.commitment_usage_inner(q, meter).await
    }

    async fn rightsizing_metered(
        &self,
        q: &RightsizingQuery,
        meter: &Meter<'_>,
    ) -> Result<RightsizingResult, CostError> {
        self.rightsizing_inner(q, meter).await
    }

    async fn hub_recommendations_metered(
        &self,
        q: &HubQuery,
        meter: &Meter<'_>,
    ) -> Result<HubResult, CostError> {
        self.hub_inner(q, meter).await
    }

    fn reads_optimization_hub(&self) -> bool {
        self.reads_hub()
    }

    async fn budgets_metered(
        &self,
        q: &super::BudgetQuery,
        meter: &Meter<'_>,
    ) -> Result<super::BudgetResult, CostError> {
        self.budgets_inner(q, meter).await
    }

    async fn organization_accounts_metered(
        &self,
        q: &super::AccountsQuery,
        meter: &Meter<'_>,
    ) -> Result<super::AccountList, CostError> {
        self.accounts_inner(q, meter).await
    }
}

fn forecast_metric(m: Metric) -> ce::Metric {
    match m {
        Metric::UnblendedCost => ce::Metric::UnblendedCost,
        Metric::AmortizedCost => ce::Metric::AmortizedCost,
        Metric::NetUnblendedCost => ce::Metric::NetUnblendedCost,
        Metric::NetAmortizedCost => ce::Metric::NetAmortizedCost,
        Metric::BlendedCost => ce::Metric::BlendedCost,
    }
}

fn parse_decimal(raw: Option<&str>, what: &str) -> Result<Option<Decimal>, CostError> {
    let Some(raw) = raw else { return Ok(None) };
    raw.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(raw))
        .map(Some)
        .map_err(|_| {
            CostError::Service(format!(
                "Cost Explorer returned an unreadable {what} '{raw}'"
            ))
        })
}

/// Cost Anomaly Detection's impacts are JSON numbers (doubles in the SDK).
/// Rust prints a double as the shortest text that reads back to it, which is
/// the text AWS sent for any amount of up to 15 significant digits.
fn from_double(v: f64) -> Result<Decimal, CostError> {
    let text = v.to_string();
    parse_decimal(Some(&text), "impact").map(|d| d.unwrap_or_default())
}

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl ExplorerSource {
    async fn forecast_inner(
        &self,
        q: &ForecastQuery,
        meter: &Meter<'_>,
    ) -> Result<ForecastResult, CostError> {
        q.validate()?;
        let client = self.client(q.connection.as_deref())?;
        // AWS forecasts from today (UTC) on; a zone behind UTC still says yesterday.
        let utc_today = (self.utc_today)();
        let start = q.period.start.max(utc_today);
        if start >= q.period.end {
            return Err(CostError::InvalidQuery(
                "AWS forecasts only days from today on".into(),
            ));
        }
        let period = ce::DateInterval::builder()
            .start(day_text(start))
            .end(day_text(q.period.end))
            .build()
            .map_err(|e| CostError::InvalidQuery(e.to_string()))?;
        let granularity = match q.granularity {
            Granularity::Daily => ce::Granularity::Daily,
            Granularity::Monthly => ce::Granularity::Monthly,
        };
        meter.admit().await?;
        let resp = client
            .get_cost_forecast()
            .time_period(period)
            .metric(forecast_metric(q.metric))
            .granularity(granularity)
            .prediction_interval_level(q.prediction_interval as i32)
            .set_filter(filter_expression(&q.as_cost_query()))
            .send()
            .await
            .map_err(classify);
        self.requests.fetch_add(1, Ordering::Relaxed);
        meter.record(1);
        let resp = resp?;
        let (total, unit) = parse_amount(resp.total())?;
        let mut buckets = Vec::new();
        for r in resp.forecast_results_by_time() {
            let tp = r.time_period();
            buckets.push(ForecastBucket {
                start: parse_day(tp.map(|t| t.start()))?,
                end: parse_day(tp.map(|t| t.end()))?,
                mean: parse_decimal(r.mean_value(), "forecast")?.unwrap_or_default(),
                lower: parse_decimal(r.prediction_interval_lower_bound(), "forecast bound")?,
                upper: parse_decimal(r.prediction_interval_upper_bound(), "forecast bound")?,
            });
        }
        let mut query = q.clone();
        query.period = Period::new(start, q.period.end);
        Ok(ForecastResult {
            query,
            unit: unit.unwrap_or_else(|| "USD".into()),
            total,
            buckets,
            source: "cost-explorer".into(),
            requests: 1,
            cached: false,
        })
    }

    async fn anomalies_inner(
        &self,
        q: &AnomalyQuery,
        meter: &Meter<'_>,
    ) -> Result<AnomalyResult, CostError> {
        q.validate()?;
        let client = self.client(q.connection.as_deref())?;
        let interval = ce::AnomalyDateInterval::builder()
            .start_date(day_text(q.start))
            .end_date(day_text(q.end))
            .build()
            .map_err(|e| CostError::InvalidQuery(e.to_string()))?;
        let impact = match &q.total_impact {
            None => None,
            Some(f) => {
                use rust_decimal::prelude::ToPrimitive;
                // The API takes doubles; a threshold in dollars and cents is exact enough as one.
                let mut b = ce::TotalImpactFilter::builder()
                    .numeric_operator(ce::NumericOperator::from(f.operator.as_str()))
                    .start_value(f.start.to_f64().unwrap_or_default());
                if let Some(end) = f.end {
                    b = b.end_value(end.to_f64().unwrap_or_default());
                }
                Some(
                    b.build()
                        .map_err(|e| CostError::InvalidQuery(e.to_string()))?,
                )
            }
        };
        let mut anomalies = Vec::new();
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query {
                return Err(CostError::RequestBudget {
                    limit: self.max_requests_per_query,
                });
            }
            // Each page is billed: the meter may refuse it.
            meter.admit().await?;
            let resp = client
                .get_anomalies()
                .date_interval(interval.clone())
                .set_monitor_arn(q.monitor_arn.clone())
                .set_total_impact(impact.clone())
                .set_next_page_token(token.clone())
                .send()
                .await
                .map_err(classify);
            requests += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            meter.record(1);
            let resp = resp?;
            for a in resp.anomalies() {
                anomalies.push(anomaly(a)?);
            }
            token = resp
                .next_page_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        anomalies.sort_by(|a: &AwsAnomaly, b| {
            b.impact
                .total_impact
                .cmp(&a.impact.total_impact)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(AnomalyResult {
            query: q.clone(),
            anomalies,
            source: "cost-explorer".into(),
            requests,
            cached: false,
        })
    }
}

fn anomaly(a: &ce::Anomaly) -> Result<AwsAnomaly, CostError> {
    let day = |s: Option<&str>| -> Result<Option<NaiveDate>, CostError> {
        // Dates arrive as days or as timestamps; the day is what is shown.
        s.map(|s| parse_day(Some(s.get(..10).unwrap_or(s))))
            .transpose()
    };
    let opt = |v: Option<f64>| v.map(from_double).transpose();
    let impact = match a.impact() {
        Some(i) => AnomalyImpact {
            max_impact: from_double(i.max_impact())?,
            total_impact: from_double(i.total_impact())?,
            total_actual_spend: opt(i.total_actual_spend())?,
            total_expected_spend: opt(i.total_expected_spend())?,
            total_impact_percentage: opt(i.total_impact_percentage())?,
        },
        None => AnomalyImpact {
            max_impact: Decimal::ZERO,
            total_impact: Decimal::ZERO,
            total_actual_spend: None,
            total_expected_spend: None,
            total_impact_percentage: None,
        },
    };
    Ok(AwsAnomaly {
        id: a.anomaly_id().to_string(),
        start: day(a.anomaly_start_date())?,
        end: day(a.anomaly_end_date())?,
        dimension_value: a.dimension_value().map(String::from),
        monitor_arn: a.monitor_arn().to_string(),
        root_causes: a
            .root_causes()
            .iter()
            .map(|r| RootCause {
                service: r.service().map(String::from),
                region: r.region().map(String::from),
                linked_account: r.linked_account().map(String::from),
                linked_account_name: r.linked_account_name().map(String::from),
                usage_type: r.usage_type().map(String::from),
            })
            .collect(),
        impact,
    })
}

/// Checks credentials with STS GetCallerIdentity, which costs nothing.
pub async fn caller_identity(config: &AwsConfig) -> Result<String, CostError> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(p) = &config.profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let mut sdk = loader.load().await;
    if let Some(role) = &config.role_arn {
        sdk = assume(&sdk, role, None).await;
    }
    let sts = aws_sdk_sts::Client::new(&sdk);
    let out = sts.get_caller_identity().send().await.map_err(classify)?;
    Ok(out.arn().unwrap_or("unknown").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{CostFilter, Period};

    #[test]
    fn filter_excludes_credits_and_wraps_and_only_when_needed() {
        let p = Period::month(2026, 10);
        let mut q = CostQuery::new(p);
        let e = filter_expression(&q).unwrap();
        assert!(e.not().is_some());
        assert!(e.and().is_empty());
        q.filter = CostFilter {
            services: vec!["AWS Lambda".into()],
            ..Default::default()
        };
        let e = filter_expression(&q).unwrap();
        assert_eq!(e.and().len(), 2);
        q.include_credits_refunds = true;
        let e = filter_expression(&q).unwrap();
        assert!(e.and().is_empty());
        assert_eq!(e.dimensions().unwrap().values(), ["AWS Lambda"]);
        q.filter = CostFilter::default();
        assert!(filter_expression(&q).is_none());
    }

    fn sdk(key_id: &str, endpoint: Option<&str>) -> SdkConfig {
        let creds =
            aws_credential_types::Credentials::new(key_id, "secret", None, None, "costbot-tests");
        let mut b = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            );
        if let Some(url) = endpoint {
            b = b.endpoint_url(url);
        }
        b.build()
    }

    fn account(role: Option<&str>, external_id: Option<&str>) -> AccountConfig {
        AccountConfig {
            name: "x".into(),
            id: None,
            profile: None,
            role_arn: role.map(String::from),
            external_id: external_id.map(crate::config::Secret::new),
        }
    }

    #[tokio::test]
    async fn the_connection_identity_follows_what_picks_the_organization() {
        let plain = account(None, None);
        let a = identity(&sdk("AKIAAAAAAAAAAAAAAAAA", None), &plain).await;
        assert_eq!(
            a,
            identity(&sdk("AKIAAAAAAAAAAAAAAAAA", None), &plain).await
        );
        // Other credentials, another endpoint: another identity.
        assert_ne!(
            a,
            identity(&sdk("AKIABBBBBBBBBBBBBBBB", None), &plain).await
        );
        assert_ne!(
            a,
            identity(
                &sdk("AKIAAAAAAAAAAAAAAAAA", Some("http://127.0.0.1:1")),
                &plain
            )
            .await
        );
        // A role names the account: the caller's key does not matter, the role and external id do.
        let role = "arn:aws:iam::222222222222:role/read";
        let r = identity(
            &sdk("AKIAAAAAAAAAAAAAAAAA", None),
            &account(Some(role), None),
        )
        .await;
        assert_ne!(r, a);
        assert_eq!(
            r,
            identity(
                &sdk("AKIABBBBBBBBBBBBBBBB", None),
                &account(Some(role), None)
            )
            .await
        );
        let e1 = identity(
            &sdk("AKIAAAAAAAAAAAAAAAAA", None),
            &account(Some(role), Some("ext-one")),
        )
        .await;
        let e2 = identity(
            &sdk("AKIAAAAAAAAAAAAAAAAA", None),
            &account(Some(role), Some("ext-two")),
        )
        .await;
        assert_ne!(e1, e2);
        assert_ne!(e1, r);
        for id in [&a, &e1] {
            assert!(!id.contains("AKIA") && !id.contains("ext-") && !id.contains("secret"));
        }
        // Credentials that do not resolve share with nobody.
        let none = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .build();
        assert_ne!(identity(&none, &plain).await, identity(&none, &plain).await);
    }

    #[test]
    fn no_utc_day_that_has_not_begun_is_asked_for() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let utc_today = d("2026-11-30");
        // Already in Auckland's December 1st: the UTC day has not begun.
        assert_eq!(
            utc_end(&Period::day(d("2026-12-01")), utc_today),
            d("2026-12-01")
        );
        // This UTC day is the last that can be asked for.
        assert_eq!(
            utc_end(&Period::day(d("2026-11-30")), utc_today),
            d("2026-12-01")
        );
        assert_eq!(
            utc_end(&Period::month(2026, 11), utc_today),
            d("2026-12-01")
        );
        assert_eq!(
            utc_end(&Period::month(2026, 12), utc_today),
            d("2026-12-01")
        );
        assert_eq!(
            utc_end(&Period::month(2026, 10), utc_today),
            d("2026-11-01")
        );
    }
}
