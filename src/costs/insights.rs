//! AWS's own analyses of the bill: Cost Explorer's forecast (GetCostForecast)
//! and Cost Anomaly Detection's findings (GetAnomalies). Query and result
//! types only; sources implement them beside `cost_and_usage`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{CostError, CostFilter, CostQuery, Granularity, Metric, Period};

/// A GetCostForecast request, normalized for cache keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ForecastQuery {
    /// Start is today or later (AWS forecasts no past day); end exclusive.
    pub period: Period,
    pub granularity: Granularity,
    pub metric: Metric,
    pub filter: CostFilter,
    pub include_credits_refunds: bool,
    /// 51–99; AWS's console uses 80.
    pub prediction_interval: u8,
    pub connection: Option<String>,
}

impl ForecastQuery {
    pub fn new(period: Period) -> Self {
        ForecastQuery {
            period,
            granularity: Granularity::Monthly,
            metric: Metric::UnblendedCost,
            filter: CostFilter::default(),
            include_credits_refunds: false,
            prediction_interval: 80,
            connection: None,
        }
    }

    pub fn validate(&self) -> Result<(), CostError> {
        if self.period.start >= self.period.end {
            return Err(CostError::InvalidQuery(format!(
                "the period {} is empty",
                self.period.label()
            )));
        }
        if !(51..=99).contains(&self.prediction_interval) {
            return Err(CostError::InvalidQuery(
                "the prediction interval must be between 51 and 99 percent".into(),
            ));
        }
        if !self.filter.usage_type_contains.is_empty() {
            // GetCostForecast cannot group, so a substring of usage types cannot be applied.
            return Err(CostError::InvalidQuery(
                "AWS's forecast cannot be narrowed to part of a service's usage types; ask for the whole service".into(),
            ));
        }
        Ok(())
    }

    /// The same scope as a cost query (for the Filter expression).
    pub fn as_cost_query(&self) -> CostQuery {
        let mut q = CostQuery::new(self.period);
        q.granularity = self.granularity;
        q.metric = self.metric;
        q.filter = self.filter.clone();
        q.include_credits_refunds = self.include_credits_refunds;
        q.connection = self.connection.clone();
        q
    }

    pub fn canonical(&self) -> String {
        let c = self.as_cost_query().canonical();
        format!("forecast|{}|{c}", self.prediction_interval)
    }
}

/// One forecast period (a day or a month) with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastBucket {
    pub start: NaiveDate,
    pub end: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub mean: Decimal,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub lower: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub upper: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastResult {
    pub query: ForecastQuery,
    pub unit: String,
    /// The forecast total over the whole period, exactly as AWS returned it.
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub buckets: Vec<ForecastBucket>,
    /// "cost-explorer" or "sample".
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

impl ForecastResult {
    /// The interval over the whole period: the sum of the buckets' bounds
    /// (what AWS's console shows), when every bucket has them.
    pub fn interval(&self) -> Option<(Decimal, Decimal)> {
        let lower: Option<Decimal> = self.buckets.iter().map(|b| b.lower).sum();
        let upper: Option<Decimal> = self.buckets.iter().map(|b| b.upper).sum();
        lower.zip(upper).filter(|_| !self.buckets.is_empty())
    }
}

/// GetAnomalies' TotalImpact filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImpactFilter {
    /// EQUAL, GREATER_THAN_OR_EQUAL, LESS_THAN_OR_EQUAL, GREATER_THAN, LESS_THAN, BETWEEN.
    pub operator: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub start: Decimal,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub end: Option<Decimal>,
}

pub const IMPACT_OPERATORS: &[&str] = &[
    "EQUAL",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN_OR_EQUAL",
    "GREATER_THAN",
    "LESS_THAN",
    "BETWEEN",
];

/// A GetAnomalies request: anomalies detected between two days (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AnomalyQuery {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub monitor_arn: Option<String>,
    pub total_impact: Option<ImpactFilter>,
    pub connection: Option<String>,
}

impl AnomalyQuery {
    pub fn validate(&self) -> Result<(), CostError> {
        if self.end < self.start {
            return Err(CostError::InvalidQuery(
                "the anomaly interval ends before it starts".into(),
            ));
        }
        if let Some(f) = &self.total_impact {
            if !IMPACT_OPERATORS.contains(&f.operator.as_str()) {
                return Err(CostError::InvalidQuery(format!(
                    "unknown impact operator '{}'",
                    f.operator
                )));
            }
            if (f.operator == "BETWEEN") != f.end.is_some() {
                return Err(CostError::InvalidQuery(
                    "an impact range needs both ends with BETWEEN, and only then".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn canonical(&self) -> String {
        format!(
            "anomalies|{}",
            serde_json::to_string(self).expect("a query always serializes")
        )
    }
}

/// One root cause Cost Anomaly Detection names (any part may be missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RootCause {
    pub service: Option<String>,
    pub region: Option<String>,
    pub linked_account: Option<String>,
    pub linked_account_name: Option<String>,
    pub usage_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyImpact {
    #[serde(with = "rust_decimal::serde::str")]
    pub max_impact: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total_impact: Decimal,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub total_actual_spend: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub total_expected_spend: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub total_impact_percentage: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsAnomaly {
    pub id: String,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    /// What the monitor watches that moved (e.g. a service name).
    pub dimension_value: Option<String>,
    pub monitor_arn: String,
    pub root_causes: Vec<RootCause>,
    pub impact: AnomalyImpact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyResult {
    pub query: AnomalyQuery,
    /// Largest total impact first.
    pub anomalies: Vec<AwsAnomaly>,
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

/// Results the cache can mark as served without paying.
pub trait Paid {
    fn mark_cached(&mut self);
}

impl Paid for ForecastResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

impl Paid for AnomalyResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}
