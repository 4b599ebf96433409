//! Builds one digest with the same tools and composer as chat answers, so
//! every figure has its basis. The queries are chosen to share: one daily
//! by-service query over ~2 months covers yesterday, the 7-day average,
//! month to date, the same days last month, the movers and the chart;
//! anomalies ask for exactly the same query (a cache hit); the forecast asks
//! for its own 8 weeks of daily totals. Two requests on a cold cache (more
//! only if Cost Explorer pages), none on a warm one.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Subscription;
use crate::agent::ask::{Ask, Intent};
use crate::agent::compose::{self, Labels};
use crate::agent::{Answer, Section, ToolError, ToolOutput, Tools};
use crate::costs::analysis::{self, AnomalySettings};
use crate::costs::periods::{add_months, month_start, Period};
use crate::costs::{CostResult, Dimension};

/// What a run keeps once built: the post and the chart's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Built {
    pub answer: Answer,
    pub chart: ChartData,
    /// Billable Cost Explorer requests the build made.
    pub ce_requests: u32,
}

/// The last 30 days by the top services (the rest summed as "Other"),
/// straight from the by-service tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChartData {
    pub days: Vec<NaiveDate>,
    /// (service, one amount per day), largest first.
    pub series: Vec<(String, Vec<rust_decimal::Decimal>)>,
    pub unit: String,
}

/// How many services the chart names.
pub const CHART_SERVICES: usize = 5;

/// The days a digest for `date` covers: yesterday back to the earliest day any part needs.
pub struct Span {
    pub yesterday: NaiveDate,
    pub first: NaiveDate,
    pub mtd_start: NaiveDate,
    pub last_month_start: NaiveDate,
}

impl Span {
    pub fn for_date(date: NaiveDate) -> Span {
        let yesterday = date - Duration::days(1);
        let mtd_start = month_start(yesterday);
        let last_month_start = add_months(mtd_start, -1);
        // The anomaly baseline (28 days) before at least a week of window,
        // and the whole of last month's matching days.
        let baseline = AnomalySettings::default().baseline_days as i64;
        let first = last_month_start.min(yesterday - Duration::days(baseline + 8));
        Span {
            yesterday,
            first,
            mtd_start,
            last_month_start,
        }
    }
}

/// A slice of a daily result: the buckets within [first, last], as a result
/// of its own (no requests: they were counted on the whole).
fn slice(r: &CostResult, first: NaiveDate, last: NaiveDate) -> CostResult {
    let mut out = r.clone();
    out.query.period = Period::inclusive(first, last);
    out.buckets.retain(|b| b.start >= first && b.start <= last);
    out.requests = 0;
    out
}

