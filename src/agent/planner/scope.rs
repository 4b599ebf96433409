//! Extractors for what the numbers are about: services, accounts, regions
//! and tags. Each names everything the question names, or says what it
//! could not read; nothing named is dropped.

use std::sync::LazyLock;

use regex::Regex;

use super::vocabulary::{account_aliases, contains_word, re};
use super::{PlanContext, PlanError};
use crate::costs::TagFilter;
use crate::language::services::{self, ServiceMatch, UnknownService};

/// Anything shaped like a region; one that does not exist is asked back, not dropped.
static REGION: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b((?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+-\d{1,2})\b"));
/// "team payments", "env=prod", "cost center 1234", "project: Phoenix".
static TAG_FILTER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(team|env|environment|project|owner|cost.?cent(?:er|re)|application)(?:\s*[=:]\s*|\s+(?:tag\s+(?:is\s+|=\s*|:\s*)?)?)([a-z0-9][a-z0-9_.-]*)",
    )
});
/// "the payments team".
static TEAM_BEFORE: LazyLock<Regex> = LazyLock::new(|| re(r"\b([a-z][a-z0-9_-]*) team\b"));
/// "tag:CostCenter=1234", "tagged Owner=alice".
static EXPLICIT_TAG: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:tag(?:ged)?:?\s*)([a-z][a-z0-9_.:/-]*)\s*=\s*([a-z0-9][a-z0-9_.-]*)")
});
static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{12})\b"));
/// The words after which a subject is named ("spend on X", "what about X").
static SUBJECT_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:what about|how about|spend on|spent on|spending on|cost of|costs of|costs for|spend for|bill for|bill on|paying for|pay for)\s*([a-z][a-z0-9 .-]{1,30}?)(?:\s+(?:in|last|this|for|during|since|from|on|over|yesterday|today|cost|costs|spend|bill|set|run|come)\b|[?.!,]|$)",
    )
});

/// "how much did X cost", "what does X cost us".
static COST_OF: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:much|what) (?:did|does|do|is|was|were|will) (?:our |the |my )?([a-z][a-z0-9 .-]{1,30}?) (?:cost|costing|run|set us back)\b",
    )
});

/// An "AWS …" or "Amazon …" name no service matched: a product costbot cannot read.
static AWS_PRODUCT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:aws|amazon) ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*){0,2}?)(?:\s+(?:spend|cost|costs|bill|in|last|this|for|during|since|from|on|over)\b|[?.!,]|$)",
    )
});
/// "account 12345": an account id is 12 digits.
static BAD_ACCOUNT_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"\baccount (?:id )?(\d{1,11}|\d{13,})\b"));
/// Regions Cost Explorer reports (a region not here is a typo, not a filter).
const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "ap-south-1",
    "ap-south-2",
    "ap-east-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "sa-east-1",
    "me-south-1",
    "me-central-1",
    "af-south-1",
    "il-central-1",
    "mx-central-1",
];
/// Account names that are also ordinary words.
const ORDINARY_WORDS: &[&str] = &[
    "data", "shared", "security", "main", "test", "sandbox", "network", "logging", "audit", "log",
    "ops", "core", "master", "tools", "platform", "search", "payments", "billing",
];

/// Products people pay for outside AWS: Cost Explorer does not see them.
const NOT_AWS: &[&str] = &[
    "azure",
    "gcp",
    "google cloud",
    "snowflake",
    "datadog",
    "databricks",
    "mongodb atlas",
    "cloudflare",
    "github",
    "heroku",
    "vercel",
    "new relic",
    "splunk",
    "oracle cloud",
    "digitalocean",
    "confluent",
    "openai",
    "bigquery",
    "gke",
    "aks",
];

