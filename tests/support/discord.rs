//! A local fake of Discord's REST API (interaction webhooks, command
//! registration, and channel messages with multipart attachments, under
//! `/api/v10`) that records what costbot sent; a costbot
//! server with Discord configured against it; and interactions signed with
//! PyNaCl, an Ed25519 implementation independent of costbot's (serenity's
//! ed25519-dalek), shaped as Discord sends them.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::{json, Value};

use costbot::agent::{Agent, Tools};
use costbot::app::App;
use costbot::config::{Config, DiscordConfig, Secret};
use costbot::costs::{CostError, CostQuery, CostResult, CostSource};
use costbot::metrics::Metrics;
use costbot::server::{self, Health, ServerOptions};
use costbot::shutdown::Shutdown;

pub const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.test.bot-token";
pub const APP: &str = "1100000000000000001";
pub const GUILD: &str = "1100000000000000002";
pub const CHANNEL_ID: &str = "1100000000000000003";
/// The application's signing key (a test seed; PyNaCl derives the pair).
pub const SEED: &str = "1f0b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0";
/// Someone else's key, for forged requests.
pub const OTHER_SEED: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";

/// One call costbot made to the fake.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct FakeState {
    calls: Mutex<Vec<Call>>,
    ids: AtomicUsize,
    /// Registration answered 401 while this is above zero.
    refuse_registration: AtomicUsize,
    notify: tokio::sync::Notify,
}

#[derive(Clone)]
pub struct Fake {
    state: Arc<FakeState>,
    pub addr: SocketAddr,
    /// What `discord.api_url` is set to.
    pub api_url: String,
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route(
                "/api/v10/webhooks/{app}/{token}/messages/@original",
                routing::patch(webhook),
            )
            .route("/api/v10/webhooks/{app}/{token}", routing::post(webhook))
            .route(
                "/api/v10/channels/{channel}/messages",
                routing::post(channel_message),
            )
            .route(
                "/api/v10/applications/{app}/commands",
                routing::put(commands),
            )
            .route(
                "/api/v10/applications/{app}/guilds/{guild}/commands",
                routing::put(commands),
            )
            .fallback(unknown)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            state,
            addr,
            api_url: format!("http://{addr}/api/v10"),
        }
    }

    /// The next `n` registrations are refused with 401.
    pub fn refuse_registration(&self, n: usize) {
        self.state.refuse_registration.store(n, Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, method: &str, path_start: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(path_start))
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
}

fn record(state: &FakeState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    state.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    state.notify.notify_waiters();
}

/// A message as Discord returns it after an edit or a follow-up.
async fn webhook(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = 1_300_000_000_000_000_000u64 + state.ids.fetch_add(1, Ordering::SeqCst) as u64;
    Json(json!({
        "id": id.to_string(), "channel_id": CHANNEL_ID, "type": 20,
        "author": {"id": APP, "username": "costbot", "discriminator": "0", "global_name": null, "avatar": null, "bot": true},
        "content": sent["content"].as_str().unwrap_or(""),
        "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "flags": 0,
        "webhook_id": APP, "application_id": APP
    }))
    .into_response()
}

