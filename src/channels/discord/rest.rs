//! Discord's REST API through serenity's [`Http`]: acknowledge an interaction
//! that came over the gateway, edit its original response, post follow-up
//! messages, show typing and reply in a channel, and register the application
//! commands. costbot's rendered messages become serenity's builders here.
//!
//! With `api_url` other than Discord's own, requests go to that origin
//! (serenity's proxy setting) and serenity's rate limiter is off: its
//! limiter builds every request for discord.com and ignores the proxy. A
//! proxy such as twilight-http-proxy limits on its own; a 429 is retried here.

use std::time::Duration;

use serenity::all::{
    ButtonStyle, ChannelId, CommandOptionType, CommandType, CreateActionRow, CreateAllowedMentions,
    CreateButton, CreateCommand, CreateCommandOption, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateMessage,
    EditInteractionResponse, GuildId, InteractionId, MessageId, MessageReference,
    MessageReferenceKind,
};
use serenity::builder::Builder;
use serenity::http::{Http, HttpBuilder, HttpError};

use crate::config::{ConfigError, DiscordConfig};
use crate::render::discord::{Embed, Message, COLOR};

/// Attempts at a call Discord did not take for a passing reason.
const ATTEMPTS: u32 = 3;

/// Why a call did not go through. The text never holds the interaction
/// token (it is in the URL, which is left out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The network, a 5xx, a 429: worth trying again.
    #[error("Discord did not take the request (HTTP {status}): {message}")]
    Transient { status: u16, message: String },
    /// Discord said no for good (401 bad token, 404 expired interaction, 400 bad body).
    #[error("Discord refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// costbot built something serenity would not send (over a limit).
    #[error("costbot built a message Discord would refuse: {0}")]
    Invalid(String),
}

/// What costbot registers: where, and which commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// "global" or "guild:<id>".
    pub target: String,
    /// The commands Discord now has, by name.
    pub names: Vec<String>,
}

/// Discord's REST API for one application.
pub struct Rest {
    http: Http,
    application_id: u64,
    guild_id: Option<u64>,
}

impl Rest {
    pub fn new(config: &DiscordConfig) -> Result<Rest, ConfigError> {
        let application_id = config
            .application_id()
            .ok_or_else(|| ConfigError::Invalid("Discord needs DISCORD_APPLICATION_ID".into()))?;
        Ok(Rest {
            http: http(config)?,
            application_id,
            guild_id: config.guild_id(),
        })
    }

    pub fn application_id(&self) -> u64 {
        self.application_id
    }

    /// Where commands are registered: "guild:<id>" or "global".
    pub fn target(&self) -> String {
        match self.guild_id {
            Some(g) => format!("guild:{g}"),
            None => "global".into(),
        }
    }

    /// `POST /interactions/{id}/{token}/callback`: the acknowledgement of an
    /// interaction that came over the gateway (over HTTP it is the response).
    /// Sent once: Discord allows 3 s, and a retry of one that did arrive
    /// would be refused as already acknowledged.
    pub async fn respond(
        &self,
        id: u64,
        token: &str,
        response: &CreateInteractionResponse,
    ) -> Result<(), RestError> {
        response
            .clone()
            .execute(&self.http, (InteractionId::new(id), token))
            .await
            .map_err(classify)
    }

    /// `POST /channels/{channel}/typing`: "costbot is typing…" for ten
    /// seconds or until it posts. Not retried: the next one comes soon.
    pub async fn typing(&self, channel: u64) -> Result<(), RestError> {
        self.http
            .broadcast_typing(ChannelId::new(channel))
            .await
            .map_err(classify)
    }

    /// `POST /channels/{channel}/messages`: `m` in the channel, as a reply to
    /// `reply_to` when given (the question; the asker is notified, nobody else).
    pub async fn send(
        &self,
        channel: u64,
        guild: Option<u64>,
        m: &Message,
        reply_to: Option<u64>,
    ) -> Result<(), RestError> {
        self.post(channel, guild, m, reply_to, None, None)
            .await
            .map(drop)
    }

