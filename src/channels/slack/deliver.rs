//! Delivery to Slack: `chat.postMessage`, `chat.update` and `response_url`
//! through slack-morphism's client, which waits out 429s (`Retry-After`)
//! with its rate control. A reply Slack did not take is kept in the SQLite
//! outbox and retried with backoff, across restarts.

use std::time::Duration;

use chrono::Utc;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::config::{url_origin, ConfigError, Secret, SlackConfig};
use crate::render::slack::Message;
use crate::shutdown::Signal;
use crate::store::Store;

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// Where Slack's `response_url`s live.
pub const SLACK_HOOKS_ORIGIN: &str = "https://hooks.slack.com";

/// One call to Slack, as kept in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    Post {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_ts: Option<String>,
        text: String,
        blocks: Vec<Value>,
    },
    Update {
        channel: String,
        ts: String,
        text: String,
        blocks: Vec<Value>,
    },
    Respond {
        url: String,
        /// "in_channel" or "ephemeral".
        response_type: String,
        replace_original: bool,
        text: String,
        blocks: Vec<Value>,
    },
}

impl Delivery {
    pub fn post(channel: &str, thread_ts: Option<&str>, m: &Message) -> Self {
        Delivery::Post {
            channel: channel.into(),
            thread_ts: thread_ts.map(Into::into),
            text: m.text.clone(),
            blocks: m.blocks.clone(),
        }
    }

    pub fn update(channel: &str, ts: &str, m: &Message) -> Self {
        Delivery::Update {
            channel: channel.into(),
            ts: ts.into(),
            text: m.text.clone(),
            blocks: m.blocks.clone(),
        }
    }

