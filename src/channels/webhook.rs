//! `POST /v1/inquiries` and `GET /v1/conversations/{id}` with bearer tokens.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::agent::{Agent, AgentError, ConversationKey, ErrorKind, Inquiry, PublicError};
use crate::app::App;
use crate::config::{ConfigError, WebhookToken};
use crate::http::{bearer_token, same_secret, ApiError};
use crate::metrics::{ChannelMetrics, Metrics};

/// The label of this channel in metrics and in stored conversations.
pub const CHANNEL: &str = "webhook";

/// The webhook's state: its tokens, rate limit and counters. Built by
/// [`WebhookState::from_app`]; the server never sees it, only [`router`].
#[derive(Clone)]
pub struct WebhookState {
    pub agent: Arc<Agent>,
    pub tokens: Arc<Vec<WebhookToken>>,
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<ChannelMetrics>,
    pub max_body_bytes: usize,
}

impl WebhookState {
    /// The webhook's state for a built app; fails on invalid webhook tokens.
    pub fn from_app(app: &App, metrics: &Metrics) -> Result<WebhookState, ConfigError> {
        let tokens = app.config.webhook_tokens()?;
        if tokens.is_empty() {
            tracing::warn!("no webhook tokens configured: /v1/inquiries will refuse every request; set COSTBOT_WEBHOOK_TOKENS");
        }
        Ok(WebhookState {
            agent: app.agent.clone(),
            tokens: Arc::new(tokens),
            limiter: Arc::new(RateLimiter::new(app.config.server.rate_limit_per_minute)),
            metrics: metrics.channel(CHANNEL),
            max_body_bytes: app.config.server.max_body_bytes,
        })
    }
}

/// The webhook's routes, with its state inside.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/v1/inquiries", post(inquire))
        .route("/v1/conversations/{id}", get(conversation))
        .with_state(state)
}

/// Finds the token the request carries. Every configured token is compared,
/// in constant time over fixed-length digests, so timing reveals nothing.
pub fn authenticate<'a>(
    headers: &HeaderMap,
    tokens: &'a [WebhookToken],
) -> Result<&'a WebhookToken, ApiError> {
    if tokens.is_empty() {
        return Err(ApiError::unauthorized(
            "the webhook has no tokens configured; set COSTBOT_WEBHOOK_TOKENS on the server",
        ));
    }
    let given = bearer_token(headers)
        .ok_or_else(|| ApiError::unauthorized("send 'Authorization: Bearer <token>'"))?;
    let mut found = None;
    for t in tokens {
        let same = same_secret(given, t.secret.expose());
        if same && found.is_none() {
            found = Some(t);
        }
    }
    found.ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))
}

/// A token bucket per caller.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Ok, or the seconds to wait.
    pub fn check(&self, who: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets
            .entry(who.to_string())
            .or_insert((self.per_minute, now));
        let refill = now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * 60.0 / self.per_minute).ceil().max(1.0) as u64)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InquiryBody {
    text: String,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

/// Maps the Agent's public error to HTTP; the sentence is the Agent's own.
fn public_error(p: PublicError) -> ApiError {
    let status = match (p.kind, p.code) {
        (_, "cost_source_failed") => StatusCode::BAD_GATEWAY,
        (ErrorKind::BadQuestion, _) => StatusCode::UNPROCESSABLE_ENTITY,
        (ErrorKind::NotFound, _) => StatusCode::NOT_FOUND,
        (ErrorKind::Unavailable, _) => StatusCode::SERVICE_UNAVAILABLE,
        (ErrorKind::Upstream, _) => StatusCode::BAD_GATEWAY,
        (ErrorKind::Internal, _) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError {
        suggestions: p.suggestions,
        retry_after: p.retry_after,
        ..ApiError::new(status, p.code, p.message)
    }
}

/// Refuses the request before its body is read: the token, the rate limit,
/// the declared length and the content type are all in the head.
fn admit<'a>(state: &'a WebhookState, headers: &HeaderMap) -> Result<&'a WebhookToken, ApiError> {
    // An unread body is left on the connection, so every early refusal closes it.
    let token = authenticate(headers, &state.tokens).map_err(ApiError::closing)?;
    if let Err(wait) = state.limiter.check(&token.name) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this token; retry in {wait} s"),
            )
            .closing()
        });
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(too_large(state.max_body_bytes).closing());
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .unwrap_or_default();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as 'Content-Type: application/json'",
            )
            .closing());
        }
    }
    Ok(token)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// The longest question, in characters (not bytes).
