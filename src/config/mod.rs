//! Typed configuration: `costbot.toml` (optional) overlaid by `COSTBOT_*`
//! environment variables ([`env`], one table row per variable). Secrets are
//! wrapped so they never print ([`secret`]).

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod env;
mod secret;

pub use secret::{Secret, WebhookToken};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name} has an invalid value: {message}")]
    Env { name: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The built-in sample organization: no AWS account needed.
    #[default]
    Sample,
    /// AWS Cost Explorer.
    Explorer,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database lives. Default: the platform data directory.
    pub data_dir: PathBuf,
    /// IANA time zone used to say what "today" and "last week" mean.
    pub timezone: String,
    pub source: SourceKind,
    /// Monthly budget in the bill's currency, used by forecasts.
    pub budget_monthly: Option<Decimal>,
    /// Directory of optimization guides; the copy built into the binary is used when absent.
    pub knowledge_dir: Option<PathBuf>,
    pub aws: AwsConfig,
    pub cache: CacheConfig,
    pub server: ServerConfig,
    pub retrieval: RetrievalConfig,
    pub slack: SlackConfig,
    pub discord: DiscordConfig,
    /// Scheduled digests, one `[[digests]]` table each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<crate::digest::DigestConfig>,
    /// Digests missed while costbot was down are posted (marked delayed)
    /// within this many hours of their time; older ones are recorded as skipped.
    pub digest_catch_up_hours: u32,
    /// First retry delay of a digest delivery (doubling, at most an hour).
    pub digest_retry_base_secs: u64,
    /// Delivery attempts before a digest run is marked failed.
    pub digest_retry_max_attempts: u32,
    pub llm: LlmConfig,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    /// Lexical and dense fused (reciprocal rank fusion); lexical alone when no model is present.
    #[default]
    Hybrid,
    Lexical,
    Dense,
}

impl std::str::FromStr for RetrievalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hybrid" => Ok(RetrievalMode::Hybrid),
            "lexical" => Ok(RetrievalMode::Lexical),
            "dense" => Ok(RetrievalMode::Dense),
            other => Err(format!(
                "'{other}' is not a retrieval mode; use hybrid, lexical or dense"
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalConfig {
    pub mode: RetrievalMode,
    /// Directory with the ONNX Runtime library and the embedding model
    /// (scripts/fetch-model.sh). Default: the cache directory's costbot-model.
    pub model_dir: Option<PathBuf>,
    /// A Qdrant server for the vectors instead of the embedded store.
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<Secret>,
    pub qdrant_collection: String,
    /// How to run the model in `model_dir` (token limit, pooling), for models other than the shipped one.
    pub model: crate::retrieval::dense::ModelOptions,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            mode: RetrievalMode::Hybrid,
            model_dir: None,
            qdrant_url: None,
            qdrant_api_key: None,
            qdrant_collection: "costbot_guides".into(),
            model: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Cost Explorer's endpoint lives in us-east-1.
    pub region: String,
    /// Override the endpoint (tests, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// Named profile for the default connection.
    pub profile: Option<String>,
    /// Role to assume for the default connection.
    pub role_arn: Option<String>,
    /// Accounts by name: linked accounts to filter on, or separate
    /// connections (their own profile or role) such as a second organization.
    pub accounts: Vec<AccountConfig>,
    /// Upper bound on Cost Explorer requests (pages) for one query.
    pub max_requests_per_query: u32,
    /// Upper bound on Cost Explorer requests in a calendar month (UTC), across processes.
    pub max_requests_per_month: u64,
    /// How far back Cost Explorer has data: 14 months by default (38 with multi-year data enabled).
    pub history_months: u32,
    /// Also read Cost Optimization Hub's recommendations (the account must have enabled it).
    pub cost_optimization_hub: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// 12-digit account id, used to filter by LINKED_ACCOUNT.
    pub id: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<Secret>,
}

impl AccountConfig {
    /// Whether this account is reached through its own credentials rather than
    /// as a linked account of the default connection.
    pub fn has_own_connection(&self) -> bool {
        self.profile.is_some() || self.role_arn.is_some()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Results whose period ended before yesterday change rarely.
    pub closed_ttl_hours: u64,
    /// Today and yesterday are still being filled in by AWS.
    pub recent_ttl_minutes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    /// Bearer tokens for the webhook, as `name:secret` or bare secrets.
    pub webhook_tokens: Vec<Secret>,
    /// A file with one token per line (same forms as above).
    pub webhook_tokens_file: Option<PathBuf>,
    pub rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    /// A client must send a request's whole head within this many seconds.
    pub header_timeout_secs: u64,
    /// A whole request, reading its body included, must be answered within this.
    pub request_timeout_secs: u64,
    /// A connection with no request in progress and no bytes moving is closed after this.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests and tasks get before they are cut.
    pub drain_secs: u64,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            timezone: "UTC".into(),
            source: SourceKind::Sample,
            budget_monthly: None,
            knowledge_dir: None,
            aws: AwsConfig::default(),
            cache: CacheConfig::default(),
            server: ServerConfig::default(),
            retrieval: RetrievalConfig::default(),
            slack: SlackConfig::default(),
            discord: DiscordConfig::default(),
            digests: Vec::new(),
            digest_catch_up_hours: 24,
            digest_retry_base_secs: 30,
            digest_retry_max_attempts: 8,
            llm: LlmConfig::default(),
        }
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: "us-east-1".into(),
            endpoint_url: None,
            profile: None,
            role_arn: None,
            accounts: Vec::new(),
            max_requests_per_query: 40,
            max_requests_per_month: 3000,
            history_months: 14,
            cost_optimization_hub: false,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            closed_ttl_hours: 24 * 7,
            recent_ttl_minutes: 60,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            webhook_tokens: Vec::new(),
            webhook_tokens_file: None,
            rate_limit_per_minute: 30,
            max_body_bytes: 16 * 1024,
            header_timeout_secs: 10,
            request_timeout_secs: 60,
            idle_timeout_secs: 30,
            max_connections: 512,
            drain_secs: 10,
            metrics_token: None,
        }
    }
}

