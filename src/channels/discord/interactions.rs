//! Interactions — PING, `/cost` (with `/cost digest …`) and the follow-up
//! buttons — whichever way they come: at `POST /discord/interactions` or
//! over the gateway.
//!
//! One handler ([`DiscordState::interaction`]) decides the response and the
//! answer to start. Over HTTP the body is bounded and its signature checked
//! before it is parsed, and the response is the HTTP response; over the
//! gateway it is posted to the interaction's callback. Either way Discord
//! allows 3 s: a deferred response for a command (type 5, "costbot is
//! thinking…"), a deferred update for a button (type 6); the answer follows
//! through REST once the acknowledgement is out.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, ComponentInteraction,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage,
    Interaction, InteractionContext,
};

use super::verify::{self, VerifyError};
use super::{DiscordState, Pending, Place, Reply, MAX_TEXT_CHARS};
use crate::digest::chat::{self as digest_chat, Command, Surface};
use crate::http::ApiError;
use crate::render::discord::followup_question;

/// The interaction types costbot answers (Discord's numbering).
const PING: u8 = 1;
const APPLICATION_COMMAND: u8 = 2;
const MESSAGE_COMPONENT: u8 = 3;
const APPLICATION_COMMAND_AUTOCOMPLETE: u8 = 4;

pub const HELP: &str = "Ask me about your AWS bill with `/cost ask`, for example:\n\
• `/cost ask question: why did EC2 go up last week?`\n\
• `/cost ask question: top 5 services this month`\n\
• `/cost ask question: will we stay within budget this month?`\n\
• `/cost ask question: how can we cut NAT gateway costs?`\n\
Follow up in the same channel (`/cost ask question: and the month before?`) or with the buttons under an answer; anyone in the channel may.\n\
A digest every morning here: `/cost digest subscribe schedule: daily 09:00 time_zone: Europe/Paris` (needs Manage Channels); `/cost digest list` shows them.";

pub async fn handle(State(state): State<DiscordState>, request: Request) -> Response {
    let body = match read_verified(&state, request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: u8,
    }
    let kind = match serde_json::from_slice::<Kind>(&body) {
        Ok(k) => k.kind,
        Err(e) => return bad_request(format!("not a Discord interaction: {e}")),
    };
    if !matches!(
        kind,
        PING | APPLICATION_COMMAND | MESSAGE_COMPONENT | APPLICATION_COMMAND_AUTOCOMPLETE
    ) {
        return bad_request(format!(
            "interaction type {kind} is not one costbot handles: it answers PING (1), APPLICATION_COMMAND (2), MESSAGE_COMPONENT (3) and APPLICATION_COMMAND_AUTOCOMPLETE (4)"
        ));
    }
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::info!(error = %e, kind, "an interaction costbot could not read");
            return bad_request(format!("the interaction could not be read: {e}"));
        }
    };
    let Some(handled) = state.interaction(interaction).await else {
        return bad_request("that interaction type is not one costbot handles");
    };
    if let Some(pending) = handled.answer {
        // The acknowledgement is this response, written right after.
        state.answer_later(pending, std::future::ready(true));
    }
    Json(handled.response).into_response()
}

/// What an interaction gets: the response to send at once, and an answer to
/// start (delivered only after that response is out).
struct Handled {
    response: CreateInteractionResponse,
    answer: Option<Pending>,
}

impl Handled {
    fn now(response: CreateInteractionResponse) -> Handled {
        Handled {
            response,
            answer: None,
        }
    }
}

impl DiscordState {
    /// The one handler for interactions from either path; None for a type
    /// costbot does not handle.
    async fn interaction(&self, interaction: Interaction) -> Option<Handled> {
        Some(match interaction {
            Interaction::Ping(_) => Handled::now(CreateInteractionResponse::Pong),
            Interaction::Command(c) => self.on_command(c).await,
            Interaction::Component(c) => self.on_component(c),
            Interaction::Autocomplete(c) => Handled::now(autocomplete(&c)),
            _ => return None,
        })
    }

    /// An interaction that came over the gateway: the same handling, with
    /// the response posted to its callback (`POST /interactions/{id}/{token}/callback`).
    pub(super) async fn interaction_over_gateway(&self, interaction: Interaction) {
        let (id, token) = match &interaction {
            Interaction::Command(c) => (c.id.get(), c.token.clone()),
            Interaction::Component(c) => (c.id.get(), c.token.clone()),
            Interaction::Autocomplete(c) => (c.id.get(), c.token.clone()),
            other => {
                tracing::debug!(kind = ?other.kind(), "an interaction costbot does not handle");
                return;
            }
        };
        let Some(handled) = self.interaction(interaction).await else {
            return;
        };
        let (acked, on_acked) = tokio::sync::oneshot::channel();
        if let Some(pending) = handled.answer {
            self.answer_later(pending, async move { on_acked.await.unwrap_or(false) });
        }
        let sent = self.rest().respond(id, &token, &handled.response).await;
        if let Err(e) = &sent {
            tracing::warn!(error = %e, "could not acknowledge a Discord interaction");
        }
        let _ = acked.send(sent.is_ok());
    }

