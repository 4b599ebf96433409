//! Slack: slash commands, mentions and DMs, and buttons, answered in the
//! thread they came from, over HTTP (signed requests) or Socket Mode.
//!
//! Every HTTP request is verified ([`verify`]) with its body bounded before
//! anything else; the ack returns at once and the answer is computed on the
//! shutdown task set, then delivered with slack-morphism's Web API client
//! ([`deliver`]), through the SQLite outbox when Slack cannot take it.
//! slack-morphism's own axum listener reads bodies unbounded and its Socket
//! Mode listener hands callbacks typed events that drop `bot_id` on mentions,
//! so the handlers here are costbot's, on slack-morphism's client and models.
//!
//! Conversations: one per thread (`slack:{team}:{channel}:{thread_ts}`), one
//! per DM (`slack:{team}:dm:{user}`); the scope is the workspace
//! (`slack:{team}`), the author the person (`slack:{team}:{user}`).

pub mod commands;
pub mod deliver;
pub mod events;
pub mod interactions;
pub mod socket;
pub mod verify;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;

use crate::agent::{Agent, Answer, ConversationKey, Inquiry, TurnError};
use crate::app::App;
use crate::config::{ConfigError, Secret, SlackConfig, SlackPostMode};
use crate::http::ApiError;
use crate::metrics::{ChannelMetrics, Metrics};
use crate::render::slack::{self as blocks, Actions, Message};
use crate::shutdown::Shutdown;
use crate::store::Store;

pub use deliver::{Delivery, RetryPolicy, WebApi};

/// The label of this channel in metrics and in stored conversations.
pub const CHANNEL: &str = "slack";

/// The longest question, in characters (as for the webhook).
pub const MAX_TEXT_CHARS: usize = 2000;

/// The Slack channel's state. Cheap to clone.
#[derive(Clone)]
pub struct SlackState {
    inner: Arc<Inner>,
}

struct Inner {
    agent: Arc<Agent>,
    web: Arc<WebApi>,
    signing_secret: Option<Secret>,
    metrics: Arc<ChannelMetrics>,
    max_body_bytes: usize,
    post_mode: SlackPostMode,
    retry: RetryPolicy,
    /// Answers run here, so a shutdown drains them.
    tasks: Shutdown,
}

impl SlackState {
    pub fn new(
        agent: Arc<Agent>,
        config: &SlackConfig,
        metrics: &Metrics,
        tasks: Shutdown,
    ) -> Result<SlackState, ConfigError> {
        let missing = config.missing();
        if !missing.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "Slack is partly configured; it still needs {}",
                missing.join(", and ")
            )));
        }
        Ok(SlackState {
            inner: Arc::new(Inner {
                agent,
                web: Arc::new(WebApi::new(config)?),
                signing_secret: config.signing_secret.clone(),
                metrics: metrics.channel(CHANNEL),
                max_body_bytes: config.max_body_bytes,
                post_mode: config.post_mode,
                retry: RetryPolicy::from_config(config),
                tasks,
            }),
        })
    }

    pub fn store(&self) -> &Store {
        self.inner.agent.store()
    }

    pub fn web(&self) -> &WebApi {
        &self.inner.web
    }

    /// Runs an answer on the answers' own runtime, tracked by the shutdown
    /// task set (see [`super::spawn_answer`]).
    fn spawn(
        &self,
        name: &'static str,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        super::spawn_answer(&self.inner.tasks, name, fut);
    }

    async fn send(&self, d: &Delivery) -> Option<String> {
        deliver::deliver_or_keep(&self.inner.web, self.store(), self.inner.retry, d).await
    }
}

