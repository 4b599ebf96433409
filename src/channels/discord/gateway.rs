//! Discord's gateway: one websocket session that brings mentions, DMs and
//! interactions to costbot. serenity's shard runner keeps it alive
//! (heartbeats; after a drop it reconnects and RESUMEs, so missed events are
//! replayed); this module starts it, hands its events to [`super::chat`] and
//! [`super::interactions`], and leaves the gateway cleanly on shutdown.
//!
//! The gateway's address comes from the REST API, through `api_url` (so
//! tests reach a local fake): serenity 0.12.5 reads it from `GET /gateway`
//! when the client is built and the shard count from `GET /gateway/bot`,
//! then connects to whatever address Discord named — `wss://` for Discord's
//! own, so production TLS is untouched; a fake may name `ws://127.0.0.1`.
//! serenity resumes at that same address, not at READY's
//! `resume_gateway_url` (Discord accepts it; it may just ask for a fresh
//! IDENTIFY more often).

use std::time::Duration;

use serenity::all::{
    ClientBuilder, Context, EventHandler, GatewayError, GatewayIntents, Interaction, Message,
    Ready, ResumedEvent,
};
use serenity::http::HttpError;
use tokio::sync::watch;

use super::chat;
use super::DiscordState;
use crate::config::{ConfigError, DiscordConfig};
use crate::shutdown::Shutdown;

/// What costbot asks the gateway for: guild and DM messages. Not the
/// privileged MESSAGE_CONTENT: Discord still gives the content of messages
/// that mention the bot and of DMs, which is all costbot answers.
pub const INTENTS: GatewayIntents =
    GatewayIntents::GUILD_MESSAGES.union(GatewayIntents::DIRECT_MESSAGES);

/// Waits between attempts to reach the gateway when Discord cannot be reached.
const RETRY: [Duration; 4] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(300),
];

struct Handler {
    state: DiscordState,
    /// The bot's own user id, from READY (0 until then).
    me: watch::Sender<u64>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        self.me.send_replace(ready.user.id.get());
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            "connected to Discord's gateway"
        );
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        tracing::info!("resumed the Discord gateway session");
    }

    async fn message(&self, _: Context, message: Message) {
        // serenity runs each event's handler as its own task, so this one can
        // start before READY's has stored the id; READY came first on the wire.
        let mut me = self.me.subscribe();
        let Ok(me) = me.wait_for(|id| *id != 0).await.map(|id| *id) else {
            return;
        };
        if let Some(asked) = chat::question(&message, me) {
            self.state.chat(asked).await;
        }
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        self.state.interaction_over_gateway(interaction).await;
    }
}

/// Connects to the gateway on `shutdown`'s task set, and stays connected
/// until the shutdown signal, then closes the session (code 1000).
pub fn start(
    state: DiscordState,
    config: &DiscordConfig,
    shutdown: &Shutdown,
) -> Result<(), ConfigError> {
    // Checked now so a bad setting fails `serve` rather than the task.
    super::rest::http(config)?;
    let config = config.clone();
    let mut signal = shutdown.subscribe();
    shutdown.spawn("discord-gateway", async move {
        let (me, _) = watch::channel(0);
        let handler = std::sync::Arc::new(Handler { state, me });
        let mut attempt = 0;
        loop {
            let http = match super::rest::http(&config) {
                Ok(h) => h,
                Err(e) => return tracing::error!(error = %e, "Discord's gateway is off"),
            };
            // Built as REST's is: it knows the proxy (`api_url`), so `GET /gateway` goes there too.
            let mut client = match ClientBuilder::new_with_http(http, INTENTS)
                .event_handler_arc(handler.clone())
                .await
            {
                Ok(c) => c,
                Err(e) => return tracing::error!(error = %e, "could not start Discord's gateway"),
            };
            let manager = client.shard_manager.clone();
            let outcome = tokio::select! {
                r = client.start_autosharded() => r,
                _ = signal.recv() => {
                    manager.shutdown_all().await;
                    tracing::info!("left Discord's gateway");
                    return;
                }
            };
            match outcome {
                Ok(()) => return tracing::info!("Discord's gateway session ended"),
                Err(e) if is_fatal(&e) => {
                    return tracing::error!(error = %e, "Discord refused costbot's gateway login; {}", advice(&e));
                }
                Err(e) => {
                    let wait = RETRY[attempt.min(RETRY.len() - 1)];
                    attempt += 1;
                    tracing::warn!(error = %e, wait_secs = wait.as_secs(), "could not reach Discord's gateway; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = signal.recv() => return,
                    }
                }
            }
        }
    });
    tracing::info!("Discord chat over the gateway: mentions and DMs");
    Ok(())
}

/// Errors that trying again cannot fix.
fn is_fatal(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Gateway(
            GatewayError::InvalidAuthentication
            | GatewayError::InvalidGatewayIntents
            | GatewayError::DisallowedGatewayIntents,
        ) => true,
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            matches!(r.status_code.as_u16(), 401 | 403)
        }
        _ => false,
    }
}

fn advice(e: &serenity::Error) -> &'static str {
    match e {
        serenity::Error::Gateway(
            GatewayError::DisallowedGatewayIntents | GatewayError::InvalidGatewayIntents,
        ) => "an intent costbot asked for is not enabled for this bot (Developer Portal > Bot > Privileged Gateway Intents)",
        _ => "check DISCORD_TOKEN (Developer Portal > Bot > Reset Token)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costbot_asks_for_guild_and_dm_messages_and_nothing_privileged() {
        assert_eq!(INTENTS.bits(), (1 << 9) | (1 << 12));
        assert!(!INTENTS.contains(GatewayIntents::MESSAGE_CONTENT));
        assert!(!INTENTS.intersects(GatewayIntents::privileged()));
    }

    #[test]
    fn a_refused_login_is_not_retried_a_dropped_connection_is() {
        let refused = serenity::Error::Gateway(GatewayError::InvalidAuthentication);
        assert!(is_fatal(&refused));
        assert!(advice(&refused).contains("DISCORD_TOKEN"));
        let intents = serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents);
        assert!(is_fatal(&intents));
        assert!(advice(&intents).contains("Privileged Gateway Intents"));
        assert!(!is_fatal(&serenity::Error::Gateway(
            GatewayError::HeartbeatFailed
        )));
        assert!(!is_fatal(&serenity::Error::Gateway(GatewayError::Closed(
            None
        ))));
    }
}
