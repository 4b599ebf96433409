//! The tool calls that answer a turn's slots, and the comparison rule:
//! like is compared with like.

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

use super::{Intent, PlanError, Slots, ToolCall};
use crate::costs::periods::{month_start, NamedPeriod, Period};
use crate::costs::{Dimension, Granularity};

/// Makes the two periods of a comparison comparable: a period still running
/// is compared on its complete days with the same number of days at the
/// start of the one before. Periods of different lengths stay as named: the
/// answer compares them per day.
pub(super) fn like_with_like(s: &mut Slots, today: NaiveDate, said: &str) -> Result<(), PlanError> {
    let mut current = s.period;
    if current.period.end > today {
        // Today is still being filled in.
        current.period.end = today;
        if current.period.days() < 1 {
            return Err(PlanError::NoCompleteDay {
                said: capitalized(said),
            });
        }
    }
    let before = match s.compare_to {
        None => current.previous(),
        Some(b) if current.to_date && b.unit == current.unit && !b.to_date => {
            // "this month vs last month": the same days of last month.
            let mut cut = b;
            let end = b.period.start + Duration::days(current.period.days());
            cut.period.end = end.min(b.period.end);
            cut
        }
        Some(b) => b,
    };
    if before.period == current.period {
        return Err(PlanError::SamePeriodTwice(said.to_string()));
    }
    s.period = current;
    s.compare_to = Some(before);
    Ok(())
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn range(p: &Period) -> Value {
    json!({ "start": p.start.to_string(), "end": p.last_day().to_string() })
}

fn dims(d: &[Dimension]) -> Value {
    Value::Array(
        d.iter()
            .map(|d| match d {
                Dimension::Tag(k) => Value::String(format!("TAG:{k}")),
                other => Value::String(other.key().to_string()),
            })
            .collect(),
    )
}

fn filter_json(s: &Slots) -> Value {
    let mut f = serde_json::Map::new();
    if !s.services.is_empty() {
        f.insert(
            "services".into(),
            json!(s
                .services
                .iter()
                .map(|m| m.display.clone())
                .collect::<Vec<_>>()),
        );
    }
    if !s.accounts.is_empty() {
        f.insert("accounts".into(), json!(s.accounts));
    }
    if !s.regions.is_empty() {
        f.insert("regions".into(), json!(s.regions));
    }
    if !s.tags.is_empty() {
        let mut tags = serde_json::Map::new();
        for t in &s.tags {
            tags.insert(t.key.clone(), json!(t.values));
        }
        f.insert("tags".into(), Value::Object(tags));
    }
    Value::Object(f)
}

fn base_args(s: &Slots) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("filter".into(), filter_json(s));
    m.insert("metric".into(), json!(s.metric.as_str()));
    m.insert(
        "include_credits_refunds".into(),
        json!(s.include_credits_refunds),
    );
    m
}

