//! The Agent end to end on the sample organization: answers agree with each
//! other and with the source, state their basis, and cite guides.

use std::sync::Arc;

use chrono::NaiveDate;
use costbot::agent::{Agent, Answer, ConversationKey, ErrorKind, Inquiry, Tools};
use costbot::config::CacheConfig;
use costbot::costs::cache::CachedSource;
use costbot::costs::sample::SampleSource;
use costbot::costs::{CostQuery, CostSource, Period};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use rust_decimal::Decimal;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

async fn agent(dir: &std::path::Path, budget: Option<&str>) -> Agent {
    let store = Store::open(&dir.join("costbot.db")).await.unwrap();
    let t = today();
    let source = CachedSource::new(
        Arc::new(SampleSource::new(t)),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || t),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(source),
        retriever: Arc::new(index),
        budget: budget.map(|b| b.parse().unwrap()),
        connections: vec![],
    };
    Agent::new(tools, store, Arc::new(move || t))
}

async fn ask(agent: &Agent, conversation: &str, text: &str) -> Answer {
    agent
        .handle(Inquiry::new(
            ConversationKey::Channel(conversation.into()),
            "t",
            "test",
            text,
        ))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn figure(a: &Answer, label_starts: &str) -> Decimal {
    a.figures
        .iter()
        .find(|f| f.label.starts_with(label_starts))
        .unwrap_or_else(|| panic!("no figure '{label_starts}' in {:?}", a.figures))
        .amount
        .parse()
        .unwrap()
}

#[tokio::test]
async fn totals_and_breakdowns_agree_with_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), None).await;
    let total = ask(&agent, "a", "How much did we spend last month?").await;
    let direct = SampleSource::new(today())
        .cost_and_usage(&CostQuery::new(Period::month(2026, 10)))
        .await
        .unwrap()
        .total();
    assert_eq!(figure(&total, "AWS"), direct);
    let basis = total.basis.as_ref().unwrap();
    assert!(basis.sample_data && basis.credits_refunds_excluded);
    assert_eq!(basis.metric, "unblended cost");
    assert!(total.notes[0].contains("SAMPLE"));

    let by_service = ask(&agent, "a", "break that down by service").await;
    assert_eq!(figure(&by_service, "AWS"), direct);
    let rows = &by_service.table.as_ref().unwrap().rows;
    assert_eq!(rows.last().unwrap()[0], "Total");
    assert_eq!(rows[0][0], "Amazon Elastic Compute Cloud - Compute");

    let with_credits = ask(&agent, "b", "spend last month including credits").await;
    assert_eq!(direct - figure(&with_credits, "AWS"), Decimal::from(500));
    assert!(!with_credits.basis.unwrap().credits_refunds_excluded);
}

#[tokio::test]
async fn why_did_ec2_go_up_names_the_mover_and_offers_a_guide() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), None).await;
    let a = ask(&agent, "c", "Why did EC2 go up last week?").await;
    assert!(a.summary.contains("went up"), "{}", a.summary);
    assert!(
        a.summary
            .contains("prod (111111111111) · USE1-BoxUsage:m7i.xlarge"),
        "{}",
        a.summary
    );
    let change = figure(&a, "Change");
    assert_eq!(change, figure(&a, "EC2, 9–15") - figure(&a, "EC2, 2–8"));
    assert!(!a.citations.is_empty());
    assert!(a.citations.iter().all(|c| c
        .source_url
        .as_deref()
        .unwrap_or("")
        .starts_with("https://")));
    assert_eq!(a.tool_calls.last().unwrap().name, "search_guides");
}

#[tokio::test]
async fn forecast_against_budget_and_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), Some("150000")).await;
    let f = ask(&agent, "d", "Will we stay within budget this month?").await;
    let forecast = figure(&f, "Forecast month total");
    let mtd = figure(&f, "Actual month to date");
    assert!(forecast > mtd, "{forecast} vs {mtd}");
    assert_eq!(figure(&f, "Monthly budget"), Decimal::from(150_000));
    assert!(
        f.summary.contains("over the $150,000.00 budget"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("which would be passed on"),
        "{}",
        f.summary
    );

    let an = ask(&agent, "e", "any anomalies in the last 14 days?").await;
    let table = an.table.expect("an anomaly table");
    // The sample's NAT gateway spike three days ago shows up under EC2 - Other.
    assert!(
        table
            .rows
            .iter()
            .any(|r| r[0] == "EC2 - Other" && r[2] == "2026-11-16"),
        "{:?}",
        table.rows
    );
}

#[tokio::test]
async fn advice_cites_the_right_guide_with_the_users_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), None).await;
    let a = ask(&agent, "f", "how do I cut our NAT gateway bill?").await;
    assert_eq!(a.citations[0].guide, "nat-gateway.md");
    assert!(a.summary.starts_with("From the guide"), "{}", a.summary);
    assert!(
        a.summary
            .contains("Your NAT gateway spend in the last 30 days"),
        "{}",
        a.summary
    );
    assert!(figure(&a, "NAT gateway") > Decimal::ZERO);
    let gp3 = ask(&agent, "g", "is gp3 cheaper than gp2?").await;
    assert_eq!(gp3.citations[0].guide, "ebs-gp2-to-gp3.md");
}

