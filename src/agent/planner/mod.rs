//! Planning a turn: a question (plus the previous turn's slots) becomes
//! slots and tool calls. [`Planner`] is the seam; [`RulesPlanner`] plans with
//! no LLM at all, one concern per module:
//!
//! - `vocabulary`: the words of cost questions, each pattern compiled once;
//! - `scope` and `grouping`: one extractor per slot (what, how split);
//!   periods and service names are read by [`crate::language`];
//! - `intent`: what kind of answer, with exemplars for advice vs figures;
//! - `followup`: what a follow-up keeps from the turn before;
//! - `calls`: the tool calls that answer the slots.
//!
//! Every question ends in one of three ways: a plan for exactly what was
//! asked, a plan with `readings` that say plainly how a part was read, or a
//! [`PlanError`] that asks back with the closest readings as suggestions.

mod calls;
mod commitments;
mod followup;
mod grouping;
mod intent;
mod scope;
mod vocabulary;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use calls::calls_for;

use crate::costs::periods::{month_start, NamedPeriod, Period, PeriodUnit};
use crate::costs::{Dimension, Granularity, Metric, TagFilter};
use crate::language::services::{ServiceMatch, UnknownService};
use crate::language::time::{read_time, unreadable_date, Calendar, PeriodProblem};

pub use super::ask::Intent;

/// What a turn asked for. Stored with each user message so a follow-up can
/// reuse what it leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slots {
    pub intent: Intent,
    pub period: NamedPeriod,
    /// For comparisons: the earlier period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_to: Option<NamedPeriod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceMatch>,
    /// Account names or ids as known to the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<usize>,
    pub metric: Metric,
    pub include_credits_refunds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// For advice: what to look up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// AWS's own forecast or anomalies were asked for ("what does AWS
    /// forecast", "Cost Anomaly Detection"): answered beside costbot's own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aws_own: bool,
    /// For commitments: what to buy, coverage or utilization, and of what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<commitments::CommitmentAsk>,
    /// Rightsizing across instance families was asked for ("to Graviton").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cross_family: bool,
    /// A forecast that names a budget: AWS Budgets answer beside costbot's
    /// projection against the configured budget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aws_budgets: bool,
    /// "which accounts do we have": the account names too (aws_accounts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub account_names: bool,
}

/// A tool and its arguments, exactly as the tool receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub slots: Slots,
    pub calls: Vec<ToolCall>,
    /// How parts of the question were read, said plainly in the answer
    /// ("Q4 is not over: 1 October – 19 November 2026 so far").
    pub readings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    UnknownService(#[from] UnknownService),
    #[error("I could not tell what you want to know. {suggestion}")]
    Unanswerable { suggestion: String },
    #[error("I could not read the date '{0}'. Try a form like 2026-03-05, 5 March 2026, March 2026 or last week.")]
    UnreadableDate(String),
    #[error("{0}")]
    Period(PeriodProblem),
    #[error("'{0}' is named twice, so there is nothing to compare it with. Which period should I compare it with?")]
    SamePeriodTwice(String),
    #[error("{said} has no complete day yet (today's costs are still arriving), so it cannot be compared fairly. Which complete period should I compare?")]
    NoCompleteDay { said: String },
    #[error("Cost Explorer splits by two dimensions at most, and you named {}. Which two should I use?", .0.join(", "))]
    TooManyGroups(Vec<String>),
    #[error("Cost Explorer cannot split costs by {0}: it groups by service, account, region, usage type, instance type or a cost allocation tag. Tag each {0} (for example with a `name` tag) to see it, or ask for another split.")]
    UnknownGrouping(String),
    #[error("I can forecast the current month only, not {0}.")]
    ForecastBeyondMonth(String),
    #[error(
        "'{0}' is not an account id: AWS account ids have 12 digits. Which account do you mean?"
    )]
    UnknownAccount(String),
    #[error("'{0}' is not an AWS region. Which region do you mean?")]
    UnknownRegion(String),
}

