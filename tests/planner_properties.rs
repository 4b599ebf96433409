//! Random and adversarial text through the rules planner for a bounded time:
//! no panic, and every plan's tool calls are for exactly the period, services
//! and scope its slots (and so its basis) state — never a substitute.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use costbot::agent::planner::{plan, Intent, PlanContext, Slots};
use costbot::language::services::find_in_text;

/// SplitMix64: a fixed seed, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FRAGMENTS: &[&str] = &[
    "how much",
    "did we spend",
    "on",
    "in",
    "for",
    "last month",
    "this month",
    "yesterday",
    "last week",
    "q3",
    "q5",
    "q0",
    "2026-10",
    "2026-13",
    "2026-02-30",
    "2031",
    "1999",
    "next month",
    "from march to january",
    "between 5 and 3 november",
    "the last -4 days",
    "past 9999999999999 days",
    "last 2 weeks",
    "ec2",
    "s3",
    "nat gateways",
    "ALBs",
    "lamda",
    "snowflake",
    "Amazon Zorp",
    "by region",
    "and account",
    "per service",
    "top 3",
    "vs",
    "compare",
    "why did",
    "go up",
    "forecast",
    "budget",
    "anomalies",
    "spike",
    "how do i",
    "reduce",
    "too much",
    "team Payments",
    "env=prod",
    "tag:Owner=Ann",
    "prod",
    "data account",
    "111111111111",
    "12345",
    "us-east-1",
    "us-east-9",
    "?",
    "!!",
    "…",
    "€",
    "日本",
    "💸",
    "\u{0}",
    "\u{200b}",
    "'",
    "\"",
    "\\",
    "(",
    ")",
    "[",
    "*",
    "+",
    ".*",
    "$",
    "%",
    "24/7",
    "3/2026",
    "since 2019",
    "this quarter",
    "ytd",
    "wow",
    "fcst",
    "octobr",
    "serach",
    "and",
    "the",
    "a",
    "what is",
    "mean",
    "show me",
    "daily",
    "trend",
    "breakdown",
    "by team and env",
    "instead",
    "too",
    "as well",
    "same 7 days",
    "today",
    "tomorrow",
    "week 54",
    "month 0",
    "31st of april",
];

fn ctx() -> PlanContext {
    PlanContext::for_tests()
}

fn random_text(rng: &mut Rng) -> String {
    let n = 1 + rng.below(9);
    let mut words: Vec<String> = (0..n).map(|_| rng.pick(FRAGMENTS).to_string()).collect();
    if rng.below(4) == 0 {
        // Raw noise: arbitrary code points, including ones that change length when lower-cased.
        let noise: String = (0..rng.below(40))
            .filter_map(|_| char::from_u32((rng.next() % 0x3_0000) as u32))
            .collect();
        words.push(noise);
    }
    if rng.below(5) == 0 {
        words.push("İ".repeat(rng.below(20) as usize));
    }
    words.join(" ")
}

