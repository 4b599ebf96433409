//! Table-driven planner tests: question (and the previous turn) → tool and arguments.

use chrono::NaiveDate;
use costbot::agent::planner::{plan, Intent, PlanContext, PlanError, Slots};
use serde_json::{json, Value};

fn ctx() -> PlanContext {
    PlanContext::new(
        // A Thursday.
        NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
        vec![
            ("prod".into(), "111111111111".into()),
            ("staging".into(), "222222222222".into()),
            ("dev".into(), "333333333333".into()),
        ],
    )
}

/// Every key in `expected` must be in `actual` with the same value (recursively for objects).
fn assert_subset(actual: &Value, expected: &Value, context: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, v) in e {
                let got = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{context}: missing '{k}' in {actual}"));
                assert_subset(got, v, &format!("{context}.{k}"));
            }
        }
        _ => assert_eq!(actual, expected, "{context}"),
    }
}

fn check(question: &str, previous: Option<&Slots>, tool: &str, args: Value) -> Slots {
    let p = plan(question, previous, &ctx()).unwrap_or_else(|e| panic!("{question}: {e}"));
    assert!(!p.calls.is_empty(), "{question}: no tool calls");
    assert_eq!(p.calls[0].name, tool, "{question}: {:?}", p.calls);
    assert_subset(&p.calls[0].arguments, &args, question);
    p.slots
}

#[test]
fn intents() {
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "How much did we spend last month?",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "group_by": [], "metric": "UnblendedCost", "include_credits_refunds": false}),
        ),
        (
            "total spend yesterday",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-11-18", "end": "2026-11-18"}}),
        ),
        (
            "What's our bill so far this month?",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-11-01", "end": "2026-11-19"}}),
        ),
        (
            "EC2 spend in March",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-03-01", "end": "2026-03-31"}, "filter": {"services": ["EC2"]}}),
        ),
        (
            "cost by service last month",
            "get_cost_and_usage",
            json!({"group_by": ["SERVICE"], "top_n": 10}),
        ),
        (
            "top 5 services this month",
            "get_cost_and_usage",
            json!({"group_by": ["SERVICE"], "top_n": 5, "period": {"start": "2026-11-01", "end": "2026-11-19"}}),
        ),
        (
            "spend by account in Q3",
            "get_cost_and_usage",
            json!({"group_by": ["LINKED_ACCOUNT"], "period": {"start": "2026-07-01", "end": "2026-09-30"}}),
        ),
        (
            "break down last week by region",
            "get_cost_and_usage",
            json!({"group_by": ["REGION"], "period": {"start": "2026-11-09", "end": "2026-11-15"}}),
        ),
        (
            "costs by usage type for S3 last month",
            "get_cost_and_usage",
            json!({"group_by": ["USAGE_TYPE"], "filter": {"services": ["S3"]}}),
        ),
        (
            "EC2 cost by instance type",
            "get_cost_and_usage",
            json!({"group_by": ["INSTANCE_TYPE"]}),
        ),
        (
            "spend by team last month",
            "get_cost_and_usage",
            json!({"group_by": ["TAG:team"]}),
        ),
        (
            "costs by tag cost-center",
            "get_cost_and_usage",
            json!({"group_by": ["TAG:cost-center"]}),
        ),
        (
            "how much did team payments spend last month",
            "get_cost_and_usage",
            json!({"filter": {"tags": {"team": ["payments"]}}}),
        ),
        (
            "Why did EC2 go up last week?",
            "compare_periods",
            json!({"current": {"start": "2026-11-09", "end": "2026-11-15"}, "previous": {"start": "2026-11-02", "end": "2026-11-08"}, "filter": {"services": ["EC2"]}, "group_by": ["LINKED_ACCOUNT", "USAGE_TYPE"], "top_n": 5}),
        ),
        (
            "why did our bill increase last month",
            "compare_periods",
            json!({"current": {"start": "2026-10-01", "end": "2026-10-31"}, "previous": {"start": "2026-09-01", "end": "2026-09-30"}, "group_by": ["SERVICE"]}),
        ),
        (
            "compare March vs April",
            "compare_periods",
            json!({"current": {"start": "2026-04-01", "end": "2026-04-30"}, "previous": {"start": "2026-03-01", "end": "2026-03-31"}}),
        ),
        (
            "how did this month change so far",
            "compare_periods",
            // Complete days only: today (the 19th) is still being filled in.
            json!({"current": {"start": "2026-11-01", "end": "2026-11-18"}, "previous": {"start": "2026-10-01", "end": "2026-10-18"}}),
        ),
        (
            "daily trend for S3 in the last 30 days",
            "get_cost_and_usage",
            json!({"granularity": "DAILY", "period": {"start": "2026-10-20", "end": "2026-11-18"}, "filter": {"services": ["S3"]}}),
        ),
        (
            "monthly spend this year",
            "get_cost_and_usage",
            json!({"granularity": "MONTHLY", "period": {"start": "2026-01-01", "end": "2026-11-19"}}),
        ),
        (
            "will we stay within budget this month?",
            "forecast_month_end",
            json!({"month": "2026-11"}),
        ),
        (
            "forecast for the end of the month",
            "forecast_month_end",
            json!({"month": "2026-11"}),
        ),
        (
            "any anomalies in the last 14 days?",
            "find_anomalies",
            json!({"period": {"start": "2026-11-05", "end": "2026-11-18"}, "group_by": ["SERVICE"]}),
        ),
        (
            "were there unusual spikes last week",
            "find_anomalies",
            json!({"period": {"start": "2026-11-09", "end": "2026-11-15"}}),
        ),
        (
            "how do I cut our NAT gateway bill?",
            "search_guides",
            json!({"services": ["EC2 - Other"]}),
        ),
        ("is gp3 cheaper than gp2?", "search_guides", json!({"k": 3})),
        ("should we buy savings plans", "search_guides", json!({})),
        (
            "amortized cost last month",
            "get_cost_and_usage",
            json!({"metric": "AmortizedCost"}),
        ),
        (
            "spend last month including credits",
            "get_cost_and_usage",
            json!({"include_credits_refunds": true}),
        ),
        (
            "prod spend last month",
            "get_cost_and_usage",
            json!({"filter": {"accounts": ["prod"]}}),
        ),
        (
            "spend in us-east-1 last week",
            "get_cost_and_usage",
            json!({"filter": {"regions": ["us-east-1"]}}),
        ),
        (
            "spend for account 555555555555 yesterday",
            "get_cost_and_usage",
            json!({"filter": {"accounts": ["555555555555"]}}),
        ),
        (
            "what did we spend between 2026-11-01 and 2026-11-10",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-11-01", "end": "2026-11-10"}}),
        ),
        (
            "data transfer costs last month",
            "get_cost_and_usage",
            json!({"filter": {"services": ["data transfer"]}}),
        ),
    ];
    for (q, tool, args) in cases {
        check(q, None, tool, args);
    }
}

