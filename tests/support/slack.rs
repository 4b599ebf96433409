//! A local mock of Slack's Web API (`chat.postMessage`, `chat.update`,
//! `apps.connections.open`, `conversations.history` over what was posted,
//! the external file upload (`files.getUploadURLExternal`, the upload URL,
//! `files.completeUploadExternal`), and `response_url`s under `/hooks/`) that records
//! what costbot sent and checks its tokens; a costbot server with Slack
//! configured against it; and request signing, costbot's own and slack_sdk's.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::{json, Value};

use costbot::agent::{Agent, Tools};
use costbot::app::App;
use costbot::config::{Config, Secret, SlackConfig};
use costbot::costs::{CostError, CostQuery, CostResult, CostSource};
use costbot::metrics::Metrics;
use costbot::server::{self, Health, ServerOptions};
use costbot::shutdown::Shutdown;

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-bot-token";
pub const APP_TOKEN: &str = "xapp-test-app-token";

/// One call costbot made to the mock.
#[derive(Debug, Clone)]
pub struct Call {
    /// "chat.postMessage", "chat.update", "apps.connections.open" or "hook".
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct MockState {
    calls: Mutex<Vec<Call>>,
    ts: AtomicUsize,
    /// Web API calls (chat.*) answered 500 while this is above zero.
    failing: AtomicUsize,
    /// Web API calls (chat.*) answered 429 + Retry-After: 1 while this is above zero.
    limited: AtomicUsize,
    socket_url: Mutex<String>,
    notify: tokio::sync::Notify,
    /// Messages posted, as conversations.history returns them (with their channel).
    posted: Mutex<Vec<Value>>,
    /// This mock's own origin, for upload URLs.
    origin: Mutex<String>,
}

#[derive(Clone)]
pub struct Mock {
    state: Arc<MockState>,
    pub addr: SocketAddr,
    pub api_url: String,
}

impl Mock {
    pub async fn start() -> Mock {
        let state = Arc::new(MockState::default());
        let app = Router::new()
            .route("/api/{method}", routing::post(api).get(api))
            .route("/hooks/{*rest}", routing::post(hook))
            .route("/upload/{file}", routing::post(upload))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.origin.lock().unwrap() = format!("http://{addr}");
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Mock {
            state,
            addr,
            api_url: format!("http://{addr}/api/"),
        }
    }

    pub fn hook_url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    pub fn set_socket_url(&self, url: &str) {
        *self.state.socket_url.lock().unwrap() = url.to_string();
    }

    /// The next `n` chat.* calls fail with 500.
    pub fn fail_next(&self, n: usize) {
        self.state.failing.store(n, Ordering::SeqCst);
    }

    /// The next `n` chat.* calls are rate limited (429, Retry-After: 1).
    pub fn rate_limit_next(&self, n: usize) {
        self.state.limited.store(n, Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits until `pred` holds over the calls so far.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.notify.notified();
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let calls = self.calls();
                if pred(&calls) {
                    return calls;
                }
                panic!("timed out waiting for {what}; calls: {calls:#?}");
            }
        }
    }

    fn record(&self, call: Call) {
        self.state.calls.lock().unwrap().push(call);
        self.state.notify.notify_waiters();
    }
}

