//! Cost Explorer requests per digest, against a real moto server: at most 4
//! on a cold cache (two here: the by-service days and the forecast's
//! totals; anomalies reuse the first), none on a warm one, none for a second
//! subscription with the same scope, and the count kept in the run record.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use costbot::agent::{Agent, Tools};
use costbot::clock::ManualClock;
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::digest::deliver::Deliverer;
use costbot::digest::{DigestConfig, Digests, Posted, Retry, Subscription};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use serde_json::{json, Value};

const KEY: &str = "digest-key-0123456789abcdef";

/// One page of daily results from `first` for `days` days.
fn daily(first: NaiveDate, days: i64, groups: &[(&str, &str)]) -> Value {
    let results: Vec<Value> = (0..days)
        .map(|i| {
            let d = first + Duration::days(i);
            json!({
                "TimePeriod": { "Start": d.to_string(), "End": (d + Duration::days(1)).to_string() },
                "Total": if groups.is_empty() { json!({ "UnblendedCost": { "Amount": "100.25", "Unit": "USD" } }) } else { json!({}) },
                "Groups": groups.iter().map(|(k, a)| json!({ "Keys": [k], "Metrics": { "UnblendedCost": { "Amount": a, "Unit": "USD" } } })).collect::<Vec<_>>(),
                "Estimated": false
            })
        })
        .collect();
    json!({ "ResultsByTime": results, "DimensionValueAttributes": [] })
}

fn subscription(name: &str, hook: &str) -> Subscription {
    let c = DigestConfig {
        name: name.into(),
        schedule: "daily 09:00".into(),
        time_zone: Some("UTC".into()),
        destination: format!("webhook:{hook}"),
        secret: Some("env:K".into()),
        scope: Default::default(),
        budget: Some("5000".parse().unwrap()),
    };
    Subscription::from_config(&c, "UTC", &|_| Some(KEY.into())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_costs_two_requests_cold_and_none_warm() {
    let moto = common::start_moto().await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    // The by-service query first, then the forecast's totals (moto hands
    // seeded results out in the order new request bodies arrive).
    moto.seed_cost_and_usage(
        "123456789012",
        json!([
            daily(
                NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                49,
                &[
                    ("Amazon Elastic Compute Cloud - Compute", "80.5"),
                    ("Amazon Simple Storage Service", "19.75")
                ]
            ),
            daily(NaiveDate::from_ymd_opt(2026, 9, 24).unwrap(), 56, &[]),
        ]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let aws = AwsConfig {
        endpoint_url: Some(moto.url.clone()),
        ..AwsConfig::default()
    };
    let source = ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws).await;
    let cached = CachedSource::new(
        Arc::new(source),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || date),
    );
    let metrics = cached.metrics();
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    let hook = receiver::Receiver::start(KEY).await;
    let digests = Digests {
        store: store.clone(),
        agent: Arc::new(Agent::new(tools, store.clone(), Arc::new(move || date))),
        config_subscriptions: vec![
            subscription("first", &hook.url),
            subscription("same-scope", &hook.url),
        ],
        clock: Arc::new(ManualClock::new(Utc::now())),
        deliverer: Deliverer::new(None, None),
        retry: Retry {
            base: std::time::Duration::from_secs(1),
            max_attempts: 3,
        },
        catch_up: Duration::hours(24),
        me: costbot::digest::run::process_id().to_string(),
    };

    let Posted::Delivered(cold) = digests.post("first", date).await.unwrap() else {
        panic!("not delivered")
    };
    assert_eq!(cold.ce_requests, Some(2), "cold cache");
    let paid = metrics.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(paid, 2, "what the cache paid for is what the run recorded");
    // The composed figures are moto's numbers: 18 days of November at 80.5 + 19.75.
    let body = hook.last();
    let mtd = &body["digest"]["answer"]["sections"][1]["answer"]["figures"];
    assert!(mtd.to_string().contains("\"amount\":\"1804.5\""), "{mtd}");

    // The chart plots the tool result's own amounts.
    let series = &body["chart"]["series"]["series"];
    assert_eq!(series[0][0], "EC2");
    assert!(
        series[0][1].as_array().unwrap().iter().all(|v| v == "80.5"),
        "{series}"
    );
    assert!(
        series[1][1]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v == "19.75"),
        "{series}"
    );
    assert_eq!(body["chart"]["series"]["days"][29], "2026-11-18");

    let Posted::Delivered(warm) = digests.post("same-scope", date).await.unwrap() else {
        panic!("not delivered")
    };
    assert_eq!(
        warm.ce_requests,
        Some(0),
        "a second subscription with the same scope"
    );
    let (preview, _) = digests
        .preview(&digests.subscription("first").await.unwrap(), date)
        .await
        .unwrap();
    assert_eq!(preview.ce_requests, 0, "warm cache");
    assert_eq!(
        metrics.requests.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(hook.deliveries(), 2);
    store.close().await;
}