#[test]
fn advice_with_a_service_also_fetches_its_spend() {
    let p = plan("how do I cut our NAT gateway bill?", None, &ctx()).unwrap();
    assert_eq!(p.slots.intent, Intent::Advice);
    assert_eq!(p.calls.len(), 2);
    assert_eq!(p.calls[1].name, "get_cost_and_usage");
    assert_subset(
        &p.calls[1].arguments,
        &json!({"filter": {"services": ["NAT gateway"]}, "period": {"start": "2026-10-20", "end": "2026-11-18"}}),
        "advice spend",
    );
}

#[test]
fn follow_ups_reuse_the_previous_slots() {
    let s1 = check(
        "Why did EC2 go up last week?",
        None,
        "compare_periods",
        json!({}),
    );
    // "and the week before?" shifts both periods back.
    let s2 = check(
        "and the week before?",
        Some(&s1),
        "compare_periods",
        json!({"current": {"start": "2026-11-02", "end": "2026-11-08"}, "previous": {"start": "2026-10-26", "end": "2026-11-01"}, "filter": {"services": ["EC2"]}}),
    );
    // "break that down by region" keeps the comparison, now by region.
    let s3 = check(
        "break that down by region",
        Some(&s2),
        "compare_periods",
        json!({"group_by": ["REGION"], "filter": {"services": ["EC2"]}}),
    );
    // "what about S3?" swaps the service, keeps period and grouping.
    let s4 = check(
        "what about S3?",
        Some(&s3),
        "compare_periods",
        json!({"group_by": ["REGION"], "filter": {"services": ["S3"]}, "current": {"start": "2026-11-02", "end": "2026-11-08"}}),
    );
    // "only prod" adds an account filter.
    check(
        "only prod",
        Some(&s4),
        "compare_periods",
        json!({"filter": {"services": ["S3"], "accounts": ["prod"]}}),
    );

    let t1 = check(
        "How much did we spend last month?",
        None,
        "get_cost_and_usage",
        json!({}),
    );
    check(
        "and the month before?",
        Some(&t1),
        "get_cost_and_usage",
        json!({"period": {"start": "2026-09-01", "end": "2026-09-30"}, "group_by": []}),
    );
    let t3 = check(
        "break that down by service",
        Some(&t1),
        "get_cost_and_usage",
        json!({"group_by": ["SERVICE"], "period": {"start": "2026-10-01", "end": "2026-10-31"}}),
    );
    check(
        "only staging",
        Some(&t3),
        "get_cost_and_usage",
        json!({"group_by": ["SERVICE"], "filter": {"accounts": ["staging"]}}),
    );
    check(
        "what about last week?",
        Some(&t3),
        "get_cost_and_usage",
        json!({"group_by": ["SERVICE"], "period": {"start": "2026-11-09", "end": "2026-11-15"}}),
    );
    check(
        "show it amortized",
        Some(&t1),
        "get_cost_and_usage",
        json!({"metric": "AmortizedCost", "period": {"start": "2026-10-01", "end": "2026-10-31"}}),
    );
}

