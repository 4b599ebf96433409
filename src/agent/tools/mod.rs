//! The tools the Agent (and later an LLM) can call. Read-only: none of them
//! changes anything in AWS. Each has a JSON Schema for its arguments and one
//! argument type ([`args`]) that matches it.

pub mod args;
mod commitments;
pub mod compact;

pub use args::{
    AwsAccountsArgs, AwsAnomaliesArgs, AwsBudgetsArgs, AwsCommitmentUsageArgs, AwsForecastArgs,
    AwsRecommendationsArgs, AwsRightsizingArgs, ComparePeriodsArgs, DateRange, FilterArgs,
    FindAnomaliesArgs, ForecastMonthEndArgs, GetCostAndUsageArgs, ImpactArgs, SearchGuidesArgs,
    ToolArgs, TOOL_NAMES,
};

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::costs::analysis::{self, Anomaly, AnomalySettings, Forecast, Mover};
use crate::costs::budgets::BudgetStanding;
use crate::costs::insights::ImpactFilter;
use crate::costs::periods::{add_months, month_start, Period};
use crate::costs::rightsizing::RecommendationTarget;
use crate::costs::{
    AccountList, AnomalyQuery, AnomalyResult, BudgetQuery, BudgetResult, CostError, CostFilter,
    CostQuery, CostResult, CostSource, Dimension, ForecastQuery, ForecastResult, Granularity,
    HubQuery, HubResult, Metric, RightsizingQuery, RightsizingResult, TagFilter,
};
use crate::language::services::{self, UnknownService};
use crate::retrieval::{Hit, RetrievalError, Retriever};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Cost(#[from] CostError),
    #[error(transparent)]
    UnknownService(#[from] UnknownService),
    #[error("'{given}' is not an account I know; known accounts: {}", known.join(", "))]
    UnknownAccount { given: String, known: Vec<String> },
    #[error("the arguments for {tool} are not valid: {message}")]
    BadArguments { tool: String, message: String },
    #[error("there is no tool named '{0}'")]
    UnknownTool(String),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
}

#[derive(Debug, Clone)]
pub enum ToolOutput {
    Costs {
        result: CostResult,
        top_n: Option<usize>,
    },
    Comparison {
        current: CostResult,
        previous: CostResult,
        movers: Vec<Mover>,
        top_n: usize,
    },
    Forecast {
        forecast: Forecast,
        history: CostResult,
        filtered: bool,
    },
    Anomalies {
        anomalies: Vec<Anomaly>,
        window: Period,
        history: CostResult,
    },
    Guides {
        hits: Vec<Hit>,
    },
    /// AWS Cost Explorer's own forecast.
    AwsForecast {
        result: ForecastResult,
    },
    /// Cost Anomaly Detection's findings.
    AwsAnomalies {
        result: AnomalyResult,
    },
    /// AWS's Savings Plans or Reserved Instance purchase recommendation.
    AwsRecommendations {
        result: crate::costs::commitments::RecommendationResult,
    },
    /// Coverage or utilization of Savings Plans or reservations.
    AwsCommitmentUsage {
        result: crate::costs::commitments::UsageResult,
    },
    /// Cost Explorer's rightsizing recommendations, with Cost Optimization
    /// Hub's where it is read; `hub_note` says why the hub's are missing.
    AwsRightsizing {
        result: RightsizingResult,
        hub: Option<HubResult>,
        hub_note: Option<String>,
    },
    /// AWS Budgets (DescribeBudgets), `result.budgets` narrowed as asked.
    AwsBudgets {
        result: BudgetResult,
        /// Budgets left out by the arguments (names, at-risk only).
        left_out: usize,
    },
    /// Accounts known by name, each with where the name comes from.
    AwsAccounts {
        accounts: Vec<NamedAccount>,
        /// Set when Organizations was asked during this call.
        listed: Option<AccountList>,
    },
}

/// An account name costbot resolves, and where the name comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedAccount {
    pub name: String,
    pub id: String,
    /// "costbot.toml", "Organizations" or "sample".
    pub from: &'static str,
}