    pub fn respond(url: &str, in_channel: bool, m: &Message) -> Self {
        Delivery::Respond {
            url: url.into(),
            response_type: if in_channel {
                "in_channel"
            } else {
                "ephemeral"
            }
            .into(),
            replace_original: false,
            text: m.text.clone(),
            blocks: m.blocks.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Delivery::Post { .. } => "post",
            Delivery::Update { .. } => "update",
            Delivery::Respond { .. } => "respond",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// Worth trying again later: the network, a 5xx, rate limits past the retries.
    #[error("Slack did not take the message (will retry): {0}")]
    Transient(String),
    /// Slack said no for good (channel_not_found, invalid_blocks, ...).
    #[error("Slack refused the message: {0}")]
    Refused(String),
    /// A response_url outside Slack's hooks host: never called.
    #[error("refusing to post to {0}: not a Slack response URL")]
    ForeignUrl(String),
}

/// Slack's Web API for one bot token.
pub struct WebApi {
    client: SlackClient<Connector>,
    bot_token: SlackApiToken,
    hook_origins: Vec<String>,
}

impl WebApi {
    pub fn new(config: &SlackConfig) -> Result<WebApi, ConfigError> {
        let token = config
            .bot_token
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid("Slack needs SLACK_BOT_TOKEN".into()))?;
        let api_origin = url_origin(&config.api_url)
            .ok_or_else(|| ConfigError::Invalid("slack.api_url is not an http(s) URL".into()))?;
        // Two TLS providers are linked (ring here, aws-lc-rs by the AWS SDK), so
        // rustls has no default: name one, for this client and for tungstenite's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .map_err(|e| {
                ConfigError::Invalid(format!("no TLS root certificates for Slack: {e}"))
            })?;
        // Plain http only when the configured API itself is (a local mock).
        let https = if api_origin.starts_with("http://") {
            builder.https_or_http().enable_http1().build()
        } else {
            builder.https_only().enable_http1().enable_http2().build()
        };
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(config.api_url.trim_end_matches('/'))
            .with_rate_control(
                SlackApiRateControlConfig::new()
                    .with_max_retries(3)
                    .with_max_delay_timeout(Duration::from_secs(60)),
            );
        let mut hook_origins = vec![SLACK_HOOKS_ORIGIN.to_string()];
        if config.api_url.trim_end_matches('/') != crate::config::SLACK_API_URL {
            hook_origins.push(api_origin);
        }
        Ok(WebApi {
            client: SlackClient::new(connector),
            bot_token: SlackApiToken::new(token.expose().to_string().into()),
            hook_origins,
        })
    }

    /// Whether costbot may POST to this response URL: Slack's hooks host (or
    /// the configured API's origin, for a local mock), over https unless local.
    pub fn allowed_response_url(&self, url: &str) -> bool {
        url_origin(url).is_some_and(|o| self.hook_origins.contains(&o))
    }

    /// Makes the call; returns the message ts for posts.
    pub async fn deliver(&self, d: &Delivery) -> Result<Option<String>, DeliverError> {
        let session = self.client.open_session(&self.bot_token);
        match d {
            Delivery::Post {
                channel,
                thread_ts,
                text,
                blocks,
            } => {
                let req = SlackApiChatPostMessageRequest::new(
                    channel.clone().into(),
                    content(text, blocks),
                )
                .opt_thread_ts(thread_ts.clone().map(Into::into));
                let r = session.chat_post_message(&req).await.map_err(classify)?;
                Ok(Some(r.ts.to_string()))
            }
            Delivery::Update {
                channel,
                ts,
                text,
                blocks,
            } => {
                let req = SlackApiChatUpdateRequest::new(
                    channel.clone().into(),
                    content(text, blocks),
                    ts.clone().into(),
                );
                session.chat_update(&req).await.map_err(classify)?;
                Ok(None)
            }
            Delivery::Respond {
                url,
                response_type,
                replace_original,
                text,
                blocks,
            } => {
                if !self.allowed_response_url(url) {
                    return Err(DeliverError::ForeignUrl(
                        url_origin(url).unwrap_or_else(|| "an unreadable URL".into()),
                    ));
                }
                let parsed =
                    url::Url::parse(url).map_err(|e| DeliverError::ForeignUrl(e.to_string()))?;
                let body = json!({
                    "response_type": response_type,
                    "replace_original": replace_original,
                    "text": text,
                    "blocks": blocks,
                });
                let span = tracing::debug_span!("Slack response_url");
                let context = SlackClientApiCallContext {
                    rate_control_params: Some(&POST_WEBHOOK_SPECIAL_LIMIT_RATE_CTL),
                    // A response URL is its own credential: no token goes with it.
                    token: None,
                    tracing_span: &span,
                    is_sensitive_url: true,
                };
                let _: Value = self
                    .client
                    .http_api
                    .connector
                    .http_post_uri(parsed, &body, context)
                    .await
                    .map_err(classify)?;
                Ok(None)
            }
        }
    }

    /// The WebSocket URL for one Socket Mode connection (`apps.connections.open`).
    pub async fn open_socket(&self, app_token: &Secret) -> Result<String, DeliverError> {
        let token = SlackApiToken::new(app_token.expose().to_string().into());
        let r = self
            .client
            .open_session(&token)
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await
            .map_err(classify)?;
        Ok(r.url.0.to_string())
    }
}

/// The metadata event type that tags a digest post with its run id.
pub const DIGEST_EVENT: &str = "costbot_digest";

/// Digests: a post tagged with its run id, a look for that tag, a file upload.
impl WebApi {
    /// `chat.postMessage` with `metadata` naming the run; returns (channel id, ts).
    pub async fn post_tagged(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        m: &Message,
        run_id: &str,
    ) -> Result<(String, String), DeliverError> {
        let session = self.client.open_session(&self.bot_token);
        let metadata = SlackMessageMetadata {
            event_type: DIGEST_EVENT.into(),
            event_payload: Some([("run_id".to_string(), run_id.to_string())].into()),
        };
        let req = SlackApiChatPostMessageRequest::new(
            channel.to_string().into(),
            content(&m.text, &m.blocks).with_metadata(metadata),
        )
        .opt_thread_ts(thread_ts.map(|t| t.to_string().into()));
        let r = session.chat_post_message(&req).await.map_err(classify)?;
        Ok((r.channel.to_string(), r.ts.to_string()))
    }