#[test]
fn a_new_question_does_not_inherit() {
    let s1 = check(
        "Why did EC2 go up last week?",
        None,
        "compare_periods",
        json!({}),
    );
    let p = plan("How much did we spend on S3 in March?", Some(&s1), &ctx()).unwrap();
    assert_eq!(p.slots.intent, Intent::Total);
    assert_subset(
        &p.calls[0].arguments,
        &json!({"period": {"start": "2026-03-01", "end": "2026-03-31"}, "filter": {"services": ["S3"]}}),
        "fresh",
    );
}

#[test]
fn explain_and_help_make_no_calls() {
    let s1 = check(
        "How much did we spend last month?",
        None,
        "get_cost_and_usage",
        json!({}),
    );
    let p = plan("how did you get that?", Some(&s1), &ctx()).unwrap();
    assert_eq!(p.slots.intent, Intent::Explain);
    assert!(p.calls.is_empty());
    assert_eq!(
        plan("help", None, &ctx()).unwrap().slots.intent,
        Intent::Help
    );
}

#[test]
fn unknown_services_and_nonsense_are_refused_clearly() {
    // A one-letter typo of a service is read, and the answer says how.
    let p = plan("how much did we spend on lamda last month", None, &ctx()).unwrap();
    assert_eq!(p.slots.services[0].services, vec!["AWS Lambda"]);
    assert_eq!(p.readings, vec!["I read 'lamda' as 'lambda'."]);
    match plan("what about elasticsearh?", None, &ctx()) {
        Err(PlanError::UnknownService(u)) => assert!(
            u.suggestions
                .iter()
                .any(|s| s == "Amazon OpenSearch Service"),
            "{u:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plan("tell me a joke", None, &ctx()),
        Err(PlanError::Unanswerable { .. })
    ));
}

#[test]
fn tool_definitions_cover_every_planned_call() {
    let defs = costbot::agent::tools::definitions();
    let names: Vec<&str> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["function"]["name"].as_str().unwrap())
        .collect();
    for q in [
        "spend last month",
        "why did S3 go up",
        "forecast",
        "anomalies last week",
        "how do I save on lambda",
    ] {
        for call in plan(q, None, &ctx()).unwrap().calls {
            assert!(
                names.contains(&call.name.as_str()),
                "{} has no definition",
                call.name
            );
            let def = defs
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["function"]["name"] == call.name)
                .unwrap();
            let props = def["function"]["parameters"]["properties"]
                .as_object()
                .unwrap();
            // additionalProperties is false: every argument the planner sends must be declared.
            for key in call.arguments.as_object().unwrap().keys() {
                assert!(
                    props.contains_key(key),
                    "{}: '{key}' is not in its schema",
                    call.name
                );
            }
        }
    }
}