/// Words that follow "team"/"env" without naming one.
const NOT_A_VALUE: &[&str] = &[
    "by",
    "per",
    "and",
    "or",
    "the",
    "in",
    "on",
    "of",
    "for",
    "a",
    "an",
    "with",
    "to",
    "spend",
    "spends",
    "spent",
    "spending",
    "cost",
    "costs",
    "costing",
    "tag",
    "tags",
    "is",
    "was",
    "has",
    "have",
    "had",
    "did",
    "does",
    "do",
    "use",
    "uses",
    "used",
    "that",
    "this",
    "which",
    "each",
    "every",
    "bill",
    "member",
    "members",
    "most",
    "least",
    "last",
    "our",
    "their",
    "my",
    "so",
    "much",
    "what",
    "whole",
    "s",
    "spend",
    "level",
    "wise",
    "name",
    "names",
    "tagging",
    "we",
    "are",
    "it",
    "its",
    "lead",
    "leads",
    "budget",
    "account",
    "accounts",
    "owns",
    "own",
    "instead",
    "breakdown",
    "split",
    "offsite",
    "meeting",
    "members",
    "wants",
    "asked",
    "asks",
    "needs",
    "lead",
    "too",
    "as",
    "ranked",
    "level",
    "only",
    "just",
    "all",
    "be",
    "will",
];

/// Words a subject after "spend on" may be without naming a product.
const NOT_A_SUBJECT: &[&str] = &[
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
    "we",
    "our",
    "the",
    "cloud",
    "infra",
    "infrastructure",
    "stuff",
    "things",
    "compute",
    "storage",
    "services",
    "service",
    "accounts",
    "account",
    "regions",
    "region",
    "teams",
    "team",
    "amazon",
    "a",
    "an",
    "you",
    "they",
    "overall",
    "things",
    "so",
    "there",
];

#[derive(Debug)]
pub(super) struct Scope {
    pub services: Vec<ServiceMatch>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub tags: Vec<TagFilter>,
}