#[tokio::test]
async fn refusals_are_recorded_and_explain_reads_history() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), None).await;
    let err = agent
        .handle(Inquiry::new(
            ConversationKey::Channel("h".into()),
            "t",
            "test",
            "what about elasticsearh?",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.public.code, "unanswerable");
    assert!(
        err.to_string().contains("Amazon OpenSearch Service"),
        "{err}"
    );
    ask(&agent, "h", "S3 spend yesterday").await;
    let how = ask(&agent, "h", "how did you get that?").await;
    assert!(
        how.details[0].starts_with("get_cost_and_usage("),
        "{:?}",
        how.details
    );
    let (id, _) = agent
        .store()
        .conversation_by_key("h")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(err.conversation_id.as_deref(), Some(id.as_str()));
    let messages = agent.store().messages(&id).await.unwrap();
    assert_eq!(messages.len(), 6);
    // Another user cannot continue someone else's conversation.
    let other = agent
        .handle(Inquiry::new(
            ConversationKey::Channel("h".into()),
            "mallory",
            "test",
            "only prod",
        ))
        .await
        .unwrap_err();
    assert_eq!(other.public.kind, ErrorKind::NotFound);
    assert_eq!(other.conversation_id, None);
}

/// What a model would be handed: small, and with the exact numbers.
#[tokio::test]
async fn compact_views_are_small_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), Some("150000")).await;
    let calls = [
        (
            "get_cost_and_usage",
            serde_json::json!({"period": {"start": "2026-08-01", "end": "2026-11-18"}, "group_by": ["SERVICE", "USAGE_TYPE"], "granularity": "DAILY"}),
        ),
        (
            "compare_periods",
            serde_json::json!({"current": {"start": "2026-11-09", "end": "2026-11-15"}, "previous": {"start": "2026-11-02", "end": "2026-11-08"}, "group_by": ["LINKED_ACCOUNT", "USAGE_TYPE"], "top_n": 50}),
        ),
        ("forecast_month_end", serde_json::json!({})),
        (
            "find_anomalies",
            serde_json::json!({"period": {"start": "2026-10-01", "end": "2026-11-18"}, "group_by": ["USAGE_TYPE"]}),
        ),
        (
            "search_guides",
            serde_json::json!({"query": "reduce NAT gateway data processing", "k": 10}),
        ),
    ];
    for (name, args) in calls {
        let out = agent.tools().call(name, &args, today()).await.unwrap();
        let view = out.compact();
        let text = view.to_string();
        assert!(text.len() < 8_000, "{name}: {} bytes", text.len());
        if let Some(r) = out.results().first() {
            // The total is the source's exact decimal, not a rounded copy.
            let total = match name {
                "get_cost_and_usage" => &view["costs"]["total"],
                "compare_periods" => &view["comparison"]["current"]["total"],
                _ => continue,
            };
            let exact: Decimal = total.as_str().unwrap().parse().unwrap();
            assert_eq!(exact, r.total(), "{name}");
        }
    }
}

#[tokio::test]
async fn aws_forecast_and_anomalies_sit_beside_costbots_own_and_agree_with_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), None).await;
    let a = ask(&agent, "aws", "what does AWS forecast for this month?").await;
    // Both methods, each labelled; AWS's covers today onwards.
    assert!(
        a.summary
            .starts_with("costbot's projection from the daily run rate"),
        "{}",
        a.summary
    );
    assert!(
        a.summary.contains("80% prediction interval"),
        "{}",
        a.summary
    );
    let aws = figure(&a, "AWS forecast 19–30 November 2026");
    let low = figure(&a, "AWS forecast low (80%)");
    let high = figure(&a, "AWS forecast high (80%)");
    assert!(low < aws && aws < high);
    let sample = SampleSource::new(today());
    let direct = sample
        .forecast(&costbot::costs::ForecastQuery::new(Period::new(
            today(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        )))
        .await
        .unwrap();
    assert_eq!(aws, direct.total);
    assert!(a
        .details
        .iter()
        .any(|d| d.contains("GetCostForecast for 19–30 November 2026")));
    let how = ask(&agent, "aws", "how did you get that?").await;
    assert!(
        how.details.iter().any(|d| d.starts_with("aws_forecast(")),
        "{:?}",
        how.details
    );
    assert!(
        how.details
            .iter()
            .any(|d| d.contains("GetCostForecast query")),
        "{:?}",
        how.details
    );

    // The sample's AWS anomalies are its demo events, as costbot's own search finds them.
    let a = ask(
        &agent,
        "an",
        "what did Cost Anomaly Detection flag last week?",
    )
    .await;
    assert!(
        a.summary
            .contains("stand-in for AWS Cost Anomaly Detection flagged"),
        "{}",
        a.summary
    );
    assert!(
        a.details
            .iter()
            .any(|d| d.contains("GetAnomalies for 9–15 November 2026")),
        "{:?}",
        a.details
    );
    assert!(
        a.summary.contains("Amazon Elastic Compute Cloud - Compute"),
        "{}",
        a.summary
    );
}
