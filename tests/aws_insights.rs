//! AWS's own forecast (GetCostForecast) and Cost Anomaly Detection
//! (GetAnomalies) through the real SDK against a local fake on 127.0.0.1
//! (moto implements neither): every request costbot sends is checked against
//! botocore's service model, and so is every answer the fake gives.

#[path = "support/ce_fake.rs"]
mod ce_fake;
mod common;

use std::sync::Arc;

use ce_fake::CeFake;
use chrono::NaiveDate;
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::insights::ImpactFilter;
use costbot::costs::{AnomalyQuery, CostError, CostSource, ForecastQuery, Period};
use costbot::store::Store;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn explorer(fake: &CeFake) -> ExplorerSource {
    let config = AwsConfig {
        endpoint_url: Some(fake.url.clone()),
        ..AwsConfig::default()
    };
    ExplorerSource::with_base(common::sdk_config(&fake.url).await, &config)
        .await
        .with_utc_clock(Arc::new(|| d("2026-11-19")))
}

/// Seeds `body` after checking it is what AWS could send.
fn answer(fake: &CeFake, operation: &str, body: Value) {
    let problems = ce_fake::model_problems(operation, "output", &body);
    assert!(problems.is_empty(), "the fake's own answer: {problems:?}");
    fake.answer(operation, body);
}

/// Every request the fake received is well formed for its operation.
fn assert_requests_follow_the_model(fake: &CeFake) {
    let received = fake.received();
    assert!(!received.is_empty());
    for r in received {
        assert_eq!(r.content_type, "application/x-amz-json-1.1");
        let op = r
            .target
            .strip_prefix("AWSInsightsIndexService.")
            .unwrap_or_else(|| panic!("target {}", r.target));
        let problems = ce_fake::model_problems(op, "input", &r.body);
        assert!(problems.is_empty(), "{op} request {}: {problems:?}", r.body);
    }
}

fn forecast_answer() -> Value {
    json!({
        "Total": { "Amount": "48213.7712345678", "Unit": "USD" },
        "ForecastResultsByTime": [{
            "TimePeriod": { "Start": "2026-11-19", "End": "2026-12-01" },
            "MeanValue": "48213.7712345678",
            "PredictionIntervalLowerBound": "45100.0000000001",
            "PredictionIntervalUpperBound": "51327.5400000009"
        }]
    })
}

#[tokio::test]
async fn forecast_figures_are_exactly_aws_and_the_request_follows_the_model() {
    let fake = CeFake::start().await;
    answer(&fake, "GetCostForecast", forecast_answer());
    let source = explorer(&fake).await;
    let mut q = ForecastQuery::new(Period::new(d("2026-11-19"), d("2026-12-01")));
    q.filter.services = vec!["Amazon Elastic Compute Cloud - Compute".into()];
    let r = source.forecast(&q).await.unwrap();
    // The decimal strings as sent, to the last digit.
    assert_eq!(r.total, dec("48213.7712345678"));
    assert_eq!(r.total.to_string(), "48213.7712345678");
    assert_eq!(
        r.interval(),
        Some((dec("45100.0000000001"), dec("51327.5400000009")))
    );
    assert_eq!(r.requests, 1);
    assert_eq!(source.requests_made(), 1);
    assert_requests_follow_the_model(&fake);
    let sent = &fake.received()[0];
    assert_eq!(sent.target, "AWSInsightsIndexService.GetCostForecast");
    let body = &sent.body;
    assert_eq!(body["Metric"], "UNBLENDED_COST");
    assert_eq!(body["Granularity"], "MONTHLY");
    assert_eq!(body["PredictionIntervalLevel"], 80);
    assert_eq!(
        body["TimePeriod"],
        json!({ "Start": "2026-11-19", "End": "2026-12-01" })
    );
    // The same scope as a cost query: the service, credits and refunds left out.
    let filter = body["Filter"].to_string();
    assert!(
        filter.contains("Amazon Elastic Compute Cloud - Compute"),
        "{filter}"
    );
    assert!(filter.contains("RECORD_TYPE"), "{filter}");
}

#[tokio::test]
async fn a_forecast_never_asks_for_a_day_before_today_in_utc() {
    let fake = CeFake::start().await;
    answer(&fake, "GetCostForecast", forecast_answer());
    let source = explorer(&fake).await;
    // A zone behind UTC still says the 18th: AWS would refuse a past start.
    let q = ForecastQuery::new(Period::new(d("2026-11-18"), d("2026-12-01")));
    let r = source.forecast(&q).await.unwrap();
    assert_eq!(fake.received()[0].body["TimePeriod"]["Start"], "2026-11-19");
    assert_eq!(r.query.period.start, d("2026-11-19"));
}

