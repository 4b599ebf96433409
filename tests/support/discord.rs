//! A local fake of Discord's REST API (interaction webhooks and callbacks,
//! channel messages — JSON or multipart with attachments — and typing,
//! command registration, the gateway's address; under `/api/v10`) and of its
//! gateway (v10, JSON: Hello, Identify, READY, heartbeats, Resume with
//! replay, Reconnect), both recording what costbot sent; a costbot server
//! with Discord configured against it; and interactions signed with PyNaCl,
//! an Ed25519 implementation independent of costbot's (serenity's
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
    /// When the fake received it.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct FakeState {
    calls: Mutex<Vec<Call>>,
    ids: AtomicUsize,
    /// Registration answered 401 while this is above zero.
    refuse_registration: AtomicUsize,
    notify: tokio::sync::Notify,
    gateway_url: String,
}

#[derive(Clone)]
pub struct Fake {
    state: Arc<FakeState>,
    pub addr: SocketAddr,
    /// What `discord.api_url` is set to.
    pub api_url: String,
    /// The gateway `GET /gateway` and `GET /gateway/bot` name.
    pub gateway: Gateway,
}

impl Fake {
    pub async fn start() -> Fake {
        let gateway = Gateway::start().await;
        let state = Arc::new(FakeState {
            gateway_url: gateway.url.clone(),
            ..FakeState::default()
        });
        let app = Router::new()
            .route("/api/v10/gateway", routing::get(gateway_url))
            .route("/api/v10/gateway/bot", routing::get(gateway_bot))
            .route(
                "/api/v10/channels/{channel}/typing",
                routing::post(no_content),
            )
            .route(
                "/api/v10/channels/{channel}/messages",
                routing::post(channel_message),
            )
            .route(
                "/api/v10/interactions/{id}/{token}/callback",
                routing::post(no_content),
            )
            .route(
                "/api/v10/webhooks/{app}/{token}/messages/@original",
                routing::patch(webhook),
            )
            .route("/api/v10/webhooks/{app}/{token}", routing::post(webhook))
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
            gateway,
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
        at: std::time::Instant::now(),
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
    let mut m = posted(&state, CHANNEL_ID, &sent);
    m["type"] = json!(20);
    m["webhook_id"] = json!(APP);
    m["application_id"] = json!(APP);
    Json(m).into_response()
}

/// The message Discord stores for a post by costbot in `channel`.
fn posted(state: &FakeState, channel: &str, sent: &Value) -> Value {
    let id = 1_300_000_000_000_000_000u64 + state.ids.fetch_add(1, Ordering::SeqCst) as u64;
    let mut m = json!({
        "id": id.to_string(), "channel_id": channel, "type": 0,
        "author": {"id": APP, "username": "costbot", "discriminator": "0", "global_name": null, "avatar": null, "bot": true},
        "content": sent["content"].as_str().unwrap_or(""),
        "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": sent["embeds"].clone(), "pinned": false, "flags": 0,
        "components": sent["components"].clone()
    });
    if let Some(r) = sent.get("message_reference") {
        m["type"] = json!(19);
        m["message_reference"] = r.clone();
    }
    m
}

/// Typing and interaction callbacks: Discord answers 204 No Content.
async fn no_content(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /gateway`: where to connect (serenity 0.12.5 asks this when its client is built).
async fn gateway_url(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    Json(json!({"url": state.gateway_url})).into_response()
}

/// `GET /gateway/bot`: the address, the recommended shard count and the session start limit.
async fn gateway_bot(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bot {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "401: Unauthorized", "code": 0})),
        )
            .into_response();
    }
    Json(json!({
        "url": state.gateway_url, "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
    }))
    .into_response()
}

/// `POST /channels/{id}/messages`, JSON or multipart (`payload_json` and
/// `files[n]` parts, as Discord documents): recorded as the message's JSON,
/// plus `"files": [{"name", "bytes", "png"}]` when it came as multipart;
/// answered with the message Discord stores.
async fn channel_message(
    State(state): State<Arc<FakeState>>,
    axum::extract::Path(channel): axum::extract::Path<String>,
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
    let boundary = content_type.split("boundary=").nth(1);
    let multipart = boundary.is_some();
    if let Some(boundary) = boundary {
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
    let mut recorded = payload.clone();
    if multipart {
        recorded["files"] = Value::Array(files);
    }
    let recorded_bytes = Bytes::from(recorded.to_string());
    record(&state, &method, &uri, &headers, &recorded_bytes);
    Json(posted(&state, &channel, &payload)).into_response()
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

/// Discord's MANAGE_CHANNELS permission bit.
pub const MANAGE_CHANNELS: u64 = 1 << 4;

/// `/cost digest <sub> <options…>` (string options), from a member with
/// `permissions` in the channel (a guild's `member.permissions`).
pub fn digest(
    token: &str,
    from: Origin<'_>,
    sub: &str,
    options: &[(&str, &str)],
    permissions: u64,
) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(name, value)| json!({"name": name, "type": 3, "value": value}))
        .collect();
    interaction(
        2,
        token,
        from,
        json!({"id": "1200000000000000000", "name": "cost", "type": 1,
            "options": [{"name": "digest", "type": 2, "options": [{"name": sub, "type": 1, "options": options}]}]}),
    )
    .tap(|v| {
        if v.get("member").is_some() {
            v["member"]["permissions"] = json!(permissions.to_string());
        }
    })
}

/// Discord asking for suggestions while `typed` is being written in
/// `/cost digest subscribe time_zone:` (APPLICATION_COMMAND_AUTOCOMPLETE).
pub fn typing_time_zone(token: &str, from: Origin<'_>, typed: &str) -> Value {
    interaction(
        4,
        token,
        from,
        json!({"id": "1200000000000000000", "name": "cost", "type": 1,
            "options": [{"name": "digest", "type": 2, "options": [{"name": "subscribe", "type": 1, "options": [
                {"name": "schedule", "type": 3, "value": "daily 09:00"},
                {"name": "time_zone", "type": 3, "value": typed, "focused": true}]}]}]}),
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

pub trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

// ---------------------------------------------------------------------------
// The gateway (https://discord.com/developers/docs/events/gateway), v10, JSON.

/// The bot's user id (a bot's user id is its application's).
pub const BOT: &str = APP;
/// Intents that need switching on in the Developer Portal: GUILD_MEMBERS,
/// GUILD_PRESENCES, MESSAGE_CONTENT.
pub const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | (1 << 15);
/// How often the fake asks for heartbeats (Discord says about 41 s; short
/// here so a test sees them).
pub const HEARTBEAT_MS: u64 = 1000;

/// Something costbot sent over a gateway connection (connections count from 1).
#[derive(Debug, Clone)]
pub struct Frame {
    pub conn: usize,
    pub payload: Value,
}

/// What the fake sends a connection, or does to it.
enum Out {
    Send(Value),
    /// The socket dropped without a close frame, as a network failure does.
    Drop,
    /// Closes with a code (4000+ are Discord's).
    Close(u16, &'static str),
}

#[derive(Default)]
struct GatewayInner {
    /// The current session: its id and every dispatch in it, for Resume.
    session: Option<String>,
    sessions: usize,
    seq: u64,
    log: Vec<Value>,
    /// The connection dispatches go to (one that identified or resumed).
    live: Option<(usize, tokio::sync::mpsc::UnboundedSender<Out>)>,
    connections: usize,
    /// Each connection's query string (`v=10`).
    queries: Vec<String>,
    frames: Vec<Frame>,
    /// Close codes costbot sent, by connection.
    closes: Vec<(usize, Option<u16>)>,
}

#[derive(Clone)]
pub struct Gateway {
    state: Arc<(Mutex<GatewayInner>, tokio::sync::Notify)>,
    /// `ws://127.0.0.1:PORT`, as `GET /gateway` gives it.
    pub url: String,
}

impl Gateway {
    pub async fn start() -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let gw = Gateway {
            state: Arc::new((
                Mutex::new(GatewayInner::default()),
                tokio::sync::Notify::new(),
            )),
            url: url.clone(),
        };
        let this = gw.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move { this.connection(stream).await });
            }
        });
        gw
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, GatewayInner> {
        self.state.0.lock().unwrap()
    }

    fn changed(&self) {
        self.state.1.notify_waiters();
    }

    /// Sends event `t` with data `d` in the current session (op 0, the next
    /// sequence number); kept for replay, so one sent while costbot is
    /// away reaches it when it resumes.
    pub fn dispatch(&self, t: &str, d: Value) -> u64 {
        let mut g = self.inner();
        let s = next_dispatch(&mut g, t, d);
        if let Some((_, out)) = &g.live {
            let _ = out.send(Out::Send(g.log.last().unwrap().clone()));
        }
        s
    }

    /// Drops the live socket without a close frame, and then dispatches `t`
    /// (so costbot misses it and must get it by resuming).
    pub fn drop_then_dispatch(&self, t: &str, d: Value) -> u64 {
        let mut g = self.inner();
        let (_, out) = g.live.take().expect("a live connection to drop");
        let _ = out.send(Out::Drop);
        next_dispatch(&mut g, t, d)
    }

    /// Ends the session (as after an outage longer than Discord keeps one)
    /// and drops the socket: a RESUME gets op 9, and costbot must identify anew.
    pub fn expire_session_and_drop(&self) {
        let mut g = self.inner();
        g.session = None;
        g.log.clear();
        let (_, out) = g.live.take().expect("a live connection to drop");
        let _ = out.send(Out::Drop);
    }

    /// Asks costbot to reconnect (op 7), as Discord does before a restart.
    pub fn reconnect(&self) {
        let g = self.inner();
        let (_, out) = g.live.as_ref().expect("a live connection");
        let _ = out.send(Out::Send(json!({"op": 7, "d": null, "s": null, "t": null})));
    }

    pub fn frames(&self) -> Vec<Frame> {
        self.inner().frames.clone()
    }

    pub fn frames_with_op(&self, op: u64) -> Vec<Frame> {
        self.frames()
            .into_iter()
            .filter(|f| f.payload["op"] == op)
            .collect()
    }

    pub fn queries(&self) -> Vec<String> {
        self.inner().queries.clone()
    }

    pub fn closes(&self) -> Vec<(usize, Option<u16>)> {
        self.inner().closes.clone()
    }

    pub fn session(&self) -> Option<String> {
        self.inner().session.clone()
    }

    /// The last sequence number dispatched.
    pub fn seq(&self) -> u64 {
        self.inner().seq
    }

    /// Waits until `pred` holds over what costbot sent.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&[Frame]) -> bool,
    ) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.1.notified();
            let frames = self.frames();
            if pred(&frames) {
                return frames;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let frames = self.frames();
                if pred(&frames) {
                    return frames;
                }
                panic!("timed out waiting for {what}; costbot sent: {frames:#?}");
            }
        }
    }

    /// Waits until a connection is live (identified or resumed).
    pub async fn wait_live(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.1.notified();
            if self.inner().live.is_some() {
                return;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .expect("costbot connected to the gateway");
        }
    }

    // tungstenite's handshake callback has a large error type, not ours to change.
    #[allow(clippy::result_large_err)]
    async fn connection(&self, stream: tokio::net::TcpStream) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        use tokio_tungstenite::tungstenite::Message as Ws;

        let query = Arc::new(Mutex::new(String::new()));
        let q = query.clone();
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(
            stream,
            move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                  resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                *q.lock().unwrap() = req.uri().query().unwrap_or("").to_string();
                Ok(resp)
            },
        )
        .await
        else {
            return;
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Out>();
        let conn = {
            let mut g = self.inner();
            g.connections += 1;
            g.queries.push(query.lock().unwrap().clone());
            g.connections
        };
        self.changed();
        // A client that asks for another version or encoding is closed (4012 Invalid API version).
        let version_ok = query.lock().unwrap().split('&').any(|p| p == "v=10")
            && !query.lock().unwrap().contains("encoding=etf");
        if !version_ok {
            let _ = tx.send(Out::Close(4012, "Invalid API version."));
        } else {
            let _ = tx.send(Out::Send(
                json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}, "s": null, "t": null}),
            ));
        }
        let mut identified = false;
        loop {
            tokio::select! {
                incoming = ws.next() => match incoming {
                    Some(Ok(Ws::Text(text))) => {
                        let payload: Value = match serde_json::from_str(text.as_str()) {
                            Ok(v) => v,
                            Err(_) => { let _ = tx.send(Out::Close(4002, "Error while decoding payload.")); continue; }
                        };
                        self.inner().frames.push(Frame { conn, payload: payload.clone() });
                        self.changed();
                        self.receive(conn, &tx, &mut identified, &payload);
                    }
                    Some(Ok(Ws::Close(frame))) => {
                        self.inner().closes.push((conn, frame.map(|f| u16::from(f.code))));
                        self.changed();
                        // tungstenite answers the close; flush it, then the socket ends.
                        let _ = ws.flush().await;
                        while let Some(Ok(_)) = ws.next().await {}
                        break;
                    }
                    Some(Ok(Ws::Binary(_))) => { let _ = tx.send(Out::Close(4002, "Error while decoding payload.")); }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
                out = rx.recv() => match out {
                    Some(Out::Send(v)) => { if ws.send(Ws::text(v.to_string())).await.is_err() { break; } }
                    Some(Out::Drop) | None => break,
                    Some(Out::Close(code, reason)) => {
                        let _ = ws.send(Ws::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }))).await;
                    }
                },
            }
        }
        let mut g = self.inner();
        if g.live.as_ref().is_some_and(|(c, _)| *c == conn) {
            g.live = None;
        }
        drop(g);
        self.changed();
    }

    /// One payload from costbot, answered as Discord would.
    fn receive(
        &self,
        conn: usize,
        tx: &tokio::sync::mpsc::UnboundedSender<Out>,
        identified: &mut bool,
        p: &Value,
    ) {
        let token_ok = |t: &Value| {
            // serenity sends the token as its REST client holds it, "Bot "-prefixed; Discord takes both.
            let t = t.as_str().unwrap_or("");
            t == TOKEN || t == format!("Bot {TOKEN}")
        };
        match p["op"].as_u64() {
            Some(1) => {
                if !(p["d"].is_null() || p["d"].is_u64()) {
                    let _ = tx.send(Out::Close(4002, "Error while decoding payload."));
                    return;
                }
                let _ = tx.send(Out::Send(
                    json!({"op": 11, "d": null, "s": null, "t": null}),
                ));
            }
            Some(2) => {
                let d = &p["d"];
                if *identified {
                    let _ = tx.send(Out::Close(4005, "Already authenticated."));
                } else if !token_ok(&d["token"]) {
                    let _ = tx.send(Out::Close(4004, "Authentication failed."));
                } else if !d["intents"].is_u64() {
                    let _ = tx.send(Out::Close(4013, "Invalid intent(s)."));
                } else if d["intents"].as_u64().unwrap() & PRIVILEGED_INTENTS != 0 {
                    // This application has no privileged intents switched on.
                    let _ = tx.send(Out::Close(4014, "Disallowed intent(s)."));
                } else if ["os", "browser", "device"]
                    .iter()
                    .any(|k| !d["properties"][k].is_string())
                {
                    let _ = tx.send(Out::Close(4002, "Error while decoding payload."));
                } else {
                    *identified = true;
                    let mut g = self.inner();
                    g.sessions += 1;
                    g.session = Some(format!("fake-session-{}", g.sessions));
                    g.seq = 0;
                    g.log.clear();
                    let shard = d.get("shard").cloned().unwrap_or(json!([0, 1]));
                    let ready = json!({
                        "v": 10,
                        "user": {"id": BOT, "username": "costbot", "discriminator": "0", "global_name": null,
                                 "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0},
                        "guilds": [{"id": GUILD, "unavailable": true}],
                        "session_id": g.session.clone().unwrap(),
                        "resume_gateway_url": self.url,
                        "shard": shard,
                        "application": {"id": APP, "flags": 0}
                    });
                    next_dispatch(&mut g, "READY", ready);
                    let _ = tx.send(Out::Send(g.log.last().unwrap().clone()));
                    g.live = Some((conn, tx.clone()));
                }
            }
            Some(6) => {
                let d = &p["d"];
                let mut g = self.inner();
                let known = g.session.is_some() && d["session_id"] == json!(g.session);
                let seq = d["seq"].as_u64();
                if !token_ok(&d["token"]) {
                    let _ = tx.send(Out::Close(4004, "Authentication failed."));
                } else if !known || seq.is_none_or(|s| s > g.seq) {
                    // Op 9: the session cannot be resumed; identify anew.
                    let _ = tx.send(Out::Send(
                        json!({"op": 9, "d": false, "s": null, "t": null}),
                    ));
                } else {
                    *identified = true;
                    let seq = seq.unwrap();
                    for missed in g.log.iter().filter(|e| e["s"].as_u64().unwrap() > seq) {
                        let _ = tx.send(Out::Send(missed.clone()));
                    }
                    next_dispatch(&mut g, "RESUMED", json!({}));
                    let _ = tx.send(Out::Send(g.log.last().unwrap().clone()));
                    g.live = Some((conn, tx.clone()));
                }
            }
            Some(3 | 4 | 8 | 31) if *identified => {}
            Some(_) if !*identified => {
                let _ = tx.send(Out::Close(4003, "Not authenticated."));
            }
            _ => {
                let _ = tx.send(Out::Close(4001, "Unknown opcode."));
            }
        }
    }
}