/// Reads the scope of `text` (as typed, any case). `tag_grouped` are the
/// tag keys the question groups by ("by team" is a grouping, not a filter).
pub(super) fn extract(
    text: &str,
    ctx: &PlanContext,
    tag_grouped: &[String],
    period_spans: &[(usize, usize)],
) -> (Scope, Option<PlanError>) {
    let t = text.to_lowercase();
    // Byte offsets of `t` match `text` only when lower-casing kept every length.
    let same_offsets = t.len() == text.len();
    let as_typed = |s: usize, e: usize, lower: &str| -> String {
        if same_offsets {
            text[s..e].to_string()
        } else {
            lower.to_string()
        }
    };
    let services = services::find_in_text(&t);
    let mut regions: Vec<String> = Vec::new();
    for c in REGION.captures_iter(&t) {
        if !regions.contains(&c[1].to_string()) {
            regions.push(c[1].to_string());
        }
    }
    let mut tags: Vec<TagFilter> = Vec::new();
    // Text already claimed by a service, tag or period, so account names are not read inside it.
    let mut claimed = t.clone();
    for m in &services {
        claimed = claimed.replace(&m.said.to_lowercase(), " ");
    }
    let add_tag = |key: String, value: String, tags: &mut Vec<TagFilter>| {
        let value = known_case(ctx, &key, &value);
        match tags.iter_mut().find(|x| x.key == key) {
            Some(existing) if !existing.values.contains(&value) => existing.values.push(value),
            Some(_) => {}
            None => tags.push(TagFilter {
                key,
                values: vec![value],
            }),
        }
    };
    for c in EXPLICIT_TAG.captures_iter(&t) {
        let (k, v) = (c.get(1).expect("key"), c.get(2).expect("value"));
        add_tag(
            as_typed(k.start(), k.end(), k.as_str()),
            as_typed(v.start(), v.end(), v.as_str()),
            &mut tags,
        );
        claimed = claimed.replace(&c[0], " ");
    }
    for c in TAG_FILTER.captures_iter(&t) {
        let key = match &c[1] {
            "environment" => "env".to_string(),
            k if k.starts_with("cost") => "cost-center".to_string(),
            k => k.to_string(),
        };
        let v = c.get(2).expect("value");
        let grouped = tag_grouped.contains(&key);
        let in_period = period_spans
            .iter()
            .any(|(s, e)| v.start() >= *s && v.end() <= *e);
        if grouped || in_period || NOT_A_VALUE.contains(&v.as_str()) {
            continue;
        }
        // "the team offsite", "our team budget": a noun phrase, unless it names a known value.
        let k = c.get(1).expect("key");
        let before = &t[..k.start()];
        let determiner = before.ends_with("the ")
            || before.ends_with("our ")
            || before.ends_with("my ")
            || before.ends_with("a ");
        let known = ctx
            .tag_values
            .iter()
            .any(|(kk, vv)| *kk == key && vv.eq_ignore_ascii_case(v.as_str()));
        // A value after a plain space is a tag only when it is known, or written as a name
        // ("team Checkout"); "team thinks" is a sentence.
        let plain_space = !c[0].contains('=') && !c[0].contains(':') && !c[0].contains(" tag");
        let typed = as_typed(v.start(), v.end(), v.as_str());
        let looks_like_name = typed.chars().next().is_some_and(|ch| ch.is_uppercase())
            || typed
                .chars()
                .any(|ch| ch.is_ascii_digit() || ch == '-' || ch == '_');
        let key_has_values = ctx.tag_values.iter().any(|(kk, _)| *kk == key);
        if (determiner && !known) || (plain_space && key_has_values && !known && !looks_like_name) {
            continue;
        }
        claimed = claimed.replace(&c[0], " ");
        add_tag(key, as_typed(v.start(), v.end(), v.as_str()), &mut tags);
    }
    for c in TEAM_BEFORE.captures_iter(&t) {
        let v = c.get(1).expect("value");
        let grouped = tag_grouped.iter().any(|k| k == "team");
        // "the storage team swears…": a team tag only when the data knows it or it is written as a name.
        let typed = as_typed(v.start(), v.end(), v.as_str());
        let known = ctx
            .tag_values
            .iter()
            .any(|(k, val)| k == "team" && val.eq_ignore_ascii_case(v.as_str()));
        let named = typed.chars().next().is_some_and(|ch| ch.is_uppercase());
        let team_values_known = ctx.tag_values.iter().any(|(k, _)| k == "team");
        if (team_values_known && !known && !named)
            || grouped
            || NOT_A_VALUE.contains(&v.as_str())
            || tags.iter().any(|x| x.key == "team")
            || services.iter().any(|m| m.said.to_lowercase() == v.as_str())
        {
            continue;
        }
        claimed = claimed.replace(&c[0], " ");
        add_tag(
            "team".into(),
            as_typed(v.start(), v.end(), v.as_str()),
            &mut tags,
        );
    }
    let mut accounts = Vec::new();
    for (name, id) in &ctx.accounts {
        // An account named like an ordinary word ("data") is that account only when called one.
        let hit = if ORDINARY_WORDS.contains(&name.as_str()) {
            let n = regex::escape(&name.to_lowercase());
            re(&format!(r"\b{n}(?:'s)? (?:account|acct|aws account)|\baccounts? {n}\b|\b(?:in|for|from|on|only|just) {n}\s*(?:$|[?.!,]|and\b|vs\b|too\b)|^\W*(?:and |what about |how about |now for |for )?(?:\w+ and )?{n}\W*$"))
                .is_match(&claimed)
        } else {
            account_aliases(name)
                .iter()
                .any(|a| contains_word(&claimed, a))
        };
        if hit || claimed.contains(id.as_str()) {
            accounts.push(name.clone());
        }
    }
    for c in ACCOUNT_ID.captures_iter(&t) {
        let id = c[1].to_string();
        if !ctx.accounts.iter().any(|(_, i)| *i == id) && !accounts.contains(&id) {
            accounts.push(id);
        }
    }
    let scope = Scope {
        services,
        accounts,
        regions,
        tags,
    };
    let problem = problem(&t, ctx, &scope);
    (scope, problem)
}