/// The tool calls that answer a turn.
pub fn calls_for(s: &Slots, today: NaiveDate) -> Vec<ToolCall> {
    let call = |name: &str, m: serde_json::Map<String, Value>| ToolCall {
        name: name.into(),
        arguments: Value::Object(m),
    };
    match s.intent {
        Intent::Total | Intent::Breakdown | Intent::Trend => {
            let mut m = base_args(s);
            m.insert("period".into(), range(&s.period.period));
            let group_by = if s.intent == Intent::Breakdown && s.group_by.is_empty() {
                vec![if s.services.len() == 1 {
                    Dimension::UsageType
                } else {
                    Dimension::Service
                }]
            } else if s.intent == Intent::Total {
                Vec::new()
            } else {
                s.group_by.clone()
            };
            m.insert("group_by".into(), dims(&group_by));
            let granularity = match s.intent {
                Intent::Trend => s.granularity.unwrap_or(if s.period.period.days() > 62 {
                    Granularity::Monthly
                } else {
                    Granularity::Daily
                }),
                _ => Granularity::Monthly,
            };
            m.insert("granularity".into(), json!(granularity));
            if s.intent == Intent::Breakdown {
                m.insert("top_n".into(), json!(s.top_n.unwrap_or(10)));
            }
            vec![call("get_cost_and_usage", m)]
        }
        Intent::Compare => {
            let mut m = base_args(s);
            // `like_with_like` has made the periods comparable.
            let before: NamedPeriod = s.compare_to.unwrap_or_else(|| s.period.previous());
            m.insert("current".into(), range(&s.period.period));
            m.insert("previous".into(), range(&before.period));
            let group_by = if !s.group_by.is_empty() {
                s.group_by.clone()
            } else if s.services.is_empty() {
                vec![Dimension::Service]
            } else {
                vec![Dimension::LinkedAccount, Dimension::UsageType]
            };
            m.insert("group_by".into(), dims(&group_by));
            m.insert("top_n".into(), json!(s.top_n.unwrap_or(5)));
            vec![call("compare_periods", m)]
        }
        Intent::Forecast => {
            let mut m = base_args(s);
            m.insert(
                "month".into(),
                json!(
                    month_start(if s.period.to_date || s.period.period.contains(today) {
                        today
                    } else {
                        s.period.period.start
                    })
                    .format("%Y-%m")
                    .to_string()
                ),
            );
            let mut calls = vec![call("forecast_month_end", m)];
            if s.aws_own {
                // AWS's own forecast beside costbot's projection, each labelled by method.
                calls.push(call("aws_forecast", base_args(s)));
            }
            if s.aws_budgets {
                // AWS Budgets beside costbot's projection against the configured budget.
                calls.push(call("aws_budgets", serde_json::Map::new()));
            }
            calls
        }
        Intent::Anomalies => {
            let mut m = base_args(s);
            m.insert("period".into(), range(&s.period.period));
            let group_by = if s.group_by.is_empty() {
                vec![Dimension::Service]
            } else {
                s.group_by.clone()
            };
            m.insert("group_by".into(), dims(&group_by));
            let mut calls = vec![call("find_anomalies", m)];
            if s.aws_own {
                // Cost Anomaly Detection's findings beside costbot's own spike search.
                let mut aws = serde_json::Map::new();
                aws.insert("period".into(), range(&s.period.period));
                calls.push(call("aws_anomalies", aws));
            }
            calls
        }
        Intent::Advice => {
            let services: Vec<String> =
                s.services.iter().flat_map(|m| m.services.clone()).collect();
            let mut calls = vec![call(
                "search_guides",
                serde_json::Map::from_iter([
                    (
                        "query".to_string(),
                        json!(s.topic.clone().unwrap_or_default()),
                    ),
                    ("services".to_string(), json!(services)),
                    ("k".to_string(), json!(3)),
                ]),
            )];
            if !s.services.is_empty() {
                // Tie the advice to the user's own numbers.
                let mut m = base_args(s);
                let last30 = Period::new(today - Duration::days(30), today);
                m.insert("period".into(), range(&last30));
                m.insert("group_by".into(), json!([]));
                m.insert("granularity".into(), json!(Granularity::Monthly));
                calls.push(call("get_cost_and_usage", m));
            }
            calls
        }
        Intent::Commitments => super::commitments::calls(s),
        Intent::Explain | Intent::Help => Vec::new(),
        Intent::Rightsizing => {
            // Recommendations are per account and region; EC2 is implied.
            let mut f = serde_json::Map::new();
            if !s.accounts.is_empty() {
                f.insert("accounts".into(), json!(s.accounts));
            }
            if !s.regions.is_empty() {
                f.insert("regions".into(), json!(s.regions));
            }
            let mut m = serde_json::Map::new();
            m.insert("filter".into(), Value::Object(f));
            if s.cross_family {
                m.insert(
                    "recommendation_target".into(),
                    json!("CROSS_INSTANCE_FAMILY"),
                );
            }
            vec![call("aws_rightsizing", m)]
        }
    }
}