    /// The ts of a recent message in `channel_id` tagged with `run_id`
    /// (`conversations.history` with metadata), if there is one.
    pub async fn find_tagged(
        &self,
        channel_id: &str,
        run_id: &str,
    ) -> Result<Option<String>, DeliverError> {
        let session = self.client.open_session(&self.bot_token);
        let req = SlackApiConversationsHistoryRequest::new()
            .with_channel(channel_id.to_string().into())
            .with_limit(100)
            .with_include_all_metadata(true);
        let r = session
            .conversations_history(&req)
            .await
            .map_err(classify)?;
        Ok(r.messages
            .into_iter()
            .find(|m| {
                m.content.metadata.as_ref().is_some_and(|md| {
                    md.event_type == DIGEST_EVENT
                        && md
                            .event_payload
                            .as_ref()
                            .and_then(|p| p.get("run_id"))
                            .is_some_and(|id| id == run_id)
                })
            })
            .map(|m| m.origin.ts.to_string()))
    }

    /// Uploads a file into a channel (a thread, when given):
    /// `files.getUploadURLExternal`, the bytes to that URL, `files.completeUploadExternal`.
    pub async fn upload_file(
        &self,
        channel_id: &str,
        thread_ts: Option<&str>,
        filename: &str,
        title: &str,
        data: Vec<u8>,
    ) -> Result<(), DeliverError> {
        let session = self.client.open_session(&self.bot_token);
        let url = session
            .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
                filename.into(),
                data.len(),
            ))
            .await
            .map_err(classify)?;
        session
            .files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                url.upload_url,
                data,
                "image/png".into(),
            ))
            .await
            .map_err(classify)?;
        let mut complete =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                url.file_id,
            )
            .with_title(title.into())])
            .with_channel_id(channel_id.to_string().into());
        if let Some(ts) = thread_ts {
            complete = complete.with_thread_ts(ts.to_string().into());
        }
        session
            .files_complete_upload_external(&complete)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn content(text: &str, blocks: &[Value]) -> SlackMessageContent {
    let typed: Option<Vec<SlackBlock>> = if blocks.is_empty() {
        None
    } else {
        match serde_json::from_value(Value::Array(blocks.to_vec())) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(error = %e, "blocks did not fit slack-morphism's model; sending the text alone");
                None
            }
        }
    };
    SlackMessageContent::new()
        .with_text(text.to_string())
        .opt_blocks(typed)
}

fn classify(e: SlackClientError) -> DeliverError {
    match e {
        SlackClientError::ApiError(a) => {
            let code = a.code.clone();
            // Slack's own "try later" answers.
            if matches!(
                code.as_str(),
                "ratelimited"
                    | "service_unavailable"
                    | "fatal_error"
                    | "internal_error"
                    | "request_timeout"
            ) {
                DeliverError::Transient(code)
            } else {
                DeliverError::Refused(code)
            }
        }
        SlackClientError::HttpError(h)
            if h.status_code.is_client_error() && h.status_code.as_u16() != 429 =>
        {
            DeliverError::Refused(format!("HTTP {}", h.status_code))
        }
        // Network, 5xx, rate limits past the retries, unreadable replies.
        other => DeliverError::Transient(other.to_string()),
    }
}

/// When to try an outbox reply again, and when to stop.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_attempts: u32,
}

impl RetryPolicy {
    pub fn from_config(c: &SlackConfig) -> Self {
        RetryPolicy {
            base: Duration::from_secs(c.retry_base_secs),
            max_attempts: c.retry_max_attempts.max(1),
        }
    }

    /// The delay after `attempts` failures: base, 2·base, 4·base, ... at most an hour.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        (self.base * factor).min(Duration::from_secs(3600))
    }
}

/// Delivers now, or keeps the reply in the outbox when Slack could not take it.
pub async fn deliver_or_keep(
    web: &WebApi,
    store: &Store,
    retry: RetryPolicy,
    d: &Delivery,
) -> Option<String> {
    match web.deliver(d).await {
        Ok(ts) => ts,
        Err(DeliverError::Transient(e)) => {
            let next = Utc::now() + chrono::Duration::from_std(retry.delay(1)).unwrap_or_default();
            let payload = serde_json::to_value(d).unwrap_or_default();
            match store.outbox_push(d.kind(), &payload, &e, next).await {
                Ok(id) => {
                    tracing::warn!(outbox = id, error = %e, "Slack did not take a reply; kept for retry")
                }
                Err(se) => {
                    tracing::error!(error = %se, "Slack did not take a reply and the outbox failed: it is lost")
                }
            }
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, kind = d.kind(), "reply not delivered");
            None
        }
    }
}

