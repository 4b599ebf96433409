//! Discord: `/cost ask`, `/cost help`, `/cost digest …` and the follow-up
//! buttons under an answer, at `POST /discord/interactions` or over the gateway; and chat
//! over the gateway — mentions and DMs ([`chat`], [`gateway`]).
//!
//! Every HTTP request is verified ([`verify`]: Ed25519 with serenity's
//! verifier, plus costbot's own age check) with its body bounded before
//! anything else. An interaction, whichever way it came, is handled by one
//! handler ([`interactions`]): acknowledged at once with a deferred response,
//! the answer computed on the answers' runtime and replacing that response
//! through serenity's REST client ([`rest`]), further parts following it.
//! Commands are registered at start ([`serve`]).
//!
//! Conversations: one per channel of a guild (`discord:{guild}:{channel}`; a
//! thread is a channel of its own), one per DM with the bot
//! (`discord:dm:{user}`), one per group DM (`discord:private:{channel}`).
//! The scope is the same place, so anyone there may follow up; the author is
//! the person (`discord:user:{id}`).

pub mod chat;
pub mod gateway;
pub mod interactions;
pub mod rest;
pub mod verify;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;

use crate::agent::{Agent, ConversationKey, Inquiry, TurnError};
use crate::app::App;
use crate::config::{ConfigError, DiscordConfig};
use crate::metrics::{ChannelMetrics, Metrics};
use crate::render::discord::{self as render, Message};
use crate::shutdown::Shutdown;
use crate::store::Store;

pub use rest::{Registered, Rest, RestError};
pub use verify::InteractionVerifier;

/// The label of this channel in metrics and in stored conversations.
pub const CHANNEL: &str = "discord";

/// The longest question, in characters (as for the webhook and Slack);
/// the command's option says so to Discord too.
pub const MAX_TEXT_CHARS: usize = 2000;

/// An interaction token is good for 15 minutes; an answer later than this
/// could no longer be delivered, so it is cut and said so.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(14 * 60);

/// The Discord channel's state. Cheap to clone.
#[derive(Clone)]
pub struct DiscordState {
    inner: Arc<Inner>,
}

struct Inner {
    agent: Arc<Agent>,
    rest: Arc<Rest>,
    /// None without a public key: HTTP interactions are off.
    verifier: Option<InteractionVerifier>,
    metrics: Arc<ChannelMetrics>,
    max_body_bytes: usize,
    /// Answers run here, so a shutdown drains them.
    tasks: Shutdown,
}

impl DiscordState {
    pub fn new(
        agent: Arc<Agent>,
        config: &DiscordConfig,
        metrics: &Metrics,
        tasks: Shutdown,
    ) -> Result<DiscordState, ConfigError> {
        let missing = config.missing();
        if !missing.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "Discord is partly configured; it still needs {}",
                missing.join(", and ")
            )));
        }
        let verifier = match &config.public_key {
            None => None,
            Some(_) => Some(InteractionVerifier::new(
                config.public_key_bytes().ok_or_else(|| {
                    ConfigError::Invalid("discord.public_key must be 64 hex digits".into())
                })?,
            )?),
        };
        Ok(DiscordState {
            inner: Arc::new(Inner {
                agent,
                rest: Arc::new(Rest::new(config)?),
                verifier,
                metrics: metrics.channel(CHANNEL),
                max_body_bytes: config.max_body_bytes,
                tasks,
            }),
        })
    }

    pub fn store(&self) -> &Store {
        self.inner.agent.store()
    }

    pub fn rest(&self) -> &Rest {
        &self.inner.rest
    }
}