/// Slack's Web API, unless `slack.api_url` points elsewhere (a local mock in tests).
/// An OpenAI-compatible model that plans tool calls and writes the prose.
/// Without `base_url` the rules planner answers alone.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama).
    pub base_url: Option<String>,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout_secs: u64,
    /// Rounds of tool calls before the model must answer.
    pub max_tool_steps: u32,
    pub temperature: f64,
    /// The most tokens one reply may take: a small model that loops, or a
    /// verbose one, stops here instead of running to its context's end.
    pub max_tokens: u32,
    /// Whether the model may ask for several tools at once; small models
    /// repeat one call until `max_tokens` unless this is off.
    pub parallel_tool_calls: bool,
    /// Earlier turns beyond this (about 4 characters a token) are summarized.
    pub max_history_tokens: usize,
    /// `openai`, `azure` or `mistral`; read from the URL when absent.
    pub dialect: Option<crate::llm::Dialect>,
    /// Azure OpenAI's `api-version`.
    pub api_version: String,
    /// The persona when a conversation has not asked for one: `executive` or `engineer`.
    pub persona: Option<crate::agent::llm::Persona>,
    /// Per channel (`slack`, `discord`, `webhook`, `cli`): its persona.
    pub channel_personas: std::collections::BTreeMap<String, crate::agent::llm::Persona>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            base_url: None,
            model: String::new(),
            api_key: None,
            timeout_secs: 30,
            max_tool_steps: 4,
            temperature: 0.0,
            max_tokens: 1024,
            parallel_tool_calls: true,
            max_history_tokens: 2000,
            dialect: None,
            api_version: "2024-10-21".into(),
            persona: None,
            channel_personas: Default::default(),
        }
    }
}

impl LlmConfig {
    pub fn is_configured(&self) -> bool {
        self.base_url.is_some()
    }