    /// `PATCH /webhooks/{application}/{token}/messages/@original`: the
    /// deferred response becomes `m`.
    pub async fn edit_original(&self, token: &str, m: &Message) -> Result<(), RestError> {
        self.retrying(|| async {
            let mut edit = EditInteractionResponse::new()
                .embeds(m.embeds.iter().map(embed).collect())
                .components(rows(m))
                .allowed_mentions(CreateAllowedMentions::new());
            if !m.content.is_empty() {
                edit = edit.content(m.content.clone());
            }
            edit.execute(&self.http, token).await.map(drop)
        })
        .await
    }

    /// `POST /webhooks/{application}/{token}`: another message under the
    /// interaction (a long answer's further parts, a button's answer).
    pub async fn follow_up(&self, token: &str, m: &Message) -> Result<(), RestError> {
        self.retrying(|| async {
            let mut post = CreateInteractionResponseFollowup::new()
                .embeds(m.embeds.iter().map(embed).collect())
                .components(rows(m))
                .allowed_mentions(CreateAllowedMentions::new());
            if !m.content.is_empty() {
                post = post.content(m.content.clone());
            }
            post.execute(&self.http, (None, token)).await.map(drop)
        })
        .await
    }

    /// Registers costbot's commands, replacing whatever the application had
    /// there (Discord's bulk overwrite: the same call twice changes nothing).
    pub async fn register_commands(&self) -> Result<Registered, RestError> {
        let commands = commands();
        let registered = self
            .retrying(|| async {
                match self.guild_id {
                    Some(g) => {
                        self.http
                            .create_guild_commands(GuildId::new(g), &commands)
                            .await
                    }
                    None => self.http.create_global_commands(&commands).await,
                }
            })
            .await?;
        Ok(Registered {
            target: self.target(),
            names: registered.into_iter().map(|c| c.name).collect(),
        })
    }

    /// `POST /channels/{channel}/messages`, with a file attached (multipart)
    /// when given; returns the message id. `nonce` (at most 25 characters)
    /// is enforced, so Discord drops a repeat of the same post for a few
    /// minutes (a retry after a lost response).
    pub async fn create_message(
        &self,
        channel: u64,
        m: &Message,
        file: Option<(&str, Vec<u8>)>,
        nonce: &str,
    ) -> Result<u64, RestError> {
        self.post(channel, None, m, None, file, Some(nonce)).await
    }

    /// One message in `channel`: a reply to `reply_to`, with `file`
    /// attached, under an enforced `nonce`, as given; returns its id.
    async fn post(
        &self,
        channel: u64,
        guild: Option<u64>,
        m: &Message,
        reply_to: Option<u64>,
        file: Option<(&str, Vec<u8>)>,
        nonce: Option<&str>,
    ) -> Result<u64, RestError> {
        use serenity::all::{CreateAttachment, Nonce};
        let channel = ChannelId::new(channel);
        let guild = guild.map(GuildId::new);
        self.retrying(|| async {
            let mut post = CreateMessage::new()
                .embeds(m.embeds.iter().map(embed).collect())
                .components(rows(m))
                .allowed_mentions(CreateAllowedMentions::new().replied_user(reply_to.is_some()));
            if !m.content.is_empty() {
                post = post.content(m.content.clone());
            }
            if let Some(question) = reply_to {
                let mut r = MessageReference::new(MessageReferenceKind::Default, channel);
                r.message_id = Some(MessageId::new(question));
                r.guild_id = guild;
                // A question deleted meanwhile still gets its answer, unthreaded.
                r.fail_if_not_exists = Some(false);
                post = post.reference_message(r);
            }
            if let Some(nonce) = nonce {
                post = post
                    .nonce(Nonce::String(nonce.chars().take(25).collect()))
                    .enforce_nonce(true);
            }
            if let Some((name, data)) = &file {
                post = post.add_file(CreateAttachment::bytes(data.clone(), *name));
            }
            post.execute(&self.http, (channel, guild))
                .await
                .map(|sent| sent.id.get())
        })
        .await
    }

