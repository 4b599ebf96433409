//! AWS's rightsizing recommendations: Cost Explorer's GetRightsizingRecommendation
//! (EC2) and Cost Optimization Hub's ListRecommendations (every resource type,
//! where the account enabled it). Query and result types only; amounts are
//! exactly as AWS returned them.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::insights::Paid;
use super::CostError;

/// GetRightsizingRecommendation's Configuration.RecommendationTarget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecommendationTarget {
    /// AWS's console default: only smaller sizes of the same family.
    #[default]
    SameInstanceFamily,
    CrossInstanceFamily,
}

impl RecommendationTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendationTarget::SameInstanceFamily => "SAME_INSTANCE_FAMILY",
            RecommendationTarget::CrossInstanceFamily => "CROSS_INSTANCE_FAMILY",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RecommendationTarget::SameInstanceFamily => "same instance family",
            RecommendationTarget::CrossInstanceFamily => "across instance families",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s
            .trim()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "SAME_INSTANCE_FAMILY" | "SAME" | "SAME_FAMILY" => {
                Some(RecommendationTarget::SameInstanceFamily)
            }
            "CROSS_INSTANCE_FAMILY" | "CROSS" | "CROSS_FAMILY" => {
                Some(RecommendationTarget::CrossInstanceFamily)
            }
            _ => None,
        }
    }
}

/// A GetRightsizingRecommendation request (Service "AmazonEC2"), normalized for cache keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct RightsizingQuery {
    /// Linked account ids (LINKED_ACCOUNT filter); empty = every account.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub target: RecommendationTarget,
    /// Whether Reserved Instances and Savings Plans discounts are considered (AWS's default: yes).
    pub benefits_considered: bool,
    pub connection: Option<String>,
}

impl RightsizingQuery {
    pub fn new() -> Self {
        RightsizingQuery {
            benefits_considered: true,
            ..Default::default()
        }
    }
    fn normalized(&self) -> Self {
        let mut q = self.clone();
        q.accounts.sort();
        q.accounts.dedup();
        q.regions.sort();
        q.regions.dedup();
        q
    }
    pub fn canonical(&self) -> String {
        format!(
            "rightsizing|{}",
            serde_json::to_string(&self.normalized()).expect("a query always serializes")
        )
    }
}

/// MODIFY (a smaller or other type) or TERMINATE (idle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RightsizingAction {
    Modify,
    Terminate,
}

/// The instance type AWS proposes for a MODIFY recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetType {
    pub instance_type: Option<String>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_monthly_cost: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_monthly_savings: Option<Decimal>,
    pub default_target: bool,
}

/// One EC2 instance Cost Explorer would resize or terminate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecommendation {
    pub account_id: Option<String>,
    pub instance_id: Option<String>,
    pub instance_name: Option<String>,
    pub region: Option<String>,
    pub current_type: Option<String>,
    pub action: RightsizingAction,
    /// The default target (AWS lists the others too); None for TERMINATE.
    pub target: Option<TargetType>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_monthly_savings: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub current_monthly_cost: Option<Decimal>,
    pub currency: Option<String>,
    /// Percent over the look-back period, as AWS gave it.
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub max_cpu_percent: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub max_memory_percent: Option<Decimal>,
    pub finding_reasons: Vec<String>,
}

/// GetRightsizingRecommendation's Summary, exactly as returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RightsizingSummary {
    pub total_recommendation_count: Option<u32>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_total_monthly_savings: Option<Decimal>,
    pub currency: Option<String>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub savings_percentage: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RightsizingResult {
    pub query: RightsizingQuery,
    /// Largest estimated monthly savings first.
    pub recommendations: Vec<InstanceRecommendation>,
    pub summary: RightsizingSummary,
    /// The look-back AWS reports (SEVEN_DAYS, THIRTY_DAYS, SIXTY_DAYS).
    pub lookback: Option<String>,
    /// When AWS generated the recommendations (as it wrote it).
    pub generated: Option<String>,
    /// "cost-explorer" or "sample".
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

/// Days for AWS's look-back names, for people.
pub fn lookback_label(lookback: &str) -> String {
    match lookback {
        "SEVEN_DAYS" => "the last 7 days".into(),
        "THIRTY_DAYS" => "the last 30 days".into(),
        "SIXTY_DAYS" => "the last 60 days".into(),
        other => other.to_ascii_lowercase().replace('_', " "),
    }
}

/// A Cost Optimization Hub ListRecommendations request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct HubQuery {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// COH resource types (Ec2Instance, EbsVolume, LambdaFunction, ...); empty = all.
    pub resource_types: Vec<String>,
    pub connection: Option<String>,
}

