//! One argument type per tool, matching its JSON Schema in
//! [`super::definitions`] (a test checks they agree), so the rules planner, an
//! LLM and the digest builder all hand the tools the same shapes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ToolError;
use crate::costs::Granularity;

/// An inclusive date range, as people say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterArgs {
    /// Services as people say them or Cost Explorer SERVICE names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Account names or 12-digit ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Tag key to accepted values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Vec<String>>,
}

impl FilterArgs {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.accounts.is_empty()
            && self.regions.is_empty()
            && self.tags.is_empty()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCostAndUsageArgs {
    pub period: DateRange,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_credits_refunds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparePeriodsArgs {
    pub current: DateRange,
    pub previous: DateRange,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_credits_refunds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ForecastMonthEndArgs {
    /// YYYY-MM; only the current month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_credits_refunds: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindAnomaliesArgs {
    pub period: DateRange,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_credits_refunds: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchGuidesArgs {
    pub query: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// AWS Cost Explorer's own forecast (GetCostForecast).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AwsForecastArgs {
    /// From today on; the rest of this month when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<DateRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_credits_refunds: bool,
    /// Percent, 51–99; 80 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_interval: Option<u8>,
}

/// GetAnomalies' TotalImpact filter, amounts as JSON numbers (read exactly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactArgs {
    pub operator: String,
    pub start: serde_json::Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<serde_json::Number>,
}

/// Cost Anomaly Detection's findings (GetAnomalies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAnomaliesArgs {
    pub period: DateRange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_impact: Option<ImpactArgs>,
}

/// AWS's Savings Plans or Reserved Instance purchase recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRecommendationsArgs {
    /// "savings_plans" or "reserved_instances".
    pub kind: String,
    /// Savings Plans only: COMPUTE_SP (default), EC2_INSTANCE_SP, SAGEMAKER_SP, DATABASE_SP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savings_plans_type: Option<String>,
    /// Reserved Instances only: the service as people say it (EC2 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// ONE_YEAR (default) or THREE_YEARS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// NO_UPFRONT (default), PARTIAL_UPFRONT or ALL_UPFRONT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_option: Option<String>,
    /// 7, 30 (default) or 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_days: Option<u32>,
}

/// Coverage or utilization of Savings Plans or reservations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCommitmentUsageArgs {
    /// "savings_plans" or "reserved_instances".
    pub kind: String,
    /// "coverage" or "utilization".
    pub measure: String,
    pub period: DateRange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// One service as people say it (not for Savings Plans utilization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// AWS's rightsizing recommendations: Cost Explorer's GetRightsizingRecommendation
/// (EC2), and Cost Optimization Hub's ListRecommendations where it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AwsRightsizingArgs {
    /// Accounts and regions only: recommendations are not split by service or tag.
    #[serde(default, skip_serializing_if = "FilterArgs::is_empty")]
    pub filter: FilterArgs,
    /// SAME_INSTANCE_FAMILY (AWS's default) or CROSS_INSTANCE_FAMILY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_target: Option<String>,
    /// Whether RI and Savings Plans discounts are considered; true when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benefits_considered: Option<bool>,
    /// Cost Optimization Hub resource types (Ec2Instance, EbsVolume, ...); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
}

/// AWS Budgets (DescribeBudgets): every budget with its limit, actual and forecasted spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AwsBudgetsArgs {
    /// Only these budgets (names as AWS has them, any case); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Only budgets over their limit or forecast to go over.
    #[serde(default, skip_serializing_if = "is_false")]
    pub at_risk_only: bool,
}

/// The accounts costbot knows by name: configured ones and the organization's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AwsAccountsArgs {}

/// A tool call's arguments, typed by tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolArgs {
    GetCostAndUsage(GetCostAndUsageArgs),
    ComparePeriods(ComparePeriodsArgs),
    ForecastMonthEnd(ForecastMonthEndArgs),
    FindAnomalies(FindAnomaliesArgs),
    SearchGuides(SearchGuidesArgs),
    AwsForecast(AwsForecastArgs),
    AwsAnomalies(AwsAnomaliesArgs),
    AwsRecommendations(AwsRecommendationsArgs),
    AwsCommitmentUsage(AwsCommitmentUsageArgs),
    AwsRightsizing(AwsRightsizingArgs),
    AwsBudgets(AwsBudgetsArgs),
    AwsAccounts(AwsAccountsArgs),
}

/// Every tool's name, in the order of [`super::definitions`].
pub const TOOL_NAMES: [&str; 12] = [
    "get_cost_and_usage",
    "compare_periods",
    "forecast_month_end",
    "find_anomalies",
    "search_guides",
    "aws_forecast",
    "aws_anomalies",
    "aws_commitment_recommendations",
    "aws_commitment_usage",
    "aws_rightsizing",
    "aws_budgets",
    "aws_accounts",
];