    /// Makes a call, again after a passing failure (1 s, then 2 s), well
    /// within an interaction token's 15 minutes.
    async fn retrying<T, F, Fut>(&self, call: F) -> Result<T, RestError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = serenity::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await.map_err(classify) {
                Err(RestError::Transient { status, message }) if attempt < ATTEMPTS => {
                    tracing::info!(status, %message, attempt, "Discord did not take a request; trying again");
                    tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                }
                other => return other,
            }
        }
    }
}

/// serenity's REST client for these settings: with `api_url` other than
/// Discord's own, requests go to that origin and the rate limiter is off.
pub(super) fn http(config: &DiscordConfig) -> Result<Http, ConfigError> {
    let token = config
        .token
        .as_ref()
        .ok_or_else(|| ConfigError::Invalid("Discord needs DISCORD_TOKEN".into()))?;
    let mut builder = HttpBuilder::new(token.expose());
    if let Some(id) = config.application_id() {
        builder = builder.application_id(id.into());
    }
    if let Some(origin) = config.proxy() {
        builder = builder.proxy(origin).ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

/// `/cost ask question:<text>`, `/cost help`. Subcommands leave room for
/// `/cost digest …` later without renaming anything.
pub fn commands() -> Vec<CreateCommand> {
    vec![CreateCommand::new("cost")
        .kind(CommandType::ChatInput)
        .description("Ask costbot about your AWS bill")
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::SubCommand,
                "ask",
                "Ask a question about your AWS bill",
            )
            .add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "question",
                    "For example: why did EC2 go up last week?",
                )
                .required(true)
                .max_length(super::MAX_TEXT_CHARS as u16),
            ),
        )
        .add_option(CreateCommandOption::new(
            CommandOptionType::SubCommand,
            "help",
            "What costbot can answer, with examples",
        ))
        .add_option(digest_group())]
}

/// `/cost digest subscribe|list|unsubscribe`. Discord sets permissions per
/// command, not per subcommand, so who may subscribe is checked when the
/// command comes (the member's permissions in the channel, which Discord
/// sends with it).
fn digest_group() -> CreateCommandOption {
    let text = |name: &str, description: &str, max: u16| {
        CreateCommandOption::new(CommandOptionType::String, name, description).max_length(max)
    };
    CreateCommandOption::new(
        CommandOptionType::SubCommandGroup,
        "digest",
        "Scheduled cost digests posted to this channel",
    )
    .add_sub_option(
        CreateCommandOption::new(
            CommandOptionType::SubCommand,
            "subscribe",
            "Post a cost digest to this channel on a schedule",
        )
        .add_sub_option(
            text(
                "schedule",
                "daily 09:00, weekdays 09:00, weekly mon 09:00 or monthly 1 09:00",
                40,
            )
            .required(true),
        )
        .add_sub_option(
            text(
                "time_zone",
                "An IANA time zone, for example Europe/Paris or UTC",
                64,
            )
            .required(true)
            .set_autocomplete(true),
        )
        .add_sub_option(text(
            "name",
            "The digest's name (letters, digits, - or _); by default channel-schedule",
            64,
        )),
    )
    .add_sub_option(CreateCommandOption::new(
        CommandOptionType::SubCommand,
        "list",
        "The digests made in chat that post here, with their next run times",
    ))
    .add_sub_option(
        CreateCommandOption::new(
            CommandOptionType::SubCommand,
            "unsubscribe",
            "Stop a digest made in chat",
        )
        .add_sub_option(
            text(
                "name",
                "The digest's name, as /cost digest list shows it",
                64,
            )
            .required(true),
        ),
    )
}

fn embed(e: &Embed) -> CreateEmbed {
    let mut out = CreateEmbed::new().colour(COLOR);
    if let Some(t) = &e.title {
        out = out.title(t.clone());
    }
    if let Some(d) = &e.description {
        out = out.description(d.clone());
    }
    out = out.fields(
        e.fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone(), f.inline)),
    );
    if let Some(f) = &e.footer {
        out = out.footer(CreateEmbedFooter::new(f.clone()));
    }
    out
}

