//! `POST /v1/inquiries` and `GET /v1/conversations/{id}` with bearer tokens.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::agent::{AgentError, ConversationKey, ErrorKind, Inquiry, PublicError};
use crate::config::WebhookToken;
use crate::server::AppState;

/// A JSON error: `{"error": {"code", "message", "suggestions"}}`.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    suggestions: Vec<String>,
    retry_after: Option<u64>,
    /// Set when the question belonged to a conversation, so the caller can continue it.
    conversation_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            suggestions: Vec::new(),
            retry_after: None,
            conversation_id: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if !self.suggestions.is_empty() {
            body["error"]["suggestions"] = json!(self.suggestions);
        }
        if let Some(id) = &self.conversation_id {
            body["conversation_id"] = json!(id);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// Finds the token the request carries. Every configured token is compared,
/// in constant time over fixed-length digests, so timing reveals nothing.
pub fn authenticate<'a>(
    headers: &HeaderMap,
    tokens: &'a [WebhookToken],
) -> Result<&'a WebhookToken, ApiError> {
    if tokens.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the webhook has no tokens configured; set COSTBOT_WEBHOOK_TOKENS on the server",
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send 'Authorization: Bearer <token>'",
            )
        })?;
    let given = digest(given.as_bytes());
    let mut found = None;
    for t in tokens {
        let same: bool = digest(t.secret.expose().as_bytes()).ct_eq(&given).into();
        if same && found.is_none() {
            found = Some(t);
        }
    }
    found.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the bearer token is not valid",
        )
    })
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

pub async fn inquire(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token = authenticate(&headers, &state.tokens)?;
    if let Err(wait) = state.limiter.check(&token.name) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this token; retry in {wait} s"),
            )
        });
    }
    let body = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "too_large",
                format!(
                    "the request body is larger than {} bytes",
                    state.max_body_bytes
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
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
    if parsed.text.len() > 2000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            "'text' is longer than 2000 characters",
        ));
    }
    // The caller's token owns the conversation; "user" is informational.
    let inquiry = Inquiry::new(
        ConversationKey::from_optional_id(parsed.conversation_id),
        owner_of(&token.name),
        "webhook",
        parsed.text,
    );
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

pub async fn conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let token = authenticate(&headers, &state.tokens)?;
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
    let messages = store
        .messages(&id)
        .await
        .map_err(|e| public_error(AgentError::Store(e).public()))?;
    Ok(Json(json!({ "id": id, "messages": messages })).into_response())
}
