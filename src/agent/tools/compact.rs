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