/// Starts Discord when it is configured: command registration on
/// `shutdown`'s task set, and the interactions route. `costbot serve` calls
/// this once; None when Discord is not configured.
pub fn serve(
    app: &App,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Option<Router>, ConfigError> {
    if !app.config.discord.is_configured() {
        return Ok(None);
    }
    serve_with(app.agent.clone(), &app.config.discord, metrics, shutdown).map(Some)
}

/// [`serve`] with a given Agent (tests use one over a slow cost source).
pub fn serve_with(
    agent: Arc<Agent>,
    config: &DiscordConfig,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Router, ConfigError> {
    let state = DiscordState::new(agent, config, metrics, shutdown.clone())?;
    let (rest, store) = (state.inner.rest.clone(), state.store().clone());
    let mut signal = shutdown.subscribe();
    shutdown.spawn("discord-commands", async move {
        tokio::select! {
            _ = register(&rest, &store) => {}
            _ = signal.recv() => {}
        }
    });
    gateway::start(state.clone(), config, shutdown)?;
    if state.inner.verifier.is_none() {
        tracing::info!(
            "Discord HTTP interactions off (no DISCORD_PUBLIC_KEY): commands come over the gateway"
        );
        return Ok(Router::new());
    }
    tracing::info!("Discord interactions on at POST /discord/interactions");
    Ok(router(state))
}

/// Registers the commands and keeps the outcome for `doctor`. A failure is
/// logged, not fatal: commands registered before stay in Discord.
pub async fn register(rest: &Rest, store: &Store) -> Result<Registered, RestError> {
    let app = rest.application_id().to_string();
    let outcome = rest.register_commands().await;
    let (ok, detail) = match &outcome {
        Ok(r) => {
            tracing::info!(target = %r.target, commands = ?r.names, "Discord commands registered");
            (true, format!("/{}", r.names.join(", /")))
        }
        Err(e) => {
            tracing::warn!(target = %rest.target(), error = %e, "could not register the Discord commands; /cost may be missing or out of date");
            (false, e.to_string())
        }
    };
    if let Err(e) = store
        .discord_registration_record(&app, &rest.target(), ok, &detail)
        .await
    {
        tracing::warn!(error = %e, "could not keep the Discord registration outcome");
    }
    outcome
}

/// What `doctor` says about Discord: (problem?, line). The token is named,
/// never shown. `last` is the kept registration outcome for these settings.
pub fn doctor(
    config: &DiscordConfig,
    last: Option<&crate::store::discord::Registration>,
) -> Vec<(bool, String)> {
    if !config.is_configured() {
        return vec![(false, "info Discord off: set DISCORD_TOKEN and DISCORD_APPLICATION_ID (Developer Portal) for mentions, DMs and /cost over the gateway; add DISCORD_PUBLIC_KEY and set the Interactions Endpoint URL to https://<costbot>/discord/interactions to take commands over HTTP instead".into())];
    }
    let target = match config.guild_id() {
        Some(g) => format!("guild {g}"),
        None => "global (Discord may take up to an hour to show them)".into(),
    };
    let mut lines = vec![(
        false,
        format!(
            "info Discord: token {}, application {}, public key {}; REST {}; commands {}",
            if config.token.is_some() {
                "set"
            } else {
                "not set"
            },
            config.application_id.as_deref().unwrap_or("not set"),
            if config.public_key.is_some() {
                "set"
            } else {
                "not set"
            },
            config.api_url,
            target,
        ),
    )];
    lines.push((false, gateway_line(config)));
    let missing = config.missing();
    for m in &missing {
        lines.push((true, format!("FAIL Discord needs {m}")));
    }
    if !missing.is_empty() {
        return lines;
    }
    lines.push((
        false,
        if config.public_key.is_some() {
            "ok   Discord ready: the gateway for mentions, DMs and commands, and POST /discord/interactions when the Interactions Endpoint URL points there".into()
        } else {
            "ok   Discord ready: the gateway for mentions, DMs and commands; HTTP interactions off (no DISCORD_PUBLIC_KEY), so leave the Interactions Endpoint URL empty".into()
        },
    ));
    lines.push(match last {
        None => (false, "info /cost not registered yet with these settings: `costbot serve` registers it at start".into()),
        Some(r) if r.ok => (false, format!("ok   Discord commands registered ({}) at {}", r.detail, r.at)),
        Some(r) => (true, format!("FAIL registering the Discord commands failed at {}: {}. Check DISCORD_TOKEN and that the bot was invited with the applications.commands scope", r.at, r.detail)),
    });
    lines
}

/// What `doctor` says about the gateway: the token named (never shown) and
/// the intents asked for.
fn gateway_line(config: &DiscordConfig) -> String {
    let token = if config.token.is_some() {
        "token set"
    } else {
        "DISCORD_TOKEN missing"
    };
    format!(
        "info Discord gateway: {token}; intents GUILD_MESSAGES | DIRECT_MESSAGES ({}), not the privileged MESSAGE_CONTENT: costbot reads mentions of it and DMs",
        gateway::INTENTS.bits()
    )
}

/// The Discord routes, with the state inside.
pub fn router(state: DiscordState) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions::handle))
        .with_state(state)
}