fn auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn api(
    State(state): State<Arc<MockState>>,
    UrlPath(method): UrlPath<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // JSON bodies, or the query string of GET methods, as one JSON object.
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
        query
            .as_deref()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            })
            .unwrap_or(Value::Null)
    });
    let authorization = auth(&headers);
    let mock = Mock {
        state: state.clone(),
        addr: "127.0.0.1:1".parse().unwrap(),
        api_url: String::new(),
    };
    mock.record(Call {
        method: method.clone(),
        path: format!("/api/{method}"),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    let expected = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    if authorization.as_deref() != Some(&format!("Bearer {expected}")) {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    if method.starts_with("chat.") && state.limited.load(Ordering::SeqCst) > 0 {
        state.limited.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1"), ("content-type", "application/json")],
            r#"{"ok":false,"error":"ratelimited"}"#,
        )
            .into_response();
    }
    if method.starts_with("chat.") && state.failing.load(Ordering::SeqCst) > 0 {
        state.failing.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response();
    }
    match method.as_str() {
        "chat.postMessage" => {
            let n = state.ts.fetch_add(1, Ordering::SeqCst) + 1;
            let ts = format!("{}.000100", 1_800_000_000 + n);
            state.posted.lock().unwrap().push(json!({"type": "message", "ts": ts, "text": body["text"], "channel": body["channel"], "metadata": body["metadata"]}));
            Json(json!({"ok": true, "channel": body["channel"], "ts": ts, "message": {"type": "message", "ts": ts, "text": body["text"]}})).into_response()
        }
        "chat.update" => Json(json!({"ok": true, "channel": body["channel"], "ts": body["ts"], "text": body["text"], "message": {"text": body["text"]}})).into_response(),
        "conversations.history" => {
            let messages: Vec<Value> = state.posted.lock().unwrap().iter().rev().filter(|m| m["channel"] == body["channel"]).cloned().collect();
            Json(json!({"ok": true, "messages": messages, "has_more": false})).into_response()
        }
        "files.getUploadURLExternal" => {
            let id = format!("F{}", state.ts.fetch_add(1, Ordering::SeqCst) + 1);
            let url = format!("{}/upload/{id}", state.origin.lock().unwrap());
            Json(json!({"ok": true, "upload_url": url, "file_id": id})).into_response()
        }
        "files.completeUploadExternal" => Json(json!({"ok": true, "files": body["files"]})).into_response(),
        "apps.connections.open" => Json(json!({"ok": true, "url": *state.socket_url.lock().unwrap()})).into_response(),
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// The upload URL: takes the bytes and answers as Slack does (plain text).
async fn upload(
    State(state): State<Arc<MockState>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mock = Mock {
        state,
        addr: "127.0.0.1:1".parse().unwrap(),
        api_url: String::new(),
    };
    mock.record(Call {
        method: "upload".into(),
        path: format!("/upload/{file}"),
        authorization: auth(&headers),
        body: json!({ "bytes": body.len(), "png": body.starts_with(b"\x89PNG"), "content_type": headers.get("content-type").and_then(|v| v.to_str().ok()) }),
    });
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

async fn hook(
    State(state): State<Arc<MockState>>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mock = Mock {
        state,
        addr: "127.0.0.1:1".parse().unwrap(),
        api_url: String::new(),
    };
    mock.record(Call {
        method: "hook".into(),
        path: format!("/hooks/{rest}"),
        authorization: auth(&headers),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    (StatusCode::OK, "ok").into_response()
}

/// A cost source that takes its time, for the ack-latency test.
pub struct Slow {
    pub inner: Arc<dyn CostSource>,
    pub delay: Duration,
}

#[async_trait]
impl CostSource for Slow {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn is_sample(&self) -> bool {
        self.inner.is_sample()
    }
    fn known_accounts(&self) -> Vec<(String, String)> {
        self.inner.known_accounts()
    }
    async fn cost_and_usage(&self, query: &CostQuery) -> Result<CostResult, CostError> {
        tokio::time::sleep(self.delay).await;
        self.inner.cost_and_usage(query).await
    }
}

pub struct SlackServer {
    pub url: String,
    pub store: costbot::store::Store,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl SlackServer {
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap();
    }
}

pub fn slack_config(mock: &Mock) -> SlackConfig {
    SlackConfig {
        signing_secret: Some(Secret::new(SIGNING_SECRET)),
        bot_token: Some(Secret::new(BOT_TOKEN)),
        api_url: mock.api_url.clone(),
        retry_base_secs: 1,
        ..SlackConfig::default()
    }
}

/// costbot with Slack against `mock`, the sample organization, "today" 19 November 2026.
pub async fn start(
    data_dir: &Path,
    mock: &Mock,
    slow: Option<Duration>,
    tweak: impl FnOnce(&mut Config),
) -> SlackServer {
    if let Ok(filter) = std::env::var("COSTBOT_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        budget_monthly: Some("150000".parse().unwrap()),
        ..Config::default()
    };
    config.retrieval.mode = costbot::config::RetrievalMode::Lexical;
    config.slack = slack_config(mock);
    tweak(&mut config);
    let today = NaiveDate::from_ymd_opt(2026, 11, 19);
    let app = App::build(config, today).await.unwrap();
    let agent = match slow {
        None => app.agent.clone(),
        Some(delay) => {
            let t = app.agent.tools();
            Arc::new(Agent::new(
                Tools {
                    source: Arc::new(Slow {
                        inner: t.source.clone(),
                        delay,
                    }),
                    retriever: t.retriever.clone(),
                    budget: t.budget,
                    connections: t.connections.clone(),
                },
                app.store.clone(),
                costbot::app::today_fn(&app.config, today).unwrap(),
            ))
        }
    };
    let metrics = Metrics::new();
    let shutdown = Shutdown::new();
    let routers: Vec<Router> =
        costbot::channels::slack::serve_with(agent, &app.config.slack, &metrics, &shutdown)
            .unwrap()
            .into_iter()
            .collect();
    let router = server::router(routers, Health::from_app(&app, metrics.clone()));
    let options = ServerOptions::from_config(&app.config.server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store = app.store.clone();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            server::serve(listener, router, options.clone(), metrics, shutdown.clone())
                .await
                .unwrap();
            shutdown.drain(options.drain).await;
            app.store.close().await;
        }
    });
    SlackServer {
        url: format!("http://{addr}"),
        store,
        shutdown,
        task,
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// costbot's own signer.
pub fn sign(timestamp: i64, body: &str) -> String {
    costbot::channels::slack::verify::sign(SIGNING_SECRET, &timestamp.to_string(), body.as_bytes())
}

/// slack_sdk's signer (PyPI), through the Python that .ci/run installs it into.
/// None when it is not installed outside CI; in CI its absence fails the test.
pub fn sign_with_slack_sdk(timestamp: i64, body: &str) -> Option<String> {
    let python = std::env::var("COSTBOT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys\nfrom slack_sdk.signature import SignatureVerifier\nprint(SignatureVerifier(sys.argv[1]).generate_signature(timestamp=sys.argv[2], body=sys.argv[3]))",
            SIGNING_SECRET,
            &timestamp.to_string(),
            body,
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            Some(String::from_utf8(o.stdout).unwrap().trim().to_string())
        }
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "slack_sdk is needed in CI ({python}): {why}"
            );
            eprintln!("skipping the slack_sdk signature: {why}");
            None
        }
    }
}

/// POSTs `body` to `path` with the given signature headers.
pub async fn post_signed(
    url: &str,
    path: &str,
    content_type: &str,
    body: &str,
    timestamp: i64,
    signature: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", timestamp.to_string())
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("x-slack-signature", s);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// A correctly signed POST.
pub async fn post(
    url: &str,
    path: &str,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let ts = now();
    post_signed(
        url,
        path,
        content_type,
        body,
        ts,
        Some(&sign(ts, body)),
        extra,
    )
    .await
}

pub fn command_body(text: &str, response_url: &str, trigger: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "legacy-verification-token"),
        ("team_id", "T1"),
        ("team_domain", "acme"),
        ("channel_id", "C1"),
        ("channel_name", "finops"),
        ("user_id", "U1"),
        ("user_name", "ana"),
        ("command", "/cost"),
        ("text", text),
        ("api_app_id", "A1"),
        ("response_url", response_url),
        ("trigger_id", trigger),
    ])
    .unwrap()
}

pub fn mention(event_id: &str, user: &str, ts: &str, thread_ts: Option<&str>, text: &str) -> Value {
    let mut event = json!({"type": "app_mention", "user": user, "text": format!("<@UBOT> {text}"), "ts": ts, "channel": "C1", "event_ts": ts});
    if let Some(t) = thread_ts {
        event["thread_ts"] = json!(t);
    }
    json!({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": event_id, "event_time": 1_800_000_000, "event": event})
}