/// `POST /channels/{id}/messages`, JSON or multipart (`payload_json` and
/// `files[n]` parts, as Discord documents): recorded as
/// `{"payload": ..., "files": [{"name", "bytes", "png"}]}`.
async fn channel_message(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut payload = Value::Null;
    let mut files = Vec::new();
    if let Some(boundary) = content_type.split("boundary=").nth(1) {
        let boundary = format!("--{}", boundary.trim_matches('"'));
        let raw = body.to_vec();
        let mut parts = Vec::new();
        let mut rest = &raw[..];
        while let Some(i) = find(rest, boundary.as_bytes()) {
            parts.push(&rest[..i]);
            rest = &rest[i + boundary.len()..];
        }
        for part in parts.into_iter().skip(1) {
            let Some(split) = find(part, b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&part[..split]).to_string();
            let content = part[split + 4..]
                .strip_suffix(b"\r\n")
                .unwrap_or(&part[split + 4..]);
            if head.contains("name=\"payload_json\"") {
                payload = serde_json::from_slice(content).unwrap_or(Value::Null);
            } else if head.contains("filename=") {
                let name = head
                    .split("filename=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or("");
                files.push(json!({ "name": name, "bytes": content.len(), "png": content.starts_with(b"\x89PNG") }));
            }
        }
    } else {
        payload = serde_json::from_slice(&body).unwrap_or(Value::Null);
    }
    let recorded = json!({ "payload": payload, "files": files });
    let recorded_bytes = Bytes::from(recorded.to_string());
    record(&state, &method, &uri, &headers, &recorded_bytes);
    let id = 1_300_000_000_000_000_000u64 + state.ids.fetch_add(1, Ordering::SeqCst) as u64;
    Json(json!({
        "id": id.to_string(), "channel_id": CHANNEL_ID, "type": 0,
        "author": {"id": APP, "username": "costbot", "discriminator": "0", "global_name": null, "avatar": null, "bot": true},
        "content": payload["content"].as_str().unwrap_or(""),
        "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "flags": 0
    }))
    .into_response()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The commands as Discord stores them (a bulk overwrite returns them all).
async fn commands(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    if state.refuse_registration.load(Ordering::SeqCst) > 0 {
        state.refuse_registration.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "401: Unauthorized", "code": 0})),
        )
            .into_response();
    }
    let sent: Value = serde_json::from_slice(&body).unwrap_or(json!([]));
    let stored: Vec<Value> = sent
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let mut c = c.clone();
            c["id"] = json!((1_200_000_000_000_000_000u64 + i as u64).to_string());
            c["application_id"] = json!(APP);
            c["version"] = json!("1200000000000000100");
            c["default_member_permissions"] = Value::Null;
            c["type"] = c.get("type").cloned().unwrap_or(json!(1));
            c
        })
        .collect();
    Json(stored).into_response()
}

async fn unknown(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "404: Not Found", "code": 0})),
    )
        .into_response()
}

/// A cost source that takes its time, for the deferral test.
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

pub struct DiscordServer {
    pub url: String,
    pub store: costbot::store::Store,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl DiscordServer {
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap();
    }
}

pub fn discord_config(fake: &Fake) -> DiscordConfig {
    DiscordConfig {
        token: Some(Secret::new(TOKEN)),
        application_id: Some(APP.into()),
        public_key: Some(public_key()),
        api_url: fake.api_url.clone(),
        guild_id: Some(GUILD.into()),
        ..DiscordConfig::default()
    }
}

/// costbot with Discord against `fake`, the sample organization, "today" 19 November 2026.
pub async fn start(
    data_dir: &Path,
    fake: &Fake,
    slow: Option<Duration>,
    tweak: impl FnOnce(&mut Config),
) -> DiscordServer {
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
    config.discord = discord_config(fake);
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
    let discord =
        costbot::channels::discord::serve_with(agent, &app.config.discord, &metrics, &shutdown)
            .unwrap();
    let router = server::router(vec![discord], Health::from_app(&app, metrics.clone()));
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
    DiscordServer {
        url: format!("http://{addr}"),
        store,
        shutdown,
        task,
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const NACL: &str = "import sys\n\
from nacl.signing import SigningKey\n\
key = SigningKey(bytes.fromhex(sys.argv[1]))\n\
if sys.argv[2] == 'public':\n    print(key.verify_key.encode().hex())\n\
else:\n    print(key.sign(sys.argv[2].encode() + sys.stdin.buffer.read()).signature.hex())\n";

/// Runs PyNaCl (PyPI), through the Python that .ci/run installs it into.
fn nacl(seed: &str, what: &str, body: &[u8]) -> String {
    let python = std::env::var("COSTBOT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", NACL, seed, what])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {python}: {e}"));
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyNaCl is needed ({python}; `bash .ci/run` installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The application's public key, as the Developer Portal shows it.
pub fn public_key() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| nacl(SEED, "public", b"")).clone()
}

/// Discord's signature over timestamp + body, by PyNaCl.
pub fn sign_with(seed: &str, timestamp: i64, body: &str) -> String {
    nacl(seed, &timestamp.to_string(), body.as_bytes())
}

pub fn sign(timestamp: i64, body: &str) -> String {
    sign_with(SEED, timestamp, body)
}

/// POSTs `body` with the given signature headers.
pub async fn post_signed(
    url: &str,
    body: &str,
    timestamp: Option<i64>,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/discord/interactions"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(ts) = timestamp {
        req = req.header("x-signature-timestamp", ts.to_string());
    }
    if let Some(s) = signature {
        req = req.header("x-signature-ed25519", s);
    }
    req.send().await.unwrap()
}