/// Cases found in review: each used to give a wrong or silent answer.
#[test]
fn review_regressions() {
    let cases: Vec<(&str, &str, Value)> = vec![
        // The earlier period is the baseline whatever the word order.
        (
            "compare this month with last month",
            "compare_periods",
            // Like with like: the same 18 complete days of last month.
            json!({"previous": {"start": "2026-10-01", "end": "2026-10-18"}}),
        ),
        (
            "how does october compare to september",
            "compare_periods",
            json!({"current": {"start": "2026-10-01"}, "previous": {"start": "2026-09-01"}}),
        ),
        // Account names are not read inside service or team phrases.
        (
            "how much was data transfer last month",
            "get_cost_and_usage",
            json!({"filter": {"services": ["data transfer"]}}),
        ),
        (
            "how much did the data team spend last month",
            "get_cost_and_usage",
            json!({"filter": {"tags": {"team": ["data"]}}}),
        ),
        (
            "how much does env prod cost",
            "get_cost_and_usage",
            json!({"filter": {"tags": {"env": ["prod"]}}}),
        ),
        // "this week" compares with the same days of last week, complete days only.
        (
            "how did this week change",
            "compare_periods",
            json!({"current": {"start": "2026-11-16", "end": "2026-11-18"}, "previous": {"start": "2026-11-09", "end": "2026-11-11"}}),
        ),
        (
            "which team spent the most last month",
            "get_cost_and_usage",
            json!({"group_by": ["TAG:team"]}),
        ),
        (
            "how much did each team spend",
            "get_cost_and_usage",
            json!({"group_by": ["TAG:team"]}),
        ),
        (
            "top 3 regions last week",
            "get_cost_and_usage",
            json!({"group_by": ["REGION"], "top_n": 3}),
        ),
        (
            "which region costs the most",
            "get_cost_and_usage",
            json!({"group_by": ["REGION"]}),
        ),
        (
            "spend since march",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-03-01", "end": "2026-11-19"}}),
        ),
        (
            "spend from march to june",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-03-01", "end": "2026-06-30"}}),
        ),
        (
            "spend in 2026-10",
            "get_cost_and_usage",
            json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}}),
        ),
        (
            "why did our bill go up suddenly last week",
            "compare_periods",
            json!({}),
        ),
        (
            "what did support cost last month",
            "get_cost_and_usage",
            json!({"filter": {"services": ["AWS Support"]}}),
        ),
    ];
    for (q, tool, args) in cases {
        check(q, None, tool, args);
    }
    for bad in [
        "how much did we spend on foobar last month",
        "spend on 2026-02-30",
        "spend on 2026-11-20",
        "spend on november 31",
    ] {
        assert!(plan(bad, None, &ctx()).is_err(), "{bad} should be refused");
    }
}

#[test]
fn review_follow_up_regressions() {
    // "and the week before?" after a one-day comparison steps back a week.
    let s1 = check(
        "why did spend change yesterday",
        None,
        "compare_periods",
        json!({"current": {"start": "2026-11-18"}, "previous": {"start": "2026-11-17"}}),
    );
    check(
        "and the week before?",
        Some(&s1),
        "compare_periods",
        json!({"current": {"start": "2026-11-11", "end": "2026-11-11"}, "previous": {"start": "2026-11-10"}}),
    );
    // A question that names its own subject and period does not inherit filters through "that".
    let s2 = check(
        "spend on prod last month",
        None,
        "get_cost_and_usage",
        json!({"filter": {"accounts": ["prod"]}}),
    );
    let p = plan(
        "What was the S3 bill in september? is that normal",
        Some(&s2),
        &ctx(),
    )
    .unwrap();
    assert!(p.slots.accounts.is_empty(), "{:?}", p.slots);
    let p = plan("and in total?", Some(&s2), &ctx()).unwrap();
    assert!(p.slots.accounts.is_empty(), "{:?}", p.slots);
    // Short follow-ups stay in the conversation.
    let s3 = check(
        "compare september and august",
        None,
        "compare_periods",
        json!({}),
    );
    check(
        "top 3",
        Some(&s3),
        "compare_periods",
        json!({"top_n": 3, "current": {"start": "2026-09-01"}}),
    );
}

// ---- Issue 8: every reading a user found wrong, each with its own phrasing ----

fn on(day: &str) -> PlanContext {
    let mut c = ctx();
    c.today = day.parse().unwrap();
    c.earliest = costbot::costs::periods::add_months(c.today, -13);
    c
}