fn anomaly(id: &str, total: f64, expected: f64, service: &str) -> Value {
    json!({
        "AnomalyId": id,
        "AnomalyStartDate": "2026-11-10",
        "AnomalyEndDate": "2026-11-12",
        "DimensionValue": service,
        "RootCauses": [{
            "Service": service, "Region": "us-east-1",
            "LinkedAccount": "111111111111", "LinkedAccountName": "prod",
            "UsageType": "USE1-NatGateway-Bytes"
        }],
        "AnomalyScore": { "MaxScore": 0.91, "CurrentScore": 0.4 },
        "Impact": {
            "MaxImpact": 610.25, "TotalImpact": total,
            "TotalActualSpend": 2100.5, "TotalExpectedSpend": expected,
            "TotalImpactPercentage": 12.5
        },
        "MonitorArn": "arn:aws:ce::111111111111:anomalymonitor/abc"
    })
}

#[tokio::test]
async fn anomalies_are_paged_each_page_counted_and_a_repeat_is_free() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        "GetAnomalies",
        json!({ "Anomalies": [anomaly("a-1", 412.75, 1687.75, "EC2 - Other")], "NextPageToken": "page-2" }),
    );
    answer(
        &fake,
        "GetAnomalies",
        json!({ "Anomalies": [anomaly("a-2", 1533.1, 567.4, "Amazon Simple Storage Service")] }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let cached = CachedSource::new(
        Arc::new(explorer(&fake).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    )
    .with_monthly_limit(100);
    let q = AnomalyQuery {
        start: d("2026-11-09"),
        end: d("2026-11-15"),
        monitor_arn: None,
        total_impact: Some(ImpactFilter {
            operator: "GREATER_THAN_OR_EQUAL".into(),
            start: dec("100"),
            end: None,
        }),
        connection: None,
    };
    let r = cached.anomalies(&q).await.unwrap();
    assert_eq!(r.requests, 2, "one billed request per page");
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    assert_eq!(r.anomalies.len(), 2);
    // Largest impact first; impacts and root causes as AWS sent them.
    let top = &r.anomalies[0];
    assert_eq!(top.id, "a-2");
    assert_eq!(top.impact.total_impact, dec("1533.1"));
    assert_eq!(top.impact.max_impact, dec("610.25"));
    assert_eq!(top.impact.total_actual_spend, Some(dec("2100.5")));
    assert_eq!(top.impact.total_expected_spend, Some(dec("567.4")));
    assert_eq!(top.start, Some(d("2026-11-10")));
    let cause = &r.anomalies[1].root_causes[0];
    assert_eq!(cause.linked_account_name.as_deref(), Some("prod"));
    assert_eq!(cause.usage_type.as_deref(), Some("USE1-NatGateway-Bytes"));
    assert_requests_follow_the_model(&fake);
    let sent = fake.received();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].body.get("NextPageToken").is_none());
    assert_eq!(sent[1].body["NextPageToken"], "page-2");
    assert_eq!(
        sent[0].body["DateInterval"],
        json!({ "StartDate": "2026-11-09", "EndDate": "2026-11-15" })
    );
    assert_eq!(
        sent[0].body["TotalImpact"]["NumericOperator"],
        "GREATER_THAN_OR_EQUAL"
    );
    // The same question again: from the cache, no request, nothing counted.
    let again = cached.anomalies(&q).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.requests, 0);
    assert_eq!(again.anomalies, r.anomalies);
    assert_eq!(fake.count("GetAnomalies"), 2);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
}

