//! `POST /slack/commands`: `/cost why did EC2 go up last week?`. The ack is an
//! ephemeral "working…" at once; the answer follows to the command's
//! `response_url` (in the channel), or — with `post_mode = chat_post_message`
//! — as a message whose thread then carries the conversation.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackCommandEvent;

use super::{plain_id, read_verified, thread_key, Delivery, SlackState, Turn};
use crate::config::SlackPostMode;
use crate::render::slack::{self as blocks};

pub async fn handle(State(state): State<SlackState>, request: Request) -> Response {
    let (_, body) = match read_verified(&state, request).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Slack checks the certificate now and then with a signed `ssl_check=1`.
    if body.starts_with(b"ssl_check=1") || body.windows(12).any(|w| w == b"&ssl_check=1") {
        return StatusCode::OK.into_response();
    }
    let command: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return super::bad_request(format!("not a slash command: {e}")),
    };
    Json(state.on_command(command)).into_response()
}

impl SlackState {
    /// Starts answering a slash command and returns its ack payload (HTTP
    /// response body, or Socket Mode ack payload).
    pub fn on_command(&self, command: SlackCommandEvent) -> Value {
        let text = super::question_text(command.text.as_deref().unwrap_or_default());
        let team = command.team_id.to_string();
        let channel = command.channel_id.to_string();
        let user = command.user_id.to_string();
        if !plain_id(&team) || !plain_id(&channel) || !plain_id(&user) {
            return ephemeral("That command came with ids costbot cannot use.");
        }
        // `/cost digest subscribe|list|unsubscribe`: subscriptions, not a question.
        if crate::digest::chat::is_digest_command(&text) {
            let (this, response_url) = (self.clone(), command.response_url.0.to_string());
            self.spawn("slack-digest-command", async move {
                let reply = crate::digest::chat::handle(
                    this.store(),
                    &text,
                    &format!("slack:{channel}"),
                    &format!("slack:{team}:{user}"),
                )
                .await;
                this.send(&Delivery::respond(
                    &response_url,
                    false,
                    &blocks::notice(&reply),
                ))
                .await;
            });
            return ephemeral(":hourglass_flowing_sand: Working on it…");
        }
        if text.is_empty() || text.eq_ignore_ascii_case("help") {
            return ephemeral(&format!(
                "Ask me about your AWS bill, for example `{} why did EC2 go up last week?` — or mention me in a thread.",
                command.command
            ));
        }
        // "/cost private ..." answers only the person who asked.
        let (private, text) = split_private(&text);
        let response_url = command.response_url.0.to_string();
        let trigger = command.trigger_id.to_string();
        let this = self.clone();
        self.spawn("slack-command", async move {
            let to = Reply {
                response_url,
                trigger,
                private,
            };
            this.answer_command(team, channel, user, text, to).await;
        });
        ephemeral(":hourglass_flowing_sand: Working on it…")
    }

    async fn answer_command(
        &self,
        team: String,
        channel: String,
        user: String,
        text: String,
        to: Reply,
    ) {
        let Reply {
            response_url,
            trigger,
            private,
        } = to;
        if self.inner.post_mode == SlackPostMode::ChatPostMessage && !private {
            let placeholder = blocks::notice(&format!(
                ":hourglass_flowing_sand: <@{user}> asked “{}”…",
                blocks::truncate(&text, 200)
            ));
            if let Ok(Some(ts)) = self
                .web()
                .deliver(&Delivery::post(&channel, None, &placeholder))
                .await
            {
                let turn = Turn {
                    key: thread_key(&team, &channel, &ts),
                    team,
                    user,
                    channel: channel.clone(),
                    text,
                };
                let messages = self.answer(&turn).await;
                for (i, m) in messages.iter().enumerate() {
                    if i == 0 {
                        self.send(&Delivery::update(&channel, &ts, m)).await;
                    } else {
                        self.send(&Delivery::post(&channel, Some(&ts), m)).await;
                    }
                }
                return;
            }
            tracing::info!("could not post in the channel (is costbot invited?); answering to the response URL");
        }
        // The command's own conversation; its buttons carry the key for follow-ups.
        let key = format!(
            "slack:{team}:{channel}:cmd-{}",
            trigger.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let turn = Turn {
            key,
            team,
            user,
            channel,
            text,
        };
        let messages = self.answer(&turn).await;
        for m in &messages {
            self.send(&Delivery::respond(&response_url, !private, m))
                .await;
        }
    }
}

/// Where a command's answer goes.
struct Reply {
    response_url: String,
    trigger: String,
    /// Only the asker sees it (ephemeral).
    private: bool,
}

/// `private why did EC2 go up?` → (true, "why did EC2 go up?").
pub fn split_private(text: &str) -> (bool, String) {
    for prefix in ["private ", "--private ", "-p ", "only me "] {
        if text.len() > prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return (true, text[prefix.len()..].trim().to_string());
        }
    }
    (false, text.to_string())
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_commands() {
        assert_eq!(
            split_private("private spend yesterday"),
            (true, "spend yesterday".into())
        );
        assert_eq!(split_private("-p spend"), (true, "spend".into()));
        assert_eq!(
            split_private("spend privately"),
            (false, "spend privately".into())
        );
        assert_eq!(split_private("private"), (false, "private".into()));
    }
}