impl ToolOutput {
    /// The Cost Explorer results behind this output.
    pub fn results(&self) -> Vec<&CostResult> {
        match self {
            ToolOutput::Costs { result, .. } => vec![result],
            ToolOutput::Comparison {
                current, previous, ..
            } => vec![current, previous],
            ToolOutput::Forecast { history, .. } | ToolOutput::Anomalies { history, .. } => {
                vec![history]
            }
            ToolOutput::Guides { .. }
            | ToolOutput::AwsForecast { .. }
            | ToolOutput::AwsAnomalies { .. }
            | ToolOutput::AwsRecommendations { .. }
            | ToolOutput::AwsCommitmentUsage { .. }
            | ToolOutput::AwsRightsizing { .. }
            | ToolOutput::AwsBudgets { .. }
            | ToolOutput::AwsAccounts { .. } => vec![],
        }
    }
}

impl ToolOutput {
    /// The queries behind this output, for "how did you get that?": cost
    /// queries as they are, AWS's own analyses as `{ "api", "query" }`.
    pub fn queries(&self) -> Vec<Value> {
        match self {
            ToolOutput::AwsForecast { result } => {
                vec![json!({ "api": "GetCostForecast", "query": result.query })]
            }
            ToolOutput::AwsAnomalies { result } => {
                vec![json!({ "api": "GetAnomalies", "query": result.query })]
            }
            ToolOutput::AwsRecommendations { result } => {
                vec![json!({ "api": result.query.api(), "query": result.query })]
            }
            ToolOutput::AwsCommitmentUsage { result } => {
                vec![json!({ "api": result.query.api(), "query": result.query })]
            }
            ToolOutput::AwsRightsizing { result, hub, .. } => {
                let mut v = vec![json!({
                    "api": "GetRightsizingRecommendation",
                    "query": result.query,
                    "requests": result.requests,
                })];
                if let Some(h) = hub {
                    v.push(json!({
                        "api": "Cost Optimization Hub ListRecommendations",
                        "query": h.query,
                        "requests": h.requests,
                    }));
                }
                v
            }
            // Free APIs: their requests are listed, not billed.
            ToolOutput::AwsBudgets { result, .. } => vec![json!({
                "api": "DescribeBudgets",
                "query": { "account_id": result.account_id, "max_results": result.query.max_results },
                "free_requests": result.requests,
            })],
            ToolOutput::AwsAccounts { listed, .. } => listed
                .iter()
                .map(|l| json!({ "api": "ListAccounts", "query": l.query, "free_requests": l.requests }))
                .collect(),
            other => other
                .results()
                .iter()
                .map(|r| serde_json::to_value(&r.query).unwrap_or_default())
                .collect(),
        }
    }

    /// Billable Cost Explorer requests this output took (0 when cached or sample).
    pub fn requests(&self) -> u32 {
        match self {
            ToolOutput::AwsForecast { result } => result.requests,
            ToolOutput::AwsAnomalies { result } => result.requests,
            ToolOutput::AwsRecommendations { result } => result.requests,
            ToolOutput::AwsCommitmentUsage { result } => result.requests,
            // Cost Optimization Hub charges nothing per request: its pages are
            // named with the query ("how did you get that?"), not billed here.
            ToolOutput::AwsRightsizing { result, .. } => result.requests,
            // Budgets and Organizations are free of charge.
            ToolOutput::AwsBudgets { .. } | ToolOutput::AwsAccounts { .. } => 0,
            other => other.results().iter().map(|r| r.requests).sum(),
        }
    }
}

