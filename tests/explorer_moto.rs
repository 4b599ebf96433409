//! The Cost Explorer source against a real moto server on 127.0.0.1.
//!
//! moto answers GetCostAndUsage from a queue: each new request body takes the
//! next seeded result, and the same body gets the same result again. It does
//! not look at dates, filters or GroupBy, so each test seeds exactly the pages
//! its requests will take, in order.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
use costbot::config::{AccountConfig, AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::{CostError, CostQuery, CostSource, Dimension, Granularity, Period};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const DEFAULT_ACCOUNT: &str = "123456789012";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn group(keys: &[&str], amount: &str) -> Value {
    json!({ "Keys": keys, "Metrics": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } } })
}

fn day(start: &str, end: &str, groups: Vec<Value>, estimated: bool) -> Value {
    json!({ "TimePeriod": { "Start": start, "End": end }, "Total": {}, "Groups": groups, "Estimated": estimated })
}

fn aws_config(endpoint: &str) -> AwsConfig {
    AwsConfig {
        endpoint_url: Some(endpoint.into()),
        ..AwsConfig::default()
    }
}

#[tokio::test]
async fn grouped_results_over_several_pages_sum_exactly() {
    let moto = common::start_moto().await;
    // Three pages; the second day's groups are split across pages 2 and 3,
    // as Cost Explorer does when a day has more groups than a page holds.
    let pages = json!([
        { "ResultsByTime": [day("2026-10-01", "2026-10-02", vec![
            group(&["Amazon Elastic Compute Cloud - Compute"], "1200.1234567891"),
            group(&["Amazon Simple Storage Service"], "310.0000000004"),
          ], false)], "NextPageToken": "page-2", "DimensionValueAttributes": [] },
        { "ResultsByTime": [day("2026-10-02", "2026-10-03", vec![
            group(&["Amazon Elastic Compute Cloud - Compute"], "1250.5"),
          ], false)], "NextPageToken": "page-3", "DimensionValueAttributes": [] },
        { "ResultsByTime": [day("2026-10-02", "2026-10-03", vec![
            group(&["Amazon Simple Storage Service"], "305.25"),
            group(&["AWS Lambda"], "0.0000000001"),
          ], true)], "DimensionValueAttributes": [] }
    ]);
    moto.seed_cost_and_usage(DEFAULT_ACCOUNT, pages).await;
    let source =
        ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws_config(&moto.url))
            .await;
    let mut q = CostQuery::new(Period::inclusive(d("2026-10-01"), d("2026-10-02")));
    q.group_by = vec![Dimension::Service];
    let r = source.cost_and_usage(&q).await.unwrap();
    assert_eq!(r.requests, 3, "one request per page");
    assert_eq!(source.requests_made(), 3);
    assert_eq!(r.buckets.len(), 2);
    assert!(r.estimated());
    // Exactly the seeded sum, to the last digit.
    assert_eq!(
        r.total(),
        dec("1200.1234567891")
            + dec("310.0000000004")
            + dec("1250.5")
            + dec("305.25")
            + dec("0.0000000001")
    );
    let by_service = r.totals_by_group();
    assert_eq!(
        by_service[0],
        (
            vec!["Amazon Elastic Compute Cloud - Compute".to_string()],
            dec("2450.6234567891")
        )
    );
    assert_eq!(
        by_service[1],
        (
            vec!["Amazon Simple Storage Service".to_string()],
            dec("615.2500000004")
        )
    );
    assert_eq!(by_service[2].1, dec("0.0000000001"));
}

