//! `POST /slack/interactions`: the buttons under an answer. A follow-up
//! button asks its question in the same thread and conversation; 👍/👎 is
//! stored with the answer it rates.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{plain_id, read_verified, scope, Delivery, SlackState, Turn};
use crate::render::slack::{
    self as blocks, ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_FOLLOWUP,
};

#[derive(Deserialize)]
struct Form {
    payload: String,
}

pub async fn handle(State(state): State<SlackState>, request: Request) -> Response {
    let (_, body) = match read_verified(&state, request).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let payload: Value = match serde_urlencoded::from_bytes::<Form>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return super::bad_request(format!("not an interaction payload: {e}")),
    };
    state.on_interaction(payload);
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
struct FollowUp {
    k: String,
    q: String,
}

#[derive(Deserialize)]
struct Feedback {
    c: String,
    m: i64,
}

/// What a button press asks for.
#[derive(Debug, PartialEq)]
pub enum Press {
    FollowUp {
        turn: Turn,
        thread_ts: String,
    },
    Feedback {
        team: String,
        user: String,
        conversation_id: String,
        message_id: i64,
        vote: i8,
        response_url: Option<String>,
    },
    Ignore(&'static str),
}

/// Decides from a `block_actions` payload, without side effects.
pub fn press(payload: &Value) -> Press {
    if payload["type"] != "block_actions" {
        return Press::Ignore("not block_actions");
    }
    let s = |v: &Value| v.as_str().map(str::to_string);
    let (Some(team), Some(user)) = (s(&payload["team"]["id"]), s(&payload["user"]["id"])) else {
        return Press::Ignore("no team or user");
    };
    let Some(action) = payload["actions"].as_array().and_then(|a| a.first()) else {
        return Press::Ignore("no action");
    };
    let id = action["action_id"].as_str().unwrap_or_default();
    let value = action["value"].as_str().unwrap_or_default();
    if id.starts_with(ACTION_FOLLOWUP) {
        let Ok(f) = serde_json::from_str::<FollowUp>(value) else {
            return Press::Ignore("unreadable follow-up");
        };
        // A button only continues a conversation of the workspace it was pressed in.
        if !f.k.starts_with(&format!("{}:", scope(&team))) {
            return Press::Ignore("another workspace's conversation");
        }
        let channel =
            s(&payload["channel"]["id"]).or_else(|| s(&payload["container"]["channel_id"]));
        let message = &payload["message"];
        let thread = s(&message["thread_ts"])
            .or_else(|| s(&payload["container"]["thread_ts"]))
            .or_else(|| s(&message["ts"]))
            .or_else(|| s(&payload["container"]["message_ts"]));
        let (Some(channel), Some(thread_ts)) = (channel, thread) else {
            return Press::Ignore("no channel or message");
        };
        if !plain_id(&channel) || !plain_id(&thread_ts) || !plain_id(&user) {
            return Press::Ignore("unusable ids");
        }
        return Press::FollowUp {
            turn: Turn {
                team,
                user,
                channel,
                key: f.k,
                text: f.q,
            },
            thread_ts,
        };
    }
    if id == ACTION_FEEDBACK_UP || id == ACTION_FEEDBACK_DOWN {
        let Ok(f) = serde_json::from_str::<Feedback>(value) else {
            return Press::Ignore("unreadable feedback");
        };
        return Press::Feedback {
            team,
            user,
            conversation_id: f.c,
            message_id: f.m,
            vote: if id == ACTION_FEEDBACK_UP { 1 } else { -1 },
            response_url: s(&payload["response_url"]),
        };
    }
    Press::Ignore("not costbot's button")
}

impl SlackState {
    /// Handles a button press (HTTP or Socket Mode); returns at once.
    pub fn on_interaction(&self, payload: Value) {
        match press(&payload) {
            Press::FollowUp { turn, thread_ts } => {
                let this = self.clone();
                self.spawn("slack-followup", async move {
                    this.reply_in_thread(turn, thread_ts).await
                });
            }
            Press::Feedback {
                team,
                user,
                conversation_id,
                message_id,
                vote,
                response_url,
            } => {
                let this = self.clone();
                self.spawn("slack-feedback", async move {
                    this.record_feedback(
                        &team,
                        &user,
                        &conversation_id,
                        message_id,
                        vote,
                        response_url.as_deref(),
                    )
                    .await
                });
            }
            Press::Ignore(why) => tracing::debug!(why, "ignored a Slack interaction"),
        }
    }

    async fn record_feedback(
        &self,
        team: &str,
        user: &str,
        conversation_id: &str,
        message_id: i64,
        vote: i8,
        response_url: Option<&str>,
    ) {
        let store = self.store();
        // Only the workspace that owns the conversation may rate its answers.
        match store.conversation_owner(conversation_id).await {
            Ok(Some(owner)) if owner == scope(team) => {}
            Ok(_) => {
                return tracing::info!("feedback for another workspace's conversation ignored")
            }
            Err(e) => {
                return tracing::error!(error = %e, "could not check a conversation for feedback")
            }
        }
        let author = format!("slack:{team}:{user}");
        match store
            .slack_feedback(conversation_id, message_id, &author, vote)
            .await
        {
            Ok(true) => {
                tracing::info!(
                    conversation = conversation_id,
                    message = message_id,
                    vote,
                    "feedback stored"
                );
                if let Some(url) = response_url {
                    let thanks = blocks::notice(if vote > 0 {
                        "Thanks — glad it helped. 👍"
                    } else {
                        "Thanks — noted. 👎 Ask again with more detail, or say “how did you get that?”."
                    });
                    self.send(&Delivery::respond(url, false, &thanks)).await;
                }
            }
            Ok(false) => tracing::info!("feedback for an unknown answer ignored"),
            Err(e) => tracing::error!(error = %e, "could not store feedback"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pressed(action_id: &str, value: &str) -> Value {
        json!({
            "type": "block_actions",
            "team": {"id": "T1"}, "user": {"id": "U2"},
            "channel": {"id": "C1"},
            "message": {"ts": "20.1", "thread_ts": "10.1"},
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{"action_id": action_id, "value": value}]
        })
    }

    #[test]
    fn buttons_are_read() {
        let p = pressed(
            "costbot_followup_0",
            &super::super::followup_value("slack:T1:C1:10.1", "break that down by region"),
        );
        match press(&p) {
            Press::FollowUp { turn, thread_ts } => {
                assert_eq!(turn.key, "slack:T1:C1:10.1");
                assert_eq!(turn.text, "break that down by region");
                assert_eq!(turn.user, "U2");
                assert_eq!(thread_ts, "10.1");
            }
            other => panic!("{other:?}"),
        }
        let other_team = pressed(
            "costbot_followup_0",
            &super::super::followup_value("slack:T9:C1:10.1", "x"),
        );
        assert!(matches!(press(&other_team), Press::Ignore(_)));
        let up = pressed(
            ACTION_FEEDBACK_UP,
            &super::super::feedback_value("c1", 7, 1),
        );
        assert!(matches!(
            press(&up),
            Press::Feedback {
                vote: 1,
                message_id: 7,
                ..
            }
        ));
        let down = pressed(
            ACTION_FEEDBACK_DOWN,
            &super::super::feedback_value("c1", 7, -1),
        );
        assert!(matches!(press(&down), Press::Feedback { vote: -1, .. }));
        assert!(matches!(
            press(&pressed("someone_else", "x")),
            Press::Ignore(_)
        ));
    }
}