impl PlanError {
    /// The closest readings to offer back, as questions the user can send.
    pub fn suggestions(&self, today: NaiveDate) -> Vec<String> {
        let examples = || EXAMPLES.iter().map(|s| s.to_string()).collect();
        match self {
            PlanError::UnknownService(u) if !u.suggestions.is_empty() => u
                .suggestions
                .iter()
                .map(|s| format!("Ask about '{s}'"))
                .collect(),
            PlanError::UnknownService(_) => vec![
                "Top 10 services this month".into(),
                "What did we spend last month, by service?".into(),
            ],
            PlanError::Unanswerable { .. } | PlanError::UnreadableDate(_) => examples(),
            PlanError::Period(p) => match p {
                PeriodProblem::Future { .. } => vec![
                    "How much have we spent this month so far?".into(),
                    "What is the month-end forecast?".into(),
                ],
                PeriodProblem::BeforeHistory { earliest, .. } => vec![
                    format!("How much did we spend since {}?", earliest.format("%B %Y")),
                    "How much did we spend in the last 12 months?".into(),
                ],
                PeriodProblem::Reversed { .. } => {
                    vec!["Write the earlier date first, e.g. \"from 3 March to 10 March\"".into()]
                }
                PeriodProblem::Impossible { .. } => vec![
                    "How much did we spend last quarter?".into(),
                    "How much did we spend in the last 30 days?".into(),
                ],
            },
            PlanError::SamePeriodTwice(_) => vec![
                "Compare last month with the month before".into(),
                "Compare this month with last month".into(),
            ],
            PlanError::NoCompleteDay { .. } => vec![
                "Compare last week with the week before".into(),
                "Compare yesterday with the day before".into(),
            ],
            PlanError::TooManyGroups(dims) => dims
                .windows(2)
                .map(|w| format!("Break it down by {} and {}", w[0], w[1]))
                .collect(),
            PlanError::UnknownGrouping(_) => vec![
                "Break it down by usage type".into(),
                "Break it down by account".into(),
            ],
            PlanError::UnknownAccount(_) | PlanError::UnknownRegion(_) => vec![
                "How much did each account spend this month?".into(),
                "Break this month down by region".into(),
            ],
            PlanError::ForecastBeyondMonth(_) => vec![format!(
                "What is the forecast for {}?",
                month_start(today).format("%B %Y")
            )],
        }
    }
}

/// What the planner needs to know about the world.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub today: NaiveDate,
    /// The oldest day with cost data (Cost Explorer keeps 13 months by default).
    pub earliest: NaiveDate,
    /// (name, id) of accounts the source knows.
    pub accounts: Vec<(String, String)>,
    /// (key, value) of tags the source knows, in the data's own case.
    pub tag_values: Vec<(String, String)>,
}

impl PlanContext {
    pub fn new(today: NaiveDate, accounts: Vec<(String, String)>) -> Self {
        PlanContext {
            today,
            earliest: Calendar::new(today).earliest,
            accounts,
            tag_values: Vec::new(),
        }
    }

    /// The sample organization's world on a fixed Thursday, 2026-11-19.
    pub fn for_tests() -> Self {
        Self::for_tests_on(NaiveDate::from_ymd_opt(2026, 11, 19).expect("valid date"))
    }

    /// The sample organization's world on `today`.
    pub fn for_tests_on(today: NaiveDate) -> Self {
        let mut ctx = PlanContext::new(
            today,
            crate::costs::sample::ACCOUNTS
                .iter()
                .map(|(n, id)| (n.to_string(), id.to_string()))
                .collect(),
        );
        ctx.tag_values = crate::costs::sample::TAG_VALUES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ctx
    }

    fn calendar(&self) -> Calendar {
        Calendar {
            today: self.today,
            earliest: self.earliest,
        }
    }
}

/// Plans turns. The rules planner and the LLM planner implement it.
#[async_trait]
pub trait Planner: Send + Sync {
    async fn plan(
        &self,
        text: &str,
        previous: Option<&Slots>,
        ctx: &PlanContext,
    ) -> Result<Plan, PlanError>;