pub async fn build(
    tools: &Tools,
    sub: &Subscription,
    date: NaiveDate,
    delayed_from: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Built, ToolError> {
    let span = Span::for_date(date);
    let filter = serde_json::to_value(sub.scope.filter()).unwrap_or_default();
    let sample = tools.source.is_sample();
    let labels = Labels {
        accounts: tools.source.known_accounts(),
    };
    let mut records = Vec::new();
    let mut call = async |name: &str, args: serde_json::Value| -> Result<ToolOutput, ToolError> {
        let out = tools.call(name, &args, date).await?;
        records.push(crate::agent::record_call(name, args, &out));
        Ok(out)
    };

    let daily = call(
        "get_cost_and_usage",
        json!({
            "period": { "start": span.first, "end": span.yesterday },
            "group_by": ["SERVICE"], "granularity": "DAILY", "filter": filter,
        }),
    )
    .await?;
    let ToolOutput::Costs { result: daily, .. } = daily else {
        unreachable!("get_cost_and_usage returns costs")
    };
    let window_start = span.first + Duration::days(AnomalySettings::default().baseline_days as i64);
    let anomalies = call(
        "find_anomalies",
        json!({
            "period": { "start": window_start, "end": span.yesterday },
            "group_by": ["SERVICE"], "filter": filter,
        }),
    )
    .await?;
    let mut forecast = call("forecast_month_end", json!({ "filter": filter })).await?;
    // The subscription's own budget is for its own scope.
    if let (
        Some(budget),
        ToolOutput::Forecast {
            forecast: f,
            history,
            filtered,
        },
    ) = (sub.budget, &mut forecast)
    {
        *f = analysis::forecast_month(&history.series(), date, Some(budget));
        *filtered = false;
    }

    let subject = Ask::from_calls(&[crate::agent::tools::ToolArgs::parse(
        "forecast_month_end",
        &json!({ "filter": filter }),
    )?])
    .subject;
    let compose_one = |intent: Intent, out: &ToolOutput| {
        compose::compose(
            &Ask::new(intent, subject.clone()),
            std::slice::from_ref(out),
            &labels,
            sample,
            date,
        )
    };

    // Yesterday against the 7 days before it (the composer says it per day).
    let y = span.yesterday;
    let yesterday = slice(&daily, y, y);
    let week = slice(&daily, y - Duration::days(7), y - Duration::days(1));
    let vs_week = ToolOutput::Comparison {
        movers: analysis::movers(&week, &yesterday),
        current: yesterday,
        previous: week,
        // Movers of one day against seven would compare unequal totals.
        top_n: 0,
    };
    // Month to date against the same days of last month (fewer if last month was shorter).
    let mtd = slice(&daily, span.mtd_start, y);
    let n = mtd.query.period.days();
    let last_month_end = span.mtd_start - Duration::days(1);
    let same_days = slice(
        &daily,
        span.last_month_start,
        (span.last_month_start + Duration::days(n - 1)).min(last_month_end),
    );
    let movers = analysis::movers(&same_days, &mtd);
    let top_service = movers.first().and_then(|m| m.key.first().cloned());
    let vs_month = ToolOutput::Comparison {
        current: mtd,
        previous: same_days,
        movers,
        top_n: 5,
    };

    let mut answer = Answer::default();
    let mut sections = vec![
        (
            "Yesterday vs the 7 days before",
            compose_one(Intent::Compare, &vs_week),
        ),
        (
            "Month to date vs the same days last month",
            compose_one(Intent::Compare, &vs_month),
        ),
        ("Forecast", compose_one(Intent::Forecast, &forecast)),
        ("Anomalies", compose_one(Intent::Anomalies, &anomalies)),
    ];
    if let Some(service) = top_service.filter(|s| !s.is_empty()) {
        let short = crate::language::services::short_name(&service);
        let guides = call(
            "search_guides",
            json!({ "query": format!("reduce {short} cost"), "services": [service], "k": 1 }),
        )
        .await;
        // No guide is no reason to hold the digest back.
        if let Ok(g) = guides {
            sections.push(("Worth doing", compose_one(Intent::Advice, &g)));
        }
    }
    let chart = chart_data(&daily, y);
    answer.summary = format!(
        "{} cost digest for {} ({}), with data through {}.",
        sub.name,
        subject,
        Period::day(date).label(),
        Period::day(y).label()
    );
    if let Some(due) = delayed_from {
        answer.notes.push(format!(
            "Delayed: costbot was down; this digest was due at {} ({}).",
            due.with_timezone(&sub.tz).format("%Y-%m-%d %H:%M"),
            sub.tz.name()
        ));
    }
    answer.sections = sections
        .into_iter()
        .map(|(title, a)| Section {
            title: title.into(),
            answer: a,
        })
        .collect();
    let ce_requests = records.iter().map(|r| r.cost_explorer_requests).sum();
    answer.tool_calls = records;
    Ok(Built {
        answer,
        chart,
        ce_requests,
    })
}

/// The chart's numbers: the 30 days ending `last`, top services by total.
pub fn chart_data(daily: &CostResult, last: NaiveDate) -> ChartData {
    let first = last - Duration::days(29);
    let window = slice(daily, first, last);
    let days: Vec<NaiveDate> = Period::inclusive(first, last).iter_days().collect();
    let by_group = window.series_by_group();
    let ranked = window.totals_by_group();
    let is_service = window.query.group_by.first() == Some(&Dimension::Service);
    let mut series = Vec::new();
    let mut other = vec![rust_decimal::Decimal::ZERO; days.len()];
    for (i, (key, _)) in ranked.iter().enumerate() {
        let name = key.join(" / ");
        let points = by_group.get(&name).cloned().unwrap_or_default();
        let per_day: Vec<_> = days
            .iter()
            .map(|d| {
                points
                    .iter()
                    .filter(|(pd, _)| pd == d)
                    .map(|(_, a)| *a)
                    .sum()
            })
            .collect();
        if i < CHART_SERVICES {
            let label = if is_service {
                crate::language::services::short_name(&name)
            } else {
                name
            };
            series.push((label, per_day));
        } else {
            for (o, v) in other.iter_mut().zip(per_day) {
                *o += v;
            }
        }
    }
    if ranked.len() > CHART_SERVICES {
        series.push(("Other".into(), other));
    }
    ChartData {
        days,
        series,
        unit: window.unit.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{CostQuery, GroupAmount, TimeBucket};
    use rust_decimal::Decimal;

    #[test]
    fn the_chart_plots_the_tool_results_top_five_and_the_rest_as_other() {
        let first = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let services = ["A", "B", "C", "D", "E", "F", "G"];
        let amount = |s: usize, day: i64| Decimal::new((s as i64 + 1) * 1000 + day, 2);
        let buckets = (0..40)
            .map(|day| TimeBucket {
                start: first + Duration::days(day),
                end: first + Duration::days(day + 1),
                groups: services
                    .iter()
                    .enumerate()
                    .map(|(s, k)| GroupAmount {
                        keys: vec![k.to_string()],
                        amount: amount(s, day),
                    })
                    .collect(),
                estimated: false,
            })
            .collect();
        let mut query = CostQuery::new(Period::inclusive(first, first + Duration::days(39)));
        query.group_by = vec![Dimension::Region];
        let result = CostResult {
            query,
            unit: "USD".into(),
            buckets,
            source: "test".into(),
            requests: 1,
            cached: false,
            days_are_utc: true,
            end_clamped_to: None,
        };
        let last = first + Duration::days(39);
        let c = chart_data(&result, last);
        assert_eq!(c.days.len(), 30);
        assert_eq!(c.days[0], first + Duration::days(10));
        let names: Vec<&str> = c.series.iter().map(|(n, _)| n.as_str()).collect();
        // Largest totals first: G (7th) down to C, then the rest.
        assert_eq!(names, ["G", "F", "E", "D", "C", "Other"]);
        for (name, values) in c.series.iter().take(5) {
            let s = services.iter().position(|k| k == name).unwrap();
            for (d, v) in values.iter().enumerate() {
                assert_eq!(*v, amount(s, 10 + d as i64), "{name} day {d}");
            }
        }
        let other = &c.series[5].1;
        for (d, v) in other.iter().enumerate() {
            assert_eq!(*v, amount(0, 10 + d as i64) + amount(1, 10 + d as i64));
        }
    }
}