#[tokio::test]
async fn a_repeated_forecast_is_served_from_the_cache() {
    let fake = CeFake::start().await;
    answer(&fake, "GetCostForecast", forecast_answer());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let cached = CachedSource::new(
        Arc::new(explorer(&fake).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    );
    let q = ForecastQuery::new(Period::new(d("2026-11-19"), d("2026-12-01")));
    let first = cached.forecast(&q).await.unwrap();
    let second = cached.forecast(&q).await.unwrap();
    assert_eq!((first.requests, first.cached), (1, false));
    assert_eq!((second.requests, second.cached), (0, true));
    assert_eq!(second.total, dec("48213.7712345678"));
    assert_eq!(fake.count("GetCostForecast"), 1);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
    // Another prediction interval is another question.
    let mut q95 = q.clone();
    q95.prediction_interval = 95;
    cached.forecast(&q95).await.unwrap();
    assert_eq!(fake.count("GetCostForecast"), 2);
    assert_eq!(fake.received()[1].body["PredictionIntervalLevel"], 95);
}

#[tokio::test]
async fn throttling_maps_to_the_retry_sentence() {
    let fake = CeFake::start().await;
    fake.fail(
        "GetAnomalies",
        400,
        "LimitExceededException",
        "Rate exceeded",
    );
    let source = explorer(&fake).await;
    let q = AnomalyQuery {
        start: d("2026-11-09"),
        end: d("2026-11-15"),
        monitor_arn: None,
        total_impact: None,
        connection: None,
    };
    let err = source.anomalies(&q).await.unwrap_err();
    assert!(matches!(err, CostError::Throttled), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Cost Explorer is throttling requests; try again in a minute"
    );
}

#[test]
fn the_tools_answer_on_the_sample_organization_with_no_aws() {
    let dir = tempfile::tempdir().unwrap();
    let ask = |question: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("COSTBOT_DATA_DIR", dir.path())
            .current_dir(dir.path());
        for var in ["COSTBOT_MODEL_DIR", "COSTBOT_REQUIRE_MODEL"] {
            if let Ok(v) = std::env::var(var) {
                cmd.env(var, v);
            }
        }
        let out = cmd.args(["ask", question]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let forecast = ask("what does AWS forecast for this month?");
    assert!(
        forecast.contains("costbot's projection from the daily run rate"),
        "{forecast}"
    );
    assert!(
        forecast.contains("stand-in for AWS Cost Explorer's forecast"),
        "{forecast}"
    );
    assert!(forecast.contains("80% prediction interval $"), "{forecast}");
    assert!(forecast.contains("GetCostForecast"), "{forecast}");
    let anomalies = ask("what did Cost Anomaly Detection flag last week?");
    assert!(
        anomalies.contains("stand-in for AWS Cost Anomaly Detection flagged"),
        "{anomalies}"
    );
    assert!(anomalies.contains("GetAnomalies"), "{anomalies}");
}

#[tokio::test]
async fn the_monthly_cap_stops_anomaly_paging_between_pages() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        "GetAnomalies",
        json!({ "Anomalies": [anomaly("a-1", 412.75, 1687.75, "EC2 - Other")], "NextPageToken": "page-2" }),
    );
    answer(&fake, "GetAnomalies", json!({ "Anomalies": [] }));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let cached = CachedSource::new(
        Arc::new(explorer(&fake).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    )
    .with_monthly_limit(1);
    let q = AnomalyQuery {
        start: d("2026-11-09"),
        end: d("2026-11-15"),
        monitor_arn: None,
        total_impact: None,
        connection: None,
    };
    let err = cached.anomalies(&q).await.unwrap_err();
    assert!(
        matches!(err, CostError::MonthlyBudget { limit: 1 }),
        "{err:?}"
    );
    // The first page was made and counted; the second was never sent.
    assert_eq!(fake.count("GetAnomalies"), 1);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
}

#[tokio::test]
async fn a_refused_aws_forecast_leaves_costbots_own_projection_standing() {
    use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
    use costbot::retrieval::{guides, LexicalIndex};
    let fake = CeFake::start().await;
    answer(
        &fake,
        "GetCostAndUsage",
        json!({ "ResultsByTime": [{
            "TimePeriod": { "Start": "2026-11-18", "End": "2026-11-19" },
            "Total": { "UnblendedCost": { "Amount": "100.25", "Unit": "USD" } },
            "Groups": [], "Estimated": true
        }], "DimensionValueAttributes": [] }),
    );
    // An identity whose policy predates ce:GetCostForecast.
    fake.fail(
        "GetCostForecast",
        400,
        "AccessDeniedException",
        "not authorized to perform: ce:GetCostForecast",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(explorer(&fake).await),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    let agent = Agent::new(tools, store, Arc::new(|| d("2026-11-19")));
    let a = agent
        .handle(Inquiry::new(
            ConversationKey::Channel("c".into()),
            "t",
            "test",
            "what does AWS forecast for this month?",
        ))
        .await
        .unwrap();
    assert!(
        a.summary.contains("on course to end November"),
        "{}",
        a.summary
    );
    assert!(
        a.notes
            .iter()
            .any(|n| n.starts_with("AWS's own forecast could not be shown: AWS refused")),
        "{:?}",
        a.notes
    );
    assert_eq!(fake.count("GetCostForecast"), 1);
    assert_requests_follow_the_model(&fake);
}

#[tokio::test]
async fn identical_forecasts_asked_at_once_pay_once() {
    let fake = CeFake::start().await;
    answer(&fake, "GetCostForecast", forecast_answer());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let cached = Arc::new(CachedSource::new(
        Arc::new(explorer(&fake).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    ));
    let q = ForecastQuery::new(Period::new(d("2026-11-19"), d("2026-12-01")));
    let askers: Vec<_> = (0..8)
        .map(|_| {
            let (cached, q) = (cached.clone(), q.clone());
            tokio::spawn(async move { cached.forecast(&q).await })
        })
        .collect();
    let mut paid = 0;
    for a in askers {
        let r = a.await.unwrap().unwrap();
        assert_eq!(r.total, dec("48213.7712345678"));
        paid += r.requests;
    }
    assert_eq!(paid, 1);
    assert_eq!(fake.count("GetCostForecast"), 1);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
}