impl HubQuery {
    pub fn canonical(&self) -> String {
        let mut q = self.clone();
        for v in [&mut q.accounts, &mut q.regions, &mut q.resource_types] {
            v.sort();
            v.dedup();
        }
        format!(
            "optimization-hub|{}",
            serde_json::to_string(&q).expect("a query always serializes")
        )
    }
}

/// One Cost Optimization Hub recommendation, amounts as AWS returned them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubRecommendation {
    pub id: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub current: Option<String>,
    pub recommended: Option<String>,
    pub action_type: Option<String>,
    pub implementation_effort: Option<String>,
    pub restart_needed: Option<bool>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_monthly_savings: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_monthly_cost: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub estimated_savings_percentage: Option<Decimal>,
    pub currency: Option<String>,
    pub lookback_days: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubResult {
    pub query: HubQuery,
    /// Largest estimated monthly savings first.
    pub recommendations: Vec<HubRecommendation>,
    pub source: String,
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

/// The guide (file in `knowledge/`) that fits a recommendation kind.
pub fn guide_for_instance(r: &InstanceRecommendation) -> &'static str {
    let graviton = r
        .target
        .as_ref()
        .and_then(|t| t.instance_type.as_deref())
        .is_some_and(is_graviton)
        && !r.current_type.as_deref().is_some_and(is_graviton);
    if graviton {
        "graviton.md"
    } else {
        "ec2-rightsizing.md"
    }
}

/// Graviton families carry a "g" after the generation digit (m7g, c6gn, r8g).
fn is_graviton(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    let mut seen_digit = false;
    for c in family.chars() {
        if c.is_ascii_digit() {
            seen_digit = true;
        } else if seen_digit {
            return c == 'g';
        }
    }
    false
}

pub fn guide_for_hub(r: &HubRecommendation) -> &'static str {
    let action = r.action_type.as_deref().unwrap_or_default();
    let kind = r.resource_type.as_deref().unwrap_or_default();
    match (action, kind) {
        ("MigrateToGraviton", _) => "graviton.md",
        ("PurchaseSavingsPlans", _) => "savings-plans.md",
        ("PurchaseReservedInstances", _) => "reserved-instances.md",
        ("Delete", "EbsVolume") => "ebs-unattached-volumes.md",
        (_, "EbsVolume") => "ebs-gp2-to-gp3.md",
        (_, "LambdaFunction") => "lambda-memory-arm64.md",
        (_, "RdsDbInstance" | "RdsDbInstanceStorage" | "AuroraDbClusterStorage") => {
            "rds-rightsizing.md"
        }
        (_, "Ec2Instance" | "Ec2AutoScalingGroup") => "ec2-rightsizing.md",
        (_, "EcsService") => "containers-eks-ecs-fargate.md",
        (_, "NatGateway") => "nat-gateway.md",
        _ => "compute-optimizer.md",
    }
}

/// Parses an amount AWS sent as a decimal string, exactly.
pub(crate) fn exact(raw: Option<&str>, what: &str) -> Result<Option<Decimal>, CostError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    raw.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(raw))
        .map(Some)
        .map_err(|_| CostError::Service(format!("AWS returned an unreadable {what} '{raw}'")))
}

/// A JSON number AWS sent (a double in the SDK) as the text it was: Rust
/// prints the shortest text that reads back to the same double.
pub(crate) fn from_double(v: Option<f64>, what: &str) -> Result<Option<Decimal>, CostError> {
    match v {
        Some(v) => exact(Some(&v.to_string()), what),
        None => Ok(None),
    }
}

/// The day a timestamp text starts with, if it does.
pub fn day_of(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

impl Paid for RightsizingResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

impl Paid for HubResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_targets_are_recognised_by_family() {
        assert!(is_graviton("m7g.large"));
        assert!(is_graviton("c6gn.xlarge"));
        assert!(!is_graviton("m7i.large"));
        assert!(!is_graviton("t3.micro"));
        assert!(!is_graviton("m5.large"));
    }

    #[test]
    fn doubles_read_back_as_the_text_aws_sent() {
        assert_eq!(
            from_double(Some(73.58), "x").unwrap(),
            Some("73.58".parse().unwrap())
        );
        assert_eq!(exact(Some(""), "x").unwrap(), None);
        assert!(exact(Some("abc"), "x").is_err());
    }
}