    /// A planner backed by a language model. A model needs to see tool
    /// results before it can call more tools or write its prose, which a
    /// plan made up front cannot express, so the Agent runs such a turn
    /// through [`LlmPlanner::converse`](crate::agent::llm::LlmPlanner::converse)
    /// and falls back to [`Planner::plan`].
    fn model(&self) -> Option<&crate::agent::llm::LlmPlanner> {
        None
    }
}

/// The deterministic planner: no model, no network, the same plan every time.
#[derive(Debug, Default, Clone, Copy)]
pub struct RulesPlanner;

#[async_trait]
impl Planner for RulesPlanner {
    async fn plan(
        &self,
        text: &str,
        previous: Option<&Slots>,
        ctx: &PlanContext,
    ) -> Result<Plan, PlanError> {
        plan(text, previous, ctx)
    }
}

pub const EXAMPLES: &[&str] = &[
    "How much did we spend last month?",
    "Why did EC2 go up last week?",
    "Top 5 services this month",
    "Break that down by region",
    "Daily trend for S3 in the last 30 days",
    "Will we stay within budget this month?",
    "Any anomalies in the last 14 days?",
    "How do I cut our NAT gateway bill?",
];

fn suggestion() -> String {
    format!(
        "Try, for example: {}",
        EXAMPLES
            .iter()
            .take(4)
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Advice keeps an account only when the question places it there ("in staging", "the prod account").
static ADVICE_ACCOUNT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    vocabulary::re(
        r"\baccounts?\b|\b(in|from|for|on) (the )?(prod|production|staging|stage|dev|development|data)\b",
    )
});

/// Words just before a period that make it the baseline of a comparison.
static BASELINE_BEFORE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    vocabulary::re(
        r"(?:\bvs\.?|\bversus|compared? (?:to|with)|\bthan|\bagainst|\bfrom|\bsince)\s*(?:the )?$",
    )
});

/// What one message says on its own, before a previous turn is considered.
struct Parsed {
    intent: Option<Intent>,
    periods: Vec<NamedPeriod>,
    /// The words of each period, as written.
    period_words: Vec<String>,
    services: Vec<ServiceMatch>,
    accounts: Vec<String>,
    regions: Vec<String>,
    tags: Vec<TagFilter>,
    group_by: Vec<Dimension>,
    top_n: Option<usize>,
    metric: Option<Metric>,
    credits: Option<bool>,
    granularity: Option<Granularity>,
    relative_previous: bool,
    relative_unit: Option<PeriodUnit>,
    clear_filters: bool,
    /// The message with shorthand and typos read: what the guides are searched with.
    normalized: String,
    /// The only period named is the baseline: "vs last month", "compared to October".
    baseline_named: bool,
    readings: Vec<String>,
}

/// The running period of the same unit as `p`: this month for a month, this week for a week.
fn current_unit(p: NamedPeriod, today: NaiveDate) -> NamedPeriod {
    use crate::costs::periods::{add_months, week_start};
    let tomorrow = today + Duration::days(1);
    let start = match p.unit {
        PeriodUnit::Day => today,
        PeriodUnit::Week => week_start(today),
        PeriodUnit::Quarter => crate::costs::periods::quarter_start(
            chrono::Datelike::year(&today),
            chrono::Datelike::month0(&today) / 3 + 1,
        ),
        PeriodUnit::Year => add_months(today, -(chrono::Datelike::month0(&today) as i32)),
        _ => month_start(today),
    };
    let unit = if p.unit == PeriodUnit::Span {
        PeriodUnit::Month
    } else {
        p.unit
    };
    NamedPeriod::new(Period::new(start, tomorrow), unit, true)
}

fn dimension_name(d: &Dimension) -> String {
    match d {
        Dimension::Service => "service".into(),
        Dimension::LinkedAccount => "account".into(),
        Dimension::Region => "region".into(),
        Dimension::UsageType => "usage type".into(),
        Dimension::InstanceType => "instance type".into(),
        Dimension::Tag(k) => format!("tag {k}"),
    }
}

