//! The deterministic planner: a question (plus the previous turn's slots)
//! becomes slots and tool calls, with no LLM involved.

use std::sync::LazyLock;

use chrono::{Duration, NaiveDate};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::costs::periods::{find_periods, month_start, NamedPeriod, Period, PeriodUnit};
use crate::costs::services::{self, ServiceMatch, UnknownService};
use crate::costs::{Dimension, Granularity, Metric, TagFilter};

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
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    UnknownService(#[from] UnknownService),
    #[error("I could not tell what you want to know. {suggestion}")]
    Unanswerable { suggestion: String },
    #[error("I could not read the date '{0}': it is not a real date, or it is in the future. Try a form like 2026-03-05, 5 March 2026, March 2026 or last week.")]
    UnreadableDate(String),
}

/// What the planner needs to know about the world.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub today: NaiveDate,
    /// (name, id) of accounts the source knows.
    pub accounts: Vec<(String, String)>,
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

fn re(p: &str) -> Regex {
    Regex::new(p).expect("planner pattern compiles")
}

// Compiled once: compiling a pattern costs more than answering a question.
static WITH_CREDITS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(includ\w*|with) (the )?(credits|refunds)"));
static WITHOUT_CREDITS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(exclud\w*|without|no) (the )?(credits|refunds)"));
static MONTHLY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bmonthly\b|per month|by month|month by month|month over month"));
static DAILY: LazyLock<Regex> = LazyLock::new(|| re(r"\bdaily\b|per day|each day|day by day"));

/// Whether `word` stands in `text` as a whole word (as `\b` would say).
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        // A boundary is only needed where the word itself starts or ends with a word character.
        let starts = word.chars().next().is_some_and(is_word);
        let ends = word.chars().next_back().is_some_and(is_word);
        (!starts || !before.is_some_and(is_word)) && (!ends || !after.is_some_and(is_word))
    })
}

static EXPLAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"how did you (get|calculate|compute|work|come)|where (does|did) (that|this) (number|figure)|show (me )?your work|what (query|queries|api|calls)|which (query|queries|api|calls)|how was (that|this) calculated",
    )
});
static HELP: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*(help|\?|hi|hello|hey|what can you do|what do you do|commands)\W*$"));
static ADVICE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"how (do|can|could|should) (i|we|you) (save|reduce|cut|lower|optimi[sz]e|shrink|trim|decrease|avoid)|\bsave (money )?on\b|\btips?\b|best practice|recommend|\badvice\b|\bguide\b|\bhow to\b|\bshould (we|i)\b|\bis .+ cheaper|\bworth it\b",
    )
});
static ADVICE_TOPIC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bcheaper\b|optimi[sz]|\brightsiz|\bsavings plans?\b|\breserved instances?\b|\bgraviton\b|\bspot\b|\bgp3\b|\bgp2\b|\blifecycle\b|\bretention\b|\bintelligent.tiering\b|\bunattached\b|\bidle\b",
    )
});
static SPEND_QUESTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"how much|\bspen[dt]\b|\bcost of\b|\btotal\b|\bbill\b|what did .+ cost"));
static FORECAST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"forecast|project(ed|ion)|end of (the )?month|month.end|on track|\bbudget\b|will we|predict|expected (spend|cost|bill)|going to (spend|cost|be)",
    )
});
static ANOMALY: LazyLock<Regex> =
    LazyLock::new(|| re(r"anomal|spike|unusual|unexpected|weird|strange|\bsurge|outlier|sudden"));
static COMPARE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"why (did|is|was|has|are|were)|go(ne)? up|went up|go(ne)? down|went down|increase|decrease|\bdrop|\brise\b|\brose\b|\bgrew\b|\bgrow|\bchange|compare|compared|\bvs\.?\b|versus|difference|jump",
    )
});
static TREND: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\btrend|\bdaily\b|per day|each day|day by day|over time|\bchart|\bgraph|\bmonthly\b|per month|by month|month by month|month over month|history",
    )
});
static BREAKDOWN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"break(ing)? (it |that |this |those )?down|breakdown|\bsplit\b|\btop( \d+)?\b|biggest|largest|most expensive|which (services|accounts|regions|teams)|what (services|accounts|regions|teams)|\bper (service|account|region|team|usage type|instance type)|\bby (service|account|region|team|env|environment|usage type|usage|instance type|tag)|where (is|does|did) (the|our) money",
    )
});
static COST_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bspen[dt]|\bcost|\bbill|how much|\btotal|\bpay|\bpaid|\bcharge|\bexpens|\bdollars|\$")
});
static TOP_N: LazyLock<Regex> =
    LazyLock::new(|| re(r"\btop (\d{1,2})\b|\b(\d{1,2}) (biggest|largest|most expensive)"));