fn next_dispatch(g: &mut GatewayInner, t: &str, d: Value) -> u64 {
    g.seq += 1;
    g.log.push(json!({"op": 0, "s": g.seq, "t": t, "d": d}));
    g.seq
}

/// A user object as the gateway sends it.
pub fn gateway_user(id: &str, name: &str, bot: bool) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": name, "avatar": null, "bot": bot, "public_flags": 0})
}

/// MESSAGE_CREATE data: `author` (id, bot?) writes `content` in `channel`
/// of the test guild, or in a DM when `guild` is false; `mentions` are user ids.
pub fn message_create(
    id: &str,
    channel: &str,
    guild: bool,
    author: (&str, bool),
    content: &str,
    mentions: &[&str],
) -> Value {
    let mut m = json!({
        "id": id, "channel_id": channel, "type": 0, "content": content,
        "author": gateway_user(author.0, if author.1 { "otherbot" } else { "ana" }, author.1),
        "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "flags": 0, "components": [],
        "nonce": id,
        "mentions": mentions.iter().map(|u| {
            let mut user = gateway_user(u, if *u == BOT { "costbot" } else { "someone" }, *u == BOT);
            if guild {
                user["member"] = json!({"roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0});
            }
            user
        }).collect::<Vec<_>>()
    });
    if guild {
        m["guild_id"] = json!(GUILD);
        m["member"] = json!({"roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00",
            "premium_since": null, "deaf": false, "mute": false, "flags": 0, "pending": false, "nick": null, "avatar": null});
    }
    m
}