/// Starts Slack when it is configured: the outbox worker and Socket Mode on
/// `shutdown`'s task set, and the HTTP routes when a signing secret is set.
/// `costbot serve` calls this once; None when there is nothing to route.
pub fn serve(
    app: &App,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Option<Router>, ConfigError> {
    if !app.config.slack.is_configured() {
        return Ok(None);
    }
    serve_with(app.agent.clone(), &app.config.slack, metrics, shutdown)
}

/// [`serve`] with a given Agent (tests use one over a slow cost source).
pub fn serve_with(
    agent: Arc<Agent>,
    config: &SlackConfig,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Option<Router>, ConfigError> {
    let state = SlackState::new(agent, config, metrics, shutdown.clone())?;
    shutdown.spawn(
        "slack-outbox",
        deliver::run_outbox(
            state.inner.web.clone(),
            state.store().clone(),
            state.inner.retry,
            shutdown.subscribe(),
        ),
    );
    if let Some(app_token) = &config.app_token {
        socket::start(
            &state,
            app_token.clone(),
            config.socket_connections,
            shutdown,
        );
        tracing::info!(
            connections = config.socket_connections,
            "Slack Socket Mode on"
        );
    }
    Ok(config.signing_secret.is_some().then(|| router(state)))
}

/// What `doctor` says about Slack: (problem?, line). Secrets are named, never shown.
pub fn doctor(config: &SlackConfig) -> Vec<(bool, String)> {
    if !config.is_configured() {
        return vec![(false, "info Slack off: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (HTTP), or SLACK_APP_TOKEN and SLACK_BOT_TOKEN (Socket Mode); see slack/manifest.yaml".into())];
    }
    let mut lines = Vec::new();
    let set = |s: &Option<Secret>| if s.is_some() { "set" } else { "not set" };
    lines.push((
        false,
        format!(
            "info Slack: signing secret {}, bot token {}, app token {} (Socket Mode {}); Web API {}; slash command answers via {}",
            set(&config.signing_secret),
            set(&config.bot_token),
            set(&config.app_token),
            if config.app_token.is_some() { "on" } else { "off" },
            config.api_url,
            match config.post_mode {
                SlackPostMode::ResponseUrl => "response_url",
                SlackPostMode::ChatPostMessage => "chat.postMessage",
            }
        ),
    ));
    for m in config.missing() {
        lines.push((true, format!("FAIL Slack needs {m}")));
    }
    if config.missing().is_empty() {
        lines.push((
            false,
            format!(
                "ok   Slack ready: {}",
                if config.signing_secret.is_some() {
                    "POST /slack/commands, /slack/events, /slack/interactions"
                } else {
                    "Socket Mode only (no HTTP endpoints)"
                }
            ),
        ));
    }
    lines
}

/// The Slack routes, with the state inside.
pub fn router(state: SlackState) -> Router {
    Router::new()
        .route("/slack/commands", post(commands::handle))
        .route("/slack/events", post(events::handle))
        .route("/slack/interactions", post(interactions::handle))
        .with_state(state)
}

/// Reads a request's body, bounded, and verifies its signature. Anything
/// wrong is a response to send back at once, with nothing answered or stored.
async fn read_verified(
    state: &SlackState,
    request: Request,
) -> Result<(HeaderMap, Bytes), Response> {
    let (parts, body) = request.into_parts();
    let Some(secret) = &state.inner.signing_secret else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Slack's HTTP endpoints need SLACK_SIGNING_SECRET",
        )
        .into_response());
    };
    let unauthorized = |why: verify::VerifyError| {
        tracing::info!(reason = %why, "refused a Slack request");
        ApiError::unauthorized(why.to_string())
            .closing()
            .into_response()
    };
    let now = verify::unix_now();
    // What the head alone can refuse is refused before the body is read.
    let ts = parts
        .headers
        .get(verify::TIMESTAMP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    match ts {
        None if parts.headers.get(verify::SIGNATURE_HEADER).is_none() => {
            return Err(unauthorized(verify::VerifyError::Missing))
        }
        None => return Err(unauthorized(verify::VerifyError::Stale)),
        Some(t) if (now - t).abs() > verify::MAX_AGE_SECS => {
            return Err(unauthorized(verify::VerifyError::Stale))
        }
        Some(_) => {}
    }
    let body =
        crate::http::read_limited_body(&parts.headers, body, state.inner.max_body_bytes).await?;
    verify::verify(secret.expose(), &parts.headers, &body, now).map_err(unauthorized)?;
    Ok((parts.headers, body))
}

fn bad_request(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed", message).into_response()
}

/// Where a turn came from and where its answer goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub team: String,
    pub user: String,
    pub channel: String,
    /// The conversation key (`slack:{team}:...`).
    pub key: String,
    pub text: String,
}

impl Turn {
    fn inquiry(&self) -> Inquiry {
        Inquiry {
            conversation: ConversationKey::Channel(self.key.clone()),
            scope: scope(&self.team),
            author: format!("slack:{}:{}", self.team, self.user),
            channel: CHANNEL.into(),
            text: self.text.clone(),
            clock: None,
        }
    }
}

pub fn scope(team: &str) -> String {
    format!("slack:{team}")
}

pub fn thread_key(team: &str, channel: &str, thread_ts: &str) -> String {
    format!("slack:{team}:{channel}:{thread_ts}")
}

pub fn dm_key(team: &str, user: &str) -> String {
    format!("slack:{team}:dm:{user}")
}