    /// The dialect configured, or the one the URL implies.
    pub fn dialect(&self) -> crate::llm::Dialect {
        self.dialect.unwrap_or_else(|| {
            crate::llm::Dialect::detect(self.base_url.as_deref().unwrap_or_default())
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.base_url else {
            return Ok(());
        };
        if url_origin(url).is_none() {
            return Err(ConfigError::Invalid(format!(
                "llm.base_url '{url}' must be an http(s) URL like https://api.openai.com/v1"
            )));
        }
        if self.timeout_secs == 0 || self.max_tool_steps == 0 || self.max_tool_steps > 10 {
            return Err(ConfigError::Invalid(
                "llm.timeout_secs must be at least 1 and llm.max_tool_steps 1 to 10".into(),
            ));
        }
        if !(16..=32_768).contains(&self.max_tokens) {
            return Err(ConfigError::Invalid(
                "llm.max_tokens must be between 16 and 32768".into(),
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(ConfigError::Invalid(
                "llm.temperature must be between 0 and 2".into(),
            ));
        }
        Ok(())
    }

    /// The client's settings, when a model is configured.
    pub fn client_settings(&self) -> Option<crate::llm::ClientSettings> {
        Some(crate::llm::ClientSettings {
            base_url: self.base_url.clone()?,
            model: self.model.clone(),
            api_key: self.api_key.clone(),
            timeout: std::time::Duration::from_secs(self.timeout_secs),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            parallel_tool_calls: self.parallel_tool_calls,
            dialect: self.dialect(),
            api_version: self.api_version.clone(),
        })
    }
}

pub const SLACK_API_URL: &str = "https://slack.com/api";

/// How a slash command's answer is delivered.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SlackPostMode {
    /// To the command's `response_url` (no bot in the channel needed).
    #[default]
    ResponseUrl,
    /// A placeholder with `chat.postMessage`, then `chat.update`; its thread
    /// becomes the conversation, so mentions there follow up.
    ChatPostMessage,
}

impl std::str::FromStr for SlackPostMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "response_url" => Ok(SlackPostMode::ResponseUrl),
            "chat_post_message" | "post" => Ok(SlackPostMode::ChatPostMessage),
            other => Err(format!(
                "'{other}' is not a post mode; use response_url or chat_post_message"
            )),
        }
    }
}

/// Slack: the Events API, slash commands and interactions over HTTP (signed
/// with `signing_secret`), or the same over Socket Mode (`app_token`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Verifies requests from Slack (Basic Information > Signing Secret).
    pub signing_secret: Option<Secret>,
    /// `xoxb-...`: posts and updates messages.
    pub bot_token: Option<Secret>,
    /// `xapp-...`: Socket Mode, for a server without a public URL.
    pub app_token: Option<Secret>,
    /// The Web API base URL.
    pub api_url: String,
    pub post_mode: SlackPostMode,
    /// Largest request body read from Slack (interaction payloads carry the whole message).
    pub max_body_bytes: usize,
    /// Socket Mode connections kept open at once (Slack allows up to 10).
    pub socket_connections: u32,
    /// First retry delay for replies kept in the outbox; doubles per attempt.
    pub retry_base_secs: u64,
    /// Attempts before an outbox reply is given up (kept, marked dead).
    pub retry_max_attempts: u32,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            signing_secret: None,
            bot_token: None,
            app_token: None,
            api_url: SLACK_API_URL.into(),
            post_mode: SlackPostMode::ResponseUrl,
            max_body_bytes: 256 * 1024,
            socket_connections: 2,
            retry_base_secs: 10,
            retry_max_attempts: 12,
        }
    }
}

impl SlackConfig {
    /// Whether any Slack setting is present: then Slack starts, and what is
    /// missing is an error rather than silence.
    pub fn is_configured(&self) -> bool {
        self.signing_secret.is_some() || self.bot_token.is_some() || self.app_token.is_some()
    }

