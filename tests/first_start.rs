//! A fresh start as a new user makes it: a new data directory, the model
//! present. `/healthz` answers at once, `/readyz` once questions can be
//! answered, and the first answer does not wait for the guide embeddings.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/model.rs"]
#[allow(dead_code)]
mod model;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn health_answers_within_a_second_on_a_fresh_data_dir_with_the_model() {
    let Some(model_dir) = model::model_dir("first_start") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("COSTBOT_DATA_DIR", dir.path())
        .env("COSTBOT_MODEL_DIR", &model_dir)
        .env("COSTBOT_RETRIEVAL_MODE", "hybrid")
        .env("COSTBOT_WEBHOOK_TOKENS", format!("first:{SECRET}"))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let healthy = loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break started.elapsed();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("costbot serve exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no health at all"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        healthy < Duration::from_secs(1),
        "/healthz took {healthy:?} on a fresh data directory"
    );
    // Ready, then answering (with guides, lexically while the vectors are built).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        if r.status().is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .post(format!("{base}/v1/inquiries"))
        .bearer_auth(SECRET)
        .json(&serde_json::json!({ "text": "How do I cut NAT gateway costs?" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["answer"]["citations"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["guide"] == "nat-gateway.md")),
        "{body}"
    );
    // Dense search joins in the background (from the shipped guide vectors).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let body = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("dense guide search: ready") {
            break;
        }
        assert!(body.contains("dense guide search: building"), "{body}");
        assert!(
            Instant::now() < deadline,
            "dense search never joined: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("costbot_dense_search_ready 1"),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