impl ToolArgs {
    /// Reads the arguments of the tool `name` from JSON (as a model or the planner sends them).
    pub fn parse(name: &str, arguments: &Value) -> Result<ToolArgs, ToolError> {
        fn read<T: serde::de::DeserializeOwned>(name: &str, v: &Value) -> Result<T, ToolError> {
            // A model may send no arguments at all for a tool whose arguments are all optional.
            let v = if v.is_null() {
                &Value::Object(Default::default())
            } else {
                v
            };
            serde_json::from_value(v.clone()).map_err(|e| ToolError::BadArguments {
                tool: name.to_string(),
                message: e.to_string(),
            })
        }
        Ok(match name {
            "get_cost_and_usage" => ToolArgs::GetCostAndUsage(read(name, arguments)?),
            "compare_periods" => ToolArgs::ComparePeriods(read(name, arguments)?),
            "forecast_month_end" => ToolArgs::ForecastMonthEnd(read(name, arguments)?),
            "find_anomalies" => ToolArgs::FindAnomalies(read(name, arguments)?),
            "search_guides" => ToolArgs::SearchGuides(read(name, arguments)?),
            "aws_forecast" => ToolArgs::AwsForecast(read(name, arguments)?),
            "aws_anomalies" => ToolArgs::AwsAnomalies(read(name, arguments)?),
            "aws_commitment_recommendations" => {
                ToolArgs::AwsRecommendations(read(name, arguments)?)
            }
            "aws_commitment_usage" => ToolArgs::AwsCommitmentUsage(read(name, arguments)?),
            "aws_rightsizing" => ToolArgs::AwsRightsizing(read(name, arguments)?),
            "aws_budgets" => ToolArgs::AwsBudgets(read(name, arguments)?),
            "aws_accounts" => ToolArgs::AwsAccounts(read(name, arguments)?),
            other => return Err(ToolError::UnknownTool(other.to_string())),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            ToolArgs::GetCostAndUsage(_) => TOOL_NAMES[0],
            ToolArgs::ComparePeriods(_) => TOOL_NAMES[1],
            ToolArgs::ForecastMonthEnd(_) => TOOL_NAMES[2],
            ToolArgs::FindAnomalies(_) => TOOL_NAMES[3],
            ToolArgs::SearchGuides(_) => TOOL_NAMES[4],
            ToolArgs::AwsForecast(_) => TOOL_NAMES[5],
            ToolArgs::AwsAnomalies(_) => TOOL_NAMES[6],
            ToolArgs::AwsRecommendations(_) => TOOL_NAMES[7],
            ToolArgs::AwsCommitmentUsage(_) => TOOL_NAMES[8],
            ToolArgs::AwsRightsizing(_) => TOOL_NAMES[9],
            ToolArgs::AwsBudgets(_) => TOOL_NAMES[10],
            ToolArgs::AwsAccounts(_) => TOOL_NAMES[11],
        }
    }

    /// The arguments as JSON, in the schema's shape.
    pub fn to_value(&self) -> Value {
        let v = match self {
            ToolArgs::GetCostAndUsage(a) => serde_json::to_value(a),
            ToolArgs::ComparePeriods(a) => serde_json::to_value(a),
            ToolArgs::ForecastMonthEnd(a) => serde_json::to_value(a),
            ToolArgs::FindAnomalies(a) => serde_json::to_value(a),
            ToolArgs::SearchGuides(a) => serde_json::to_value(a),
            ToolArgs::AwsForecast(a) => serde_json::to_value(a),
            ToolArgs::AwsAnomalies(a) => serde_json::to_value(a),
            ToolArgs::AwsRecommendations(a) => serde_json::to_value(a),
            ToolArgs::AwsCommitmentUsage(a) => serde_json::to_value(a),
            ToolArgs::AwsRightsizing(a) => serde_json::to_value(a),
            ToolArgs::AwsBudgets(a) => serde_json::to_value(a),
            ToolArgs::AwsAccounts(a) => serde_json::to_value(a),
        };
        v.unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn full_filter() -> FilterArgs {
        FilterArgs {
            services: vec!["EC2".into()],
            accounts: vec!["prod".into()],
            regions: vec!["us-east-1".into()],
            tags: BTreeMap::from([("team".into(), vec!["data".into()])]),
        }
    }

    fn range() -> DateRange {
        DateRange {
            start: day("2026-10-01"),
            end: day("2026-10-31"),
        }
    }

    /// Every field set, so serializing shows every name the type knows.
    fn full(name: &str) -> ToolArgs {
        match name {
            "get_cost_and_usage" => ToolArgs::GetCostAndUsage(GetCostAndUsageArgs {
                period: range(),
                group_by: vec!["SERVICE".into()],
                filter: full_filter(),
                metric: Some("UnblendedCost".into()),
                granularity: Some(Granularity::Daily),
                include_credits_refunds: true,
                top_n: Some(5),
            }),
            "compare_periods" => ToolArgs::ComparePeriods(ComparePeriodsArgs {
                current: range(),
                previous: range(),
                group_by: vec!["SERVICE".into()],
                filter: full_filter(),
                metric: Some("UnblendedCost".into()),
                include_credits_refunds: true,
                top_n: Some(5),
            }),
            "forecast_month_end" => ToolArgs::ForecastMonthEnd(ForecastMonthEndArgs {
                month: Some("2026-11".into()),
                filter: full_filter(),
                metric: Some("UnblendedCost".into()),
                include_credits_refunds: true,
            }),
            "find_anomalies" => ToolArgs::FindAnomalies(FindAnomaliesArgs {
                period: range(),
                group_by: vec!["SERVICE".into()],
                filter: full_filter(),
                metric: Some("UnblendedCost".into()),
                include_credits_refunds: true,
            }),
            "search_guides" => ToolArgs::SearchGuides(SearchGuidesArgs {
                query: "nat".into(),
                services: vec!["EC2".into()],
                k: Some(3),
            }),
            "aws_forecast" => ToolArgs::AwsForecast(AwsForecastArgs {
                period: Some(range()),
                granularity: Some(Granularity::Monthly),
                filter: full_filter(),
                metric: Some("UnblendedCost".into()),
                include_credits_refunds: true,
                prediction_interval: Some(80),
            }),
            "aws_anomalies" => ToolArgs::AwsAnomalies(AwsAnomaliesArgs {
                period: range(),
                monitor_arn: Some("arn:aws:ce::111111111111:anomalymonitor/x".into()),
                total_impact: Some(ImpactArgs {
                    operator: "BETWEEN".into(),
                    start: 100.into(),
                    end: Some(1000.into()),
                }),
            }),
            "aws_commitment_recommendations" => {
                ToolArgs::AwsRecommendations(AwsRecommendationsArgs {
                    kind: "savings_plans".into(),
                    savings_plans_type: Some("COMPUTE_SP".into()),
                    service: Some("EC2".into()),
                    term: Some("ONE_YEAR".into()),
                    payment_option: Some("NO_UPFRONT".into()),
                    lookback_days: Some(30),
                })
            }
            "aws_commitment_usage" => ToolArgs::AwsCommitmentUsage(AwsCommitmentUsageArgs {
                kind: "reserved_instances".into(),
                measure: "utilization".into(),
                period: range(),
                granularity: Some(Granularity::Monthly),
                service: Some("RDS".into()),
            }),

            "aws_rightsizing" => ToolArgs::AwsRightsizing(AwsRightsizingArgs {
                filter: full_filter(),
                recommendation_target: Some("CROSS_INSTANCE_FAMILY".into()),
                benefits_considered: Some(false),
                resource_types: vec!["Ec2Instance".into()],
            }),
            "aws_budgets" => ToolArgs::AwsBudgets(AwsBudgetsArgs {
                names: vec!["prod-monthly".into()],
                at_risk_only: true,
            }),
            "aws_accounts" => ToolArgs::AwsAccounts(AwsAccountsArgs {}),
            other => panic!("no full arguments for {other}"),
        }
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn each_args_type_matches_its_json_schema() {
        let defs = super::super::definitions();
        let defs = defs.as_array().unwrap();
        assert_eq!(defs.len(), TOOL_NAMES.len());
        for (def, name) in defs.iter().zip(TOOL_NAMES) {
            let f = &def["function"];
            assert_eq!(f["name"], name);
            let schema = &f["parameters"];
            let args = full(name);
            assert_eq!(args.name(), name);
            let value = args.to_value();
            // The same field names, no more and no fewer.
            assert_eq!(keys(&value), keys(&schema["properties"]), "{name}");
            // Nested objects too (date ranges, filters).
            for (field, sub) in value.as_object().unwrap() {
                if sub.is_object() && field != "tags" {
                    assert_eq!(
                        keys(sub),
                        keys(&schema["properties"][field]["properties"]),
                        "{name}.{field}"
                    );
                }
            }
            // What the schema requires is what the type cannot do without.
            let required: BTreeSet<String> = schema["required"]
                .as_array()
                .map(|r| r.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            for field in keys(&value) {
                let mut without = value.clone();
                without.as_object_mut().unwrap().remove(&field);
                let parsed = ToolArgs::parse(name, &without);
                assert_eq!(
                    parsed.is_err(),
                    required.contains(&field),
                    "{name}: dropping '{field}'"
                );
            }
            // A full round trip keeps everything; unknown fields are refused.
            assert_eq!(ToolArgs::parse(name, &value).unwrap(), args);
            let mut extra = value.clone();
            extra["surprise"] = Value::Bool(true);
            assert!(ToolArgs::parse(name, &extra).is_err(), "{name}");
        }
    }

    #[test]
    fn an_unknown_tool_is_named() {
        let err = ToolArgs::parse("delete_everything", &Value::Null).unwrap_err();
        assert!(err.to_string().contains("delete_everything"));
    }
}
