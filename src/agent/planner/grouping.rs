//! Extractor for how the numbers are split: every dimension named, however
//! they are joined ("by region and account", "per account, per region",
//! "split by service & region"), and how many rows to show.

use std::sync::LazyLock;

use regex::Regex;

use super::vocabulary::re;
use crate::costs::Dimension;

const DIMENSION_WORDS: &str = r"services?|accounts?|linked accounts?|regions?|teams?|envs?|environments?|usage types?|usage|instance types?|tag [a-z0-9_:.-]+|[a-z0-9_:.-]+ tag";

/// A grouping cue followed by one dimension or a list of them.
static GROUP: LazyLock<Regex> = LazyLock::new(|| {
    let dim = DIMENSION_WORDS;
    re(&format!(
        r"(?i)\b(?:by|per|across|which|what|each|every|top \d{{1,2}}|most expensive|biggest|largest|split (?:it |that |this )?(?:by|into|per)|grouped by|group by|broken down by|rank(?:ed)?(?: our| the| all| my)?|ranking(?: of)?(?: our| the)?|compare(?: our| the| all)?)[\s-]+(?:the\s+)?((?:{dim})(?:\s*(?:,|&|/|\+|\band\b|\bthen\b|\bplus\b)\s*(?:(?:then |and )?(?:by|per)[\s-]+)?(?:the\s+)?(?:{dim}))*)\b"
    ))
});
/// "team/env breakdown", "usage types for S3", "accounts ranked by cost".
static GROUP_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    let dim = DIMENSION_WORDS;
    re(&format!(
        r"(?i)\b((?:{dim})(?:\s*(?:,|&|/|\+|\band\b)\s*(?:{dim}))*)(?:\s+|-)(?:breakdown|split|ranked|level|wise|by cost|that (?:spent|cost)|spent the most|cost the most)\b|\b(?:which|what) \d{{1,2}} ((?:{dim}))|\b(usage types|instance types)\b|^\W*(?:what about|how about|and|now|ok|same but)\s+(?:by\s+|per\s+)?((?:{dim}))(?:\s+instead)?\W*$"
    ))
});
/// "by bucket", "per function": a split Cost Explorer does not have.
static UNKNOWN_SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:by|per|for each|broken down by|split by|grouped by)\s+(?:the\s+|each\s+)?(buckets?|resources?|resource ids?|instance ids?|functions?|lambdas?|clusters?|tables?|databases?|volumes?|customers?|users?|pods?|namespaces?|endpoints?|queues?|topics?|hosts?|servers?|vms?|machines?|arns?|applications?|apps?|microservices?|containers?|repos?|repositories?)\b",
    )
});

/// A split the question asks for that Cost Explorer cannot make, as written.
pub(super) fn unknown_split(text: &str) -> Option<String> {
    UNKNOWN_SPLIT.captures(text).map(|c| c[1].to_lowercase())
}

static ONE_DIMENSION: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)\b({DIMENSION_WORDS})\b")));
static TOP_N: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\btop[ -]?(\d{1,2})\b|\b(\d{1,2}) (?:biggest|largest|most expensive|priciest|costliest|top)|\b(?:which|what) (\d{1,2}) ",
    )
});

/// `word` as typed: a tag key keeps its case (Cost Explorer's tag keys are case-sensitive).
fn dimension(word: &str) -> Option<Dimension> {
    let lower = word.to_lowercase();
    if lower.starts_with("tag ") {
        return Some(Dimension::Tag(word[4..].to_string()));
    }
    if lower.ends_with(" tag") {
        return Some(Dimension::Tag(word[..word.len() - 4].to_string()));
    }
    let w = lower.trim_end_matches('s');
    Some(match w {
        "service" => Dimension::Service,
        "account" | "linked account" => Dimension::LinkedAccount,
        "region" => Dimension::Region,
        "team" => Dimension::Tag("team".into()),
        "env" | "environment" => Dimension::Tag("env".into()),
        "usage type" | "usage" => Dimension::UsageType,
        "instance type" => Dimension::InstanceType,
        _ => return None,
    })
}

/// Every dimension the question (as typed) groups by, in the order named
/// (Cost Explorer takes two; a third is reported by the caller).
pub(super) fn group_by(text: &str) -> Vec<Dimension> {
    let mut out: Vec<Dimension> = Vec::new();
    let lists = GROUP
        .captures_iter(text)
        .chain(GROUP_AFTER.captures_iter(text))
        .filter_map(|c| {
            (1..=5)
                .find_map(|i| c.get(i))
                .map(|m| (m.start(), m.as_str().to_string()))
        });
    let mut lists: Vec<(usize, String)> = lists.collect();
    lists.sort();
    for (_, list) in &lists {
        for m in ONE_DIMENSION.find_iter(list) {
            if let Some(d) = dimension(m.as_str()) {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    out
}

pub(super) fn top_n(lower: &str) -> Option<usize> {
    TOP_N
        .captures(lower)
        .and_then(|c| c.get(1).or(c.get(2)).or(c.get(3)).or(c.get(4)))
        .and_then(|m| m.as_str().parse().ok())
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dimension::*;

    #[test]
    fn every_dimension_survives_however_joined() {
        let cases: &[(&str, Vec<Dimension>)] = &[
            ("spend by region and account", vec![Region, LinkedAccount]),
            ("per account, per region", vec![LinkedAccount, Region]),
            ("split by service & region", vec![Service, Region]),
            ("by service then by region", vec![Service, Region]),
            (
                "break it down by team and env",
                vec![Tag("team".into()), Tag("env".into())],
            ),
            ("group by usage type", vec![UsageType]),
            (
                "costs by the CostCenter tag",
                vec![Tag("CostCenter".into())],
            ),
            ("top 5 services", vec![Service]),
        ];
        for (text, want) in cases {
            assert_eq!(&group_by(text), want, "{text}");
        }
    }
}
