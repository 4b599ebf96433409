//! Composes AWS's own analyses (GetCostForecast, GetAnomalies) into an
//! answer, beside costbot's own projection and spike search when those ran
//! too: each part says which method made it.

use super::answer::{Answer, Basis, Cell, Table};
use super::compose::Labels;
use crate::costs::insights::{AnomalyResult, AwsAnomaly, ForecastResult};
use crate::costs::money::format;
use crate::costs::periods::Period;

fn append(a: &mut Answer, text: String) {
    if a.summary.is_empty() {
        a.summary = text;
    } else {
        a.summary = format!("{} {text}", a.summary);
    }
}

/// Adds `api` to a basis another tool already set, or sets one. `metric`
/// is what was measured, or the terms of a recommendation.
pub(super) fn basis(
    a: &mut Answer,
    api: &str,
    period: Period,
    metric: &str,
    sample: bool,
    cached: bool,
) {
    match &mut a.basis {
        Some(b) => {
            b.source = format!("{}; {api} for {}", b.source, period.label());
            b.cached &= cached;
        }
        None => {
            a.basis = Some(Basis {
                period: period.label(),
                start: period.start,
                end_inclusive: period.last_day(),
                compared_with: None,
                metric: metric.to_string(),
                credits_refunds_excluded: false,
                // AWS's forecast is of cost as billed; the rest has no credits.
                credits_apply: api.starts_with("GetCostForecast"),
                source: if sample {
                    format!("sample data (standing in for AWS {api})")
                } else {
                    format!("AWS {api}")
                },
                sample_data: sample,
                estimated: false,
                cached,
            })
        }
    }
}

pub fn forecast(r: &ForecastResult, what: &str, beside_own: bool, sample: bool, a: &mut Answer) {
    let unit = &r.unit;
    let p = r.query.period;
    let pi = r.query.prediction_interval;
    let label = if sample {
        "The sample organization's stand-in for AWS Cost Explorer's forecast"
    } else {
        "AWS Cost Explorer forecast"
    };
    let range = match r.interval() {
        Some((lo, hi)) => format!(
            ", {pi}% prediction interval {}–{}",
            format(lo, unit),
            format(hi, unit)
        ),
        None => String::new(),
    };
    // "AWS" alone is the whole bill: "forecast for AWS" would read oddly.
    let scope = if what == "AWS" {
        String::new()
    } else {
        format!(" for {what}")
    };
    append(
        a,
        format!(
            "{label}{scope}, {}: {}{range}.",
            p.label(),
            format(r.total, unit)
        ),
    );
    a.figure(format!("AWS forecast {}", p.label()), r.total, unit);
    if let Some((lo, hi)) = r.interval() {
        a.figure(format!("AWS forecast low ({pi}%)"), lo, unit);
        a.figure(format!("AWS forecast high ({pi}%)"), hi, unit);
    }
    a.details.push(format!(
        "AWS's forecast: Cost Explorer GetCostForecast for {} ({}, {pi}% prediction interval), AWS's own model; it covers today onwards only{}.",
        p.label(),
        r.query.metric.label(),
        if beside_own { ", so it is not the same figure as costbot's month-end projection, which adds the month to date" } else { "" }
    ));
    basis(
        a,
        "GetCostForecast",
        p,
        r.query.metric.label(),
        sample,
        r.cached,
    );
}

fn cause(x: &AwsAnomaly, labels: &Labels) -> String {
    let Some(c) = x.root_causes.first() else {
        return "(no root cause given)".into();
    };
    let account = match (&c.linked_account, &c.linked_account_name) {
        (Some(id), Some(name)) => Some(format!("{name} ({id})")),
        (Some(id), None) => Some(
            labels
                .accounts
                .iter()
                .find(|(_, i)| i == id)
                .map(|(n, _)| format!("{n} ({id})"))
                .unwrap_or_else(|| id.clone()),
        ),
        (None, name) => name.clone(),
    };
    let parts: Vec<String> = [
        c.service.clone(),
        account,
        c.region.clone(),
        c.usage_type.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let more = x.root_causes.len().saturating_sub(1);
    let mut s = parts.join(" · ");
    if more > 0 {
        s.push_str(&format!(" (and {more} more)"));
    }
    s
}

fn days(x: &AwsAnomaly) -> String {
    match (x.start, x.end) {
        (Some(s), Some(e)) if e >= s => Period::inclusive(s, e).label(),
        (Some(s), _) => format!("from {}", Period::day(s).label()),
        _ => "–".into(),
    }
}

pub fn anomalies(r: &AnomalyResult, what: &str, labels: &Labels, sample: bool, a: &mut Answer) {
    let window = Period::inclusive(r.query.start, r.query.end);
    let unit = "USD";
    let who = if sample {
        "The sample organization's stand-in for AWS Cost Anomaly Detection"
    } else {
        "AWS Cost Anomaly Detection"
    };
    if r.anomalies.is_empty() {
        append(
            a,
            format!("{who} flagged no anomalies in {}.", window.label()),
        );
    } else {
        let total: rust_decimal::Decimal = r.anomalies.iter().map(|x| x.impact.total_impact).sum();
        let top = &r.anomalies[0];
        append(
            a,
            format!(
                "{who} flagged {} anomal{} in {}, {} total impact. The largest: {}, {}, {} above the expected spend.",
                r.anomalies.len(),
                if r.anomalies.len() == 1 { "y" } else { "ies" },
                window.label(),
                format(total, unit),
                cause(top, labels),
                days(top),
                format(top.impact.total_impact, unit),
            ),
        );
        a.figure("AWS-detected total impact", total, unit);
        let table = Table {
            columns: vec![
                "Root cause (service · account · region · usage type)".into(),
                "Days".into(),
                "Actual".into(),
                "Expected".into(),
                "Total impact".into(),
                "Max daily impact".into(),
            ],
            rows: r
                .anomalies
                .iter()
                .take(10)
                .map(|x| {
                    let opt = |v: Option<rust_decimal::Decimal>| match v {
                        Some(d) => Cell::money(d, unit),
                        None => Cell::text("–"),
                    };
                    vec![
                        cause(x, labels).into(),
                        days(x).into(),
                        opt(x.impact.total_actual_spend),
                        opt(x.impact.total_expected_spend),
                        Cell::money(x.impact.total_impact, unit),
                        Cell::money(x.impact.max_impact, unit),
                    ]
                })
                .collect(),
        };
        // costbot's own spike table, when it ran, stays the main table.
        if a.table.is_none() {
            a.table = Some(table);
        } else {
            a.details.push(format!(
                "AWS Cost Anomaly Detection's findings: {}",
                r.anomalies
                    .iter()
                    .take(10)
                    .map(|x| format!(
                        "{} ({}): {} impact",
                        cause(x, labels),
                        days(x),
                        format(x.impact.total_impact, unit)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    a.details.push(format!(
        "AWS's anomalies: Cost Anomaly Detection GetAnomalies for {}, {}; AWS's own models, not costbot's spike search.",
        window.label(),
        match &r.query.monitor_arn {
            Some(arn) => format!("monitor {arn}"),
            None => "all monitors".into(),
        }
    ));
    if what != "AWS" {
        // GetAnomalies filters by monitor and impact only.
        a.notes.push(format!(
            "Cost Anomaly Detection's findings are for every monitor, not only {what}; their root causes say what each is about."
        ));
    }
    basis(a, "GetAnomalies", window, "total impact", sample, r.cached);
}