pub const MAX_TEXT_CHARS: usize = 2000;

/// A conversation id callers may choose: 1–128 characters of
/// `[A-Za-z0-9._:-]`, without `..`, so it is safe in logs, paths and keys.
pub fn valid_conversation_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        && !id.contains("..")
}

fn invalid_conversation_id() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_conversation_id",
        "'conversation_id' must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-', without '..'",
    )
}

pub async fn inquire(
    State(state): State<WebhookState>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let token = admit(&state, &parts.headers)?;
    // Only now, for a caller we know, is the body read, and never past the limit.
    let body = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                too_large(state.max_body_bytes).closing()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body could not be read",
                )
                .closing()
            }
        })?;
    let parsed: InquiryBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("the body must be JSON like {{\"text\": \"...\"}}: {e}"),
        )
    })?;
    if parsed.text.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty",
            "'text' is empty; ask a question such as \"How much did we spend last month?\"",
        ));
    }
    if parsed.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            format!("'text' is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    // The caller's token owns the conversation; "user" is informational.
    // Only the Agent creates conversation ids: a named one must exist for this token.
    let conversation = match parsed.conversation_id {
        // A blank id asks for a new conversation, as it always has.
        Some(c) if c.trim().is_empty() => ConversationKey::New,
        Some(c) if !valid_conversation_id(&c) => return Err(invalid_conversation_id()),
        Some(c) => ConversationKey::Id(c),
        None => ConversationKey::New,
    };
    let inquiry = Inquiry::new(conversation, owner_of(&token.name), CHANNEL, parsed.text);
    let _ = parsed.user;
    state.metrics.inquiries.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let caller = token.name.clone();
    match state.agent.handle(inquiry).await {
        Ok(answer) => {
            let requests: u32 = answer
                .tool_calls
                .iter()
                .map(|c| c.cost_explorer_requests)
                .sum();
            tracing::info!(caller = %caller, conversation = %answer.conversation_id, cost_explorer_requests = requests, ms = started.elapsed().as_millis() as u64, "answered");
            Ok(Json(crate::render::json::render(&answer)).into_response())
        }
        Err(e) => {
            state.metrics.failed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(caller = %caller, code = e.public.code, ms = started.elapsed().as_millis() as u64, "not answered");
            let mut err = public_error(e.public);
            err.conversation_id = e.conversation_id;
            Err(err)
        }
    }
}

/// Webhook callers own conversations under their own namespace, apart from the CLI's.
fn owner_of(token_name: &str) -> String {
    format!("webhook:{token_name}")
}

/// `?limit=` (default 50, at most 200) and `?after=<message id>`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u32>,
    after: Option<i64>,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// A conversation's messages, oldest first, a page at a time; `next_after`
/// is the cursor for the next page when there is one.
pub async fn conversation(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let token = authenticate(&headers, &state.tokens)?;
    let Path(id) = id.map_err(|_| invalid_conversation_id())?;
    if !valid_conversation_id(&id) {
        return Err(invalid_conversation_id());
    }
    let Query(page) = page.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!(
                "use ?limit=<1..={MAX_PAGE}>&after=<message id>: {}",
                e.body_text()
            ),
        )
    })?;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            format!("'limit' must be between 1 and {MAX_PAGE}"),
        ));
    }
    let store = state.agent.store();
    let owner = store
        .conversation_owner(&id)
        .await
        .map_err(|e| public_error(AgentError::Store(e).public()))?;
    if owner.as_deref() != Some(owner_of(&token.name).as_str()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such conversation for this token",
        ));
    }
    let (messages, more) = store
        .messages_page(&id, page.after, limit)
        .await
        .map_err(|e| public_error(AgentError::Store(e).public()))?;
    let mut body = json!({ "id": id, "messages": messages });
    if more {
        body["next_after"] = json!(messages.last().map(|m| m.id));
    }
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids() {
        for ok in [
            "a",
            "team-a:2026.11_19",
            "1b0c0d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
            &"x".repeat(128),
        ] {
            assert!(valid_conversation_id(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a..b",
            "a/b",
            "a b",
            "a\0b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(!valid_conversation_id(bad), "{bad:?}");
        }
    }
}