/// Retries due outbox replies until shutdown.
pub async fn run_outbox(
    web: std::sync::Arc<WebApi>,
    store: Store,
    retry: RetryPolicy,
    mut signal: Signal,
) {
    let tick = retry
        .base
        .clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        if let Err(e) = outbox_pass(&web, &store, retry).await {
            tracing::warn!(error = %e, "outbox pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = signal.recv() => return,
        }
    }
}

/// One pass over the due replies; returns how many were delivered.
pub async fn outbox_pass(
    web: &WebApi,
    store: &Store,
    retry: RetryPolicy,
) -> Result<usize, crate::store::StoreError> {
    let mut delivered = 0;
    // Event ids are needed only while Slack may retry (minutes).
    store
        .slack_events_prune(Utc::now() - chrono::Duration::hours(1))
        .await?;
    for item in store.outbox_due(Utc::now(), 20).await? {
        let d: Delivery = match serde_json::from_value(item.payload.clone()) {
            Ok(d) => d,
            Err(e) => {
                store
                    .outbox_failed(item.id, &format!("unreadable: {e}"), None)
                    .await?;
                continue;
            }
        };
        match web.deliver(&d).await {
            Ok(_) => {
                store.outbox_delivered(item.id).await?;
                delivered += 1;
                tracing::info!(
                    outbox = item.id,
                    attempts = item.attempts + 1,
                    "kept reply delivered"
                );
            }
            Err(DeliverError::Transient(e)) if item.attempts + 1 < retry.max_attempts => {
                let next = Utc::now()
                    + chrono::Duration::from_std(retry.delay(item.attempts + 1))
                        .unwrap_or_default();
                store.outbox_failed(item.id, &e, Some(next)).await?;
            }
            Err(e) => {
                tracing::warn!(outbox = item.id, error = %e, "giving up on a kept reply");
                store.outbox_failed(item.id, &e.to_string(), None).await?;
            }
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let r = RetryPolicy {
            base: Duration::from_secs(10),
            max_attempts: 5,
        };
        assert_eq!(r.delay(1), Duration::from_secs(10));
        assert_eq!(r.delay(2), Duration::from_secs(20));
        assert_eq!(r.delay(4), Duration::from_secs(80));
        assert_eq!(r.delay(40), Duration::from_secs(3600));
    }

    #[test]
    fn response_urls_must_be_slacks() {
        let mut c = SlackConfig {
            bot_token: Some(Secret::new("xoxb-1")),
            ..Default::default()
        };
        let web = WebApi::new(&c).unwrap();
        assert!(web.allowed_response_url("https://hooks.slack.com/commands/T1/2/abc"));
        assert!(!web.allowed_response_url("http://hooks.slack.com/commands/T1/2/abc"));
        assert!(!web.allowed_response_url("https://hooks.slack.com.evil.example/x"));
        assert!(!web.allowed_response_url("http://127.0.0.1:9/x"));
        c.api_url = "http://127.0.0.1:9/api/".into();
        let web = WebApi::new(&c).unwrap();
        assert!(web.allowed_response_url("http://127.0.0.1:9/hooks/x"));
        assert!(!web.allowed_response_url("http://127.0.0.1:10/hooks/x"));
    }

    #[test]
    fn deliveries_round_trip_through_the_outbox_format() {
        let m = Message {
            text: "t".into(),
            blocks: vec![json!({"type": "divider"})],
        };
        for d in [
            Delivery::post("C1", Some("1.2"), &m),
            Delivery::update("C1", "1.3", &m),
            Delivery::respond("https://hooks.slack.com/x", true, &m),
        ] {
            let v = serde_json::to_value(&d).unwrap();
            assert_eq!(serde_json::from_value::<Delivery>(v).unwrap(), d);
        }
    }
}
