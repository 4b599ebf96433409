//! A tool output's compact view: the numbers a model needs to write an
//! answer, small enough to hand it (amounts as exact decimal strings, long
//! lists cut with a count of what was left out).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::ToolOutput;
use crate::costs::periods::Period;
use crate::costs::CostResult;

/// Groups and points beyond these are summarized, not listed.
const MAX_GROUPS: usize = 15;
const MAX_POINTS: usize = 62;
const MAX_ANOMALIES: usize = 10;
const GUIDE_TEXT_CHARS: usize = 300;

fn amount(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn period(p: &Period) -> Value {
    json!({ "start": p.start.to_string(), "end": p.last_day().to_string(), "label": p.label() })
}

fn key(keys: &[String]) -> String {
    keys.join(" / ")
}

fn result_view(r: &CostResult) -> Value {
    let mut v = json!({
        "period": period(&r.query.period),
        "metric": r.query.metric.as_str(),
        "credits_refunds_included": r.query.include_credits_refunds,
        "unit": r.unit,
        "total": amount(r.total()),
        "estimated": r.estimated(),
    });
    if !r.query.group_by.is_empty() {
        let groups = r.totals_by_group();
        v["group_by"] = json!(r
            .query
            .group_by
            .iter()
            .map(|d| d.label())
            .collect::<Vec<_>>());
        v["groups"] = Value::Array(
            groups
                .iter()
                .take(MAX_GROUPS)
                .map(|(k, a)| json!({ "key": key(k), "amount": amount(*a) }))
                .collect(),
        );
        if groups.len() > MAX_GROUPS {
            let rest: Decimal = groups.iter().skip(MAX_GROUPS).map(|(_, a)| *a).sum();
            v["other_groups"] =
                json!({ "count": groups.len() - MAX_GROUPS, "amount": amount(rest) });
        }
    }
    if r.buckets.len() > 1 {
        let series = r.series();
        let shown = series.len().min(MAX_POINTS);
        // The most recent points matter most.
        v["points"] = Value::Array(
            series[series.len() - shown..]
                .iter()
                .map(|(d, a)| json!([d.to_string(), amount(*a)]))
                .collect(),
        );
        if series.len() > shown {
            v["points_left_out"] = json!(series.len() - shown);
        }
    }
    v
}

impl ToolOutput {
    /// The compact view of this output, for a model's context.
    pub fn compact(&self) -> Value {
        match self {
            ToolOutput::Costs { result, top_n } => {
                let mut v = result_view(result);
                if let Some(n) = top_n {
                    v["top_n"] = json!(n);
                }
                json!({ "costs": v })
            }
            ToolOutput::Comparison {
                current,
                previous,
                movers,
                top_n,
            } => json!({ "comparison": {
                "current": { "period": period(&current.query.period), "total": amount(current.total()) },
                "previous": { "period": period(&previous.query.period), "total": amount(previous.total()) },
                "change": amount(current.total() - previous.total()),
                "unit": current.unit,
                "metric": current.query.metric.as_str(),
                "group_by": current.query.group_by.iter().map(|d| d.label()).collect::<Vec<_>>(),
                "movers": movers.iter().filter(|m| !m.change.is_zero()).take((*top_n).clamp(1, MAX_GROUPS)).map(|m| json!({
                    "key": key(&m.key), "before": amount(m.before), "after": amount(m.after), "change": amount(m.change)
                })).collect::<Vec<_>>(),
            }}),
            ToolOutput::Forecast {
                forecast: f,
                history,
                filtered,
            } => json!({ "forecast": {
                "month": f.month_start.format("%Y-%m").to_string(),
                "actual_to_date": amount(f.actual_to_date),
                "actual_through": f.actual_through.map(|d| d.to_string()),
                "forecast_total": amount(f.forecast_total),
                "low_80": amount(f.low),
                "high_80": amount(f.high),
                "budget": f.budget.map(amount),
                "budget_crossed_on": f.budget_crossed_on.map(|d| d.to_string()),
                "unit": history.unit,
                "filtered": filtered,
            }}),
            ToolOutput::Anomalies {
                anomalies,
                window,
                history,
            } => json!({ "anomalies": {
                "window": period(window),
                "unit": history.unit,
                "found": anomalies.len(),
                "items": anomalies.iter().take(MAX_ANOMALIES).map(|a| json!({
                    "key": a.key,
                    "first_day": a.first_day.to_string(),
                    "last_day": a.last_day.to_string(),
                    "peak_day": a.peak_day.to_string(),
                    "peak": amount(a.peak_amount),
                    "typical_day": amount(a.expected_daily),
                    "above_normal": amount(a.impact),
                })).collect::<Vec<_>>(),
            }}),
            ToolOutput::AwsForecast { result: r } => json!({ "aws_forecast": {
                "source_api": "GetCostForecast",
                "source": r.source,
                "period": period(&r.query.period),
                "metric": r.query.metric.as_str(),
                "unit": r.unit,
                "total": amount(r.total),
                "prediction_interval_percent": r.query.prediction_interval,
                "low": r.interval().map(|(l, _)| amount(l)),
                "high": r.interval().map(|(_, h)| amount(h)),
                "points": r.buckets.iter().take(MAX_POINTS).map(|b| json!({
                    "start": b.start.to_string(), "mean": amount(b.mean),
                    "low": b.lower.map(amount), "high": b.upper.map(amount),
                })).collect::<Vec<_>>(),
            }}),
            ToolOutput::AwsAnomalies { result: r } => json!({ "aws_anomalies": {
                "source_api": "GetAnomalies",
                "source": r.source,
                "window": { "start": r.query.start.to_string(), "end": r.query.end.to_string() },
                "found": r.anomalies.len(),
                "items": r.anomalies.iter().take(MAX_ANOMALIES).map(|a| json!({
                    "id": a.id,
                    "start": a.start.map(|d| d.to_string()),
                    "end": a.end.map(|d| d.to_string()),
                    "dimension_value": a.dimension_value,
                    "root_causes": a.root_causes.iter().map(|c| json!({
                        "service": c.service, "region": c.region, "account": c.linked_account,
                        "account_name": c.linked_account_name, "usage_type": c.usage_type,
                    })).collect::<Vec<_>>(),
                    "total_impact": amount(a.impact.total_impact),
                    "max_impact": amount(a.impact.max_impact),
                    "total_actual": a.impact.total_actual_spend.map(amount),
                    "total_expected": a.impact.total_expected_spend.map(amount),
                })).collect::<Vec<_>>(),
            }}),
            ToolOutput::AwsRecommendations { result: r } => {
                json!({ "aws_commitment_recommendation": {
                    "source_api": r.query.api(),
                    "source": r.source,
                    "kind": r.query.kind.label(),
                    "savings_plans_type": r.query.savings_plans_type,
                    "service": r.query.service,
                    "term": r.query.term,
                    "payment_option": r.query.payment_option,
                    "lookback": r.query.lookback,
                    "currency": r.currency,
                    "generated_at": r.generated_at,
                    "estimated_monthly_savings": r.summary.estimated_monthly_savings.map(amount),
                    "estimated_savings_percentage": r.summary.estimated_savings_percentage.map(amount),
                    "hourly_commitment": r.summary.hourly_commitment.map(amount),
                    "current_on_demand_spend": r.summary.current_on_demand_spend.map(amount),
                    "total_upfront": r.total_upfront().map(amount),
                    "recommendations": r.details.len(),
                    "items": r.details.iter().take(MAX_ANOMALIES).map(|d| json!({
                        "account": d.account_id, "instance_type": d.instance_type,
                        "instance_family": d.instance_family, "region": d.region, "platform": d.platform,
                        "instances": d.recommended_instances.map(amount),
                        "hourly_commitment": d.hourly_commitment.map(amount),
                        "upfront": d.upfront_cost.map(amount),
                        "monthly_savings": d.estimated_monthly_savings.map(amount),
                        "savings_percentage": d.estimated_savings_percentage.map(amount),
                        "break_even_months": d.break_even_months.map(amount),
                    })).collect::<Vec<_>>(),
                }})
            }
            ToolOutput::AwsCommitmentUsage { result: r } => {
                let figures = |f: &crate::costs::commitments::UsageFigures| {
                    json!({
                        "coverage_percentage": f.coverage_percentage.map(amount),
                        "on_demand_cost_not_covered": f.on_demand_cost.map(amount),
                        "covered_spend": f.covered_spend.map(amount),
                        "reserved_hours": f.reserved_hours.map(amount),
                        "on_demand_hours": f.on_demand_hours.map(amount),
                        "utilization_percentage": f.utilization_percentage.map(amount),
                        "total_commitment": f.total_commitment.map(amount),
                        "unused_commitment": f.unused_commitment.map(amount),
                        "purchased_hours": f.purchased_hours.map(amount),
                        "unused_hours": f.unused_hours.map(amount),
                        "unused_cost": f.unused_cost.map(amount),
                        "net_savings": f.net_savings.map(amount),
                    })
                };
                json!({ "aws_commitment_usage": {
                    "source_api": r.query.api(),
                    "source": r.source,
                    "period": period(&r.query.period),
                    "services": r.query.services,
                    "total": r.total.as_ref().map(figures),
                    "periods": r.buckets.iter().take(MAX_POINTS).map(|b| json!({
                        "start": b.start.to_string(), "figures": figures(&b.figures),
                    })).collect::<Vec<_>>(),
                }})
            }
            ToolOutput::AwsRightsizing {
                result: r,
                hub,
                hub_note,
            } => json!({ "aws_rightsizing": {
                "source_api": "GetRightsizingRecommendation",
                "source": r.source,
                "service": "AmazonEC2",
                "recommendation_target": r.query.target.as_str(),
                "benefits_considered": r.query.benefits_considered,
                "lookback": r.lookback,
                "generated": r.generated,
                "total_recommendation_count": r.summary.total_recommendation_count,
                "estimated_total_monthly_savings": r.summary.estimated_total_monthly_savings.map(amount),
                "currency": r.summary.currency,
                "savings_percentage": r.summary.savings_percentage.map(amount),
                "found": r.recommendations.len(),
                "items": r.recommendations.iter().take(MAX_ANOMALIES).map(|x| json!({
                    "account": x.account_id,
                    "instance_id": x.instance_id,
                    "instance_name": x.instance_name,
                    "region": x.region,
                    "current_type": x.current_type,
                    "action": x.action,
                    "target_type": x.target.as_ref().and_then(|t| t.instance_type.clone()),
                    "estimated_monthly_savings": x.estimated_monthly_savings.map(amount),
                    "current_monthly_cost": x.current_monthly_cost.map(amount),
                    "max_cpu_percent": x.max_cpu_percent.map(amount),
                    "max_memory_percent": x.max_memory_percent.map(amount),
                    "guide": crate::costs::rightsizing::guide_for_instance(x),
                })).collect::<Vec<_>>(),
                "optimization_hub": hub.as_ref().map(|h| json!({
                    "source_api": "ListRecommendations",
                    "source": h.source,
                    "found": h.recommendations.len(),
                    "items": h.recommendations.iter().take(MAX_ANOMALIES).map(|x| json!({
                        "account": x.account_id,
                        "resource_id": x.resource_id,
                        "resource_type": x.resource_type,
                        "action_type": x.action_type,
                        "current": x.current,
                        "recommended": x.recommended,
                        "implementation_effort": x.implementation_effort,
                        "estimated_monthly_savings": x.estimated_monthly_savings.map(amount),
                        "currency": x.currency,
                        "guide": crate::costs::rightsizing::guide_for_hub(x),
                    })).collect::<Vec<_>>(),
                })),
                "optimization_hub_note": hub_note,
            }}),
            ToolOutput::AwsBudgets {
                result: r,
                left_out,
            } => json!({ "aws_budgets": {
                "source_api": "DescribeBudgets",
                "source": r.source,
                "account_id": r.account_id,
                "free_of_charge": true,
                "left_out": left_out,
                "budgets": r.budgets.iter().take(MAX_GROUPS).map(|b| json!({
                    "name": b.name,
                    "type": b.budget_type,
                    "time_unit": b.time_unit,
                    "unit": b.unit,
                    "limit": b.limit.map(amount),
                    "actual": b.actual.map(amount),
                    "forecasted": b.forecasted.map(amount),
                    "standing": b.standing(),
                })).collect::<Vec<_>>(),
                "more_budgets": r.budgets.len().saturating_sub(MAX_GROUPS),
            }}),
            ToolOutput::AwsAccounts { accounts, listed } => json!({ "aws_accounts": {
                "source_api": listed.as_ref().map(|_| "ListAccounts"),
                "accounts": accounts.iter().take(MAX_POINTS).collect::<Vec<_>>(),
                "more_accounts": accounts.len().saturating_sub(MAX_POINTS),
            }}),
            ToolOutput::Guides { hits } => json!({ "guides": hits.iter().map(|h| json!({
                "guide": h.guide,
                "title": h.title,
                "section": h.section,
                "text": h.text.chars().take(GUIDE_TEXT_CHARS).collect::<String>(),
                "source_url": h.source_url,
                "typical_savings": h.typical_savings,
            })).collect::<Vec<_>>() }),
        }
    }
}