/// Something the question names that costbot cannot read: an account id
/// that is not one, a region that does not exist, a product it cannot see.
fn problem(t: &str, ctx: &PlanContext, scope: &Scope) -> Option<PlanError> {
    let (services, regions, tags) = (&scope.services, &scope.regions, &scope.tags);
    let t = t.to_string();
    if let Some(bad) = BAD_ACCOUNT_ID.captures(&t) {
        return Some(PlanError::UnknownAccount(bad[1].to_string()));
    }
    if let Some(r) = regions
        .iter()
        .find(|r| !KNOWN_REGIONS.contains(&r.as_str()))
    {
        return Some(PlanError::UnknownRegion(r.clone()));
    }
    // "our Oracle Cloud instances": a product outside AWS, even beside a generic word like "instances".
    let only_generic = services.iter().all(|m| m.said == "instances");
    if only_generic {
        if let Some(product) = NOT_AWS.iter().find(|p| contains_word(&t, p)) {
            return Some(PlanError::UnknownService(UnknownService {
                given: product.to_string(),
                suggestions: vec![],
            }));
        }
    }
    if services.is_empty() {
        if let Some(c) = AWS_PRODUCT.captures(&t) {
            let name = c[1].trim().to_string();
            let known = !crate::language::time::find_periods(&name, ctx.today).is_empty()
                || [
                    "bill",
                    "account",
                    "accounts",
                    "spend",
                    "costs",
                    "cost",
                    "total",
                    "services",
                    "invoice",
                    "budget",
                    "credits",
                    "org",
                    "organization",
                    // AWS's own analyses, not a product: "what does AWS forecast".
                    "forecast",
                    "anomal",
                    "cost anomaly",
                    "flag",
                    "detect",
                    "predict",
                    "project",
                    // AWS's recommendations: "what does AWS recommend we downsize".
                    "recommend",
                    "rightsiz",
                    "suggest",
                ]
                .iter()
                .any(|w| name.starts_with(w));
            if !known {
                return Some(PlanError::UnknownService(UnknownService {
                    given: format!("{} {}", &c[0][..c[0].len() - c[1].len()].trim(), name),
                    suggestions: services::suggest(&name),
                }));
            }
        }
        if let Some(unknown) = unknown_subject(&t, ctx, regions, tags) {
            return Some(PlanError::UnknownService(unknown));
        }
        if let Some(unknown) = services::near_miss(&t) {
            return Some(PlanError::UnknownService(unknown));
        }
    }
    None
}

/// A tag value in the case the data has it (Cost Explorer's tag filters are
/// case-sensitive), or as typed when the data does not know it.
fn known_case(ctx: &PlanContext, key: &str, value: &str) -> String {
    ctx.tag_values
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(key) && v.eq_ignore_ascii_case(value))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| value.to_string())
}

/// A word after "spend on" / "what about" that names nothing we know.
fn unknown_subject(
    t: &str,
    ctx: &PlanContext,
    regions: &[String],
    tags: &[TagFilter],
) -> Option<UnknownService> {
    let c = SUBJECT_AFTER.captures(t).or_else(|| COST_OF.captures(t))?;
    let cand = c[1]
        .trim()
        .trim_start_matches("the ")
        .trim_start_matches("our ")
        .trim()
        .to_string();
    let first = cand.split_whitespace().next().unwrap_or("");
    let known = cand.is_empty()
        || NOT_A_SUBJECT.contains(&cand.as_str())
        || NOT_A_SUBJECT.contains(&first)
        || !crate::language::time::find_periods(&cand, ctx.today).is_empty()
        || regions.iter().any(|r| cand.contains(r.as_str()))
        || tags.iter().any(|tag| {
            cand.contains(&tag.key) || tag.values.iter().any(|v| cand.contains(&v.to_lowercase()))
        })
        || ACCOUNT_ID.is_match(&cand)
        || cand.split_whitespace().any(|w| {
            w.starts_with("account")
                || w == "team"
                || w == "env"
                || ctx
                    .accounts
                    .iter()
                    .any(|(n, _)| account_aliases(n).iter().any(|a| a == w))
        });
    if known {
        return None;
    }
    services::resolve(&cand).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext::for_tests()
    }

    #[test]
    fn tag_values_keep_the_case_typed_or_known() {
        let s = extract("spend for team Checkout last month", &ctx(), &[], &[]).0;
        assert_eq!(s.tags[0].values, vec!["Checkout"]);
        let s = extract("spend for team Payments", &ctx(), &[], &[]).0;
        assert_eq!(s.tags[0].values, vec!["payments"]);
        let s = extract("cost for tag:CostCenter=AB-12", &ctx(), &[], &[]).0;
        assert_eq!(s.tags[0].key, "CostCenter");
        assert_eq!(s.tags[0].values, vec!["AB-12"]);
    }

    #[test]
    fn products_outside_aws_are_named() {
        match extract("how much did snowflake cost us", &ctx(), &[], &[]) {
            (_, Some(PlanError::UnknownService(u))) => assert_eq!(u.given, "snowflake"),
            (s, other) => panic!("{:?} {other:?}", s.services),
        }
    }
}