fn asks_back(question: &str, c: &PlanContext) -> PlanError {
    match plan(question, None, c) {
        Err(e) => {
            assert!(
                !e.suggestions(c.today).is_empty(),
                "{question}: no suggestion"
            );
            e
        }
        Ok(p) => panic!("{question}: answered {:?} {:?}", p.slots.intent, p.calls),
    }
}

#[test]
fn problem_statements_and_how_tos_reach_the_guides_with_the_one_figure_that_matters() {
    for (q, service) in [
        (
            "honestly our RDS costs too much",
            Some("Amazon Relational Database Service"),
        ),
        (
            "EBS snapshots keep piling up in every account",
            Some("EC2 - Other"),
        ),
        (
            "we are still being billed for a NAT gateway in a VPC we deleted",
            Some("EC2 - Other"),
        ),
        ("cross-AZ data transfer is eating us alive", None),
        ("how would we go about buying a savings plan", None),
    ] {
        let p = plan(q, None, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(p.slots.intent, Intent::Advice, "{q}");
        assert_eq!(p.calls[0].name, "search_guides", "{q}");
        if let Some(s) = service {
            let spend = p.calls.get(1).unwrap_or_else(|| panic!("{q}: no figure"));
            assert_eq!(spend.name, "get_cost_and_usage");
            // The last 30 complete days.
            assert_eq!(
                spend.arguments["period"],
                json!({"start": "2026-10-20", "end": "2026-11-18"})
            );
            let services = spend.arguments["filter"]["services"].to_string();
            let resolved = costbot::language::services::resolve(
                spend.arguments["filter"]["services"][0].as_str().unwrap(),
            )
            .unwrap();
            assert!(
                resolved.services.contains(&s.to_string()),
                "{q}: {services}"
            );
        }
    }
    // Definitions answer from the guides, with no cost call at all.
    for q in [
        "what does 'amortized cost' mean?",
        "define blended cost",
        "what's a cost allocation tag",
    ] {
        let p = plan(q, None, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(p.slots.intent, Intent::Advice, "{q}");
        assert!(
            p.calls.iter().all(|c| c.name == "search_guides"),
            "{q}: {:?}",
            p.calls
        );
    }
}

#[test]
fn nothing_named_is_substituted_it_is_asked_back() {
    let c = ctx();
    for q in [
        "what did Amazon Frobnicate cost us last month",
        "bill for snowflake in october",
        "spend in Q5",
        "spend over the last -2 days",
        "costs for the past 0 weeks",
        "EC2 in 2031",
        "how much will we have spent by next week",
        "RDS from 20 October to 10 October",
        "S3 spend in 2024",
        "compare last month with last month",
        "spend for account 98765",
        "EC2 in ap-moon-1 last week",
        "what did that one account spend",
    ] {
        asks_back(q, &c);
    }
    // On the first day of the week there is no complete day of this week to compare.
    asks_back("this week vs last week", &on("2026-11-16"));
    asks_back("today compared with yesterday", &c);
}

#[test]
fn every_period_is_read_as_named() {
    let c = ctx();
    let period = |q: &str| {
        let p = plan(q, None, &c).unwrap_or_else(|e| panic!("{q}: {e}"));
        (p.calls[0].arguments["period"].clone(), p.slots.intent)
    };
    // Two quarters are one span, not month to date.
    assert_eq!(
        period("total for Q2 through Q3").0,
        json!({"start": "2026-04-01", "end": "2026-09-30"})
    );
    // Across a year end, to the latest such range.
    assert_eq!(
        period("spend from december to february").0,
        json!({"start": "2025-12-01", "end": "2026-02-28"})
    );
    // An ISO month followed by punctuation.
    assert_eq!(
        period("what was the bill for 2026-09?").0,
        json!({"start": "2026-09-01", "end": "2026-09-30"})
    );
    assert_eq!(
        period("EC2 on 2026-11-02, please").0,
        json!({"start": "2026-11-02", "end": "2026-11-02"})
    );
    // Rolling weeks end with yesterday, for anomalies too.
    let p = plan("anything odd in the past 3 weeks?", None, &c).unwrap();
    assert_eq!(p.slots.intent, Intent::Anomalies);
    assert_eq!(
        p.calls[0].arguments["period"],
        json!({"start": "2026-10-29", "end": "2026-11-18"})
    );
    // A period named twice is one period.
    let p = plan("last month's bill - yes, last month", None, &c).unwrap();
    assert_eq!(p.slots.intent, Intent::Total);
    assert_eq!(
        p.calls[0].arguments["period"],
        json!({"start": "2026-10-01", "end": "2026-10-31"})
    );
    // A range that runs past today is cut at today, and says so.
    let p = plan("spend from 2026-11-10 to 2026-11-25", None, &c).unwrap();
    assert_eq!(
        p.calls[0].arguments["period"],
        json!({"start": "2026-11-10", "end": "2026-11-19"})
    );
    assert!(
        p.readings.iter().any(|r| r.contains("up to today")),
        "{:?}",
        p.readings
    );
}

#[test]
fn like_is_compared_with_like() {
    let compare = |q: &str, c: &PlanContext| {
        let p = plan(q, None, c).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(p.calls[0].name, "compare_periods", "{q}");
        (
            p.calls[0].arguments["current"].clone(),
            p.calls[0].arguments["previous"].clone(),
        )
    };
    // Quarter to date against the same 49 complete days of last quarter.
    assert_eq!(
        compare("is this quarter tracking above last quarter?", &ctx()),
        (
            json!({"start": "2026-10-01", "end": "2026-11-18"}),
            json!({"start": "2026-07-01", "end": "2026-08-18"})
        )
    );
    // On a Tuesday: Monday against last Monday.
    assert_eq!(
        compare("this week vs last week", &on("2026-11-17")),
        (
            json!({"start": "2026-11-16", "end": "2026-11-16"}),
            json!({"start": "2026-11-09", "end": "2026-11-09"})
        )
    );
    // Month so far against the same days of last month, whatever the word order.
    assert_eq!(
        compare("last month vs this month", &ctx()),
        (
            json!({"start": "2026-11-01", "end": "2026-11-18"}),
            json!({"start": "2026-10-01", "end": "2026-10-18"})
        )
    );
    // On the last day of a month, this month is still running: its complete days against the same of last month.
    assert_eq!(
        compare("compare this month with last month", &on("2026-11-30")),
        (
            json!({"start": "2026-11-01", "end": "2026-11-29"}),
            json!({"start": "2026-10-01", "end": "2026-10-29"})
        )
    );
    // Two whole months of different lengths stay whole (the answer compares per day).
    assert_eq!(
        compare("october versus september", &ctx()),
        (
            json!({"start": "2026-10-01", "end": "2026-10-31"}),
            json!({"start": "2026-09-01", "end": "2026-09-30"})
        )
    );
}

#[test]
fn every_named_group_service_and_tag_survives() {
    let c = ctx();
    for q in [
        "spend by region and account last month",
        "last month per account, per region",
        "last month's costs split by account & region",
    ] {
        let p = plan(q, None, &c).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut dims: Vec<String> = p.calls[0].arguments["group_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        dims.sort();
        assert_eq!(dims, vec!["LINKED_ACCOUNT", "REGION"], "{q}");
    }
    asks_back("by service, region and account", &c);
    // A split Cost Explorer does not have is asked back, not dropped.
    asks_back("s3 costs by bucket", &c);
    asks_back("lambda spend per function last week", &c);
    for q in [
        "what do our load balancers cost",
        "ALB spend last month",
        "how much for elastic load balancing in october",
        "NLBs this month",
    ] {
        let p = plan(q, None, &c).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(
            p.calls[0].arguments["filter"]["services"],
            json!(["Elastic Load Balancing"]),
            "{q}"
        );
        // And the tools resolve what the planner hands them.
        let name = p.calls[0].arguments["filter"]["services"][0]
            .as_str()
            .unwrap();
        assert_eq!(
            costbot::language::services::resolve(name).unwrap().services,
            vec!["Amazon Elastic Load Balancing"]
        );
    }
    // Tag values keep their case (Cost Explorer's tag filters are case-sensitive).
    let p = plan("spend for team Checkout and project Apollo-2", None, &c).unwrap();
    assert_eq!(
        p.calls[0].arguments["filter"]["tags"],
        json!({"team": ["Checkout"], "project": ["Apollo-2"]})
    );
    let mut known = ctx();
    known.tag_values = vec![("team".into(), "payments".into())];
    let p = plan("spend for team PAYMENTS", None, &known).unwrap();
    assert_eq!(
        p.calls[0].arguments["filter"]["tags"],
        json!({"team": ["payments"]})
    );
}
