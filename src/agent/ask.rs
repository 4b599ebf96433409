//! What was asked, as the composer needs to know it: the kind of answer and
//! what the numbers are about. Planner-neutral, so the rules planner, an LLM
//! planner and the digest builder describe a question the same way.

use serde::{Deserialize, Serialize};

use super::planner::Slots;
use super::tools::{FilterArgs, ToolArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Total,
    Breakdown,
    Compare,
    Trend,
    Forecast,
    Anomalies,
    Advice,
    Explain,
    Help,
    /// Savings Plans and reservations: what to buy, coverage, utilization.
    Commitments,
    /// AWS's rightsizing recommendations (Cost Explorer, Cost Optimization Hub).
    Rightsizing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub intent: Intent,
    /// What the numbers are about, as people say it: "EC2 (account prod)";
    /// "AWS" for the whole bill.
    pub subject: String,
}

impl Ask {
    pub fn new(intent: Intent, subject: impl Into<String>) -> Self {
        Ask {
            intent,
            subject: subject.into(),
        }
    }

    /// From the rules planner's slots.
    pub fn from_slots(s: &Slots) -> Ask {
        let services: Vec<String> = s.services.iter().map(|m| m.display.clone()).collect();
        let tags = s
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.values.clone()))
            .collect();
        Ask::new(s.intent, subject(&services, &s.accounts, &s.regions, &tags))
    }

    /// From tool calls alone (an LLM planner's, a digest's): the first cost
    /// tool decides the kind of answer and its filter the subject.
    pub fn from_calls(calls: &[ToolArgs]) -> Ask {
        let cost = calls
            .iter()
            .find(|c| !matches!(c, ToolArgs::SearchGuides(_)));
        let (intent, filter) = match cost {
            None => (Intent::Advice, None),
            Some(ToolArgs::GetCostAndUsage(a)) => {
                let advice = calls.iter().any(|c| matches!(c, ToolArgs::SearchGuides(_)));
                let days = (a.period.end - a.period.start).num_days() + 1;
                let intent = if advice {
                    Intent::Advice
                } else if a.granularity == Some(crate::costs::Granularity::Daily)
                    || (a.group_by.is_empty() && days > 62)
                {
                    Intent::Trend
                } else if a.group_by.is_empty() {
                    Intent::Total
                } else {
                    Intent::Breakdown
                };
                (intent, Some(&a.filter))
            }
            Some(ToolArgs::ComparePeriods(a)) => (Intent::Compare, Some(&a.filter)),
            Some(ToolArgs::ForecastMonthEnd(a)) => (Intent::Forecast, Some(&a.filter)),
            Some(ToolArgs::FindAnomalies(a)) => (Intent::Anomalies, Some(&a.filter)),
            Some(ToolArgs::SearchGuides(_)) => (Intent::Advice, None),
            Some(ToolArgs::AwsForecast(a)) => (Intent::Forecast, Some(&a.filter)),
            Some(ToolArgs::AwsAnomalies(_)) => (Intent::Anomalies, None),
            Some(ToolArgs::AwsRecommendations(_) | ToolArgs::AwsCommitmentUsage(_)) => {
                (Intent::Commitments, None)
            }
            Some(ToolArgs::AwsRightsizing(a)) => (Intent::Rightsizing, Some(&a.filter)),
            Some(ToolArgs::AwsBudgets(_)) => (Intent::Forecast, None),
            Some(ToolArgs::AwsAccounts(_)) => (Intent::Total, None),
        };
        let subject = match filter {
            Some(f) => filter_subject(f),
            None => "AWS".to_string(),
        };
        Ask::new(intent, subject)
    }
}

fn filter_subject(f: &FilterArgs) -> String {
    let services: Vec<String> = f
        .services
        .iter()
        .map(|s| crate::language::services::short_name(s))
        .collect();
    subject(&services, &f.accounts, &f.regions, &f.tags)
}

/// "EC2 and S3 (account prod; us-east-1; team data)", or "AWS".
fn subject(
    services: &[String],
    accounts: &[String],
    regions: &[String],
    tags: &std::collections::BTreeMap<String, Vec<String>>,
) -> String {
    let what = if services.is_empty() {
        "AWS".to_string()
    } else {
        services.join(" and ")
    };
    let mut filters = Vec::new();
    if !accounts.is_empty() {
        filters.push(format!("account {}", accounts.join(", ")));
    }
    if !regions.is_empty() {
        filters.push(regions.join(", "));
    }
    for (k, v) in tags {
        filters.push(format!("{k} {}", v.join("/")));
    }
    if filters.is_empty() {
        what
    } else {
        format!("{what} ({})", filters.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::tools::{DateRange, GetCostAndUsageArgs};

    fn d(s: &str) -> chrono::NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn calls_describe_the_question_like_slots_do() {
        let call = ToolArgs::GetCostAndUsage(GetCostAndUsageArgs {
            period: DateRange {
                start: d("2026-10-01"),
                end: d("2026-10-31"),
            },
            group_by: vec!["REGION".into()],
            filter: FilterArgs {
                services: vec!["Amazon Elastic Compute Cloud - Compute".into()],
                accounts: vec!["prod".into()],
                ..Default::default()
            },
            metric: None,
            granularity: None,
            include_credits_refunds: false,
            top_n: Some(5),
        });
        let ask = Ask::from_calls(&[call]);
        assert_eq!(ask.intent, Intent::Breakdown);
        assert_eq!(ask.subject, "EC2 (account prod)");
    }

    #[test]
    fn guides_alone_are_advice_about_aws() {
        let call = ToolArgs::SearchGuides(crate::agent::tools::SearchGuidesArgs {
            query: "nat gateway".into(),
            services: vec![],
            k: None,
        });
        assert_eq!(Ask::from_calls(&[call]), Ask::new(Intent::Advice, "AWS"));
    }
}