static GROUP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:by|per|across|which|what|each|every|top \d{1,2}|most expensive|biggest|largest) (service|account|region|team|env|environment|usage type|usage|instance type|tag ([a-z0-9_:.-]+))s?\b",
    )
});
static WHY_CHANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bwhy (did|is|was|has|are|were|does|do)\b"));
static TEAM_BEFORE: LazyLock<Regex> = LazyLock::new(|| re(r"\b([a-z][a-z0-9_-]*) team\b"));
static CLEAR_FILTERS: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bin total\b|\boverall\b|\ball of it\b|\bwhole bill\b|\beverything\b"));
static REGION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)-(?:east|west|north|south|central|northeast|southeast|northwest|southwest)-\d)\b",
    )
});
static TAG_FILTER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(team|env|environment|project|owner|cost.?center)\s*[=:]?\s*([a-z0-9][a-z0-9_.-]*)")
});
static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{12})\b"));
static RELATIVE_PREVIOUS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(the )?(month|week|day|quarter|year|period|one) before\b|\bbefore that\b|\bprevious (one|period)\b|\bprior period\b",
    )
});
static FOLLOWUP_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\s*(and|what about|how about|only|just|now|same|also|then|ok|okay|but|excluding|except|break (it|that|this) down|for)\b",
    )
});
static FOLLOWUP_REF: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(that|those|it|same|instead|them|this one)\b"));
static UNKNOWN_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:what about|how about|spend on|spent on|cost of|costs of|costs for|spend for|bill for|bill on)\s+([a-z][a-z0-9 .-]{1,30}?)(?:\s+(?:in|last|this|for|during|since|from|on|over|yesterday|today)\b|[?.!,]|$)",
    )
});

fn parse_group(caps: &regex::Captures) -> Option<Dimension> {
    if let Some(tag) = caps.get(2) {
        return Some(Dimension::Tag(tag.as_str().to_string()));
    }
    let word = caps.get(1)?.as_str().trim_end_matches('s');
    Some(match word {
        "service" => Dimension::Service,
        "account" => Dimension::LinkedAccount,
        "region" => Dimension::Region,
        "team" => Dimension::Tag("team".into()),
        "env" | "environment" => Dimension::Tag("env".into()),
        "usage type" | "usage" => Dimension::UsageType,
        "instance type" => Dimension::InstanceType,
        _ => return None,
    })
}

fn account_aliases(name: &str) -> Vec<String> {
    let mut v = vec![name.to_lowercase()];
    match name {
        "prod" => v.push("production".into()),
        "dev" => v.push("development".into()),
        "staging" => v.push("stage".into()),
        _ => {}
    }
    v
}

struct Parsed {
    intent: Option<Intent>,
    periods: Vec<NamedPeriod>,
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
    cost_words: bool,
}

