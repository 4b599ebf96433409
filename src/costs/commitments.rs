//! Commitments: Savings Plans and Reserved Instance purchase recommendations
//! (GetSavingsPlansPurchaseRecommendation, GetReservationPurchaseRecommendation)
//! and how well existing commitments cover and are used (GetSavingsPlans /
//! GetReservation Coverage and Utilization). Query and result types only.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::insights::Paid;
use super::{CostError, Granularity, Period};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentKind {
    SavingsPlans,
    Reservations,
}

impl CommitmentKind {
    pub fn label(self) -> &'static str {
        match self {
            CommitmentKind::SavingsPlans => "Savings Plans",
            CommitmentKind::Reservations => "Reserved Instances",
        }
    }
}

/// AWS's enum values, exactly as the API takes them.
pub const SAVINGS_PLANS_TYPES: &[&str] = &[
    "COMPUTE_SP",
    "EC2_INSTANCE_SP",
    "SAGEMAKER_SP",
    "DATABASE_SP",
];
pub const TERMS: &[&str] = &["ONE_YEAR", "THREE_YEARS"];
pub const PAYMENT_OPTIONS: &[&str] = &["NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT"];
pub const LOOKBACKS: &[&str] = &["SEVEN_DAYS", "THIRTY_DAYS", "SIXTY_DAYS"];
/// The services GetReservationPurchaseRecommendation answers for, by Cost Explorer name.
pub const RESERVATION_SERVICES: &[&str] = &[
    "Amazon Elastic Compute Cloud - Compute",
    "Amazon Relational Database Service",
    "Amazon ElastiCache",
    "Amazon Redshift",
    "Amazon OpenSearch Service",
    "Amazon MemoryDB",
];

pub fn term_label(term: &str) -> &'static str {
    match term {
        "THREE_YEARS" => "3-year",
        _ => "1-year",
    }
}

pub fn payment_label(p: &str) -> &'static str {
    match p {
        "ALL_UPFRONT" => "all upfront",
        "PARTIAL_UPFRONT" => "partial upfront",
        _ => "no upfront",
    }
}

pub fn lookback_days(l: &str) -> i64 {
    match l {
        "SEVEN_DAYS" => 7,
        "SIXTY_DAYS" => 60,
        _ => 30,
    }
}

pub fn savings_plans_type_label(t: &str) -> &'static str {
    match t {
        "EC2_INSTANCE_SP" => "EC2 Instance Savings Plan",
        "SAGEMAKER_SP" => "SageMaker Savings Plan",
        "DATABASE_SP" => "Database Savings Plan",
        _ => "Compute Savings Plan",
    }
}

fn one_of(what: &str, v: &str, allowed: &[&str]) -> Result<(), CostError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(CostError::InvalidQuery(format!(
            "{what} must be one of {}, not '{v}'",
            allowed.join(", ")
        )))
    }
}

/// A purchase recommendation request, normalized for cache keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecommendationQuery {
    pub kind: CommitmentKind,
    /// Savings Plans only: COMPUTE_SP, EC2_INSTANCE_SP, SAGEMAKER_SP, DATABASE_SP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savings_plans_type: Option<String>,
    /// Reserved Instances only: the Cost Explorer service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub term: String,
    pub payment_option: String,
    pub lookback: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

impl RecommendationQuery {
    /// AWS console defaults: 1 year, no upfront, 30 days of history.
    pub fn new(kind: CommitmentKind) -> Self {
        RecommendationQuery {
            kind,
            savings_plans_type: (kind == CommitmentKind::SavingsPlans)
                .then(|| "COMPUTE_SP".to_string()),
            service: (kind == CommitmentKind::Reservations)
                .then(|| RESERVATION_SERVICES[0].to_string()),
            term: "ONE_YEAR".into(),
            payment_option: "NO_UPFRONT".into(),
            lookback: "THIRTY_DAYS".into(),
            connection: None,
        }
    }

    pub fn validate(&self) -> Result<(), CostError> {
        one_of("the term", &self.term, TERMS)?;
        one_of("the payment option", &self.payment_option, PAYMENT_OPTIONS)?;
        one_of("the look-back period", &self.lookback, LOOKBACKS)?;
        match self.kind {
            CommitmentKind::SavingsPlans => {
                let t = self.savings_plans_type.as_deref().unwrap_or_default();
                one_of("the Savings Plans type", t, SAVINGS_PLANS_TYPES)?;
                if self.service.is_some() {
                    return Err(CostError::InvalidQuery(
                        "Savings Plans recommendations are not asked per service; the plan type says what they cover".into(),
                    ));
                }
            }
            CommitmentKind::Reservations => {
                let s = self.service.as_deref().unwrap_or_default();
                if !RESERVATION_SERVICES.contains(&s) {
                    return Err(CostError::InvalidQuery(format!(
                        "AWS recommends reservations for EC2, RDS, ElastiCache, Redshift, OpenSearch and MemoryDB only, not '{s}'"
                    )));
                }
            }
        }
        Ok(())
    }

    /// "1-year, no upfront, from the last 30 days".
    pub fn terms_label(&self) -> String {
        format!(
            "{}, {}, based on the last {} days",
            term_label(&self.term),
            payment_label(&self.payment_option),
            lookback_days(&self.lookback)
        )
    }

    pub fn api(&self) -> &'static str {
        match self.kind {
            CommitmentKind::SavingsPlans => "GetSavingsPlansPurchaseRecommendation",
            CommitmentKind::Reservations => "GetReservationPurchaseRecommendation",
        }
    }

    pub fn canonical(&self) -> String {
        format!(
            "recommendation|{}",
            serde_json::to_string(self).expect("a query always serializes")
        )
    }
}

fn is_none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

