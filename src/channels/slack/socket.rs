//! Socket Mode: the same events, commands and buttons over WebSockets, for a
//! server without a public URL. Each connection asks `apps.connections.open`
//! (slack-morphism's Web API client, with the app token) for a URL, then reads
//! Slack's envelopes: `hello`; `events_api`, `slash_commands` and
//! `interactive`, each acked by its `envelope_id` at once and handled by the
//! same code as over HTTP; `disconnect`, after which it reconnects.
//!
//! slack-morphism's own Socket Mode listener is not used: it hands callbacks
//! typed events that drop `bot_id` on mentions (so bot mentions could not be
//! ignored), acks only after the callback returns, and runs its tasks outside
//! costbot's shutdown set.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackCommandEvent;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::SlackState;
use crate::config::Secret;
use crate::shutdown::{Shutdown, Signal};

/// Starts `connections` Socket Mode connections on the shutdown task set.
pub fn start(state: &SlackState, app_token: Secret, connections: u32, shutdown: &Shutdown) {
    for n in 0..connections {
        let state = state.clone();
        let token = app_token.clone();
        let signal = shutdown.subscribe();
        shutdown.spawn("slack-socket", async move {
            connection(state, token, n, signal).await
        });
    }
}

/// One connection, reconnecting with backoff until shutdown.
async fn connection(state: SlackState, token: Secret, n: u32, mut signal: Signal) {
    let mut backoff = Duration::from_millis(500);
    // Connections start apart, so a refresh does not drop them all at once.
    if n > 0 && sleep_or_stop(Duration::from_millis(250 * u64::from(n)), &mut signal).await {
        return;
    }
    loop {
        let url = match state.web().open_socket(&token).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(connection = n, error = %e, "apps.connections.open failed");
                if sleep_or_stop(backoff, &mut signal).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let ws = tokio::select! {
            r = tokio_tungstenite::connect_async(url.as_str()) => r,
            _ = signal.recv() => return,
        };
        let mut ws = match ws {
            Ok((ws, _)) => ws,
            Err(e) => {
                tracing::warn!(connection = n, error = %e, "Socket Mode connection failed");
                if sleep_or_stop(backoff, &mut signal).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        tracing::info!(connection = n, "Socket Mode connected");
        loop {
            let frame = tokio::select! {
                f = ws.next() => f,
                _ = signal.recv() => {
                    let _ = ws.close(None).await;
                    return;
                }
            };
            let text = match frame {
                Some(Ok(WsMessage::Text(t))) => t.to_string(),
                Some(Ok(WsMessage::Close(_))) | None => break,
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::info!(connection = n, error = %e, "Socket Mode connection lost");
                    break;
                }
            };
            let envelope: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable Socket Mode frame");
                    continue;
                }
            };
            match on_envelope(&state, envelope).await {
                Step::Reply(ack) => {
                    if let Err(e) = ws.send(WsMessage::Text(ack.to_string().into())).await {
                        tracing::info!(connection = n, error = %e, "could not ack; reconnecting");
                        break;
                    }
                }
                Step::Nothing => {}
                Step::Reconnect => {
                    let _ = ws.close(None).await;
                    break;
                }
            }
        }
        tracing::info!(connection = n, "Socket Mode reconnecting");
    }
}

/// What to do after an envelope.
#[derive(Debug, PartialEq)]
pub enum Step {
    Reply(Value),
    Nothing,
    Reconnect,
}

/// Handles one envelope; the ack is computed without waiting for an answer.
pub async fn on_envelope(state: &SlackState, envelope: Value) -> Step {
    let id = envelope["envelope_id"].clone();
    match envelope["type"].as_str() {
        Some("hello") => {
            tracing::debug!("Socket Mode hello");
            Step::Nothing
        }
        Some("disconnect") => {
            tracing::info!(
                reason = envelope["reason"].as_str().unwrap_or(""),
                "Slack asked to reconnect"
            );
            Step::Reconnect
        }
        Some("events_api") => {
            let payload = envelope["payload"].clone();
            if payload["type"] == "event_callback" {
                state.on_event(payload).await;
            }
            Step::Reply(json!({ "envelope_id": id }))
        }
        Some("slash_commands") => {
            match serde_json::from_value::<SlackCommandEvent>(envelope["payload"].clone()) {
                Ok(command) => {
                    Step::Reply(json!({ "envelope_id": id, "payload": state.on_command(command) }))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable slash command over Socket Mode");
                    Step::Reply(json!({ "envelope_id": id }))
                }
            }
        }
        Some("interactive") => {
            state.on_interaction(envelope["payload"].clone());
            Step::Reply(json!({ "envelope_id": id }))
        }
        other => {
            tracing::debug!(kind = ?other, "ignored a Socket Mode envelope");
            if id.is_null() {
                Step::Nothing
            } else {
                Step::Reply(json!({ "envelope_id": id }))
            }
        }
    }
}

/// Sleeps; true when shutdown came first.
async fn sleep_or_stop(d: Duration, signal: &mut Signal) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = signal.recv() => true,
    }
}