#[tokio::test]
async fn a_second_account_through_sts_assume_role() {
    let moto = common::start_moto().await;
    let ungrouped = |amount: &str| json!([{ "ResultsByTime": [{ "TimePeriod": { "Start": "2026-10-01", "End": "2026-11-01" }, "Total": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } }, "Groups": [], "Estimated": false }], "DimensionValueAttributes": [] }]);
    moto.seed_cost_and_usage(DEFAULT_ACCOUNT, ungrouped("1000.00"))
        .await;
    moto.seed_cost_and_usage("222222222222", ungrouped("4321.0987654321"))
        .await;
    let mut config = aws_config(&moto.url);
    config.accounts = vec![AccountConfig {
        name: "second-org".into(),
        id: None,
        profile: None,
        role_arn: Some("arn:aws:iam::222222222222:role/costbot-read-only".into()),
        external_id: None,
    }];
    let source = ExplorerSource::with_base(common::sdk_config(&moto.url).await, &config).await;
    let mut q = CostQuery::new(Period::month(2026, 10));
    q.granularity = Granularity::Monthly;
    assert_eq!(
        source.cost_and_usage(&q).await.unwrap().total(),
        dec("1000.00")
    );
    q.connection = Some("second-org".into());
    // moto serves the second account's queue only to the assumed role's credentials.
    assert_eq!(
        source.cost_and_usage(&q).await.unwrap().total(),
        dec("4321.0987654321")
    );
    q.connection = Some("nope".into());
    assert!(matches!(
        source.cost_and_usage(&q).await,
        Err(CostError::UnknownConnection(_))
    ));
}

#[tokio::test]
async fn the_agent_reports_the_seeded_numbers_and_the_cache_saves_requests() {
    let moto = common::start_moto().await;
    // Ungrouped October total, two pages (moto returns whatever we queue).
    moto.seed_cost_and_usage(
        DEFAULT_ACCOUNT,
        json!([
            { "ResultsByTime": [{ "TimePeriod": { "Start": "2026-10-01", "End": "2026-11-01" }, "Total": { "UnblendedCost": { "Amount": "81234.5678901234", "Unit": "USD" } }, "Groups": [], "Estimated": false }], "NextPageToken": "t2", "DimensionValueAttributes": [] },
            { "ResultsByTime": [], "DimensionValueAttributes": [] }
        ]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let today = d("2026-11-19");
    let explorer =
        ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws_config(&moto.url))
            .await;
    let cached = CachedSource::new(
        Arc::new(explorer),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    let agent = Agent::new(tools, store.clone(), Arc::new(move || today));
    let ask_in = |conversation: &str, text: &str| {
        Inquiry::new(
            ConversationKey::Channel(conversation.into()),
            "tester",
            "test",
            text,
        )
    };
    let ask = |text: &str| ask_in("c1", text);

    let a = agent
        .handle(ask("How much did we spend last month?"))
        .await
        .unwrap();
    assert!(a.summary.contains("$81,234.57"), "{}", a.summary);
    assert_eq!(a.figures[0].amount, "81234.5678901234");
    let basis = a.basis.as_ref().unwrap();
    assert_eq!(basis.source, "AWS Cost Explorer");
    assert!(!basis.sample_data);
    assert!(basis.credits_refunds_excluded);
    assert_eq!(
        (basis.start, basis.end_inclusive),
        (d("2026-10-01"), d("2026-10-31"))
    );
    assert_eq!(a.tool_calls[0].cost_explorer_requests, 2);

    // A second conversation asks the same: answered from the cache, no request.
    let again = agent
        .handle(ask_in("c2", "how much did we spend last month"))
        .await
        .unwrap();
    assert_eq!(again.figures[0].amount, "81234.5678901234");
    assert_eq!(again.tool_calls[0].cost_explorer_requests, 0);
    assert!(again.basis.unwrap().cached);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);

    // "How did you get that?" names the exact query.
    let how = agent.handle(ask("how did you get that?")).await.unwrap();
    assert!(
        how.summary.contains("2 billable Cost Explorer requests"),
        "{}",
        how.summary
    );
    assert!(
        how.details
            .iter()
            .any(|l| l.contains("\"start\":\"2026-10-01\"")),
        "{:?}",
        how.details
    );
}

/// Cost Explorer's throttling error, from a local stand-in that speaks the
/// awsJson1_1 error shape (moto cannot be told to throttle).
#[tokio::test]
async fn throttling_becomes_a_clear_error() {
    use axum::http::StatusCode;
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::BAD_REQUEST,
            [
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", "LimitExceededException"),
            ],
            r#"{"__type":"LimitExceededException","message":"Rate exceeded"}"#,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut config = aws_config(&url);
    config.max_requests_per_query = 5;
    let source = ExplorerSource::with_base(common::sdk_config(&url).await, &config).await;
    let err = source
        .cost_and_usage(&CostQuery::new(Period::month(2026, 10)))
        .await
        .unwrap_err();
    assert!(matches!(err, CostError::Throttled), "{err:?}");
    assert!(err.to_string().contains("try again"));
}

/// Switching credentials (here: the default connection assuming a role in
/// another organization) must not serve the first organization's cached figure.
#[tokio::test]
async fn two_connections_asking_the_same_never_share_a_cached_figure() {
    let moto = common::start_moto().await;
    let ungrouped = |amount: &str| json!([{ "ResultsByTime": [{ "TimePeriod": { "Start": "2026-10-01", "End": "2026-11-01" }, "Total": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } }, "Groups": [], "Estimated": false }], "DimensionValueAttributes": [] }]);
    moto.seed_cost_and_usage(DEFAULT_ACCOUNT, ungrouped("1000.00"))
        .await;
    moto.seed_cost_and_usage("222222222222", ungrouped("4321.0987654321"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let today = d("2026-11-19");
    let cached_with = |explorer: ExplorerSource| {
        CachedSource::new(
            Arc::new(explorer),
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        )
        .with_monthly_limit(100)
    };
    let first = cached_with(
        ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws_config(&moto.url))
            .await,
    );
    let mut other_org = aws_config(&moto.url);
    other_org.role_arn = Some("arn:aws:iam::222222222222:role/costbot-read-only".into());
    let second = cached_with(
        ExplorerSource::with_base(common::sdk_config(&moto.url).await, &other_org).await,
    );
    assert_ne!(first.connection_id(None), second.connection_id(None));

    let mut q = CostQuery::new(Period::month(2026, 10));
    q.granularity = Granularity::Monthly;
    let a = first.cost_and_usage(&q).await.unwrap();
    assert_eq!((a.total(), a.cached), (dec("1000.00"), false));
    // The same query on the other connection is asked, and answered by its own organization.
    let b = second.cost_and_usage(&q).await.unwrap();
    assert_eq!((b.total(), b.cached), (dec("4321.0987654321"), false));
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    // Asked again, each is served its own figure from the cache.
    let (a, b) = (
        first.cost_and_usage(&q).await.unwrap(),
        second.cost_and_usage(&q).await.unwrap(),
    );
    assert!(a.cached && b.cached);
    assert_eq!(
        (a.total(), b.total()),
        (dec("1000.00"), dec("4321.0987654321"))
    );
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
}