/// Where a turn came from: the conversation, who may see it, who wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub key: String,
    pub scope: String,
    pub author: String,
    pub text: String,
}

/// Where an interaction happened, as the ids Discord gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub guild: Option<u64>,
    pub channel: u64,
    pub user: u64,
    /// In a group DM or another user's DM (a user-installed app), not the bot's DM.
    pub private_channel: bool,
}

impl Place {
    /// The conversation key, which is also its scope.
    pub fn key(&self) -> String {
        match (self.guild, self.private_channel) {
            (Some(g), _) => format!("discord:{g}:{}", self.channel),
            (None, true) => format!("discord:private:{}", self.channel),
            (None, false) => format!("discord:dm:{}", self.user),
        }
    }

    pub fn turn(&self, text: &str) -> Turn {
        Turn {
            key: self.key(),
            scope: self.key(),
            author: format!("discord:user:{}", self.user),
            text: text.trim().to_string(),
        }
    }
}

impl Turn {
    fn inquiry(&self) -> Inquiry {
        Inquiry {
            conversation: ConversationKey::Channel(self.key.clone()),
            scope: self.scope.clone(),
            author: self.author.clone(),
            channel: CHANNEL.into(),
            text: self.text.clone(),
            clock: None,
        }
    }
}

/// An interaction's answer, to run once the interaction is acknowledged.
struct Pending {
    turn: Turn,
    token: String,
    reply: Reply,
    heading: Option<String>,
}

/// Where an answer goes: in place of the deferred response, or after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// A command: the first message replaces "costbot is thinking…".
    EditOriginal,
    /// A button: the answer is new messages under the pressed one.
    FollowUp,
}

impl DiscordState {
    /// Runs a turn and renders the outcome as Discord messages.
    async fn answer(&self, turn: &Turn, heading: Option<&str>) -> Vec<Message> {
        let m = &self.inner.metrics;
        m.inquiries.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        match self.inner.agent.handle(turn.inquiry()).await {
            Ok(answer) => {
                tracing::info!(conversation = %answer.conversation_id, ms = started.elapsed().as_millis() as u64, "answered in Discord");
                render::render(&answer, heading)
            }
            Err(e) => {
                m.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(code = e.public.code, "not answered in Discord");
                vec![error_message(&e, heading)]
            }
        }
    }

    /// Answers on the answers' runtime and delivers with the interaction's
    /// token once `acked` says the interaction was acknowledged (false: it
    /// was not, and the token cannot deliver anything).
    fn answer_later(
        &self,
        pending: Pending,
        acked: impl std::future::Future<Output = bool> + Send + 'static,
    ) {
        let this = self.clone();
        super::spawn_answer(&self.inner.tasks, "discord-answer", async move {
            let Pending {
                turn,
                token,
                reply,
                heading,
            } = pending;
            let messages =
                match tokio::time::timeout(ANSWER_DEADLINE, this.answer(&turn, heading.as_deref()))
                    .await
                {
                    Ok(m) => m,
                    Err(_) => {
                        this.inner.metrics.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "a Discord answer took longer than its interaction token lives"
                        );
                        vec![render::notice(
                            "⚠️ That took too long to answer; try a narrower question.",
                        )]
                    }
                };
            if !acked.await {
                tracing::warn!("a Discord interaction was not acknowledged; its answer is dropped");
                return;
            }
            this.deliver(&token, reply, &messages).await;
        });
    }

    async fn deliver(&self, token: &str, reply: Reply, messages: &[Message]) {
        let rest = self.rest();
        for (i, m) in messages.iter().enumerate() {
            let sent = if i == 0 && reply == Reply::EditOriginal {
                rest.edit_original(token, m).await
            } else {
                rest.follow_up(token, m).await
            };
            if let Err(e) = sent {
                // The token dies with the interaction: there is no later to keep it for.
                tracing::warn!(error = %e, part = i + 1, of = messages.len(), "a Discord answer was not delivered");
                return;
            }
        }
    }
}