    /// What Slack still needs, in words for `doctor` and start-up errors.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.bot_token.is_none() {
            m.push("a bot token (SLACK_BOT_TOKEN, xoxb-...) to post answers");
        }
        if self.signing_secret.is_none() && self.app_token.is_none() {
            m.push("a signing secret (SLACK_SIGNING_SECRET) for the HTTP endpoints, or an app token (SLACK_APP_TOKEN, xapp-...) for Socket Mode");
        }
        m
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.is_configured() {
            return Ok(());
        }
        for (name, secret) in [
            ("slack.signing_secret", &self.signing_secret),
            ("slack.bot_token", &self.bot_token),
            ("slack.app_token", &self.app_token),
        ] {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                return Err(ConfigError::Invalid(format!("{name} is empty")));
            }
        }
        if self
            .app_token
            .as_ref()
            .is_some_and(|t| !t.expose().starts_with("xapp-"))
        {
            return Err(ConfigError::Invalid(
                "slack.app_token must be an app-level token (xapp-...) with connections:write"
                    .into(),
            ));
        }
        if url_origin(&self.api_url).is_none() {
            return Err(ConfigError::Invalid(format!(
                "slack.api_url '{}' must be an http(s) URL like {SLACK_API_URL}",
                self.api_url
            )));
        }
        if self.max_body_bytes < 1024
            || self.socket_connections == 0
            || self.socket_connections > 10
        {
            return Err(ConfigError::Invalid(
                "slack.max_body_bytes must be at least 1024 and slack.socket_connections 1 to 10"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Discord's REST API. serenity speaks v10 and builds every route on this base.
pub const DISCORD_API_URL: &str = "https://discord.com/api/v10";

/// Discord: HTTP interactions (`POST /discord/interactions`, Ed25519-signed)
/// and the REST calls that answer them and register `/cost`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The bot token (Developer Portal > Bot): registers commands.
    pub token: Option<Secret>,
    /// The application id (Developer Portal > General Information).
    pub application_id: Option<String>,
    /// The application's Ed25519 public key, 64 hex digits: verifies HTTP
    /// interactions. Without it `/discord/interactions` is off and Discord
    /// must send interactions over the gateway.
    pub public_key: Option<String>,
    /// The REST base; anything but Discord's own is reached as a proxy.
    pub api_url: String,
    /// Register commands in this guild only (instant; global ones take up to an hour).
    pub guild_id: Option<String>,
    /// Largest interaction body read (a button press carries its whole message).
    pub max_body_bytes: usize,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token: None,
            application_id: None,
            public_key: None,
            api_url: DISCORD_API_URL.into(),
            guild_id: None,
            max_body_bytes: 256 * 1024,
        }
    }
}

impl DiscordConfig {
    /// Whether any Discord setting is present: then Discord starts, and what
    /// is missing is an error rather than silence.
    pub fn is_configured(&self) -> bool {
        self.token.is_some()
            || self.application_id.is_some()
            || self.public_key.is_some()
            || self.guild_id.is_some()
    }

    /// What Discord still needs, in words for `doctor` and start-up errors.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.token.is_none() {
            m.push("the bot token (DISCORD_TOKEN, Developer Portal > Bot > Reset Token) to connect to the gateway and register /cost");
        }
        if self.application_id.is_none() {
            m.push("the application id (DISCORD_APPLICATION_ID, Developer Portal > General Information)");
        }
        // The public key is for HTTP interactions only; without it they come over the gateway.
        m
    }

    /// The application id as a number (validated).
    pub fn application_id(&self) -> Option<u64> {
        self.application_id.as_deref().and_then(snowflake)
    }

    pub fn guild_id(&self) -> Option<u64> {
        self.guild_id.as_deref().and_then(snowflake)
    }

    /// The 32 bytes of the public key (validated as hex; the curve point is
    /// checked where it is used).
    pub fn public_key_bytes(&self) -> Option<[u8; 32]> {
        let hex = self.public_key.as_deref()?.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(out)
    }

    /// The origin requests go to instead of `https://discord.com`, when
    /// `api_url` is not Discord's own (a proxy, or a local fake in tests).
    pub fn proxy(&self) -> Option<String> {
        let base = self.api_url.trim_end_matches('/');
        if base == DISCORD_API_URL {
            return None;
        }
        base.strip_suffix("/api/v10").map(str::to_string)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.is_configured() {
            return Ok(());
        }
        if self
            .token
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty())
        {
            return Err(ConfigError::Invalid(
                "discord.token is empty; paste the bot token from Developer Portal > Bot".into(),
            ));
        }
        if self.application_id.is_some() && self.application_id().is_none() {
            return Err(ConfigError::Invalid(
                "discord.application_id must be the application's numeric id (Developer Portal > General Information > Application ID)".into(),
            ));
        }
        if self.guild_id.is_some() && self.guild_id().is_none() {
            return Err(ConfigError::Invalid(
                "discord.guild_id must be a numeric server id (Discord: User Settings > Advanced > Developer Mode, then right-click the server > Copy Server ID), or left out to register commands globally".into(),
            ));
        }
        if self.public_key.is_some() && self.public_key_bytes().is_none() {
            return Err(ConfigError::Invalid(
                "discord.public_key must be the application's public key: 64 hex digits from Developer Portal > General Information > Public Key".into(),
            ));
        }
        let base = self.api_url.trim_end_matches('/');
        if url_origin(base).is_none() || (base != DISCORD_API_URL && self.proxy().is_none()) {
            return Err(ConfigError::Invalid(format!(
                "discord.api_url '{}' must be an http(s) URL ending in /api/v10, like {DISCORD_API_URL} (serenity speaks API v10)",
                self.api_url
            )));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "discord.max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }
}