/// Cost Explorer's days are UTC: with the UTC clock at 2026-10-15, no request
/// ends after 2026-10-16, and a day that has not begun in UTC costs nothing.
/// A local stand-in records the request bodies (moto ignores dates).
#[tokio::test]
async fn no_request_asks_for_a_utc_day_that_has_not_begun() {
    use std::sync::Mutex;
    let bodies = Arc::new(Mutex::new(Vec::<Value>::new()));
    let app = axum::Router::new().fallback({
        let bodies = bodies.clone();
        move |body: axum::body::Bytes| {
            let bodies = bodies.clone();
            async move {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                (
                    [("content-type", "application/x-amz-json-1.1")],
                    r#"{"ResultsByTime":[],"DimensionValueAttributes":[]}"#,
                )
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let utc_today = d("2026-10-15");
    let source = ExplorerSource::with_base(common::sdk_config(&url).await, &aws_config(&url))
        .await
        .with_utc_clock(Arc::new(move || utc_today));

    // October, asked on the 15th (UTC): asked up to the 16th, exclusive.
    let r = source
        .cost_and_usage(&CostQuery::new(Period::month(2026, 10)))
        .await
        .unwrap();
    assert_eq!(r.end_clamped_to, Some(d("2026-10-16")));
    assert!(r.days_are_utc);
    assert_eq!(r.requests, 1);
    // UTC today itself can be asked for.
    let r = source
        .cost_and_usage(&CostQuery::new(Period::day(utc_today)))
        .await
        .unwrap();
    assert_eq!(r.end_clamped_to, None);
    // Already the 16th east of UTC: nothing has begun in UTC, nothing is asked or paid.
    let r = source
        .cost_and_usage(&CostQuery::new(Period::day(d("2026-10-16"))))
        .await
        .unwrap();
    assert_eq!(
        (r.end_clamped_to, r.requests, r.buckets.len()),
        (Some(d("2026-10-16")), 0, 0)
    );
    assert_eq!(source.requests_made(), 2);
    let ends: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["TimePeriod"]["End"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ends, ["2026-10-16", "2026-10-16"]);
}