fn error_message(e: &TurnError, heading: Option<&str>) -> Message {
    let mut text = String::new();
    if let Some(h) = heading {
        text.push_str(&format!(
            "**{}**\n",
            render::escape(&render::truncate(h, render::MAX_HEADING))
        ));
    }
    text.push_str(&format!("⚠️ {}", render::escape(&e.public.message)));
    for s in e.public.suggestions.iter().take(5) {
        text.push_str(&format!("\n• {}", render::escape(s)));
    }
    render::notice(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn places_name_their_conversations() {
        let guild = Place {
            guild: Some(10),
            channel: 20,
            user: 30,
            private_channel: false,
        };
        assert_eq!(guild.key(), "discord:10:20");
        let t = guild.turn("  spend yesterday ");
        assert_eq!(
            (t.scope.as_str(), t.author.as_str(), t.text.as_str()),
            ("discord:10:20", "discord:user:30", "spend yesterday")
        );
        let thread = Place {
            channel: 21,
            ..guild
        };
        assert_ne!(
            thread.key(),
            guild.key(),
            "a thread is its own conversation"
        );
        let dm = Place {
            guild: None,
            ..guild
        };
        assert_eq!(dm.key(), "discord:dm:30");
        let group = Place {
            guild: None,
            private_channel: true,
            ..guild
        };
        assert_eq!(group.key(), "discord:private:20");
    }

    #[test]
    fn doctor_says_what_is_missing_without_the_token() {
        let off = doctor(&DiscordConfig::default(), None);
        assert_eq!(off.len(), 1);
        assert!(!off[0].0 && off[0].1.contains("Discord off"));
        let partial = DiscordConfig {
            token: Some(Secret::new("MTAx.very-secret")),
            ..Default::default()
        };
        let lines = doctor(&partial, None);
        assert!(lines
            .iter()
            .all(|(p, l)| !(*p && l.contains("DISCORD_PUBLIC_KEY"))));
        assert!(lines
            .iter()
            .any(|(p, l)| *p && l.contains("DISCORD_APPLICATION_ID")));
        assert!(lines.iter().all(|(_, l)| !l.contains("very-secret")));
        // Token and application: the gateway alone, HTTP interactions off.
        let gateway_only = DiscordConfig {
            application_id: Some("11".into()),
            ..partial.clone()
        };
        let lines = doctor(&gateway_only, None);
        assert!(lines.iter().all(|(p, _)| !p), "{lines:?}");
        assert!(lines
            .iter()
            .any(|(_, l)| l.contains("HTTP interactions off (no DISCORD_PUBLIC_KEY)")));
        let full = DiscordConfig {
            application_id: Some("11".into()),
            public_key: Some("ab".repeat(32)),
            ..partial
        };
        let lines = doctor(&full, None);
        assert!(lines.iter().all(|(p, _)| !p), "{lines:?}");
        assert!(lines.iter().any(|(_, l)| l.contains("not registered yet")));
        let failed = crate::store::discord::Registration {
            target: "global".into(),
            application_id: "11".into(),
            ok: false,
            detail: "Discord refused the request (HTTP 401): 401: Unauthorized (code 0)".into(),
            at: "2026-11-19T10:00:00Z".into(),
        };
        let lines = doctor(&full, Some(&failed));
        assert!(lines
            .iter()
            .any(|(p, l)| *p && l.contains("HTTP 401") && l.contains("applications.commands")));
        let ok = crate::store::discord::Registration {
            ok: true,
            detail: "/cost".into(),
            ..failed
        };
        assert!(doctor(&full, Some(&ok)).iter().all(|(p, _)| !p));
    }
}