/// The plan's calls say what its slots say: the period, and every service,
/// account, region and tag, nothing more and nothing less.
fn check_plan(text: &str, slots: &Slots, calls: &[costbot::agent::ToolCall], c: &PlanContext) {
    let tomorrow = c.today + chrono::Duration::days(1);
    for p in [Some(slots.period), slots.compare_to].into_iter().flatten() {
        assert!(
            p.period.start < p.period.end,
            "{text:?}: empty period {p:?}"
        );
        if slots.intent != Intent::Advice {
            assert!(
                p.period.start >= c.earliest,
                "{text:?}: before the history {p:?}"
            );
            assert!(p.period.end <= tomorrow, "{text:?}: after today {p:?}");
        }
    }
    let display: Vec<String> = slots.services.iter().map(|m| m.display.clone()).collect();
    for call in calls {
        let a = &call.arguments;
        // DescribeBudgets takes no filter: every AWS budget is listed, and the answer says so.
        if call.name == "search_guides" || call.name == "aws_budgets" {
            continue;
        }
        let f = &a["filter"];
        let list = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|x| {
                    x.iter()
                        .map(|s| s.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(list(&f["services"]), display, "{text:?}: services");
        assert_eq!(list(&f["accounts"]), slots.accounts, "{text:?}: accounts");
        assert_eq!(list(&f["regions"]), slots.regions, "{text:?}: regions");
        for t in &slots.tags {
            assert_eq!(
                list(&f["tags"][&t.key]),
                t.values,
                "{text:?}: tag {}",
                t.key
            );
        }
        let day = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<NaiveDate>().ok());
        match call.name.as_str() {
            "get_cost_and_usage" | "find_anomalies" if slots.intent != Intent::Advice => {
                assert_eq!(
                    day(&a["period"]["start"]),
                    Some(slots.period.period.start),
                    "{text:?}"
                );
                assert_eq!(
                    day(&a["period"]["end"]),
                    Some(slots.period.period.last_day()),
                    "{text:?}"
                );
            }
            "compare_periods" => {
                let before = slots.compare_to.expect("a comparison has a baseline");
                assert_eq!(
                    day(&a["current"]["start"]),
                    Some(slots.period.period.start),
                    "{text:?}"
                );
                assert_eq!(
                    day(&a["previous"]["start"]),
                    Some(before.period.start),
                    "{text:?}"
                );
                assert_ne!(
                    slots.period.period, before.period,
                    "{text:?}: compared with itself"
                );
            }
            _ => {}
        }
    }
    // Nothing named is dropped: every service the words name is in the plan.
    let named = find_in_text(
        &costbot::language::normalize::normalize(text)
            .text
            .to_lowercase(),
    );
    for m in named {
        assert!(
            slots.services.iter().any(|s| s.display == m.display) || slots.intent == Intent::Advice,
            "{text:?}: {} was named but dropped",
            m.display
        );
    }
}

#[test]
fn random_and_adversarial_text_never_panics_or_substitutes() {
    let c = ctx();
    let mut rng = Rng(0x5EED_0008);
    let budget = Duration::from_secs(
        std::env::var("COSTBOT_FUZZ_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let start = Instant::now();
    let (mut planned, mut asked) = (0usize, 0usize);
    while start.elapsed() < budget {
        let text = random_text(&mut rng);
        match plan(&text, None, &c) {
            Ok(p) => {
                planned += 1;
                check_plan(&text, &p.slots, &p.calls, &c);
                // And a follow-up built on it keeps the same promises.
                let next = random_text(&mut rng);
                if let Ok(f) = plan(&next, Some(&p.slots), &c) {
                    check_plan(&next, &f.slots, &f.calls, &c);
                }
            }
            Err(e) => {
                asked += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // The generator reaches both outcomes, or the test proves little.
    assert!(
        planned > 50 && asked > 50,
        "planned {planned}, asked back {asked}"
    );
}

#[test]
fn every_impossible_period_phrase_is_asked_back_not_replaced() {
    let c = ctx();
    let subjects = [
        "spend",
        "EC2 cost",
        "bill by service",
        "S3 daily trend",
        "compare RDS",
    ];
    let periods = [
        "in Q5",
        "in Q0",
        "for 2026-13",
        "on 2026-02-30",
        "on the 31st of april",
        "in 2031",
        "in 1999",
        "next month",
        "next week",
        "tomorrow",
        "for the last -3 days",
        "for the last 0 days",
        "for the past 100000 days",
        "in december 2026",
        "from 20 march to 3 march",
        "since 2019",
        "in 2024",
        "last year",
        "in week 54",
        "for month 0",
        "for the rest of the year",
        "in Smarch",
    ];
    for s in subjects {
        for p in periods {
            let q = format!("{s} {p}");
            if let Ok(plan) = plan(&q, None, &c) {
                panic!("{q}: answered for {}", plan.slots.period.period.label());
            }
        }
    }
}
