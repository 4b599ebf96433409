//! The webhook against the real server on a random local port, with a real
//! SQLite file, the sample organization, and a fixed "today".

use reqwest::StatusCode;
use serde_json::{json, Value};

#[path = "support/running.rs"]
mod running;
use running::{start, start_with, OTHER_SECRET, SECRET, TOKEN};

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
    assert!(
        metrics.contains("costbot_inquiries_total{channel=\"webhook\"} 1\n"),
        "{metrics}"
    );
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

    // A product Cost Explorer cannot see is asked back, never answered with the whole bill.
    let (status, body) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "how much did we spend on Snowflake last month?"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("snowflake"),
        "{body}"
    );
    assert!(!body["error"]["suggestions"].as_array().unwrap().is_empty());

    // A typo of a service is read, and the answer says how.
    let (status, body) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "how much did we spend on lamda last month?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["answer"]
            .to_string()
            .contains("I read 'lamda' as 'lambda'"),
        "{body}"
    );

    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "spend in March 2024"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("before the oldest data"),
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

async fn ask_raw(
    url: &str,
    authorization: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/inquiries"))
        .header("authorization", authorization)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bearer_scheme_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let body = json!({"text": "spend yesterday"}).to_string();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, answer) = ask_raw(
            &s.url,
            &format!("{scheme} {SECRET}"),
            "application/json",
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {answer}");
    }
    let (status, err) = ask_raw(
        &s.url,
        &format!("Basic {SECRET}"),
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "unauthorized");
    s.stop().await;
}

#[tokio::test]
async fn conversation_ids_text_length_and_content_type_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    // The default body limit, so a 10 KB id reaches the id check.
    let s = start_with(dir.path(), 100, |c| c.server.max_body_bytes = 16 * 1024).await;
    for bad in [
        "x".repeat(10 * 1024),
        "a\0b".to_string(),
        "../x".to_string(),
    ] {
        let (status, err) = ask(
            &s.url,
            Some(SECRET),
            json!({"text": "spend yesterday", "conversation_id": bad}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["code"], "invalid_conversation_id");
    }
    // The history endpoint checks ids the same way.
    let r = reqwest::Client::new()
        .get(format!("{}/v1/conversations/a..b", s.url))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_conversation_id"
    );
    // A well-formed id costbot never gave out names no conversation: only the
    // Agent creates ids, so a caller cannot plant one.
    let (status, body) = ask(
        &s.url,
        Some(SECRET),
        json!({"text": "spend yesterday", "conversation_id": "team-a:2026.11_19"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body.get("conversation_id").is_none(), "{body}");

    // 2,000 characters are allowed even when they are 4,000 bytes; 2,001 are not.
    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "é".repeat(2000)})).await;
    assert_ne!(body["error"]["code"], "too_long", "{body}");
    assert_ne!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = ask(&s.url, Some(SECRET), json!({"text": "é".repeat(2001)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "too_long");

    let json_body = json!({"text": "spend yesterday"}).to_string();
    let (status, body) = ask_raw(
        &s.url,
        &format!("Bearer {SECRET}"),
        "text/plain",
        json_body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let (status, body) = ask_raw(
        &s.url,
        &format!("Bearer {SECRET}"),
        "application/json; charset=utf-8",
        json_body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let client = reqwest::Client::new();
    let r = client.get(format!("{}/nope", s.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    for (method, path) in [
        (reqwest::Method::GET, "/v1/inquiries"),
        (reqwest::Method::DELETE, "/healthz"),
        (reqwest::Method::POST, "/v1/conversations/abc"),
    ] {
        let r = client
            .request(method.clone(), format!("{}{path}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(r.headers().contains_key("allow"), "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{method} {path}"
        );
        assert!(body["error"]["message"].is_string());
    }
    s.stop().await;
}

#[tokio::test]
async fn conversation_history_is_paginated() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let mut id = String::new();
    for text in ["spend yesterday", "and the day before?", "spend last month"] {
        let mut body = json!({ "text": text });
        if !id.is_empty() {
            body["conversation_id"] = json!(id);
        }
        let (status, body) = ask(&s.url, Some(SECRET), body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id = body["conversation_id"].as_str().unwrap().to_string();
    }
    let id = id.as_str();
    let page = |query: String| {
        let url = format!("{}/v1/conversations/{id}{query}", s.url);
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(SECRET)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // All six messages fit the default page.
    let (status, all) = page(String::new()).await;
    assert_eq!(status, StatusCode::OK);
    let all: Vec<i64> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(all.len(), 6);

    let mut seen = Vec::new();
    let mut query = "?limit=4".to_string();
    for expected in [4, 2] {
        let (status, body) = page(query.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), expected, "{body}");
        seen.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
        match body["next_after"].as_i64() {
            Some(after) => query = format!("?limit=4&after={after}"),
            None => query.clear(),
        }
    }
    assert!(query.is_empty(), "the last page has no cursor");
    assert_eq!(seen, all);

    for bad in ["?limit=0", "?limit=201"] {
        let (status, body) = page(bad.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_limit");
    }
    let (status, body) = page("?after=yesterday".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_query");
    s.stop().await;
}

#[tokio::test]
async fn metrics_token_guards_metrics_and_counters_are_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| {
        c.server.metrics_token = Some(costbot::config::Secret::new("metrics-secret-1"));
    })
    .await;
    let (status, _) = ask(&s.url, Some(SECRET), json!({"text": "spend yesterday"})).await;
    assert_eq!(status, StatusCode::OK);
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", s.url);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    // A webhook token is not the metrics token.
    let r = client.get(&url).bearer_auth(SECRET).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .get(&url)
        .header("authorization", "BEARER metrics-secret-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("costbot_inquiries_total{channel=\"webhook\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("costbot_inquiries_failed_total{channel=\"webhook\"} 0\n"));
    assert!(text.contains("costbot_http_connections_total"));
    assert!(!text.contains("metrics-secret-1"));
    s.stop().await;
}