fn rows(m: &Message) -> Vec<CreateActionRow> {
    m.rows()
        .map(|row| {
            CreateActionRow::Buttons(
                row.iter()
                    .map(|b| {
                        CreateButton::new(b.custom_id.clone())
                            .label(b.label.clone())
                            .style(ButtonStyle::Secondary)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// serenity's error as costbot's, without URLs (they carry the token).
fn classify(e: serenity::Error) -> RestError {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let message = format!("{} (code {})", r.error.message, r.error.code);
            if status == 429 || r.status_code.is_server_error() {
                RestError::Transient { status, message }
            } else {
                RestError::Refused { status, message }
            }
        }
        serenity::Error::Http(HttpError::Request(r)) => RestError::Transient {
            status: r.status().map_or(0, |s| s.as_u16()),
            message: r.without_url().to_string(),
        },
        serenity::Error::Model(m) => RestError::Invalid(m.to_string()),
        // A 2xx whose body serenity could not read: the call went through.
        serenity::Error::Json(j) => RestError::Refused {
            status: 200,
            message: format!("unreadable reply: {j}"),
        },
        other => RestError::Refused {
            status: 0,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::discord::{Button, Field};

    #[test]
    fn the_commands_are_cost_ask_and_help() {
        let v = serde_json::to_value(commands()).unwrap();
        assert_eq!(v[0]["name"], "cost");
        assert_eq!(v[0]["type"], 1);
        let ask = &v[0]["options"][0];
        assert_eq!(
            (ask["name"].as_str(), ask["type"].as_u64()),
            (Some("ask"), Some(1))
        );
        let q = &ask["options"][0];
        assert_eq!(q["name"], "question");
        assert_eq!(q["type"], 3, "a string");
        assert_eq!(q["required"], true);
        assert_eq!(q["max_length"], 2000);
        assert_eq!(v[0]["options"][1]["name"], "help");
    }

    #[test]
    fn a_rendered_message_becomes_discords_json() {
        let m = Message {
            content: "EC2 went up".into(),
            embeds: vec![Embed {
                title: Some("Sources".into()),
                description: Some("```\na  b\n```".into()),
                fields: vec![Field {
                    name: "This week".into(),
                    value: "$1.00".into(),
                    inline: true,
                }],
                footer: Some("Basis: …".into()),
            }],
            buttons: (0..6)
                .map(|i| Button {
                    label: format!("B{i}"),
                    custom_id: format!("costbot:q:{i}"),
                })
                .collect(),
        };
        let v = serde_json::to_value(
            EditInteractionResponse::new()
                .content(m.content.clone())
                .embeds(m.embeds.iter().map(embed).collect())
                .components(rows(&m))
                .allowed_mentions(CreateAllowedMentions::new()),
        )
        .unwrap();
        assert_eq!(v["content"], "EC2 went up");
        let e = &v["embeds"][0];
        assert_eq!(e["title"], "Sources");
        assert_eq!(e["fields"][0]["name"], "This week");
        assert_eq!(e["fields"][0]["inline"], true);
        assert_eq!(e["footer"]["text"], "Basis: …");
        assert_eq!(e["color"], COLOR);
        let rows = v["components"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "five buttons a row");
        assert_eq!(rows[0]["type"], 1);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(rows[1]["components"][0]["custom_id"], "costbot:q:5");
        assert_eq!(rows[1]["components"][0]["style"], 2);
        assert_eq!(
            v["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "nobody is pinged"
        );
    }

    #[test]
    fn a_proxy_turns_the_rate_limiter_off() {
        let mut c = DiscordConfig {
            token: Some(crate::config::Secret::new("t")),
            application_id: Some("11".into()),
            ..Default::default()
        };
        let real = Rest::new(&c).unwrap();
        assert!(real.http.ratelimiter.is_some() && real.http.proxy.is_none());
        assert_eq!(real.target(), "global");
        c.api_url = "http://127.0.0.1:9/api/v10".into();
        c.guild_id = Some("5".into());
        let local = Rest::new(&c).unwrap();
        assert!(local.http.ratelimiter.is_none());
        assert_eq!(local.http.proxy.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(local.target(), "guild:5");
    }
}