/// Slack ids are short and plain; anything else in a key is refused.
fn plain_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Text from Slack, as a question: mentions dropped, Slack's escapes undone.
pub fn question_text(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a follow-up button carries: the conversation and the question.
pub fn followup_value(key: &str, question: &str) -> String {
    json!({ "k": key, "q": question }).to_string()
}

/// What a feedback button carries: the conversation and the answer's message id.
pub fn feedback_value(conversation_id: &str, message_id: i64, vote: i8) -> String {
    json!({ "c": conversation_id, "m": message_id, "v": vote }).to_string()
}

impl SlackState {
    /// Runs a turn and renders the outcome as Slack messages.
    async fn answer(&self, turn: &Turn) -> Vec<Message> {
        let m = &self.inner.metrics;
        m.inquiries.fetch_add(1, Ordering::Relaxed);
        if turn.text.chars().count() > MAX_TEXT_CHARS {
            m.failed.fetch_add(1, Ordering::Relaxed);
            return vec![blocks::notice(&format!(":warning: That question is longer than {MAX_TEXT_CHARS} characters; ask it more briefly."))];
        }
        let started = std::time::Instant::now();
        match self.inner.agent.handle(turn.inquiry()).await {
            Ok(answer) => {
                tracing::info!(conversation = %answer.conversation_id, ms = started.elapsed().as_millis() as u64, "answered in Slack");
                self.render_answer(turn, &answer).await
            }
            Err(e) => {
                m.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(code = e.public.code, "not answered in Slack");
                vec![error_message(&e)]
            }
        }
    }

    async fn render_answer(&self, turn: &Turn, answer: &Answer) -> Vec<Message> {
        let answer_id = self
            .store()
            .latest_answer_id(&answer.conversation_id)
            .await
            .ok()
            .flatten();
        let key = turn.key.clone();
        let followup = move |q: &str| followup_value(&key, q);
        let actions = Actions {
            followup: &followup,
            feedback: answer_id.map(|id| {
                (
                    feedback_value(&answer.conversation_id, id, 1),
                    feedback_value(&answer.conversation_id, id, -1),
                )
            }),
        };
        blocks::render(answer, Some(&actions))
    }

    /// A threaded reply: a placeholder at once, then the answer in its place
    /// (`chat.update`), further parts of a long answer after it in the thread.
    async fn reply_in_thread(&self, turn: Turn, thread_ts: String) {
        let placeholder = blocks::notice(&format!(
            ":hourglass_flowing_sand: Looking into “{}”…",
            blocks::truncate(&turn.text, 200)
        ));
        // A placeholder is worth nothing later: it is not kept for retry.
        let placeholder_ts = match self
            .web()
            .deliver(&Delivery::post(
                &turn.channel,
                Some(&thread_ts),
                &placeholder,
            ))
            .await
        {
            Ok(ts) => ts,
            Err(e) => {
                tracing::info!(error = %e, "no placeholder; the answer will be posted instead");
                None
            }
        };
        let messages = self.answer(&turn).await;
        for (i, m) in messages.iter().enumerate() {
            match (&placeholder_ts, i) {
                (Some(ts), 0) => {
                    self.send(&Delivery::update(&turn.channel, ts, m)).await;
                }
                _ => {
                    self.send(&Delivery::post(&turn.channel, Some(&thread_ts), m))
                        .await;
                }
            }
        }
    }
}

fn error_message(e: &TurnError) -> Message {
    let mut text = format!(":warning: {}", e.public.message);
    for s in e.public.suggestions.iter().take(5) {
        text.push_str(&format!("\n• {s}"));
    }
    blocks::notice(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_lose_mentions_and_escapes() {
        assert_eq!(
            question_text("<@U0BOT> why did EC2 go up   last week?"),
            "why did EC2 go up last week?"
        );
        assert_eq!(
            question_text("cost &lt;&gt; &amp; <@U1|bob> x"),
            "cost <> & x"
        );
        assert_eq!(question_text("<@U1"), "<@U1");
    }

    #[test]
    fn doctor_says_what_is_missing_without_secrets() {
        let off = doctor(&SlackConfig::default());
        assert_eq!(off.len(), 1);
        assert!(!off[0].0 && off[0].1.contains("Slack off"));
        let partial = SlackConfig {
            bot_token: Some(Secret::new("xoxb-very-secret")),
            ..Default::default()
        };
        let lines = doctor(&partial);
        assert!(lines
            .iter()
            .any(|(p, l)| *p && l.contains("SLACK_SIGNING_SECRET")));
        assert!(lines.iter().all(|(_, l)| !l.contains("xoxb-very-secret")));
        let full = SlackConfig {
            signing_secret: Some(Secret::new("s3cr3t-signing")),
            ..partial
        };
        let lines = doctor(&full);
        assert!(lines.iter().all(|(p, _)| !p));
        assert!(lines.iter().any(|(_, l)| l.contains("/slack/events")));
        assert!(lines.iter().all(|(_, l)| !l.contains("s3cr3t")));
    }

    #[test]
    fn keys_and_ids() {
        assert_eq!(
            thread_key("T1", "C2", "1700000000.000100"),
            "slack:T1:C2:1700000000.000100"
        );
        assert_eq!(dm_key("T1", "U9"), "slack:T1:dm:U9");
        assert!(plain_id("1700000000.000100") && plain_id("C0123"));
        assert!(!plain_id("a:b") && !plain_id("") && !plain_id("a b"));
    }
}
