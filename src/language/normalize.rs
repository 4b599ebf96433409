//! Shorthand and typos, read before anything else: "lst wk" is "last week",
//! "octobr" is "october", "lamda" is "lambda". Every correction is kept, so
//! the answer can say how a word was read.

use std::sync::LazyLock;

/// Shorthand people type in chat, as whole words.
const SHORTHAND: &[(&str, &str)] = &[
    ("lst", "last"),
    ("wk", "week"),
    ("wks", "weeks"),
    ("wek", "week"),
    ("mnth", "month"),
    ("mnths", "months"),
    ("mos", "months"),
    ("yr", "year"),
    ("yrs", "years"),
    ("qtr", "quarter"),
    ("qtrs", "quarters"),
    ("svc", "service"),
    ("svcs", "services"),
    ("acct", "account"),
    ("accts", "accounts"),
    ("fcst", "forecast"),
    ("eom", "end of month"),
    ("wow", "week over week"),
    ("cw", "cloudwatch"),
    ("ddb", "dynamodb"),
    ("yday", "yesterday"),
    ("prev", "previous"),
    ("thru", "through"),
    ("tmrw", "tomorrow"),
    ("ovr", "over"),
    ("wht", "what"),
    ("whats", "what is"),
    ("hw", "how"),
    ("mo", "month"),
    ("gw", "gateway"),
    ("gws", "gateways"),
];

/// Words a typo may be corrected to. Short ones (up to six letters) only
/// from a list that holds no ordinary English word's neighbour by accident
/// (no "stage": "state" is a word).
const SHORT_TARGETS: &[&str] = &[
    "last", "week", "weeks", "month", "months", "year", "years", "total", "spend", "spent", "cost",
    "costs", "bill", "team", "teams", "region", "regions", "daily", "weekly", "since", "today",
    "trend", "weird", "spike", "spikes", "budget", "during", "across", "lambda", "athena",
    "account", "forecast", "compare", "october", "august", "june", "july", "march", "april",
    "search",
];
const LONG_TARGETS: &[&str] = &[
    "yesterday",
    "breakdown",
    "forecast",
    "anomalies",
    "anomaly",
    "accounts",
    "services",
    "service",
    "compare",
    "comparison",
    "quarter",
    "january",
    "february",
    "september",
    "november",
    "december",
    "production",
    "staging",
    "development",
    "elasticache",
    "cloudfront",
    "cloudwatch",
    "redshift",
    "dynamodb",
    "manager",
    "functions",
    "transfer",
    "sagemaker",
    "kinesis",
    "opensearch",
    "guardduty",
    "cloudtrail",
    "snapshots",
    "payments",
    "platform",
    "search",
    "instances",
    "instance",
    "monthly",
    "previous",
    "average",
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    pub text: String,
    /// (as typed, as read) for every word that was changed by a guess
    /// (shorthand is not listed: it is not a guess).
    pub corrections: Vec<(String, String)>,
}

static ALL_TARGETS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut v: Vec<&str> = SHORT_TARGETS.iter().chain(LONG_TARGETS).copied().collect();
    v.sort();
    v.dedup();
    v
});

fn correct(word: &str) -> Option<&'static str> {
    if word.len() < 4 || !word.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    // Words of the field are never typos of another ("projection" is not "production").
    if ALL_TARGETS.contains(&word) || super::is_domain_word(word) {
        return None;
    }
    // Ordinary words one letter from a target: "list our accounts" is not "last".
    if ["list", "lists"].contains(&word) {
        return None;
    }
    // One letter from a month ("smarch") is left for the time reader to name as no month.
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if MONTHS
        .iter()
        .any(|m| m.as_bytes()[0] != word.as_bytes()[0] && strsim::damerau_levenshtein(word, m) == 1)
    {
        return None;
    }
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for target in ALL_TARGETS.iter() {
        let short = target.len() <= 6;
        if short && !SHORT_TARGETS.contains(target) {
            continue;
        }
        if target.chars().next() != word.chars().next() {
            continue;
        }
        // Two edits only for long words: "compute" is not a typo of "compare".
        let allowed = if target.len() >= 10 { 2 } else { 1 };
        let d = strsim::damerau_levenshtein(word, target);
        // A plural or a longer word is not a typo of its stem ("costly", "weekend").
        if d == 0 || d > allowed || word.starts_with(target) {
            continue;
        }
        match best {
            Some((_, bd)) if d > bd => {}
            Some((_, bd)) if d == bd => tie = true,
            _ => {
                best = Some((target, d));
                tie = false;
            }
        }
    }
    match (best, tie) {
        (Some((t, _)), false) => Some(t),
        _ => None,
    }
}

/// Lower-cases nothing and keeps punctuation: only whole words change.
pub fn normalize(text: &str) -> Normalized {
    let mut out = String::with_capacity(text.len());
    let mut corrections = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, corrections: &mut Vec<(String, String)>| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if let Some((_, long)) = SHORTHAND.iter().find(|(s, _)| *s == lower) {
            out.push_str(long);
        } else if let Some(fixed) = correct(&lower) {
            corrections.push((word.clone(), fixed.to_string()));
            out.push_str(fixed);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut corrections);
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut corrections);
    Normalized {
        text: out,
        corrections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_and_typos_are_read_and_ordinary_words_kept() {
        let cases = [
            (
                "how much did we spnd on ec2 lst month",
                "how much did we spend on ec2 last month",
            ),
            (
                "top 5 servies by cost in octobr",
                "top 5 services by cost in october",
            ),
            ("cost by acount for q3", "cost by account for q3"),
            (
                "stagign account spend yestreday",
                "staging account spend yesterday",
            ),
            (
                "volumes in 'available' state",
                "volumes in 'available' state",
            ),
            ("costly weekend spend", "costly weekend spend"),
            ("lamda cost", "lambda cost"),
        ];
        for (typed, read) in cases {
            assert_eq!(normalize(typed).text, read, "{typed}");
        }
        assert_eq!(
            normalize("octobr").corrections,
            vec![("octobr".to_string(), "october".to_string())]
        );
    }
}
