//! The webhook against the real server on a random local port, with a real
//! SQLite file, the sample organization, and a fixed "today".

use std::path::Path;

use chrono::NaiveDate;
use costbot::app::App;
use costbot::config::{Config, Secret};
use costbot::server::{self, AppState};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const TOKEN: &str = "ci:0123456789abcdef0123456789abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const OTHER: &str = "grafana:fedcba9876543210fedcba9876543210";
const OTHER_SECRET: &str = "fedcba9876543210fedcba9876543210";

struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.unwrap();
    }
}

async fn start(data_dir: &Path, rate_limit: u32) -> Running {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        budget_monthly: Some("150000".parse().unwrap()),
        ..Config::default()
    };
    config.server.webhook_tokens = vec![Secret::new(TOKEN), Secret::new(OTHER)];
    config.server.rate_limit_per_minute = rate_limit;
    config.server.max_body_bytes = 4096;
    // These tests are about the webhook; retrieval modes have their own tests.
    config.retrieval.mode = costbot::config::RetrievalMode::Lexical;
    let app = App::build(config, NaiveDate::from_ymd_opt(2026, 11, 19))
        .await
        .unwrap();
    let state = AppState::from_app(&app).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        app.store.close().await;
    });
    Running {
        url,
        stop: Some(tx),
        task,
    }
}

async fn ask(url: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/v1/inquiries"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn history(url: &str, id: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{url}/v1/conversations/{id}"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn auth_is_required_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let (status, body) = ask(&s.url, None, json!({"text": "spend last month"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = ask(
        &s.url,
        Some("0123456789abcdef0123456789abcdeX"),
        json!({"text": "spend last month"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The name part of "name:secret" is not the token.
    let (status, _) = ask(&s.url, Some(TOKEN), json!({"text": "spend last month"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "How much did we spend last month?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["text"].as_str().unwrap().contains("1–31 October 2026"));
    let health = reqwest::get(format!("{}/healthz", s.url)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = reqwest::get(format!("{}/readyz", s.url)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let metrics = reqwest::get(format!("{}/metrics", s.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("costbot_inquiries_total 1"), "{metrics}");
    assert!(metrics.contains("costbot_cost_explorer_requests_total 0"));
    assert!(!metrics.contains(SECRET));
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let client = reqwest::Client::new();
    let raw = |body: &'static str| {
        client
            .post(format!("{}/v1/inquiries", s.url))
            .bearer_auth(SECRET)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let r = raw("{not json").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "malformed"
    );

    let r = raw(r#"{"question": "typo in the field name"}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(10_000));
    let r = client
        .post(format!("{}/v1/inquiries", s.url))
        .bearer_auth(SECRET)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "too_large"
    );

    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "   "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "tell me a joke"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "unanswerable");
    // Even a failed first question names its conversation, and the history keeps it.
    let id = body["conversation_id"]
        .as_str()
        .expect("a conversation id")
        .to_string();
    let history = history(&s.url, &id).await;
    assert_eq!(history["messages"][0]["text"], "tell me a joke");
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);
    assert!(!body["error"]["suggestions"].as_array().unwrap().is_empty());

    let (status, body) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "how much did we spend on lamda last month?"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AWS Lambda"),
        "{body}"
    );

    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "spend in March 2024"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not available"),
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 3).await;
    for _ in 0..3 {
        let (status, _) = ask(&s.url, Some(SECRET), json!({"text": "spend yesterday"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/inquiries", s.url))
        .bearer_auth(SECRET)
        .json(&json!({"text": "spend yesterday"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    // Another token has its own bucket.
    let (status, _) = ask(
        &s.url,
        Some(OTHER_SECRET),
        json!({"text": "spend yesterday"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn multi_turn_conversation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let (status, first) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "Why did EC2 go up last week?", "user": "alice"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let id = first["conversation_id"].as_str().unwrap().to_string();
    let answer = &first["answer"];
    assert!(
        answer["summary"]
            .as_str()
            .unwrap()
            .starts_with("EC2 spend went up by"),
        "{answer}"
    );
    assert_eq!(answer["basis"]["start"], "2026-11-09");
    assert_eq!(answer["basis"]["end_inclusive"], "2026-11-15");
    assert_eq!(answer["tool_calls"][0]["name"], "compare_periods");

    let (status, second) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "break that down by region", "conversation_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let table = &second["answer"]["table"];
    assert_eq!(table["columns"][0], "region");
    let regions: Vec<&str> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0]["text"].as_str().unwrap())
        .collect();
    assert!(
        regions.contains(&"us-east-1") && regions.contains(&"eu-west-1"),
        "{regions:?}"
    );
    // Money cells carry the exact amount beside the text people read.
    for row in table["rows"].as_array().unwrap() {
        let change: rust_decimal::Decimal = row[3]["amount"].as_str().unwrap().parse().unwrap();
        assert!(
            row[3]["text"]
                .as_str()
                .unwrap()
                .replace(',', "")
                .contains(&change.abs().round_dp(2).to_string()),
            "{row}"
        );
    }
    // The regions add up to the EC2 change in the first answer.
    assert_eq!(
        first["answer"]["figures"][2],
        second["answer"]["figures"][2]
    );

    // Another token cannot read or continue it.
    let r = reqwest::Client::new()
        .get(format!("{}/v1/conversations/{id}", s.url))
        .bearer_auth(OTHER_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, _) = ask(
        &s.url,
        Some(OTHER_SECRET),
        json!({"text": "only prod", "conversation_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.stop().await;

    // A new process on the same database continues the conversation.
    let s = start(dir.path(), 100).await;
    let (status, third) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "and the week before?", "conversation_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third["answer"]["basis"]["start"], "2026-11-02");
    assert_eq!(third["answer"]["table"]["columns"][0], "region");
    let history = history(&s.url, &id).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 6);
    assert_eq!(messages[0]["text"], "Why did EC2 go up last week?");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[5]["role"], "assistant");
    assert!(messages[4]["slots"].is_object());
    s.stop().await;
}
