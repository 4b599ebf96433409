//! Follow-ups: what a message keeps from the turn before ("what about S3?",
//! "and by region", "the week before").

use std::sync::LazyLock;

use regex::Regex;

use super::vocabulary::*;
use super::{Intent, Parsed, Slots};
use crate::costs::periods::{NamedPeriod, PeriodUnit};

/// A question that names what and when stands on its own.
static SPEND_QUESTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"how much|\bspen[dt]\b|\bcost of\b|\btotal\b|\bbill\b|what did .+ cost"));

fn step_back(n: NamedPeriod, unit: Option<PeriodUnit>) -> NamedPeriod {
    match unit {
        Some(u) => n.shifted_back(u),
        None => n.previous(),
    }
}

/// "compare this month with last month": the earlier period is the baseline, whatever the word order.
pub(super) fn chronological(a: NamedPeriod, b: NamedPeriod) -> (NamedPeriod, NamedPeriod) {
    if b.period.start < a.period.start {
        (b, a)
    } else {
        (a, b)
    }
}

/// The slots of a follow-up built on `previous`, or None when the message
/// is a new question.
pub(super) fn merge(text: &str, p: &Parsed, previous: Option<&Slots>) -> Option<Slots> {
    let prev = previous?;
    let lower = text.to_lowercase();
    let starts_followup = FOLLOWUP_START.is_match(&lower);
    let names_nothing =
        p.services.is_empty() && p.accounts.is_empty() && p.regions.is_empty() && p.tags.is_empty();
    // "compare with last month": a baseline and nothing else refers to what came before.
    let refers_back = starts_followup
        || FOLLOWUP_REF.is_match(&lower)
        || p.relative_previous
        || (p.baseline_named && names_nothing);
    // "How much did we spend on S3 in March? is that normal" stands on its own: it names what and when.
    let self_contained = !starts_followup
        && !p.relative_previous
        && SPEND_QUESTION.is_match(&lower)
        && (!p.services.is_empty() || !p.periods.is_empty());
    let short = lower.split_whitespace().count() <= 3;
    let advice = p.intent == Some(Intent::Advice);
    let followup = !self_contained
        && (refers_back || p.intent.is_none() || (short && !advice))
        && !matches!(p.intent, Some(Intent::Help) | Some(Intent::Explain));
    if !followup {
        return None;
    }
    let mut s = prev.clone();
    // "what about just us-west-2?": a short follow-up naming only a filter keeps the kind of answer.
    let intent = match p.intent {
        Some(Intent::Advice)
            if starts_followup
                && lower.split_whitespace().count() <= 6
                && !super::intent::explicit_advice(&lower) =>
        {
            None
        }
        other => other,
    };
    if let Some(i) = intent {
        // "break that down by region" after a comparison keeps comparing, now by region.
        let keep_compare = s.intent == Intent::Compare && i == Intent::Breakdown;
        // "what about S3?" after a trend is still a trend: a bare subject does not make a total.
        let bare_total = i == Intent::Total && p.group_by.is_empty() && !QUANTITY.is_match(&lower);
        if !keep_compare && !bare_total {
            s.intent = i;
        }
    }
    // "how does that compare to last month?": the period before is the baseline.
    if s.intent == Intent::Compare
        && p.periods.len() == 1
        && refers_back
        && prev.intent != Intent::Compare
    {
        let (earlier, later) = chronological(p.periods[0], prev.period);
        s.period = later;
        s.compare_to = Some(earlier);
        return Some(finish(s, p, &lower, prev));
    }
    if p.relative_previous && p.periods.is_empty() {
        // "the week before" steps back a week whatever the period was; "before that" one period.
        s.period = step_back(prev.period, p.relative_unit);
        s.compare_to = prev.compare_to.map(|c| step_back(c, p.relative_unit));
    }
    match p.periods.len() {
        0 => {}
        1 if s.intent == Intent::Compare => {
            // "what about August?" after a comparison compares August with the one before.
            s.period = p.periods[0];
            s.compare_to = None;
        }
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
    Some(finish(s, p, &lower, prev))
}

/// Filters, grouping and options of a follow-up: what it names replaces
/// the previous turn's, or adds to it ("include staging too", "per account as well").
fn finish(mut s: Slots, p: &Parsed, lower: &str, prev: &Slots) -> Slots {
    static ADDING: LazyLock<Regex> =
        LazyLock::new(|| re(r"\btoo\b|\bas well\b|\balso\b|\binclude\b|\bplus\b|\badd\b|\bboth\b"));
    let adding = ADDING.is_match(lower);
    fn merged<T: Clone + PartialEq>(old: &[T], new: &[T], adding: bool) -> Vec<T> {
        if new.is_empty() {
            return old.to_vec();
        }
        if !adding {
            return new.to_vec();
        }
        let mut v = old.to_vec();
        for x in new {
            if !v.contains(x) {
                v.push(x.clone());
            }
        }
        v
    }
    s.services = merged(&prev.services, &p.services, adding);
    s.accounts = merged(&prev.accounts, &p.accounts, adding);
    s.regions = merged(&prev.regions, &p.regions, adding);
    s.tags = merged(&prev.tags, &p.tags, adding);
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
        s.group_by = merged(&prev.group_by, &p.group_by, adding);
        s.group_by.truncate(2);
        if s.intent == Intent::Total || s.intent == Intent::Trend {
            s.intent = Intent::Breakdown;
        }
    }
    s.top_n = p.top_n.or(s.top_n);
    s.metric = p.metric.unwrap_or(s.metric);
    s.include_credits_refunds = p.credits.unwrap_or(s.include_credits_refunds);
    s.granularity = p.granularity.or(s.granularity);
    if s.intent == Intent::Advice {
        s.topic = Some(p.normalized.clone());
    }
    s
}
