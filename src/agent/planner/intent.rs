//! What kind of answer a message wants. Structural cues decide among the
//! cost answers (forecast, comparison, trend, breakdown…); whether a message
//! asks for a figure at all or for advice (a problem described, a how-to, a
//! definition) is read by its nearest exemplars (`exemplars.txt`), so new
//! phrasings of a problem are recognised by the words they share with known
//! ones rather than by one more pattern.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::vocabulary::*;
use super::Intent;
use crate::language::is_domain_word;

/// What the exemplars say a message wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Act {
    Cost,
    Advice,
}

struct Exemplars {
    idf: HashMap<String, f64>,
    rows: Vec<(Act, HashMap<String, f64>)>,
}

static HOWTO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bhow (do|can|could|should|would) (i|we|you|one|they)\b|\bhow to\b|\bways? to\b|\btips?\b|best practices?|\brecommend|\badvice\b|\bshould (we|i)\b|\bis it worth\b|\bworth it\b|\bhelp me (save|cut|reduce|optimi[sz]e|lower)|\bguide\b|\bis .+ cheaper\b|\bwhat can (we|i) do\b|\bany way to\b|\bdo (we|i) (really )?need\b",
    )
});
/// How questions and requests open; a message that opens otherwise and has no
/// question mark is a statement.
static STATEMENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\W*(how|what|what's|whats|which|why|where|when|who|show|give|list|break|compare|can|could|would|will|is|are|do|does|did|tell|get|pull|i need|i want|need|want|please|pls|any|total|top|spend|bill|forecast)\b",
    )
});
/// Words that ask for a figure even inside a statement.
static COST_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(show|give|tell|list|break|pull|need|want)\b.*\b(spend|cost|costs|bill|numbers?|figures?|total)\b",
    )
});
static EXPLICIT_GROUPING: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(by|per|split|break ?down|breakdown)\b"));

static MEANING: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(mean|means|meaning|stand for|stands for)\b"));

/// Someone owns the figure: "what is *our* EC2 spend" asks for a number, not a definition.
static OWNED: LazyLock<Regex> = LazyLock::new(|| re(r"\b(our|we|us|my|ours)\b"));

fn tokens(masked: &str) -> Vec<String> {
    masked
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// Words, their stems, word pairs and (for typos) letter triples.
fn features(masked: &str) -> HashMap<String, f64> {
    let words = tokens(masked);
    let mut f: HashMap<String, f64> = HashMap::new();
    for (i, w) in words.iter().enumerate() {
        *f.entry(format!("w:{w}")).or_default() += 1.0;
        let stem: String = w.chars().take(5).collect();
        *f.entry(format!("s:{stem}")).or_default() += 1.0;
        if let Some(next) = words.get(i + 1) {
            *f.entry(format!("b:{w}_{next}")).or_default() += 1.0;
        }
        if w.len() >= 5 && w.chars().all(|c| c.is_ascii_lowercase()) {
            let b = w.as_bytes();
            for t in b.windows(3) {
                *f.entry(format!("c:{}", String::from_utf8_lossy(t)))
                    .or_default() += 0.3;
            }
        }
    }
    f
}

fn weigh(f: &HashMap<String, f64>, idf: &HashMap<String, f64>) -> HashMap<String, f64> {
    let mut v: HashMap<String, f64> = f
        .iter()
        .map(|(k, x)| (k.clone(), x * idf.get(k).copied().unwrap_or(3.0)))
        .collect();
    let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.values_mut().for_each(|x| *x /= norm);
    }
    v
}

static EXEMPLARS: LazyLock<Exemplars> = LazyLock::new(|| {
    let raw: Vec<(Act, HashMap<String, f64>)> = include_str!("exemplars.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (act, text) = l.split_once('\t')?;
            let act = match act {
                "cost" => Act::Cost,
                "advice" => Act::Advice,
                _ => return None,
            };
            Some((act, features(text)))
        })
        .collect();
    let n = raw.len() as f64;
    let mut df: HashMap<String, f64> = HashMap::new();
    for (_, f) in &raw {
        for k in f.keys() {
            *df.entry(k.clone()).or_default() += 1.0;
        }
    }
    let idf: HashMap<String, f64> = df
        .into_iter()
        .map(|(k, d)| (k, ((n + 1.0) / (d + 0.5)).ln()))
        .collect();
    let rows = raw.into_iter().map(|(a, f)| (a, weigh(&f, &idf))).collect();
    Exemplars { idf, rows }
});

/// The act of the nearest exemplars and by how much it beats the other (0–1).
pub(super) fn nearest_act(masked: &str) -> (Act, f64) {
    let ex = &*EXEMPLARS;
    let q = weigh(&features(masked), &ex.idf);
    let mut best: HashMap<bool, Vec<f64>> = HashMap::new();
    for (act, row) in &ex.rows {
        let sim: f64 = q
            .iter()
            .filter_map(|(k, x)| row.get(k).map(|y| x * y))
            .sum();
        best.entry(*act == Act::Advice).or_default().push(sim);
    }
    let score = |advice: bool| -> f64 {
        let mut v = best.get(&advice).cloned().unwrap_or_default();
        v.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
        v.iter().take(3).sum::<f64>() / 3.0
    };
    let (advice, cost) = (score(true), score(false));
    if advice > cost {
        (Act::Advice, advice - cost)
    } else {
        (Act::Cost, cost - advice)
    }
}