    /// `/cost ask` starts an answer and defers; `/cost help` and `/cost
    /// digest …` (SQLite alone, fast) answer at once.
    async fn on_command(&self, c: CommandInteraction) -> Handled {
        if c.data.name != "cost" {
            return Handled::now(ephemeral(&format!(
                "costbot does not know `/{}`; try `/cost help`.",
                c.data.name
            )));
        }
        if let Some(("digest", options)) = group(&c.data.options) {
            return Handled::now(ephemeral(&self.on_digest(&c, options).await));
        }
        match subcommand(&c.data.options) {
            Some(("help", _)) => Handled::now(ephemeral(HELP)),
            Some(("ask", options)) => {
                let question = options
                    .iter()
                    .find(|o| o.name == "question")
                    .and_then(|o| match &o.value {
                        CommandDataOptionValue::String(s) => Some(s.trim()),
                        _ => None,
                    })
                    .unwrap_or_default();
                if question.is_empty() {
                    return Handled::now(ephemeral("Ask a question, for example `/cost ask question: why did EC2 go up last week?`"));
                }
                if question.chars().count() > MAX_TEXT_CHARS {
                    return Handled::now(ephemeral(&format!(
                        "That question is longer than {MAX_TEXT_CHARS} characters; ask it more briefly."
                    )));
                }
                Handled {
                    response: CreateInteractionResponse::Defer(
                        CreateInteractionResponseMessage::new(),
                    ),
                    answer: Some(Pending {
                        turn: place(&c).turn(question),
                        token: c.token,
                        reply: Reply::EditOriginal,
                        heading: None,
                    }),
                }
            }
            _ => Handled::now(ephemeral(
                "costbot knows `/cost ask`, `/cost help` and `/cost digest`.",
            )),
        }
    }

    /// `/cost digest subscribe|list|unsubscribe` for this channel, through
    /// the digests' own chat logic; the reply is for the asker only.
    async fn on_digest(&self, c: &CommandInteraction, options: &[CommandDataOption]) -> String {
        let text = |opts: &[CommandDataOption], name: &str| {
            opts.iter()
                .find(|o| o.name == name)
                .and_then(|o| match &o.value {
                    CommandDataOptionValue::String(s) => Some(s.clone()),
                    _ => None,
                })
        };
        let command = match subcommand(options) {
            Some(("subscribe", o)) => Command::Subscribe {
                schedule: text(o, "schedule").unwrap_or_default(),
                time_zone: text(o, "time_zone").unwrap_or_default(),
                name: text(o, "name"),
            },
            Some(("list", _)) => Command::List,
            Some(("unsubscribe", o)) => Command::Unsubscribe {
                name: text(o, "name"),
            },
            _ => Command::Usage,
        };
        if matches!(
            command,
            Command::Subscribe { .. } | Command::Unsubscribe { .. }
        ) {
            if let Err(why) = may_change_digests(c) {
                return why.into();
            }
        }
        digest_chat::run(
            self.store(),
            Surface::Discord,
            &command,
            &format!("discord:{}", c.channel_id.get()),
            &format!("discord:user:{}", c.user.id.get()),
        )
        .await
    }

    /// A follow-up button asks its question in the pressed message's
    /// conversation (the channel it is in); the answer comes as new messages.
    fn on_component(&self, c: ComponentInteraction) -> Handled {
        let Some(question) = followup_question(&c.data.custom_id) else {
            tracing::debug!("a button that is not costbot's");
            return Handled::now(ephemeral("That button is not costbot's."));
        };
        let place = Place {
            guild: c.guild_id.map(|g| g.get()),
            channel: c.channel_id.get(),
            user: c.user.id.get(),
            private_channel: c.context == Some(InteractionContext::PrivateChannel),
        };
        let question = question.to_string();
        Handled {
            response: CreateInteractionResponse::Acknowledge,
            answer: Some(Pending {
                turn: place.turn(&question),
                token: c.token,
                reply: Reply::FollowUp,
                heading: Some(question),
            }),
        }
    }
}

fn place(c: &CommandInteraction) -> Place {
    Place {
        guild: c.guild_id.map(|g| g.get()),
        channel: c.channel_id.get(),
        user: c.user.id.get(),
        private_channel: c.context == Some(InteractionContext::PrivateChannel),
    }
}

/// Suggestions for the option being typed: IANA zones for `/cost digest
/// subscribe time_zone:` (the only option with autocomplete).
fn autocomplete(c: &CommandInteraction) -> CreateInteractionResponse {
    let mut choices = CreateAutocompleteResponse::new();
    if let Some(typing) = c.data.autocomplete().filter(|o| o.name == "time_zone") {
        // Discord shows at most 25.
        for zone in digest_chat::time_zones_matching(typing.value, 25) {
            choices = choices.add_string_choice(zone, zone);
        }
    }
    CreateInteractionResponse::Autocomplete(choices)
}