/// A correctly signed interaction.
pub async fn post(url: &str, body: &Value) -> reqwest::Response {
    let body = body.to_string();
    let ts = now();
    post_signed(url, &body, Some(ts), Some(&sign(ts, &body))).await
}

fn user(id: &str, name: &str) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": name, "avatar": null, "public_flags": 0})
}

/// Where an interaction comes from: a guild channel (with the member) or the bot's DM.
pub enum Origin<'a> {
    Guild { channel: &'a str, user: &'a str },
    Dm { user: &'a str },
}

fn interaction(kind: u8, token: &str, from: Origin<'_>, data: Value) -> Value {
    static IDS: AtomicUsize = AtomicUsize::new(0);
    let id = 1_400_000_000_000_000_000u64 + IDS.fetch_add(1, Ordering::SeqCst) as u64;
    let mut v = json!({
        "id": id.to_string(), "application_id": APP, "type": kind, "token": token, "version": 1,
        "data": data, "app_permissions": "2248473465835073", "locale": "en-US",
        "entitlements": [], "attachment_size_limit": 10_485_760
    });
    match from {
        Origin::Guild { channel, user: u } => {
            v["guild_id"] = json!(GUILD);
            v["channel_id"] = json!(channel);
            v["channel"] = json!({"id": channel, "type": 0, "name": "finops", "guild_id": GUILD});
            v["guild_locale"] = json!("en-US");
            v["member"] = json!({"user": user(u, "ana"), "roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00",
                "premium_since": null, "deaf": false, "mute": false, "flags": 0, "pending": false,
                "permissions": "2248473465835073", "nick": null, "avatar": null, "communication_disabled_until": null});
            v["authorizing_integration_owners"] = json!({"0": GUILD});
            v["context"] = json!(0);
        }
        Origin::Dm { user: u } => {
            v["channel_id"] = json!("1100000000000000099");
            v["channel"] = json!({"id": "1100000000000000099", "type": 1});
            v["user"] = user(u, "bo");
            v["authorizing_integration_owners"] = json!({"0": GUILD});
            v["context"] = json!(1);
        }
    }
    v
}

pub fn ping() -> Value {
    json!({"id": "1400000000000009999", "application_id": APP, "type": 1, "token": "ping-token", "version": 1})
}

/// `/cost ask question:<question>`.
pub fn ask(token: &str, from: Origin<'_>, question: &str) -> Value {
    interaction(
        2,
        token,
        from,
        json!({"id": "1200000000000000000", "name": "cost", "type": 1, "guild_id": GUILD,
            "options": [{"name": "ask", "type": 1, "options": [{"name": "question", "type": 3, "value": question}]}]}),
    )
}

/// `/cost help`.
pub fn help(token: &str, from: Origin<'_>) -> Value {
    interaction(
        2,
        token,
        from,
        json!({"id": "1200000000000000000", "name": "cost", "type": 1, "options": [{"name": "help", "type": 1, "options": []}]}),
    )
}

/// A press of a button with `custom_id` under one of costbot's messages.
pub fn press(token: &str, from: Origin<'_>, custom_id: &str) -> Value {
    interaction(
        3,
        token,
        from,
        json!({"custom_id": custom_id, "component_type": 2}),
    )
    .tap(|v| {
        v["message"] = json!({
            "id": "1300000000000000001", "channel_id": v["channel_id"], "type": 20,
            "author": {"id": APP, "username": "costbot", "discriminator": "0", "global_name": null, "avatar": null, "bot": true},
            "content": "earlier answer", "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": false, "flags": 0, "webhook_id": APP, "application_id": APP,
            "components": [{"type": 1, "components": [{"type": 2, "style": 2, "label": "By region", "custom_id": custom_id}]}]
        });
    })
}

trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
