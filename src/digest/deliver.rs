//! Where a built digest goes: a signed webhook, a Slack channel, a Discord
//! channel. Each send carries the run id as its idempotency key where the
//! destination has one (the webhook's `Idempotency-Key`); a re-send after a
//! crash sends the very same body.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::json;
use sha2::Sha256;

use super::builder::Built;
use super::{Destination, Subscription};
use crate::channels::discord::rest::{Rest, RestError};
use crate::channels::slack::deliver::{DeliverError, WebApi};
use crate::store::digests::DigestRun;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again: the network, a 5xx, a 429, a 408.
    #[error("{0}")]
    Transient(String),
    /// The destination said no for good, or is not set up.
    #[error("{0}")]
    Refused(String),
}

/// The webhook's body: the run's identity, the answer as JSON, the chart inline.
pub fn webhook_body(
    sub: &Subscription,
    run: &DigestRun,
    built: &Built,
    png: Option<&[u8]>,
) -> Vec<u8> {
    let body = json!({
        "run_id": run.id,
        "subscription": sub.name,
        "period": run.period,
        "scheduled_for": run.scheduled_for,
        "delayed": run.delayed,
        "digest": crate::render::json::render(&built.answer),
        "chart": png.map(|p| json!({
            "media_type": "image/png",
            "encoding": "base64",
            "data": base64_encode(p),
            "series": built.chart,
        })),
    });
    body.to_string().into_bytes()
}

/// `sha256=<hex>` of HMAC-SHA256 over the raw body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends built digests to their destinations.
pub struct Deliverer {
    http: HttpClient,
    slack: Option<Arc<WebApi>>,
    discord: Option<Arc<Rest>>,
}

impl Deliverer {
    pub fn new(slack: Option<Arc<WebApi>>, discord: Option<Arc<Rest>>) -> Deliverer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map(|b| b.https_or_http().enable_http1().build())
            // No root certificates: plain http still works, https fails per send.
            .unwrap_or_else(|_| {
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(
                        rustls::ClientConfig::builder_with_provider(Arc::new(
                            rustls::crypto::ring::default_provider(),
                        ))
                        .with_safe_default_protocol_versions()
                        .expect("ring supports TLS 1.2 and 1.3")
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                    )
                    .https_or_http()
                    .enable_http1()
                    .build()
            });
        Deliverer {
            http: Client::builder(hyper_util::rt::TokioExecutor::new()).build(https),
            slack,
            discord,
        }
    }

    /// Sends one run; returns the destination's receipt.
    pub async fn send(
        &self,
        sub: &Subscription,
        run: &DigestRun,
        built: &Built,
        png: Option<&[u8]>,
    ) -> Result<String, SendError> {
        match &sub.destination {
            Destination::Webhook(url) => {
                let secret = sub
                    .secret
                    .as_ref()
                    .ok_or_else(|| SendError::Refused("the webhook has no secret".into()))?;
                let body = webhook_body(sub, run, built, png);
                self.post_webhook(url, secret.expose(), &run.id, body).await
            }
            Destination::Slack(channel) => {
                let web = self.slack.as_ref().ok_or_else(|| {
                    SendError::Refused("Slack is not configured (SLACK_BOT_TOKEN)".into())
                })?;
                self.send_slack(web, channel, run, built, png).await
            }
            Destination::Discord(channel) => {
                let rest = self.discord.as_ref().ok_or_else(|| {
                    SendError::Refused("Discord is not configured (DISCORD_TOKEN)".into())
                })?;
                let messages = crate::render::discord::render(&built.answer, None);
                let mut first = None;
                for (i, m) in messages.iter().enumerate() {
                    let file = png.filter(|_| i == 0).map(|p| ("digest.png", p.to_vec()));
                    let nonce = format!("{}{i}", &run.id.replace('-', "")[..20]);
                    let id = rest
                        .create_message(*channel, m, file, &nonce)
                        .await
                        .map_err(|e| match e {
                            RestError::Transient { .. } => SendError::Transient(e.to_string()),
                            other => SendError::Refused(other.to_string()),
                        })?;
                    first.get_or_insert(id);
                }
                Ok(format!("discord message {}", first.unwrap_or_default()))
            }
        }
    }

    /// Slack has no idempotency key: the post carries the run id in its
    /// metadata, and before posting, a channel given by id is searched for
    /// it (a post that landed before a crash is not posted again). A
    /// channel given by name ("#finops") cannot be searched before the first
    /// post, so there a crash between Slack's answer and the run's record
    /// means at least once. The chart goes into the post's thread; its
    /// failure does not fail the run (the post is already there).
    async fn send_slack(
        &self,
        web: &WebApi,
        channel: &str,
        run: &DigestRun,
        built: &Built,
        png: Option<&[u8]>,
    ) -> Result<String, SendError> {
        let transient = |e: DeliverError| match e {
            DeliverError::Transient(m) => SendError::Transient(m),
            other => SendError::Refused(other.to_string()),
        };
        if is_channel_id(channel) {
            if let Some(ts) = web.find_tagged(channel, &run.id).await.map_err(transient)? {
                return Ok(format!("slack ts {ts} (found already posted)"));
            }
        }
        let messages = crate::render::slack::render(&built.answer, None);
        let mut first: Option<(String, String)> = None;
        for m in &messages {
            let thread = first.as_ref().map(|(_, ts)| ts.as_str());
            let posted = web
                .post_tagged(channel, thread, m, &run.id)
                .await
                .map_err(transient)?;
            first.get_or_insert(posted);
        }
        let (channel_id, ts) = first.unwrap_or_default();
        let mut receipt = format!("slack ts {ts}");
        if let Some(png) = png.filter(|p| !p.is_empty()) {
            let title = format!("{} cost digest, {}", run.subscription, run.period);
            if let Err(e) = web
                .upload_file(&channel_id, Some(&ts), "digest.png", &title, png.to_vec())
                .await
            {
                tracing::warn!(error = %e, "the digest chart was not uploaded to Slack");
                receipt.push_str("; chart not uploaded");
            }
        }
        Ok(receipt)
    }

    async fn post_webhook(
        &self,
        url: &str,
        secret: &str,
        run_id: &str,
        body: Vec<u8>,
    ) -> Result<String, SendError> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("costbot/", env!("CARGO_PKG_VERSION")))
            .header("x-costbot-signature", signature(secret, &body))
            .header("x-costbot-timestamp", timestamp)
            .header("idempotency-key", run_id)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Refused(format!("the webhook URL is not usable: {e}")))?;
        let response = tokio::time::timeout(Duration::from_secs(30), self.http.request(request))
            .await
            .map_err(|_| SendError::Transient("the webhook did not answer within 30 s".into()))?
            .map_err(|e| SendError::Transient(format!("the webhook could not be reached: {e}")))?;
        let status = response.status();
        // The body is read (bounded) only to free the connection.
        let _ = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect()).await;
        match status.as_u16() {
            200..=299 => Ok(format!("HTTP {}", status.as_u16())),
            408 | 429 | 500..=599 => Err(SendError::Transient(format!(
                "the webhook answered HTTP {status}"
            ))),
            _ => Err(SendError::Refused(format!(
                "the webhook refused the digest: HTTP {status}"
            ))),
        }
    }
}

/// Slack channel ids (C…, G…, D…) as opposed to names ("#finops").
fn is_channel_id(c: &str) -> bool {
    c.len() >= 9
        && c.starts_with(['C', 'G', 'D'])
        && c.chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(i.as_bytes()), o);
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
