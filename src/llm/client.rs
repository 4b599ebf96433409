//! The HTTP side: one POST per request, errors typed by what went wrong.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{ChatRequest, Completion, Dialect, LlmError};
use crate::config::Secret;

/// What the client needs to know (from `[llm]`).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
    pub temperature: f64,
    /// The most tokens one reply may take.
    pub max_tokens: u32,
    /// `false` asks for one call at a time (small models loop otherwise).
    pub parallel_tool_calls: bool,
    pub dialect: Dialect,
    /// Azure OpenAI's `api-version`.
    pub api_version: String,
}

pub struct LlmClient {
    http: reqwest::Client,
    settings: ClientSettings,
    url: String,
    ids: AtomicU32,
}

impl LlmClient {
    pub fn new(settings: ClientSettings) -> Result<LlmClient, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| LlmError::Unreachable(e.to_string()))?;
        let url = settings
            .dialect
            .url(&settings.base_url, &settings.model, &settings.api_version);
        Ok(LlmClient {
            http,
            settings,
            url,
            ids: AtomicU32::new(0),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Sends one chat-completions request.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Completion, LlmError> {
        let s = &self.settings;
        let body = s.dialect.body(req, s);
        let mut r = self.http.post(&self.url).json(&body);
        if let Some(key) = &s.api_key {
            let (name, value) = s.dialect.auth_header(key.expose());
            r = r.header(name, value);
        }
        let timeout = || LlmError::Timeout(s.timeout.as_secs());
        let resp = r.send().await.map_err(|e| {
            if e.is_timeout() {
                timeout()
            } else {
                LlmError::Unreachable(without_url(&e))
            }
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                timeout()
            } else {
                LlmError::Unreachable(without_url(&e))
            }
        })?;
        if status.as_u16() == 429 {
            return Err(LlmError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(LlmError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            });
        }
        // Each reply numbers its id-less calls from a range of its own.
        let mut next = self.ids.fetch_add(100, Ordering::Relaxed);
        s.dialect.parse(&bytes, &mut next)
    }
}

/// reqwest's message without the URL (an Azure URL names the deployment).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<llm>");
    }
    s
}
