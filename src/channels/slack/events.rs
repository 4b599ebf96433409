//! `POST /slack/events`: the Events API. `url_verification` is answered with
//! its challenge; `app_mention` and direct messages get a threaded reply.
//! Retries (`X-Slack-Retry-Num`) and duplicates (the same `event_id`, or one
//! event over two Socket Mode connections) are answered once: handled event
//! ids are kept in SQLite. Messages from bots, costbot's own included, are ignored.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{dm_key, plain_id, question_text, read_verified, thread_key, SlackState, Turn};

pub async fn handle(State(state): State<SlackState>, request: Request) -> Response {
    let (headers, body) = match read_verified(&state, request).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return super::bad_request(format!("not an Events API payload: {e}")),
    };
    match payload["type"].as_str() {
        Some("url_verification") => {
            Json(json!({ "challenge": payload["challenge"] })).into_response()
        }
        Some("event_callback") => {
            if let Some(n) = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
            {
                let reason = headers
                    .get("x-slack-retry-reason")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info!(retry = n, reason, "Slack retried an event");
            }
            state.on_event(payload).await;
            StatusCode::OK.into_response()
        }
        other => {
            tracing::debug!(kind = ?other, "ignored an Events API payload");
            StatusCode::OK.into_response()
        }
    }
}

/// What an event asks of costbot, if anything.
#[derive(Debug, PartialEq)]
pub enum Wanted {
    /// Reply in `thread_ts` of the turn's channel.
    Reply {
        turn: Turn,
        thread_ts: String,
    },
    Ignore(&'static str),
}

/// Decides from an `event_callback` payload, without side effects.
pub fn wanted(payload: &Value) -> Wanted {
    let ev = &payload["event"];
    let s = |v: &Value| v.as_str().map(str::to_string);
    let Some(team) = s(&payload["team_id"]).or_else(|| s(&ev["team"])) else {
        return Wanted::Ignore("no team");
    };
    if ev.get("bot_id").is_some_and(|b| !b.is_null())
        || ev.get("bot_profile").is_some_and(|b| !b.is_null())
    {
        return Wanted::Ignore("from a bot");
    }
    if ev.get("subtype").is_some_and(|b| !b.is_null()) {
        // bot_message, message_changed, message_deleted, channel_join, ...
        return Wanted::Ignore("not a plain message");
    }
    let (Some(user), Some(channel), Some(ts)) = (s(&ev["user"]), s(&ev["channel"]), s(&ev["ts"]))
    else {
        return Wanted::Ignore("no user, channel or ts");
    };
    let thread_ts = s(&ev["thread_ts"]).unwrap_or_else(|| ts.clone());
    if ![&team, &user, &channel, &ts, &thread_ts]
        .iter()
        .all(|v| plain_id(v))
    {
        return Wanted::Ignore("unusable ids");
    }
    let text = question_text(ev["text"].as_str().unwrap_or_default());
    if text.is_empty() {
        return Wanted::Ignore("no text");
    }
    let key = match (ev["type"].as_str(), ev["channel_type"].as_str()) {
        (Some("app_mention"), _) => thread_key(&team, &channel, &thread_ts),
        (Some("message"), Some("im")) => dm_key(&team, &user),
        _ => return Wanted::Ignore("not a mention or a direct message"),
    };
    Wanted::Reply {
        turn: Turn {
            team,
            user,
            channel,
            key,
            text,
        },
        thread_ts,
    }
}

impl SlackState {
    /// Handles an `event_callback` (HTTP or Socket Mode): decides, records the
    /// event id, and starts the reply. Returns at once.
    pub async fn on_event(&self, payload: Value) {
        let (turn, thread_ts) = match wanted(&payload) {
            Wanted::Reply { turn, thread_ts } => (turn, thread_ts),
            Wanted::Ignore(why) => {
                tracing::debug!(why, "ignored a Slack event");
                return;
            }
        };
        let Some(event_id) = payload["event_id"].as_str() else {
            tracing::debug!("ignored a Slack event without an id");
            return;
        };
        match self.store().slack_event_first_seen(event_id).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(event_id, "already handled this Slack event");
                return;
            }
            Err(e) => {
                // Without the record a retry could be answered twice; Slack will retry.
                tracing::error!(error = %e, "could not record a Slack event");
                return;
            }
        }
        let this = self.clone();
        self.spawn("slack-reply", async move {
            this.reply_in_thread(turn, thread_ts).await
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(event: Value) -> Value {
        json!({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event})
    }

    #[test]
    fn mentions_and_dms_are_wanted_bots_are_not() {
        let m = callback(
            json!({"type": "app_mention", "user": "U1", "channel": "C1", "ts": "10.1", "text": "<@UBOT> spend yesterday"}),
        );
        match wanted(&m) {
            Wanted::Reply { turn, thread_ts } => {
                assert_eq!(turn.key, "slack:T1:C1:10.1");
                assert_eq!(turn.text, "spend yesterday");
                assert_eq!(thread_ts, "10.1");
            }
            other => panic!("{other:?}"),
        }
        let in_thread = callback(
            json!({"type": "app_mention", "user": "U2", "channel": "C1", "ts": "11.1", "thread_ts": "10.1", "text": "<@UBOT> and by region?"}),
        );
        assert!(
            matches!(wanted(&in_thread), Wanted::Reply { turn, .. } if turn.key == "slack:T1:C1:10.1")
        );
        let dm = callback(
            json!({"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": "12.1", "text": "spend"}),
        );
        assert!(matches!(wanted(&dm), Wanted::Reply { turn, .. } if turn.key == "slack:T1:dm:U1"));
        for ignored in [
            json!({"type": "app_mention", "user": "U1", "bot_id": "B1", "channel": "C1", "ts": "1.1", "text": "<@UBOT> hi"}),
            json!({"type": "message", "subtype": "bot_message", "channel_type": "im", "channel": "D1", "ts": "1.1", "text": "x"}),
            json!({"type": "message", "channel_type": "im", "user": "U1", "bot_profile": {"id": "B1"}, "channel": "D1", "ts": "1.1", "text": "x"}),
            json!({"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1", "ts": "1.1", "text": "x"}),
            json!({"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.1", "text": "<@UBOT>"}),
            json!({"type": "app_mention", "user": "U:1", "channel": "C1", "ts": "1.1", "text": "x"}),
        ] {
            assert!(
                matches!(wanted(&callback(ignored.clone())), Wanted::Ignore(_)),
                "{ignored}"
            );
        }
    }
}