/// Whether a message is about cloud cost at all: it names a service or a
/// period, or uses a word of the field. "what is the meaning of life" is not.
pub(super) fn on_topic(masked: &str) -> bool {
    tokens(masked).iter().any(|w| {
        matches!(w.as_str(), "svc" | "period" | "acct")
            || is_domain_word(w)
            || is_domain_word(w.trim_end_matches('s'))
    })
}

/// The message asks for advice in so many words (a how-to, a definition).
pub(super) fn explicit_advice(t: &str) -> bool {
    HOWTO.is_match(t) || HOWTO_LEAD.is_match(t) || (DEFINITION.is_match(t) && !OWNED.is_match(t))
}

pub(super) struct Cues<'a> {
    pub lower: &'a str,
    pub masked: &'a str,
    pub periods: usize,
    pub grouped: bool,
    pub scoped: bool,
    /// Every period phrase starts with "since".
    pub periods_only_since: bool,
}

fn words(t: &str) -> usize {
    t.split_whitespace().count()
}

/// The intent of a message on its own, or None when it names no question.
pub(super) fn classify(c: &Cues) -> Option<Intent> {
    let t = c.lower;
    if EXPLAIN.is_match(t) {
        return Some(Intent::Explain);
    }
    if HELP.is_match(t) {
        return Some(Intent::Help);
    }
    if super::commitments::asks(t) {
        return Some(Intent::Commitments);
    }
    if ACCOUNT_LIST.is_match(t) {
        // "which accounts do we have": spend by account, with their names.
        return Some(Intent::Breakdown);
    }
    let quantity = QUANTITY.is_match(t);
    // "what's the AWS forecast for EC2" asks for AWS's figure, not what a forecast is.
    let aws_figure = AWS_OWN.is_match(t) && FORECAST.is_match(t);
    let definition = DEFINITION.is_match(t) && !OWNED.is_match(t) && c.periods == 0 && !aws_figure;
    let asks_meaning = definition && MEANING.is_match(t);
    let howto = HOWTO.is_match(t);
    if RIGHTSIZE.is_match(t) && !GUIDANCE.is_match(t) {
        // "which instances should we rightsize": AWS's recommendations, not a guide.
        return Some(Intent::Rightsizing);
    }
    let (act, margin) = nearest_act(c.masked);
    let exemplar_advice = act == Act::Advice && margin > 0.02 && c.periods == 0 && words(t) >= 4;
    let topical = on_topic(c.masked);
    if topical
        && ((HOWTO_LEAD.is_match(t) && c.periods == 0)
            || asks_meaning
            || (!quantity && (howto || definition || exemplar_advice)))
    {
        return Some(Intent::Advice);
    }
    // A statement that asks for no figure ("200 volumes nobody owns") describes a problem.
    // In a statement, "since 2019" dates the problem and "which team owns it" is not a request.
    let statement =
        !STATEMENT.is_match(t) && !t.trim_end().ends_with('?') && !COST_REQUEST.is_match(t);
    let asks_for_figure = quantity
        || (c.periods > 0 && !(statement && c.periods_only_since))
        || (c.grouped && (!statement || EXPLICIT_GROUPING.is_match(t)))
        || BREAKDOWN.is_match(t)
        || TREND.is_match(t)
        || FORECAST.is_match(t)
        || ANOMALY.is_match(t)
        || AWS_OWN.is_match(t)
        || BUDGET_STANDING.is_match(t)
        || (COMPARE.is_match(t) && WHY_CHANGE.is_match(t))
        || t.trim_end().ends_with('?');
    if !asks_for_figure && words(t) >= 6 && topical {
        return Some(Intent::Advice);
    }
    if AWS_OWN.is_match(t) {
        // "did AWS flag anything", "what does AWS forecast": AWS's own analyses.
        return Some(if AWS_FLAGGED.is_match(t) {
            Intent::Anomalies
        } else {
            Intent::Forecast
        });
    }
    if FORECAST.is_match(t) || BUDGET_STANDING.is_match(t) {
        return Some(Intent::Forecast);
    }
    if WHY_CHANGE.is_match(t) && (COMPARE.is_match(t) || ANOMALY.is_match(t)) {
        // "why did our bill go up suddenly" asks for the cause, not for a list of spikes.
        return Some(Intent::Compare);
    }
    if ANOMALY.is_match(t) {
        return Some(Intent::Anomalies);
    }
    if COMPARE.is_match(t) || c.periods >= 2 {
        return Some(Intent::Compare);
    }
    if ONE_TOTAL.is_match(t) {
        return Some(Intent::Total);
    }
    if TREND.is_match(t) && !BREAKDOWN.is_match(t) {
        return Some(Intent::Trend);
    }
    if BREAKDOWN.is_match(t) || c.grouped {
        return Some(Intent::Breakdown);
    }
    if c.periods > 0 || c.scoped || (COST_WORDS.is_match(t) && words(t) > 2) {
        return Some(Intent::Total);
    }
    (topical && act == Act::Advice && margin > 0.05 && words(t) >= 4).then_some(Intent::Advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_advice_and_figures_as_cost() {
        for advice in [
            "SVC is eating all our money",
            "our SVC costs are through the roof",
            "unused volumes keep costing us",
        ] {
            assert_eq!(nearest_act(advice).0, Act::Advice, "{advice}");
        }
        for cost in ["SVC spend PERIOD", "what did we pay for SVC PERIOD"] {
            assert_eq!(nearest_act(cost).0, Act::Cost, "{cost}");
        }
    }
}