/// Who may subscribe a channel to digests or stop one: in a server, a
/// member with Manage Channels there (Discord sends the member's
/// permissions in this channel, overwrites included, with the signed
/// interaction); in a DM with costbot, that person. Discord has no
/// per-subcommand default permissions, so this is checked here.
fn may_change_digests(c: &CommandInteraction) -> Result<(), &'static str> {
    if c.guild_id.is_some() {
        let allowed = c
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.manage_channels() || p.administrator());
        return if allowed {
            Ok(())
        } else {
            Err("Only members who may manage this channel (Manage Channels) can subscribe it to digests or unsubscribe them; `/cost digest list` is open to all.")
        };
    }
    match c.context {
        Some(InteractionContext::PrivateChannel) => {
            Err("Digests post to a server channel or to your DM with costbot; run this there.")
        }
        _ => Ok(()),
    }
}

/// A subcommand group and its options (`/cost digest list` → ("digest", [list])).
fn group(options: &[CommandDataOption]) -> Option<(&str, &[CommandDataOption])> {
    let first = options.first()?;
    match &first.value {
        CommandDataOptionValue::SubCommandGroup(o) => Some((first.name.as_str(), o.as_slice())),
        _ => None,
    }
}

/// The subcommand and its options (`/cost ask question:…` → ("ask", [question])).
fn subcommand(options: &[CommandDataOption]) -> Option<(&str, &[CommandDataOption])> {
    let first = options.first()?;
    match &first.value {
        CommandDataOptionValue::SubCommand(o) => Some((first.name.as_str(), o.as_slice())),
        _ => None,
    }
}

/// A message only the person who asked sees (type 4, ephemeral).
fn ephemeral(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(crate::render::discord::truncate(text, 2000))
            .ephemeral(true),
    )
}

/// Reads a request's body, bounded, and verifies its signature. Anything
/// wrong is a response to send back at once, with nothing answered or stored.
async fn read_verified(state: &DiscordState, request: Request) -> Result<Bytes, Response> {
    let (parts, body) = request.into_parts();
    let unauthorized = |why: VerifyError| {
        tracing::info!(reason = %why, "refused a Discord request");
        ApiError::unauthorized(why.to_string())
            .closing()
            .into_response()
    };
    let now = verify::unix_now();
    // What the head alone can refuse is refused before the body is read.
    match (
        verify::header(&parts.headers, verify::SIGNATURE_HEADER),
        verify::header(&parts.headers, verify::TIMESTAMP_HEADER),
    ) {
        (Some(_), Some(ts)) => verify::check_age(ts, now).map_err(unauthorized)?,
        _ => return Err(unauthorized(VerifyError::Missing)),
    }
    let Some(verifier) = &state.inner.verifier else {
        // Not routed without a key; refused all the same.
        return Err(unauthorized(VerifyError::Missing));
    };
    let body =
        crate::http::read_limited_body(&parts.headers, body, state.inner.max_body_bytes).await?;
    verifier
        .verify(&parts.headers, &body, now)
        .map_err(unauthorized)?;
    Ok(body)
}

fn bad_request(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed", message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subcommands_and_their_options_are_read() {
        let ask: Vec<CommandDataOption> = serde_json::from_value(json!([
            {"name": "ask", "type": 1, "options": [{"name": "question", "type": 3, "value": "spend yesterday"}]}
        ]))
        .unwrap();
        let (name, options) = subcommand(&ask).unwrap();
        assert_eq!(name, "ask");
        assert_eq!(options[0].name, "question");
        assert!(
            matches!(&options[0].value, CommandDataOptionValue::String(s) if s == "spend yesterday")
        );
        let not_a_subcommand: Vec<CommandDataOption> =
            serde_json::from_value(json!([{"name": "question", "type": 3, "value": "x"}])).unwrap();
        assert!(subcommand(&not_a_subcommand).is_none());
        assert!(subcommand(&[]).is_none());
        let digest: Vec<CommandDataOption> = serde_json::from_value(json!([
            {"name": "digest", "type": 2, "options": [{"name": "list", "type": 1, "options": []}]}
        ]))
        .unwrap();
        let (name, options) = group(&digest).unwrap();
        assert_eq!(name, "digest");
        assert_eq!(subcommand(options).unwrap().0, "list");
        assert!(group(&ask).is_none() && subcommand(&digest).is_none());
    }

    #[test]
    fn responses_have_discords_types() {
        let v = |r: CreateInteractionResponse| serde_json::to_value(r).unwrap();
        assert_eq!(v(CreateInteractionResponse::Pong)["type"], 1);
        assert_eq!(
            v(CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new()
            ))["type"],
            5
        );
        assert_eq!(v(CreateInteractionResponse::Acknowledge)["type"], 6);
        let help = v(ephemeral(HELP));
        assert_eq!(help["type"], 4);
        assert_eq!(help["data"]["flags"], 64, "ephemeral");
        assert!(help["data"]["content"]
            .as_str()
            .unwrap()
            .contains("/cost ask"));
    }
}