fn parse(text: &str, ctx: &PlanContext) -> Result<Parsed, PlanError> {
    let t = text.to_lowercase();
    let periods = find_periods(&t, ctx.today);
    let services = services::find_in_text(&t);
    let regions: Vec<String> = REGION.captures_iter(&t).map(|c| c[1].to_string()).collect();
    let mut group_by: Vec<Dimension> = Vec::new();
    for caps in GROUP.captures_iter(&t) {
        if let Some(d) = parse_group(&caps) {
            if !group_by.contains(&d) && group_by.len() < 2 {
                group_by.push(d);
            }
        }
    }
    // Words that follow "team"/"env" without naming one.
    const NOT_A_VALUE: &[&str] = &[
        "by", "per", "and", "or", "the", "in", "on", "of", "for", "a", "an", "with", "to", "spend",
        "spends", "spent", "spending", "cost", "costs", "costing", "tag", "tags", "is", "was",
        "has", "have", "had", "did", "does", "do", "use", "uses", "used", "that", "this", "which",
        "each", "every", "bill", "member", "members", "most", "least", "last", "our", "their",
        "my", "so", "much", "what", "whole",
    ];
    let mut tags: Vec<TagFilter> = Vec::new();
    // Text already claimed by a service or tag phrase, so account names are not read inside it.
    let mut claimed = t.clone();
    for m in &services {
        claimed = claimed.replace(&m.said.to_lowercase(), " ");
    }
    for c in TAG_FILTER.captures_iter(&t) {
        let key = match &c[1] {
            "environment" => "env".to_string(),
            k => k.replace(' ', "-"),
        };
        let value = c[2].to_string();
        // "by team" is a grouping, not a filter; "team payments" is a filter.
        let grouped = group_by
            .iter()
            .any(|d| matches!(d, Dimension::Tag(k) if *k == key));
        if grouped || NOT_A_VALUE.contains(&value.as_str()) {
            continue;
        }
        claimed = claimed.replace(&c[0], " ");
        if !tags.iter().any(|x| x.key == key) {
            tags.push(TagFilter {
                key,
                values: vec![value],
            });
        }
    }
    // "the payments team" names a team too.
    for c in TEAM_BEFORE.captures_iter(&t) {
        let value = c[1].to_string();
        let grouped = group_by
            .iter()
            .any(|d| matches!(d, Dimension::Tag(k) if k == "team"));
        if grouped || NOT_A_VALUE.contains(&value.as_str()) || tags.iter().any(|x| x.key == "team")
        {
            continue;
        }
        claimed = claimed.replace(&c[0], " ");
        tags.push(TagFilter {
            key: "team".into(),
            values: vec![value],
        });
    }
    let mut accounts = Vec::new();
    for (name, id) in &ctx.accounts {
        let hit = account_aliases(name)
            .iter()
            .any(|a| contains_word(&claimed, a));
        if hit || claimed.contains(id.as_str()) {
            accounts.push(name.clone());
        }
    }
    for c in ACCOUNT_ID.captures_iter(&t) {
        let id = c[1].to_string();
        if !ctx.accounts.iter().any(|(_, i)| *i == id) {
            accounts.push(id);
        }
    }
    let top_n = TOP_N
        .captures(&t)
        .and_then(|c| c.get(1).or(c.get(2)))
        .and_then(|m| m.as_str().parse().ok())
        .filter(|n| *n > 0);
    let metric = if t.contains("net amortized") {
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
    let intent = if EXPLAIN.is_match(&t) {
        Some(Intent::Explain)
    } else if HELP.is_match(&t) {
        Some(Intent::Help)
    } else if FORECAST.is_match(&t) {
        Some(Intent::Forecast)
    } else if WHY_CHANGE.is_match(&t) && COMPARE.is_match(&t) {
        // "why did our bill go up suddenly" asks for the cause, not for a list of spikes.
        Some(Intent::Compare)
    } else if ANOMALY.is_match(&t) {
        Some(Intent::Anomalies)
    } else if ADVICE.is_match(&t) || (ADVICE_TOPIC.is_match(&t) && !SPEND_QUESTION.is_match(&t)) {
        Some(Intent::Advice)
    } else if COMPARE.is_match(&t) || periods.len() >= 2 {
        Some(Intent::Compare)
    } else if TREND.is_match(&t) && !BREAKDOWN.is_match(&t) {
        Some(Intent::Trend)
    } else if BREAKDOWN.is_match(&t) || !group_by.is_empty() {
        Some(Intent::Breakdown)
    } else {
        None
    };
    // "compare prod and staging", "us-east-1 vs eu-west-1": two values side by side, not two periods.
    let mut intent = intent;
    if intent == Some(Intent::Compare)
        && periods.len() < 2
        && !WHY_CHANGE.is_match(&t)
        && group_by.is_empty()
    {
        if accounts.len() >= 2 {
            intent = Some(Intent::Breakdown);
            group_by.push(Dimension::LinkedAccount);
        } else if REGION.find_iter(&t).count() >= 2 {
            intent = Some(Intent::Breakdown);
            group_by.push(Dimension::Region);
        }
    }
    // A word after "spend on" / "what about" that names nothing we know.
    if services.is_empty() {
        if let Some(c) = UNKNOWN_CANDIDATE.captures(&t) {
            let cand = c[1].trim().trim_start_matches("the ").trim().to_string();
            let known_word = cand.is_empty()
                || !find_periods(&cand, ctx.today).is_empty()
                || ctx
                    .accounts
                    .iter()
                    .any(|(n, id)| account_aliases(n).contains(&cand) || *id == cand)
                || REGION.is_match(&cand)
                || ACCOUNT_ID.is_match(&cand)
                || cand.split_whitespace().any(|w| {
                    w.starts_with("account")
                        || w == "team"
                        || ctx
                            .accounts
                            .iter()
                            .any(|(n, _)| account_aliases(n).iter().any(|a| a == w))
                })
                || TAG_FILTER.is_match(&cand)
                || [
                    "everything",
                    "all",
                    "aws",
                    "total",
                    "it",
                    "that",
                    "this",
                    "us",
                    "average",
                    "each",
                    "them",
                    "those",
                ]
                .iter()
                .any(|w| cand == *w || cand.starts_with(&format!("{w} ")));
            if !known_word {
                if let Err(unknown) = services::resolve(&cand) {
                    // Never answer with the whole bill for a subject we could not read.
                    return Err(PlanError::UnknownService(unknown));
                }
            }
        }
    }
    if services.is_empty() {
        if let Some(unknown) = services::near_miss(&t) {
            return Err(PlanError::UnknownService(unknown));
        }
    }
    if let Some(phrase) = crate::costs::periods::unreadable_date(&t, ctx.today) {
        return Err(PlanError::UnreadableDate(phrase));
    }
    Ok(Parsed {
        intent,
        periods,
        services,
        accounts,
        regions,
        tags,
        group_by,
        top_n,
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
        cost_words: COST_WORDS.is_match(&t),
    })
}

fn default_period(intent: Intent, today: NaiveDate) -> NamedPeriod {
    match intent {
        Intent::Compare => NamedPeriod::new(
            Period::new(today - Duration::days(7), today),
            PeriodUnit::Span,
            false,
        ),
        Intent::Anomalies => NamedPeriod::new(
            Period::new(today - Duration::days(14), today),
            PeriodUnit::Span,
            false,
        ),
        Intent::Trend => NamedPeriod::new(
            Period::new(today - Duration::days(30), today),
            PeriodUnit::Span,
            false,
        ),
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

fn step_back(n: NamedPeriod, unit: Option<PeriodUnit>) -> NamedPeriod {
    match unit {
        Some(u) => n.shifted_back(u),
        None => n.previous(),
    }
}

/// "compare this month with last month": the earlier period is the baseline, whatever the word order.
fn chronological(a: NamedPeriod, b: NamedPeriod) -> (NamedPeriod, NamedPeriod) {
    if b.period.start < a.period.start {
        (b, a)
    } else {
        (a, b)
    }
}

/// Plans one turn. `previous` is the slots of the conversation's last turn.
pub fn plan(text: &str, previous: Option<&Slots>, ctx: &PlanContext) -> Result<Plan, PlanError> {
    let p = parse(text, ctx)?;
    let lower = text.to_lowercase();
    let starts_followup = FOLLOWUP_START.is_match(&lower);
    let refers_back = starts_followup || FOLLOWUP_REF.is_match(&lower) || p.relative_previous;
    // "How much did we spend on S3 in March? is that normal" stands on its own: it names what and when.
    let self_contained = !starts_followup
        && !p.relative_previous
        && SPEND_QUESTION.is_match(&lower)
        && (!p.services.is_empty() || !p.periods.is_empty());
    let short = lower.split_whitespace().count() <= 3;
    let followup = previous.is_some()
        && !self_contained
        && (refers_back || p.intent.is_none() || short)
        && !matches!(p.intent, Some(Intent::Help) | Some(Intent::Explain));

    let slots = if let (true, Some(prev)) = (followup, previous) {
        let mut s = prev.clone();
        if let Some(i) = p.intent {
            // "break that down by region" after a comparison keeps comparing, now by region.
            let keep_compare = s.intent == Intent::Compare && i == Intent::Breakdown;
            if !keep_compare {
                s.intent = i;
            }
        }
        if p.relative_previous && p.periods.is_empty() {
            // "the week before" steps back a week whatever the period was; "before that" one period.
            s.period = step_back(prev.period, p.relative_unit);
            s.compare_to = prev.compare_to.map(|c| step_back(c, p.relative_unit));
        }
        match p.periods.len() {
            0 => {}
            1 => {
                s.period = p.periods[0];
                s.compare_to = None;
            }
            _ => {
                let (earlier, later) = chronological(p.periods[0], p.periods[1]);
                s.compare_to = Some(earlier);
                s.period = later;
            }
        }
        if !p.services.is_empty() {
            s.services = p.services.clone();
        }
        if !p.accounts.is_empty() {
            s.accounts = p.accounts.clone();
        }
        if !p.regions.is_empty() {
            s.regions = p.regions.clone();
        }
        if !p.tags.is_empty() {
            s.tags = p.tags.clone();
        }
        if lower.contains("all accounts") || lower.contains("every account") {
            s.accounts.clear();
        }
        if lower.contains("all regions") {
            s.regions.clear();
        }
        if lower.contains("all teams") || lower.contains("all tags") {
            s.tags.clear();
        }
        if p.clear_filters && p.services.is_empty() && p.accounts.is_empty() {
            s.services.clear();
            s.accounts.clear();
            s.regions.clear();
            s.tags.clear();
        }
        if lower.contains("all services") || lower.contains("everything") {
            s.services.clear();
        }
        if !p.group_by.is_empty() {
            s.group_by = p.group_by.clone();
            if s.intent == Intent::Total || s.intent == Intent::Trend {
                s.intent = Intent::Breakdown;
            }
        }
        s.top_n = p.top_n.or(s.top_n);
        s.metric = p.metric.unwrap_or(s.metric);
        s.include_credits_refunds = p.credits.unwrap_or(s.include_credits_refunds);
        s.granularity = p.granularity.or(s.granularity);
        if s.intent == Intent::Advice {
            s.topic = Some(text.to_string());
        }
        s
    } else {
        let intent = match p.intent {
            Some(i) => i,
            None if p.cost_words
                || !p.periods.is_empty()
                || !p.services.is_empty()
                || !p.accounts.is_empty() =>
            {
                Intent::Total
            }
            None => {
                return Err(PlanError::Unanswerable {
                    suggestion: suggestion(),
                })
            }
        };
        let (period, compare_to) = match p.periods.len() {
            0 => (default_period(intent, ctx.today), None),
            1 => (p.periods[0], None),
            _ => {
                let (earlier, later) = chronological(p.periods[0], p.periods[1]);
                (later, Some(earlier))
            }
        };
        Slots {
            intent,
            period,
            compare_to,
            services: p.services,
            accounts: p.accounts,
            regions: p.regions,
            tags: p.tags,
            group_by: p.group_by,
            top_n: p.top_n,
            metric: p.metric.unwrap_or_default(),
            include_credits_refunds: p.credits.unwrap_or(false),
            granularity: p.granularity,
            topic: (intent == Intent::Advice).then(|| text.to_string()),
        }
    };
    let calls = calls_for(&slots, ctx.today);
    Ok(Plan { slots, calls })
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
            // Today is still being filled in: a period running to today is compared
            // on its complete days, against the same days of the period before.
            let mut current = s.period;
            if current.period.end > today && current.period.days() > 1 {
                current.period.end = today;
            }
            let before = s.compare_to.unwrap_or_else(|| current.previous());
            m.insert("current".into(), range(&current.period));
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
            vec![call("forecast_month_end", m)]
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
            vec![call("find_anomalies", m)]
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
        Intent::Explain | Intent::Help => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext {
            today: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            accounts: vec![
                ("prod".into(), "111111111111".into()),
                ("staging".into(), "222222222222".into()),
                ("dev".into(), "333333333333".into()),
            ],
        }
    }

    #[test]
    fn whole_words_only() {
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
    fn unknown_service_is_named_not_zero() {
        let err = plan("how much did we spend on lamda last month", None, &ctx()).unwrap_err();
        match err {
            PlanError::UnknownService(u) => assert_eq!(u.suggestions[0], "AWS Lambda"),
            other => panic!("{other:?}"),
        }
    }
}