/// A Discord id: a positive 64-bit number in decimal.
fn snowflake(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&n| n > 0)
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased; None for anything else.
pub fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("costbot"))
        .unwrap_or_else(|| PathBuf::from(".costbot"))
}

impl Config {
    /// Loads `path` if given (it must exist), else `./costbot.toml` if present,
    /// then applies `COSTBOT_*` variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| env("COSTBOT_CONFIG").map(PathBuf::from));
        let mut config = match explicit {
            Some(p) => Self::from_file(&p)?,
            None => {
                let local = PathBuf::from("costbot.toml");
                if local.exists() {
                    Self::from_file(&local)?
                } else {
                    Config::default()
                }
            }
        };
        config.apply_env(env)?;
        config.validate()?;
        config.subscriptions(env)?;
        Ok(config)
    }

    pub fn from_env() -> Result<Config, ConfigError> {
        Self::load(None, &|k| std::env::var(k).ok())
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.tz()?;
        self.slack.validate()?;
        self.discord.validate()?;
        self.llm.validate()?;
        if let Some(b) = self.budget_monthly {
            if b <= Decimal::ZERO {
                return Err(ConfigError::Invalid(
                    "budget_monthly must be a positive amount".into(),
                ));
            }
        }
        for a in &self.aws.accounts {
            if let Some(id) = &a.id {
                if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(ConfigError::Invalid(format!(
                        "account '{}' has id '{id}': an AWS account id is 12 digits",
                        a.name
                    )));
                }
            }
        }
        if self.server.rate_limit_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "server.rate_limit_per_minute must be at least 1".into(),
            ));
        }
        let s = &self.server;
        for (name, v) in [
            ("header_timeout_secs", s.header_timeout_secs),
            ("request_timeout_secs", s.request_timeout_secs),
            ("idle_timeout_secs", s.idle_timeout_secs),
            ("max_connections", s.max_connections as u64),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "server.{name} must be at least 1"
                )));
            }
        }
        if s.metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            return Err(ConfigError::Invalid(
                "server.metrics_token is empty; remove it to leave /metrics open".into(),
            ));
        }
        Ok(())
    }

    /// The `[[digests]]` tables, checked, with their secrets read through `env`.
    pub fn subscriptions(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<crate::digest::Subscription>, ConfigError> {
        let mut out: Vec<crate::digest::Subscription> = Vec::new();
        for d in &self.digests {
            let s = crate::digest::Subscription::from_config(d, &self.timezone, env)?;
            if out.iter().any(|o| o.name == s.name) {
                return Err(ConfigError::Invalid(format!(
                    "two [[digests]] are named '{}'; each needs its own name",
                    s.name
                )));
            }
            out.push(s);
        }
        Ok(out)
    }

    pub fn tz(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            ConfigError::Invalid(format!(
                "timezone '{}' is not an IANA time zone name such as 'Europe/Berlin' or 'UTC'",
                self.timezone
            ))
        })
    }

    /// The model directory to use: configured, else the fetch script's default.
    pub fn model_dir(&self) -> Option<PathBuf> {
        self.retrieval
            .model_dir
            .clone()
            .or_else(crate::retrieval::dense::default_model_dir)
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("costbot.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_overrides_defaults() {
        let env = env_of(&[
            ("COSTBOT_DATA_DIR", "/tmp/x"),
            ("COSTBOT_TIMEZONE", "Europe/Berlin"),
            ("COSTBOT_SOURCE", "explorer"),
            ("COSTBOT_BUDGET_MONTHLY", "12500.50"),
            (
                "COSTBOT_WEBHOOK_TOKENS",
                "ci:0123456789abcdef0123, 0123456789abcdefXYZ",
            ),
        ]);
        let c = Config::load(Some(Path::new("/nonexistent-is-not-read")), &env);
        assert!(matches!(c, Err(ConfigError::Read { .. })));
        let mut c = Config::default();
        c.apply_env(&env).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.source, SourceKind::Explorer);
        assert_eq!(c.budget_monthly, Some("12500.50".parse().unwrap()));
        let tokens = c.webhook_tokens().unwrap();
        assert_eq!(tokens[0].name, "ci");
        assert!(tokens[1].name.starts_with("token-"));
        // The same bare secret always gets the same name.
        assert_eq!(c.webhook_tokens().unwrap()[1].name, tokens[1].name);
        c.server
            .webhook_tokens
            .push(Secret::new("ci:another-secret-value-xyz"));
        assert!(c
            .webhook_tokens()
            .unwrap_err()
            .to_string()
            .contains("two webhook tokens"));
    }

    #[test]
    fn llm_settings_from_the_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("costbot.toml");
        std::fs::write(
            &file,
            "[llm]\nbase_url = \"https://acme.openai.azure.com\"\nmodel = \"gpt4o\"\nchannel_personas = { slack = \"engineer\" }\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            &env_of(&[("COSTBOT_LLM_API_KEY", "k3y-that-must-not-print")]),
        )
        .unwrap();
        assert_eq!(c.llm.dialect(), crate::llm::Dialect::Azure);
        assert_eq!(
            c.llm.channel_personas.get("slack"),
            Some(&crate::agent::llm::Persona::Engineer)
        );
        assert!(!format!("{c:?}").contains("k3y"));
        assert!(!toml::to_string(&c).unwrap().contains("k3y"));
        // Without base_url there is no model, whatever else is set.
        assert!(Config::default().llm.client_settings().is_none());
        for (bad, says) in [
            ("[llm]\nbase_url = \"api.openai.com\"\n", "llm.base_url"),
            (
                "[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\ntemperature = 3.0\n",
                "llm.temperature",
            ),
            (
                "[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmax_tool_steps = 0\n",
                "llm.max_tool_steps",
            ),
            ("[llm]\npersona = \"intern\"\n", "intern"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = Config::load(Some(&file), &env_of(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn retrieval_settings_from_env() {
        let mut c = Config::default();
        c.apply_env(&env_of(&[
            ("COSTBOT_RETRIEVAL_MODE", "lexical"),
            ("COSTBOT_MODEL_DIR", "/models/minilm"),
            ("QDRANT_URL", "http://127.0.0.1:6334"),
            ("QDRANT_API_KEY", "qdrant-secret-key"),
        ]))
        .unwrap();
        assert_eq!(c.retrieval.mode, RetrievalMode::Lexical);
        assert_eq!(c.model_dir(), Some(PathBuf::from("/models/minilm")));
        assert_eq!(
            c.retrieval.qdrant_url.as_deref(),
            Some("http://127.0.0.1:6334")
        );
        assert!(!format!("{c:?}").contains("qdrant-secret-key"));
        let err = c
            .apply_env(&env_of(&[("COSTBOT_RETRIEVAL_MODE", "fuzzy")]))
            .unwrap_err();
        assert!(err.to_string().contains("hybrid, lexical or dense"));
        let parsed: Config = toml::from_str("[retrieval]\nmode = \"dense\"\n[retrieval.model]\nmax_tokens = 512\npooling = \"cls\"\n").unwrap();
        assert_eq!(parsed.retrieval.model.max_tokens, 512);
    }

    #[test]
    fn bad_values_are_explained() {
        let mut c = Config::default();
        let err = c
            .apply_env(&env_of(&[("COSTBOT_SOURCE", "azure")]))
            .unwrap_err();
        assert!(err.to_string().contains("use 'sample' or 'explorer'"));
        c.timezone = "Mars/Olympus".into();
        assert!(c.validate().unwrap_err().to_string().contains("IANA"));
        let text = "data_dir = '/x'\nsurprise = 1\n";
        assert!(toml::from_str::<Config>(text).is_err());
    }
}