fn parse(typed: &str, ctx: &PlanContext) -> Result<Parsed, PlanError> {
    use vocabulary::*;
    let normalized = crate::language::normalize::normalize(typed);
    let text = normalized.text.as_str();
    let t = text.to_lowercase();
    let time = read_time(&t, ctx.calendar());
    // Problems with a period or a name matter only to a question about figures:
    // advice ("gp2 volumes untouched since 2019") does not use them.
    let mut problem = time
        .iter()
        .find_map(|p| p.reading.clone().err())
        .map(PlanError::Period)
        .or_else(|| unreadable_date(&t, ctx.today).map(PlanError::UnreadableDate));
    let mut readings = Vec::new();
    if !normalized.corrections.is_empty() {
        readings.push(format!(
            "I read {}.",
            normalized
                .corrections
                .iter()
                .map(|(typed, read)| format!("'{typed}' as '{read}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut periods: Vec<NamedPeriod> = Vec::new();
    let mut period_words: Vec<String> = Vec::new();
    let mut repeated: Option<String> = None;
    for phrase in &time {
        let Ok(p) = phrase.reading else { continue };
        let says_so_far = [
            "this", "to date", "so far", "mtd", "ytd", "qtd", "wtd", "current", "since", "today",
        ]
        .iter()
        .any(|w| phrase.said.contains(w));
        if p.to_date && !phrase.cut_at_today && !says_so_far && p.unit != PeriodUnit::Day {
            // "Q4", "November", "2026": a named period that is still running.
            readings.push(format!(
                "'{}' is not over yet: these figures cover {} so far.",
                phrase.said,
                p.period.label()
            ));
        }
        if phrase.cut_at_today {
            readings.push(format!(
                "I read '{}' up to today ({}): later costs do not exist yet.",
                phrase.said,
                p.period.label()
            ));
        }
        if periods.contains(&p) {
            // The same period named twice is one period, not a comparison with itself.
            repeated = Some(phrase.said.clone());
            continue;
        }
        periods.push(p);
        period_words.push(phrase.said.clone());
    }
    // "how it went from September to October? it jumped": two months compared, not one span.
    if periods.len() == 1 && COMPARE.is_match(&t) {
        let said = period_words[0].clone();
        if let Some(rest) = said
            .strip_prefix("from ")
            .or_else(|| said.strip_prefix("between "))
        {
            let parts: Vec<&str> = rest.split(" to ").flat_map(|x| x.split(" and ")).collect();
            let months: Vec<NamedPeriod> = parts
                .iter()
                .filter_map(|x| {
                    crate::language::time::find_periods(&format!("in {x}"), ctx.today)
                        .first()
                        .copied()
                })
                .filter(|p| p.unit == PeriodUnit::Month)
                .collect();
            if parts.len() == 2 && months.len() == 2 {
                periods = months;
                period_words = parts.iter().map(|x| x.to_string()).collect();
            }
        }
    }
    // "since we launched in March … from March through October": a period inside another is not a comparison.
    if periods.len() == 2 && !COMPARE.is_match(&t) {
        let (a, b) = (periods[0].period, periods[1].period);
        let inside = |x: Period, y: Period| y.start <= x.start && x.end <= y.end;
        if inside(a, b) || inside(b, a) {
            let keep = if inside(a, b) { 1 } else { 0 };
            periods = vec![periods[keep]];
            period_words = vec![period_words[keep].clone()];
        }
    }
    if let Some(said) = repeated {
        if periods.len() == 1 && COMPARE.is_match(&t) && !WHY_CHANGE.is_match(&t) {
            problem = problem.or(Some(PlanError::SamePeriodTwice(said)));
        }
    }
    let group_by = grouping::group_by(text);
    if let Some(split) = grouping::unknown_split(text) {
        problem = problem.or(Some(PlanError::UnknownGrouping(split)));
    }
    if group_by.len() > 2 {
        problem = problem.or(Some(PlanError::TooManyGroups(
            group_by.iter().map(dimension_name).collect(),
        )));
    }
    let tag_grouped: Vec<String> = group_by
        .iter()
        .filter_map(|d| match d {
            Dimension::Tag(k) => Some(k.to_lowercase()),
            _ => None,
        })
        .collect();
    let spans: Vec<(usize, usize)> = time.iter().map(|p| (p.start, p.end)).collect();
    let (scope, scope_problem) = scope::extract(text, ctx, &tag_grouped, &spans);
    problem = problem.or(scope_problem);
    // The message with its slots masked, for the exemplars.
    let mut masked = t.clone();
    for p in time.iter().rev() {
        masked.replace_range(p.start..p.end, " PERIOD ");
    }
    for m in &scope.services {
        masked = masked.replace(&m.said.to_lowercase(), " SVC ");
    }
    let metric = if t.contains("net amortized") || t.contains("net amortised") {
        Some(Metric::NetAmortizedCost)
    } else if t.contains("net unblended") {
        Some(Metric::NetUnblendedCost)
    } else if t.contains("amortized") || t.contains("amortised") {
        Some(Metric::AmortizedCost)
    } else if t.contains("unblended") {
        Some(Metric::UnblendedCost)
    } else if t.contains("blended") {
        Some(Metric::BlendedCost)
    } else {
        None
    };
    let credits = if WITH_CREDITS.is_match(&t) {
        Some(true)
    } else if WITHOUT_CREDITS.is_match(&t) {
        Some(false)
    } else {
        None
    };
    let granularity = if MONTHLY.is_match(&t) {
        Some(Granularity::Monthly)
    } else if DAILY.is_match(&t) {
        Some(Granularity::Daily)
    } else {
        None
    };
    let scoped = !scope.services.is_empty()
        || !scope.accounts.is_empty()
        || !scope.regions.is_empty()
        || !scope.tags.is_empty();
    let mut intent = intent::classify(&intent::Cues {
        lower: &t,
        masked: &masked,
        // A period that cannot be read still says the question is about one.
        periods: periods.len() + time.iter().filter(|p| p.reading.is_err()).count(),
        grouped: !group_by.is_empty(),
        scoped,
        periods_only_since: !time.is_empty() && time.iter().all(|p| p.said.starts_with("since")),
    });
    if let Some(e) = problem {
        if !matches!(
            intent,
            Some(Intent::Advice | Intent::Help | Intent::Explain)
        ) {
            return Err(e);
        }
    }
    let mut group_by = group_by;
    // "compare prod and staging", "us-east-1 vs eu-west-1": two values side by side, not two periods.
    if intent == Some(Intent::Compare)
        && periods.len() < 2
        && !WHY_CHANGE.is_match(&t)
        && !group_by.is_empty()
        && (scope.accounts.len() >= 2 || scope.regions.len() >= 2)
    {
        // "eu-west-1 vs us-east-1, by region": the grouping named says how to set them side by side.
        intent = Some(Intent::Breakdown);
    }
    if intent == Some(Intent::Compare)
        && periods.len() < 2
        && !WHY_CHANGE.is_match(&t)
        && group_by.is_empty()
    {
        if scope.accounts.len() >= 2 {
            intent = Some(Intent::Breakdown);
            group_by.push(Dimension::LinkedAccount);
        } else if scope.regions.len() >= 2 {
            intent = Some(Intent::Breakdown);
            group_by.push(Dimension::Region);
        } else if scope.services.len() >= 2 {
            intent = Some(Intent::Breakdown);
            group_by.push(Dimension::Service);
        }
    }
    Ok(Parsed {
        intent,
        periods,
        period_words,
        services: scope.services,
        accounts: scope.accounts,
        regions: scope.regions,
        tags: scope.tags,
        group_by,
        top_n: grouping::top_n(&t),
        metric,
        credits,
        granularity,
        relative_previous: RELATIVE_PREVIOUS.is_match(&t),
        relative_unit: RELATIVE_PREVIOUS
            .captures(&t)
            .and_then(|c| c.get(2))
            .and_then(|m| match m.as_str() {
                "day" => Some(PeriodUnit::Day),
                "week" => Some(PeriodUnit::Week),
                "month" => Some(PeriodUnit::Month),
                "quarter" => Some(PeriodUnit::Quarter),
                "year" => Some(PeriodUnit::Year),
                _ => None,
            }),
        clear_filters: CLEAR_FILTERS.is_match(&t),
        normalized: text.to_string(),
        baseline_named: time.len() == 1 && BASELINE_BEFORE.is_match(&t[..time[0].start]),
        readings,
    })
}

/// The period a question means when it names none.
fn default_period(intent: Intent, today: NaiveDate) -> NamedPeriod {
    let complete_days = |n: i64| {
        NamedPeriod::new(
            Period::new(today - Duration::days(n), today),
            PeriodUnit::Span,
            false,
        )
    };
    match intent {
        Intent::Compare => complete_days(7),
        Intent::Anomalies => complete_days(14),
        Intent::Trend | Intent::Advice => complete_days(30),
        Intent::Commitments => {
            // Coverage and utilization of the last complete month.
            let this = month_start(today);
            NamedPeriod::new(
                Period::new(month_start(this - Duration::days(1)), this),
                PeriodUnit::Month,
                false,
            )
        }
        _ => {
            let start = month_start(today);
            NamedPeriod::new(
                Period::new(start, today + Duration::days(1)),
                PeriodUnit::Month,
                true,
            )
        }
    }
}

/// Plans one turn. `previous` is the slots of the conversation's last turn.
pub fn plan(text: &str, previous: Option<&Slots>, ctx: &PlanContext) -> Result<Plan, PlanError> {
    let p = parse(text, ctx)?;
    let readings = p.readings.clone();
    let mut slots = match followup::merge(text, &p, previous) {
        Some(s) => s,
        None => {
            let Some(intent) = p.intent else {
                return Err(PlanError::Unanswerable {
                    suggestion: suggestion(),
                });
            };
            let (period, compare_to) = match p.periods.len() {
                0 => (default_period(intent, ctx.today), None),
                // "versus the previous 7 days": the last 7 days against the 7 before.
                1 if intent == Intent::Compare
                    && p.baseline_named
                    && p.periods[0].unit == PeriodUnit::Span
                    && p.periods[0].period.end == ctx.today =>
                {
                    (p.periods[0], None)
                }
                1 if intent == Intent::Compare && p.baseline_named => {
                    // "EKS vs last month": this month so far against last month.
                    (current_unit(p.periods[0], ctx.today), Some(p.periods[0]))
                }
                1 => (p.periods[0], None),
                _ if intent != Intent::Compare => {
                    // "we had an incident last Tuesday … any anomalies last week?": the last period named is asked about.
                    (*p.periods.last().expect("two or more"), None)
                }
                _ => {
                    let (earlier, later) = followup::chronological(p.periods[0], p.periods[1]);
                    (later, Some(earlier))
                }
            };
            Slots {
                intent,
                period,
                compare_to,
                services: p.services.clone(),
                accounts: p.accounts.clone(),
                regions: p.regions.clone(),
                tags: p.tags.clone(),
                group_by: p.group_by.clone(),
                top_n: p.top_n,
                metric: p.metric.unwrap_or_default(),
                include_credits_refunds: p.credits.unwrap_or(false),
                granularity: p.granularity,
                topic: (intent == Intent::Advice).then(|| p.normalized.clone()),
                aws_own: false,
                commitment: None,
                cross_family: false,
                aws_budgets: false,
                account_names: false,
            }
        }
    };
    if previous.is_none()
        && vocabulary::POINTS_BACK.is_match(&text.to_lowercase())
        && p.intent != Some(Intent::Explain)
    {
        return Err(PlanError::Unanswerable {
            suggestion: format!(
                "There is no earlier answer in this conversation to refer to. {}",
                suggestion()
            ),
        });
    }
    if vocabulary::AWS_OWN.is_match(&text.to_lowercase()) {
        slots.aws_own = true;
    }
    if slots.intent == Intent::Commitments {
        // "reserved instances" names a kind of commitment, not EC2.
        let lower = text.to_lowercase();
        slots.services.retain(|m| {
            !matches!(m.said.to_lowercase().as_str(), "instance" | "instances")
                || vocabulary::contains_word(&lower, &m.display.to_lowercase())
        });
        // A follow-up ("and for RDS?") keeps what the commitments question asked.
        slots.commitment = commitments::read(&text.to_lowercase())
            .or_else(|| previous.and_then(|p| p.commitment.clone()));
    }
    if slots.intent == Intent::Rightsizing
        && vocabulary::CROSS_FAMILY.is_match(&text.to_lowercase())
    {
        slots.cross_family = true;
    }
    // Any budget asked about in a forecast: AWS's budgets too, not only the configured one.
    slots.aws_budgets = slots.intent == Intent::Forecast && text.to_lowercase().contains("budget");
    slots.account_names = slots.intent == Intent::Breakdown
        && vocabulary::ACCOUNT_LIST.is_match(&text.to_lowercase());
    if slots.account_names && slots.group_by.is_empty() {
        slots.group_by = vec![Dimension::LinkedAccount];
    }
    if slots.intent == Intent::Advice && !ADVICE_ACCOUNT.is_match(&text.to_lowercase()) {
        // "dev boxes", "prod databases": advice is about the kind of resource, not an account.
        slots.accounts.clear();
    }
    match slots.intent {
        Intent::Compare => {
            let said = p
                .period_words
                .last()
                .cloned()
                .unwrap_or_else(|| "this period".into());
            calls::like_with_like(&mut slots, ctx.today, &said)?;
        }
        Intent::Advice => {
            // The one figure that matters for advice: the service's last 30 complete days.
            slots.period = default_period(Intent::Advice, ctx.today);
            slots.compare_to = None;
        }
        Intent::Forecast => {
            let month = month_start(ctx.today);
            if !slots.period.period.contains(ctx.today)
                && !slots.period.to_date
                && p.periods.len() == 1
                && month_start(slots.period.period.start) != month
            {
                return Err(PlanError::ForecastBeyondMonth(slots.period.period.label()));
            }
        }
        _ => {}
    }
    // A follow-up can step back past the history ("and the month before?").
    for (said, p) in [
        ("the period", Some(slots.period)),
        ("the earlier period", slots.compare_to),
    ] {
        if let Some(p) = p {
            if slots.intent != Intent::Advice && p.period.start < ctx.earliest {
                return Err(PlanError::Period(PeriodProblem::BeforeHistory {
                    said: format!("{said} {}", p.period.label()),
                    start: p.period.start,
                    earliest: ctx.earliest,
                }));
            }
        }
    }
    let mut calls = calls_for(&slots, ctx.today);
    if slots.account_names {
        calls.push(ToolCall {
            name: "aws_accounts".into(),
            arguments: serde_json::json!({}),
        });
    }
    Ok(Plan {
        slots,
        calls,
        readings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext::new(
            NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            vec![
                ("prod".into(), "111111111111".into()),
                ("staging".into(), "222222222222".into()),
                ("dev".into(), "333333333333".into()),
            ],
        )
    }

    #[test]
    fn whole_words_only() {
        use vocabulary::contains_word;
        assert!(contains_word("only prod please", "prod"));
        assert!(contains_word("prod", "prod"));
        assert!(contains_word("spend in prod.", "prod"));
        assert!(!contains_word("production spend", "prod"));
        assert!(!contains_word("preprod spend", "prod"));
        assert!(contains_word("the data-lake account", "data-lake"));
        assert!(!contains_word("anything", ""));
    }

    #[test]
    fn unanswerable_gets_a_suggestion() {
        let err = plan("bananas are yellow", None, &ctx()).unwrap_err();
        assert!(err.to_string().contains("Try, for example"));
    }

    #[test]
    fn a_typo_is_read_and_said_and_an_unknown_name_is_asked_back() {
        let p = plan("how much did we spend on lamda last month", None, &ctx()).unwrap();
        assert_eq!(p.slots.services[0].display, "Lambda");
        assert!(
            p.readings.iter().any(|r| r.contains("'lamda' as 'lambda'")),
            "{:?}",
            p.readings
        );
        match plan(
            "how much did we spend on frobnicator last month",
            None,
            &ctx(),
        )
        .unwrap_err()
        {
            PlanError::UnknownService(u) => assert_eq!(u.given, "frobnicator"),
            other => panic!("{other:?}"),
        }
    }
}
