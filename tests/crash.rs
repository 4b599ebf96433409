//! A crash at the worst moment: `kill -9` while the server is answering
//! many turns leaves whole turns only (no empty conversations, no question
//! without its answer), and the next start carries on.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use costbot::store::Store;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_serve(dir: &std::path::Path, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("COSTBOT_DATA_DIR", dir)
        .env("COSTBOT_RETRIEVAL_MODE", "lexical")
        .env("COSTBOT_WEBHOOK_TOKENS", format!("load:{SECRET}"))
        .env("COSTBOT_RATE_LIMIT_PER_MINUTE", "100000")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(port: u16, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if r.status().is_success() {
                return;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("costbot serve exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "costbot serve never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ask(
    client: &reqwest::Client,
    port: u16,
    body: serde_json::Value,
) -> Option<serde_json::Value> {
    let r = client
        .post(format!("http://127.0.0.1:{port}/v1/inquiries"))
        .bearer_auth(SECRET)
        .json(&body)
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_leaves_only_whole_turns() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_serve(dir.path(), port);
    wait_ready(port, &mut child).await;
    let client = reqwest::Client::new();
    let questions = [
        "How much did we spend last month?",
        "and by region?",
        "what about S3?",
        "and the month before?",
        "top 3",
    ];
    // Twenty callers, each holding a conversation of several turns.
    let mut callers = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        callers.push(tokio::spawn(async move {
            let mut id: Option<String> = None;
            for _ in 0..50 {
                for q in questions {
                    let mut body = serde_json::json!({ "text": q });
                    if let Some(id) = &id {
                        body["conversation_id"] = serde_json::json!(id);
                    }
                    match ask(&client, port, body).await {
                        Some(v) => id = v["conversation_id"].as_str().map(String::from).or(id),
                        None => return,
                    }
                }
            }
        }));
    }
    // Let turns pile up, then kill the process mid-stride.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for c in callers {
        c.await.unwrap();
    }

    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let check = store.check_history().await.unwrap();
    assert!(
        check.messages >= 20,
        "the load answered too little to test: {check:?}"
    );
    assert_eq!(check.empty_conversations, 0, "{check:?}");
    assert_eq!(check.unanswered_questions, 0, "{check:?}");
    assert_eq!(check.unlinked_replies, 0, "{check:?}");
    assert_eq!(check.messages % 2, 0, "{check:?}");
    store.close().await;

    // The next start carries on with the same history.
    let port = free_port();
    let mut child = spawn_serve(dir.path(), port);
    wait_ready(port, &mut child).await;
    let answer = ask(
        &client,
        port,
        serde_json::json!({ "text": "How much did we spend last month?" }),
    )
    .await
    .expect("answered after the restart");
    assert!(answer["answer"]["summary"].is_string(), "{answer}");
    child.kill().unwrap();
    child.wait().unwrap();
}