/// Tool definitions in the OpenAI function-calling shape.
pub fn definitions() -> Value {
    let range = json!({
        "type": "object",
        "properties": {
            "start": { "type": "string", "format": "date", "description": "First day, YYYY-MM-DD" },
            "end": { "type": "string", "format": "date", "description": "Last day, inclusive, YYYY-MM-DD" }
        },
        "required": ["start", "end"],
        "additionalProperties": false
    });
    let filter = json!({
        "type": "object",
        "properties": {
            "services": { "type": "array", "items": { "type": "string" }, "description": "Services as people say them (EC2, S3, NAT gateway) or Cost Explorer SERVICE names" },
            "accounts": { "type": "array", "items": { "type": "string" }, "description": "Account names or 12-digit ids" },
            "regions": { "type": "array", "items": { "type": "string" } },
            "tags": { "type": "object", "additionalProperties": { "type": "array", "items": { "type": "string" } }, "description": "Tag key to accepted values" }
        },
        "additionalProperties": false
    });
    let group_by = json!({
        "type": "array", "maxItems": 2,
        "items": { "type": "string", "pattern": "^(SERVICE|LINKED_ACCOUNT|REGION|USAGE_TYPE|INSTANCE_TYPE|TAG:.+)$" },
        "description": "Up to two of SERVICE, LINKED_ACCOUNT, REGION, USAGE_TYPE, INSTANCE_TYPE, TAG:<key>"
    });
    let metric = json!({ "type": "string", "enum": ["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"], "default": "UnblendedCost" });
    let credits = json!({ "type": "boolean", "default": false, "description": "Include credits and refunds (excluded by default)" });
    json!([
        { "type": "function", "function": {
            "name": "get_cost_and_usage",
            "description": "Cost for a period from AWS Cost Explorer, optionally grouped and filtered.",
            "parameters": { "type": "object", "properties": {
                "period": range, "group_by": group_by, "filter": filter, "metric": metric,
                "granularity": { "type": "string", "enum": ["DAILY", "MONTHLY"], "default": "MONTHLY" },
                "include_credits_refunds": credits,
                "top_n": { "type": "integer", "minimum": 1, "maximum": 50 }
            }, "required": ["period"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "compare_periods",
            "description": "Compare two periods and list the groups that moved most.",
            "parameters": { "type": "object", "properties": {
                "current": range, "previous": range, "group_by": group_by, "filter": filter, "metric": metric,
                "include_credits_refunds": credits,
                "top_n": { "type": "integer", "minimum": 1, "maximum": 50, "default": 5 }
            }, "required": ["current", "previous"], "additionalProperties": false }
        }},
        // `[0-9]`, not `\d`: llama.cpp turns schemas into grammars and skips patterns with `\d`.
        { "type": "function", "function": {
            "name": "forecast_month_end",
            "description": "Forecast the current month's total from recent daily spend (trend and day-of-week), against the configured budget.",
            "parameters": { "type": "object", "properties": {
                "month": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" }, "filter": filter, "metric": metric, "include_credits_refunds": credits
            }, "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "find_anomalies",
            "description": "Find unusual daily spikes in a period, per group, with their size in dollars.",
            "parameters": { "type": "object", "properties": {
                "period": range, "group_by": group_by, "filter": filter, "metric": metric, "include_credits_refunds": credits
            }, "required": ["period"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "search_guides",
            "description": "Search costbot's optimization guides; returns passages with title, section and source link.",
            "parameters": { "type": "object", "properties": {
                "query": { "type": "string" },
                "services": { "type": "array", "items": { "type": "string" } },
                "k": { "type": "integer", "minimum": 1, "maximum": 10, "default": 3 }
            }, "required": ["query"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_forecast",
            "description": "AWS Cost Explorer's own forecast (GetCostForecast) from today on, with its prediction interval; the rest of this month by default. Not costbot's projection (forecast_month_end).",
            "parameters": { "type": "object", "properties": {
                "period": range, "filter": filter, "metric": metric, "include_credits_refunds": credits,
                "granularity": { "type": "string", "enum": ["DAILY", "MONTHLY"], "default": "MONTHLY" },
                "prediction_interval": { "type": "integer", "minimum": 51, "maximum": 99, "default": 80, "description": "Percent" }
            }, "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_anomalies",
            "description": "Anomalies AWS Cost Anomaly Detection found in a period (GetAnomalies), with root causes (service, region, account, usage type) and impact. Not costbot's own spike search (find_anomalies).",
            "parameters": { "type": "object", "properties": {
                "period": range,
                "monitor_arn": { "type": "string", "description": "Only this anomaly monitor's findings" },
                "total_impact": { "type": "object", "properties": {
                    "operator": { "type": "string", "enum": ["EQUAL", "GREATER_THAN_OR_EQUAL", "LESS_THAN_OR_EQUAL", "GREATER_THAN", "LESS_THAN", "BETWEEN"] },
                    "start": { "type": "number", "description": "Dollars" },
                    "end": { "type": "number", "description": "Dollars; only with BETWEEN" }
                }, "required": ["operator", "start"], "additionalProperties": false }
            }, "required": ["period"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_commitment_recommendations",
            "description": "What AWS recommends buying: a Savings Plans purchase recommendation (GetSavingsPlansPurchaseRecommendation: hourly commitment, upfront cost, estimated monthly savings and savings percentage) or a Reserved Instance one for a service (GetReservationPurchaseRecommendation: instances to buy, upfront, monthly savings, break-even). Defaults: 1 year, no upfront, last 30 days.",
            "parameters": { "type": "object", "properties": {
                "kind": { "type": "string", "enum": ["savings_plans", "reserved_instances"] },
                "savings_plans_type": { "type": "string", "enum": ["COMPUTE_SP", "EC2_INSTANCE_SP", "SAGEMAKER_SP", "DATABASE_SP"], "default": "COMPUTE_SP", "description": "Savings Plans only" },
                "service": { "type": "string", "description": "Reserved Instances only: EC2, RDS, ElastiCache, Redshift, OpenSearch or MemoryDB (EC2 by default)" },
                "term": { "type": "string", "enum": ["ONE_YEAR", "THREE_YEARS"], "default": "ONE_YEAR" },
                "payment_option": { "type": "string", "enum": ["NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT"], "default": "NO_UPFRONT" },
                "lookback_days": { "type": "integer", "enum": [7, 30, 60], "default": 30, "description": "Days of usage the recommendation is based on" }
            }, "required": ["kind"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_commitment_usage",
            "description": "How well commitments cover and are used, per period: coverage (share of eligible usage covered; on-demand cost not covered) or utilization (share of the commitment used; unused commitment; net savings) of Savings Plans (GetSavingsPlansCoverage / GetSavingsPlansUtilization) or reservations (GetReservationCoverage / GetReservationUtilization).",
            "parameters": { "type": "object", "properties": {
                "kind": { "type": "string", "enum": ["savings_plans", "reserved_instances"] },
                "measure": { "type": "string", "enum": ["coverage", "utilization"] },
                "period": range,
                "granularity": { "type": "string", "enum": ["DAILY", "MONTHLY"], "default": "MONTHLY" },
                "service": { "type": "string", "description": "One service as people say it (EC2 by default for reservations; not for Savings Plans utilization)" }
            }, "required": ["kind", "measure", "period"], "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_rightsizing",
            "description": "AWS's own rightsizing recommendations: Cost Explorer GetRightsizingRecommendation for EC2 (idle instances to terminate, oversized ones to downsize, each with AWS's estimated monthly savings), plus Cost Optimization Hub's recommendations for every resource type (EBS, Lambda, RDS, ...) where costbot reads it. Only accounts and regions in the filter apply.",
            "parameters": { "type": "object", "properties": {
                "filter": filter,
                "recommendation_target": { "type": "string", "enum": ["SAME_INSTANCE_FAMILY", "CROSS_INSTANCE_FAMILY"], "default": "SAME_INSTANCE_FAMILY", "description": "Resize within the instance family, or also to other families (e.g. Graviton)" },
                "benefits_considered": { "type": "boolean", "default": true, "description": "Count Reserved Instance and Savings Plans discounts in the savings" },
                "resource_types": { "type": "array", "items": { "type": "string", "enum": ["Ec2Instance", "LambdaFunction", "EbsVolume", "EcsService", "Ec2AutoScalingGroup", "RdsDbInstance", "RdsDbInstanceStorage", "AuroraDbClusterStorage", "NatGateway", "Ec2InstanceSavingsPlans", "ComputeSavingsPlans", "Ec2ReservedInstances", "RdsReservedInstances"] }, "description": "Cost Optimization Hub resource types; all when absent" }
            }, "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_budgets",
            "description": "The budgets set in AWS Budgets (DescribeBudgets): each budget's limit, actual and forecasted spend for its current period, time unit and type. Not the monthly budget in costbot's config (forecast_month_end compares that).",
            "parameters": { "type": "object", "properties": {
                "names": { "type": "array", "items": { "type": "string" }, "description": "Only these budgets, by name" },
                "at_risk_only": { "type": "boolean", "default": false, "description": "Only budgets over their limit or forecast to go over" }
            }, "additionalProperties": false }
        }},
        { "type": "function", "function": {
            "name": "aws_accounts",
            "description": "The AWS accounts costbot knows by name: configured in costbot.toml, and the organization's (Organizations ListAccounts, cached for a day). Configured names win.",
            "parameters": { "type": "object", "properties": {}, "additionalProperties": false }
        }}
    ])
}

pub struct Tools {
    pub source: Arc<dyn CostSource>,
    pub retriever: Arc<dyn Retriever>,
    pub budget: Option<Decimal>,
    /// Configured accounts that have their own connection.
    pub connections: Vec<String>,
}

/// The shared part of the cost tools' arguments.
struct CostBase<'a> {
    group_by: &'a [String],
    filter: &'a FilterArgs,
    metric: Option<&'a str>,
    include_credits_refunds: bool,
}

impl Tools {
    /// Runs a tool by name with JSON arguments (as a planner or model sends them).
    pub async fn call(
        &self,
        name: &str,
        arguments: &Value,
        today: NaiveDate,
    ) -> Result<ToolOutput, ToolError> {
        self.run(&ToolArgs::parse(name, arguments)?, today).await
    }

    /// Runs a tool with typed arguments.
    pub async fn run(&self, args: &ToolArgs, today: NaiveDate) -> Result<ToolOutput, ToolError> {
        let name = args.name();
        let bad = |message: String| ToolError::BadArguments {
            tool: name.to_string(),
            message,
        };
        let period = |r: &DateRange, field: &str| -> Result<Period, ToolError> {
            if r.end < r.start {
                return Err(bad(format!("'{field}' ends before it starts")));
            }
            if r.start > today {
                return Err(bad(format!(
                    "'{field}' starts in the future; there is no cost data for it yet"
                )));
            }
            // Cost Explorer's End is exclusive; never ask past tomorrow.
            Ok(Period::inclusive(r.start, r.end.min(today)))
        };
        match args {
            ToolArgs::SearchGuides(a) => {
                let hits = self
                    .retriever
                    .search(&a.query, &a.services, a.k.unwrap_or(3).clamp(1, 10))
                    .await?;
                Ok(ToolOutput::Guides { hits })
            }
            ToolArgs::GetCostAndUsage(a) => {
                let mut q = self.base_query(
                    name,
                    today,
                    CostBase {
                        group_by: &a.group_by,
                        filter: &a.filter,
                        metric: a.metric.as_deref(),
                        include_credits_refunds: a.include_credits_refunds,
                    },
                )?;
                q.period = period(&a.period, "period")?;
                q.granularity = a.granularity.unwrap_or(Granularity::Monthly);
                let result = self.source.cost_and_usage(&q).await?;
                Ok(ToolOutput::Costs {
                    result,
                    top_n: a.top_n,
                })
            }
            ToolArgs::ComparePeriods(a) => {
                let base = self.base_query(
                    name,
                    today,
                    CostBase {
                        group_by: &a.group_by,
                        filter: &a.filter,
                        metric: a.metric.as_deref(),
                        include_credits_refunds: a.include_credits_refunds,
                    },
                )?;
                let mut cur = base.clone();
                cur.period = period(&a.current, "current")?;
                cur.granularity = Granularity::Monthly;
                let mut prev = base;
                prev.period = period(&a.previous, "previous")?;
                prev.granularity = Granularity::Monthly;
                let previous = self.source.cost_and_usage(&prev).await?;
                let current = self.source.cost_and_usage(&cur).await?;
                let movers = analysis::movers(&previous, &current);
                Ok(ToolOutput::Comparison {
                    current,
                    previous,
                    movers,
                    top_n: a.top_n.unwrap_or(5),
                })
            }
            ToolArgs::ForecastMonthEnd(a) => {
                let this_month = month_start(today);
                if let Some(m) = &a.month {
                    if *m != this_month.format("%Y-%m").to_string() {
                        return Err(bad(format!(
                            "only the current month ({}) can be forecast",
                            this_month.format("%Y-%m")
                        )));
                    }
                }
                let mut q = self.base_query(
                    name,
                    today,
                    CostBase {
                        group_by: &[],
                        filter: &a.filter,
                        metric: a.metric.as_deref(),
                        include_credits_refunds: a.include_credits_refunds,
                    },
                )?;
                q.granularity = Granularity::Daily;
                // Eight weeks of complete days: enough for a trend and the weekly rhythm.
                q.period = Period::new((today - Duration::days(56)).min(this_month), today);
                if q.period.start >= q.period.end {
                    q.period = Period::day(today);
                }
                // The budget is for the default connection's whole bill.
                let filtered = !q.filter.is_empty() || q.connection.is_some();
                let history = self.source.cost_and_usage(&q).await?;
                let budget = if filtered { None } else { self.budget };
                let forecast = analysis::forecast_month(&history.series(), today, budget);
                debug_assert!(add_months(this_month, 1) > today);
                Ok(ToolOutput::Forecast {
                    forecast,
                    history,
                    filtered,
                })
            }
            ToolArgs::AwsForecast(a) => {
                let q = self.base_query(
                    name,
                    today,
                    CostBase {
                        group_by: &[],
                        filter: &a.filter,
                        metric: a.metric.as_deref(),
                        include_credits_refunds: a.include_credits_refunds,
                    },
                )?;
                let forecast_period = match &a.period {
                    None => Period::new(today, add_months(month_start(today), 1)),
                    Some(r) if r.end < r.start => {
                        return Err(bad("'period' ends before it starts".into()))
                    }
                    // AWS forecasts no past day: the part from today on.
                    Some(r) if r.end < today => {
                        return Err(bad("AWS forecasts only days from today on; ask get_cost_and_usage for past days".into()))
                    }
                    Some(r) => Period::inclusive(r.start.max(today), r.end),
                };
                let mut fq = ForecastQuery::new(forecast_period);
                fq.granularity = a.granularity.unwrap_or(Granularity::Monthly);
                fq.metric = q.metric;
                fq.filter = q.filter;
                fq.include_credits_refunds = q.include_credits_refunds;
                fq.connection = q.connection;
                fq.prediction_interval = a.prediction_interval.unwrap_or(80);
                let result = self.source.forecast(&fq).await?;
                Ok(ToolOutput::AwsForecast { result })
            }
            ToolArgs::AwsAnomalies(a) => {
                let window = period(&a.period, "period")?;
                let number = |n: &serde_json::Number| -> Result<Decimal, ToolError> {
                    let t = n.to_string();
                    t.parse::<Decimal>()
                        .or_else(|_| Decimal::from_scientific(&t))
                        .map_err(|_| bad(format!("'{t}' is not an amount")))
                };
                let total_impact = match &a.total_impact {
                    None => None,
                    Some(i) => Some(ImpactFilter {
                        operator: i.operator.clone(),
                        start: number(&i.start)?,
                        end: i.end.as_ref().map(number).transpose()?,
                    }),
                };
                let q = AnomalyQuery {
                    start: window.start,
                    end: window.last_day(),
                    monitor_arn: a.monitor_arn.clone(),
                    total_impact,
                    connection: None,
                };
                let result = self.source.anomalies(&q).await?;
                Ok(ToolOutput::AwsAnomalies { result })
            }
            ToolArgs::AwsRecommendations(a) => self.recommendations(a).await,
            ToolArgs::AwsCommitmentUsage(a) => {
                let window = period(&a.period, "period")?;
                self.commitment_usage(a, window).await
            }
            ToolArgs::AwsRightsizing(a) => self.rightsizing(a, today, name).await,
            ToolArgs::AwsBudgets(a) => {
                let mut result = self.source.budgets(&BudgetQuery::default()).await?;
                let before = result.budgets.len();
                result.budgets.retain(|b| {
                    (a.names.is_empty() || a.names.iter().any(|n| n.eq_ignore_ascii_case(&b.name)))
                        && (!a.at_risk_only
                            || matches!(
                                b.standing(),
                                BudgetStanding::Over | BudgetStanding::ForecastOver
                            ))
                });
                if !a.names.is_empty() && result.budgets.is_empty() && !a.at_risk_only {
                    return Err(bad(format!(
                        "no AWS budget is named {}",
                        a.names.join(" or ")
                    )));
                }
                let left_out = before - result.budgets.len();
                Ok(ToolOutput::AwsBudgets { result, left_out })
            }
            ToolArgs::AwsAccounts(AwsAccountsArgs {}) => {
                let listed = self.source.refresh_accounts().await;
                let org = self.source.organization_account_names();
                let sample = self.source.is_sample();
                let accounts = self
                    .source
                    .known_accounts()
                    .into_iter()
                    .map(|(name, id)| {
                        let from = if sample {
                            "sample"
                        } else if org.iter().any(|o| o.id == id && o.name == name) {
                            "Organizations"
                        } else {
                            "costbot.toml"
                        };
                        NamedAccount { name, id, from }
                    })
                    .collect();
                Ok(ToolOutput::AwsAccounts { accounts, listed })
            }
            ToolArgs::FindAnomalies(a) => {
                let window = period(&a.period, "period")?;
                let settings = AnomalySettings::default();
                let mut q = self.base_query(
                    name,
                    today,
                    CostBase {
                        group_by: &a.group_by,
                        filter: &a.filter,
                        metric: a.metric.as_deref(),
                        include_credits_refunds: a.include_credits_refunds,
                    },
                )?;
                if q.group_by.is_empty() {
                    q.group_by = vec![Dimension::Service];
                }
                q.granularity = Granularity::Daily;
                q.period = Period::new(
                    window.start - Duration::days(settings.baseline_days as i64),
                    window.end,
                );
                let history = self.source.cost_and_usage(&q).await?;
                let found = analysis::anomalies(
                    &history.series_by_group(),
                    (window.start, window.last_day()),
                    settings,
                );
                Ok(ToolOutput::Anomalies {
                    anomalies: found,
                    window,
                    history,
                })
            }
        }
    }

    /// GetRightsizingRecommendation, then Cost Optimization Hub where it is
    /// read: the hub failing (not enabled, no permission) is a note, not a failure.
    async fn rightsizing(
        &self,
        a: &AwsRightsizingArgs,
        today: NaiveDate,
        tool: &str,
    ) -> Result<ToolOutput, ToolError> {
        let bad = |message: String| ToolError::BadArguments {
            tool: tool.to_string(),
            message,
        };
        if !a.filter.tags.is_empty() {
            return Err(bad(
                "rightsizing recommendations cannot be narrowed by tag; ask by account or region"
                    .into(),
            ));
        }
        // Services do not narrow EC2 rightsizing; accounts and regions do.
        let scope = FilterArgs {
            accounts: a.filter.accounts.clone(),
            regions: a.filter.regions.clone(),
            ..Default::default()
        };
        let mut q = CostQuery::new(Period::day(today));
        self.apply_filter(&scope, &mut q)?;
        let target = match &a.recommendation_target {
            None => RecommendationTarget::default(),
            Some(t) => RecommendationTarget::parse(t).ok_or_else(|| {
                bad(format!(
                    "'{t}' is not SAME_INSTANCE_FAMILY or CROSS_INSTANCE_FAMILY"
                ))
            })?,
        };
        let rq = RightsizingQuery {
            accounts: q.filter.accounts.clone(),
            regions: q.filter.regions.clone(),
            target,
            benefits_considered: a.benefits_considered.unwrap_or(true),
            connection: q.connection.clone(),
        };
        let result = self.source.rightsizing(&rq).await?;
        let (mut hub, mut hub_note) = (None, None);
        if self.source.reads_optimization_hub() {
            let hq = HubQuery {
                accounts: rq.accounts.clone(),
                regions: rq.regions.clone(),
                resource_types: a.resource_types.clone(),
                connection: rq.connection.clone(),
            };
            match self.source.hub_recommendations(&hq).await {
                Ok(h) => hub = Some(h),
                Err(e) => {
                    let why = match e {
                        // The shared sentence names Cost Explorer; this was the hub.
                        CostError::Throttled => {
                            "Cost Optimization Hub is throttling requests; try again in a minute"
                                .to_string()
                        }
                        other => other.to_string(),
                    };
                    hub_note = Some(format!(
                        "Cost Optimization Hub's recommendations could not be shown: {why}."
                    ))
                }
            }
        }
        Ok(ToolOutput::AwsRightsizing {
            result,
            hub,
            hub_note,
        })
    }

    /// A query with the metric, credits, grouping and filter the arguments ask for.
    fn base_query(
        &self,
        tool: &str,
        today: NaiveDate,
        a: CostBase<'_>,
    ) -> Result<CostQuery, ToolError> {
        let bad = |message: String| ToolError::BadArguments {
            tool: tool.to_string(),
            message,
        };
        let mut q = CostQuery::new(Period::day(today));
        q.metric = match a.metric {
            Some(m) => Metric::parse(m).ok_or_else(|| bad(format!("unknown metric '{m}'")))?,
            None => Metric::UnblendedCost,
        };
        q.include_credits_refunds = a.include_credits_refunds;
        self.apply_filter(a.filter, &mut q)?;
        q.group_by = a
            .group_by
            .iter()
            .map(|g| parse_dimension(g).ok_or_else(|| bad(format!("cannot group by '{g}'"))))
            .collect::<Result<_, _>>()?;
        if q.group_by.len() > 2 {
            return Err(bad("group_by takes at most two dimensions".into()));
        }
        Ok(q)
    }

    fn apply_filter(&self, f: &FilterArgs, q: &mut CostQuery) -> Result<(), ToolError> {
        let mut filter = CostFilter::default();
        for s in &f.services {
            let m = services::resolve(s)?;
            for svc in m.services {
                if !filter.services.contains(&svc) {
                    filter.services.push(svc);
                }
            }
            filter.usage_type_contains.extend(m.usage_type_contains);
        }
        let known = self.source.known_accounts();
        for a in &f.accounts {
            if self.connections.iter().any(|c| c.eq_ignore_ascii_case(a)) {
                q.connection = Some(a.clone());
                continue;
            }
            if a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()) {
                filter.accounts.push(a.clone());
                continue;
            }
            match known.iter().find(|(n, _)| n.eq_ignore_ascii_case(a)) {
                Some((_, id)) => filter.accounts.push(id.clone()),
                None => {
                    return Err(ToolError::UnknownAccount {
                        given: a.clone(),
                        known: known
                            .iter()
                            .map(|(n, _)| n.clone())
                            .chain(self.connections.iter().cloned())
                            .collect(),
                    })
                }
            }
        }
        filter.regions = f.regions.clone();
        filter.tags = f
            .tags
            .iter()
            .map(|(k, v)| TagFilter {
                key: k.clone(),
                values: v.clone(),
            })
            .collect();
        q.filter = filter;
        Ok(())
    }
}

pub fn parse_dimension(s: &str) -> Option<Dimension> {
    let t = s.trim();
    if let Some(k) = t.strip_prefix("TAG:").or_else(|| t.strip_prefix("tag:")) {
        return (!k.is_empty()).then(|| Dimension::Tag(k.to_string()));
    }
    match t.to_ascii_uppercase().as_str() {
        "SERVICE" => Some(Dimension::Service),
        "LINKED_ACCOUNT" => Some(Dimension::LinkedAccount),
        "REGION" => Some(Dimension::Region),
        "USAGE_TYPE" => Some(Dimension::UsageType),
        "INSTANCE_TYPE" => Some(Dimension::InstanceType),
        _ => Dimension::parse(t),
    }
}