/// What AWS's recommendation adds up to (each part exactly as AWS sent it;
/// absent when AWS did not send it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecommendationSummary {
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_monthly_savings: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_savings_percentage: Option<Decimal>,
    /// Savings Plans: the hourly commitment to buy.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub hourly_commitment: Option<Decimal>,
    /// Savings Plans: on-demand spend over the look-back period.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub current_on_demand_spend: Option<Decimal>,
    /// Savings Plans: the estimated cost with the plan over the look-back period.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_total_cost: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_roi: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_count: Option<String>,
}

/// One thing AWS recommends buying.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecommendationDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Savings Plans: instance family (EC2 Instance SP); RIs: the instance type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// RIs: platform or database engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// RIs: how many to buy.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub recommended_instances: Option<Decimal>,
    /// Savings Plans: the hourly commitment.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub hourly_commitment: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub upfront_cost: Option<Decimal>,
    /// RIs: the recurring monthly charge.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub recurring_monthly_cost: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_monthly_savings: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub estimated_savings_percentage: Option<Decimal>,
    /// RIs: months until the upfront is paid back.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub break_even_months: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub average_utilization: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationResult {
    pub query: RecommendationQuery,
    pub currency: String,
    /// When AWS generated the recommendation (its own timestamp text).
    #[serde(default)]
    pub generated_at: Option<String>,
    pub summary: RecommendationSummary,
    /// Largest estimated monthly savings first.
    pub details: Vec<RecommendationDetail>,
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

impl RecommendationResult {
    /// The sum of the details' upfront costs, when any has one.
    pub fn total_upfront(&self) -> Option<Decimal> {
        self.details
            .iter()
            .filter_map(|d| d.upfront_cost)
            .reduce(|a, b| a + b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageMeasure {
    Coverage,
    Utilization,
}

/// A coverage or utilization request for Savings Plans or reservations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UsageQuery {
    pub kind: CommitmentKind,
    pub measure: UsageMeasure,
    /// End exclusive; only complete days have figures.
    pub period: Period,
    pub granularity: Granularity,
    /// Cost Explorer service names (SERVICE filter). Savings Plans
    /// utilization is per plan, so it takes none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

impl UsageQuery {
    pub fn new(kind: CommitmentKind, measure: UsageMeasure, period: Period) -> Self {
        UsageQuery {
            kind,
            measure,
            period,
            granularity: Granularity::Monthly,
            services: Vec::new(),
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
        if self.kind == CommitmentKind::SavingsPlans
            && self.measure == UsageMeasure::Utilization
            && !self.services.is_empty()
        {
            return Err(CostError::InvalidQuery(
                "Savings Plans utilization is for the plans as a whole; it cannot be narrowed to a service".into(),
            ));
        }
        if self.services.len() > 1 && self.kind == CommitmentKind::Reservations {
            // GetReservationCoverage/Utilization take one SERVICE value.
            return Err(CostError::InvalidQuery(
                "reservation coverage and utilization are for one service at a time".into(),
            ));
        }
        Ok(())
    }

    pub fn api(&self) -> &'static str {
        match (self.kind, self.measure) {
            (CommitmentKind::SavingsPlans, UsageMeasure::Coverage) => "GetSavingsPlansCoverage",
            (CommitmentKind::SavingsPlans, UsageMeasure::Utilization) => {
                "GetSavingsPlansUtilization"
            }
            (CommitmentKind::Reservations, UsageMeasure::Coverage) => "GetReservationCoverage",
            (CommitmentKind::Reservations, UsageMeasure::Utilization) => {
                "GetReservationUtilization"
            }
        }
    }

    pub fn canonical(&self) -> String {
        format!(
            "commitment-usage|{}",
            serde_json::to_string(self).expect("a query always serializes")
        )
    }
}

/// Coverage and utilization figures, each exactly as AWS sent it (absent
/// when that API does not send it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UsageFigures {
    // Coverage.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub coverage_percentage: Option<Decimal>,
    /// On-demand cost not covered by the commitments.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub on_demand_cost: Option<Decimal>,
    /// Savings Plans: spend covered (on-demand equivalent).
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub covered_spend: Option<Decimal>,
    /// Savings Plans: eligible spend in all.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub total_cost: Option<Decimal>,
    /// Reservations: running hours, reserved and on demand.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub reserved_hours: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub on_demand_hours: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub total_running_hours: Option<Decimal>,
    // Utilization.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub utilization_percentage: Option<Decimal>,
    /// Savings Plans: commitment in dollars; reservations: purchased hours.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub total_commitment: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub used_commitment: Option<Decimal>,
    /// Savings Plans: unused commitment in dollars.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub unused_commitment: Option<Decimal>,
    /// Reservations: purchased and unused hours.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub purchased_hours: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub unused_hours: Option<Decimal>,
    /// Reservations: what the unused hours cost.
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub unused_cost: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub net_savings: Option<Decimal>,
    #[serde(
        with = "rust_decimal::serde::str_option",
        default,
        skip_serializing_if = "is_none"
    )]
    pub on_demand_cost_equivalent: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBucket {
    pub start: NaiveDate,
    /// Exclusive, as Cost Explorer gives it.
    pub end: NaiveDate,
    pub figures: UsageFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageResult {
    pub query: UsageQuery,
    pub buckets: Vec<UsageBucket>,
    /// The whole period, when the API sends a total (not GetSavingsPlansCoverage).
    #[serde(default)]
    pub total: Option<UsageFigures>,
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

impl UsageResult {
    /// The whole period's figures: AWS's total, or the one period's.
    pub fn overall(&self) -> Option<&UsageFigures> {
        self.total.as_ref().or(match self.buckets.as_slice() {
            [one] => Some(&one.figures),
            _ => None,
        })
    }
}

impl Paid for RecommendationResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

impl Paid for UsageResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}
