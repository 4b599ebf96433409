//! The environment overlay: one table row per variable.
//!
//! To add a setting, add a row to [`VARS`] (its names, a valid example that
//! differs from the default, and a setter built from [`Value`]'s typed
//! readers) and a line to README's configuration table; the tests below fail
//! when either is missing. Blank values are ignored, and a value that does not
//! parse is an error naming the variable.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{Config, ConfigError, Secret, SourceKind};

/// One setting the environment can override.
pub(super) struct EnvVar {
    /// The names it is read from; the first one set wins.
    pub names: &'static [&'static str],
    /// A valid value that differs from the default (tests apply it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub example: &'static str,
    pub set: fn(&mut Config, Value) -> Result<(), ConfigError>,
}

/// A non-blank value and the variable it came from. The readers' errors name
/// the variable.
pub(super) struct Value {
    name: &'static str,
    raw: String,
}

impl Value {
    /// The value as given.
    fn text(self) -> String {
        self.raw
    }

    fn path(self) -> PathBuf {
        PathBuf::from(self.raw)
    }

    fn secret(self) -> Secret {
        Secret::new(self.raw)
    }

    /// Comma-separated secrets; empty items are skipped.
    fn secrets(self) -> Vec<Secret> {
        self.raw
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .collect()
    }

    /// The trimmed value parsed as `T` (numbers, amounts, `FromStr` enums).
    fn parse<T: FromStr>(self) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.raw.trim().parse::<T>().map_err(|e| self.error(e))
    }

    /// One of `choices`, matched case-insensitively; `what` and `hint` word the error.
    fn choice<T: Copy>(
        self,
        choices: &[(&str, T)],
        what: &str,
        hint: &str,
    ) -> Result<T, ConfigError> {
        let v = self.raw.trim().to_ascii_lowercase();
        match choices.iter().find(|(name, _)| *name == v) {
            Some(&(_, value)) => Ok(value),
            None => Err(self.error(format!("'{v}' is not {what}; {hint}"))),
        }
    }

    fn error(&self, message: impl fmt::Display) -> ConfigError {
        ConfigError::Env {
            name: self.name.into(),
            message: message.to_string(),
        }
    }
}

/// Every variable the overlay reads, applied in this order.
pub(super) const VARS: &[EnvVar] = &[
    EnvVar {
        names: &["COSTBOT_DATA_DIR"],
        example: "/tmp/costbot-example",
        set: |c, v| {
            c.data_dir = v.path();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_TIMEZONE"],
        example: "Europe/Berlin",
        set: |c, v| {
            c.timezone = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_SOURCE"],
        example: "explorer",
        set: |c, v| {
            c.source = v.choice(
                &[
                    ("sample", SourceKind::Sample),
                    ("explorer", SourceKind::Explorer),
                    ("aws", SourceKind::Explorer),
                    ("cost-explorer", SourceKind::Explorer),
                ],
                "a source",
                "use 'sample' or 'explorer'",
            )?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_BUDGET_MONTHLY"],
        example: "12500.50",
        set: |c, v| {
            c.budget_monthly = Some(v.parse()?);
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_KNOWLEDGE_DIR"],
        example: "/srv/guides",
        set: |c, v| {
            c.knowledge_dir = Some(v.path());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_REGION"],
        example: "eu-central-1",
        set: |c, v| {
            c.aws.region = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_ENDPOINT_URL"],
        example: "http://127.0.0.1:5000",
        set: |c, v| {
            c.aws.endpoint_url = Some(v.text());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_PROFILE"],
        example: "billing",
        set: |c, v| {
            c.aws.profile = Some(v.text());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_ROLE_ARN"],
        example: "arn:aws:iam::111111111111:role/costbot",
        set: |c, v| {
            c.aws.role_arn = Some(v.text());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_MAX_REQUESTS_PER_QUERY"],
        example: "7",
        set: |c, v| {
            c.aws.max_requests_per_query = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_MAX_REQUESTS_PER_MONTH"],
        example: "500",
        set: |c, v| {
            c.aws.max_requests_per_month = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_HISTORY_MONTHS"],
        example: "38",
        set: |c, v| {
            c.aws.history_months = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_AWS_COST_OPTIMIZATION_HUB"],
        example: "true",
        set: |c, v| {
            c.aws.cost_optimization_hub = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_CACHE_CLOSED_TTL_HOURS"],
        example: "12",
        set: |c, v| {
            c.cache.closed_ttl_hours = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_CACHE_RECENT_TTL_MINUTES"],
        example: "5",
        set: |c, v| {
            c.cache.recent_ttl_minutes = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_RETRIEVAL_MODE"],
        example: "lexical",
        set: |c, v| {
            c.retrieval.mode = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_MODEL_DIR"],
        example: "/models/minilm",
        set: |c, v| {
            c.retrieval.model_dir = Some(v.path());
            Ok(())
        },
    },
    EnvVar {
        names: &["QDRANT_URL", "COSTBOT_QDRANT_URL"],
        example: "http://127.0.0.1:6334",
        set: |c, v| {
            c.retrieval.qdrant_url = Some(v.text());
            Ok(())
        },
    },
    EnvVar {
        names: &["QDRANT_API_KEY", "COSTBOT_QDRANT_API_KEY"],
        example: "qdrant-example-key",
        set: |c, v| {
            c.retrieval.qdrant_api_key = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_QDRANT_COLLECTION"],
        example: "guides_v2",
        set: |c, v| {
            c.retrieval.qdrant_collection = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_BIND"],
        example: "0.0.0.0:9000",
        set: |c, v| {
            c.server.bind = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_WEBHOOK_TOKENS"],
        example: "ci:0123456789abcdef0123",
        set: |c, v| {
            c.server.webhook_tokens = v.secrets();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_WEBHOOK_TOKENS_FILE"],
        example: "/run/secrets/costbot-tokens",
        set: |c, v| {
            c.server.webhook_tokens_file = Some(v.path());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_RATE_LIMIT_PER_MINUTE"],
        example: "120",
        set: |c, v| {
            c.server.rate_limit_per_minute = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_MAX_BODY_BYTES"],
        example: "65536",
        set: |c, v| {
            c.server.max_body_bytes = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_HEADER_TIMEOUT_SECS"],
        example: "5",
        set: |c, v| {
            c.server.header_timeout_secs = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_REQUEST_TIMEOUT_SECS"],
        example: "30",
        set: |c, v| {
            c.server.request_timeout_secs = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_IDLE_TIMEOUT_SECS"],
        example: "15",
        set: |c, v| {
            c.server.idle_timeout_secs = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_MAX_CONNECTIONS"],
        example: "64",
        set: |c, v| {
            c.server.max_connections = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_DRAIN_SECS"],
        example: "3",
        set: |c, v| {
            c.server.drain_secs = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_METRICS_TOKEN"],
        example: "metrics-example-token",
        set: |c, v| {
            c.server.metrics_token = Some(v.secret());
            Ok(())
        },
    },
    // Slack: Slack's own names for its secrets, COSTBOT_ for the rest.
    EnvVar {
        names: &["SLACK_SIGNING_SECRET"],
        example: "8f742231b10e8888abcd99yyyzzz85a5",
        set: |c, v| {
            c.slack.signing_secret = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["SLACK_BOT_TOKEN"],
        example: "xoxb-1-example",
        set: |c, v| {
            c.slack.bot_token = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["SLACK_APP_TOKEN"],
        example: "xapp-1-example",
        set: |c, v| {
            c.slack.app_token = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_SLACK_API_URL"],
        example: "http://127.0.0.1:9999/api",
        set: |c, v| {
            c.slack.api_url = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_SLACK_POST_MODE"],
        example: "chat_post_message",
        set: |c, v| {
            c.slack.post_mode = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_SLACK_MAX_BODY_BYTES"],
        example: "65536",
        set: |c, v| {
            c.slack.max_body_bytes = v.parse()?;
            Ok(())
        },
    },
    // Discord: the names Discord's own docs and libraries use, COSTBOT_ for the rest.
    EnvVar {
        names: &["DISCORD_TOKEN"],
        example: "MTAx.example.token",
        set: |c, v| {
            c.discord.token = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["DISCORD_APPLICATION_ID"],
        example: "1100000000000000001",
        set: |c, v| {
            c.discord.application_id = Some(v.text().trim().to_string());
            Ok(())
        },
    },
    EnvVar {
        names: &["DISCORD_PUBLIC_KEY"],
        example: "67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089",
        set: |c, v| {
            c.discord.public_key = Some(v.text().trim().to_string());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_DISCORD_API_URL"],
        example: "http://127.0.0.1:9999/api/v10",
        set: |c, v| {
            c.discord.api_url = v.text();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_DISCORD_GUILD_ID"],
        example: "1100000000000000002",
        set: |c, v| {
            c.discord.guild_id = Some(v.text().trim().to_string());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_DISCORD_MAX_BODY_BYTES"],
        example: "65536",
        set: |c, v| {
            c.discord.max_body_bytes = v.parse()?;
            Ok(())
        },
    },
    // The language model (optional).
    EnvVar {
        names: &["COSTBOT_LLM_BASE_URL"],
        example: "http://127.0.0.1:11434/v1",
        set: |c, v| {
            c.llm.base_url = Some(v.text().trim().to_string());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_MODEL"],
        example: "gpt-4o-mini",
        set: |c, v| {
            c.llm.model = v.text().trim().to_string();
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_API_KEY"],
        example: "sk-example",
        set: |c, v| {
            c.llm.api_key = Some(v.secret());
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_TIMEOUT_SECS"],
        example: "60",
        set: |c, v| {
            c.llm.timeout_secs = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_MAX_TOOL_STEPS"],
        example: "6",
        set: |c, v| {
            c.llm.max_tool_steps = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_TEMPERATURE"],
        example: "0.2",
        set: |c, v| {
            c.llm.temperature = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_MAX_TOKENS"],
        example: "512",
        set: |c, v| {
            c.llm.max_tokens = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_PARALLEL_TOOL_CALLS"],
        example: "false",
        set: |c, v| {
            c.llm.parallel_tool_calls = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_MAX_HISTORY_TOKENS"],
        example: "4000",
        set: |c, v| {
            c.llm.max_history_tokens = v.parse()?;
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_DIALECT"],
        example: "mistral",
        set: |c, v| {
            c.llm.dialect = Some(v.parse()?);
            Ok(())
        },
    },
    EnvVar {
        names: &["COSTBOT_LLM_PERSONA"],
        example: "executive",
        set: |c, v| {
            c.llm.persona = Some(v.parse()?);
            Ok(())
        },
    },
];

impl Config {
    /// Applies every variable in [`VARS`] that `env` sets to a non-blank value.
    pub(super) fn apply_env(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for var in VARS {
            let found = var.names.iter().find_map(|&name| {
                env(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|raw| Value { name, raw })
            });
            if let Some(value) = found {
                (var.set)(self, value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> impl Iterator<Item = &'static str> {
        VARS.iter().flat_map(|v| v.names.iter().copied())
    }

    #[test]
    fn every_variable_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        let missing: Vec<&str> = names()
            .filter(|name| !readme.contains(&format!("`{name}`")))
            .collect();
        assert!(missing.is_empty(), "README.md does not mention {missing:?}");
    }

    #[test]
    fn variable_names_are_unique() {
        let mut all: Vec<&str> = names().collect();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "a variable appears in two rows");
    }

    #[test]
    fn every_variable_applies_through_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("costbot.toml");
        std::fs::write(&file, "").unwrap();
        let baseline = format!("{:?}", Config::load(Some(&file), &|_| None).unwrap());
        for var in VARS {
            for &name in var.names {
                let loaded = Config::load(Some(&file), &|k| {
                    (k == name).then(|| var.example.to_string())
                })
                .unwrap_or_else(|e| panic!("{name}={}: {e}", var.example));
                assert_ne!(
                    format!("{loaded:?}"),
                    baseline,
                    "{name}={} changed nothing",
                    var.example
                );
            }
        }
    }

    #[test]
    fn first_name_wins_and_blank_values_are_ignored() {
        let mut c = Config::default();
        c.apply_env(&|k| match k {
            "QDRANT_URL" => Some("http://127.0.0.1:1".into()),
            "COSTBOT_QDRANT_URL" => Some("http://127.0.0.1:2".into()),
            "COSTBOT_BIND" => Some("  ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            c.retrieval.qdrant_url.as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(c.server.bind, "127.0.0.1:8080");
        c.apply_env(&|k| (k == "COSTBOT_QDRANT_URL").then(|| "http://127.0.0.1:2".into()))
            .unwrap();
        assert_eq!(
            c.retrieval.qdrant_url.as_deref(),
            Some("http://127.0.0.1:2")
        );
    }

    #[test]
    fn parse_errors_name_the_variable() {
        let mut c = Config::default();
        let err = c
            .apply_env(&|k| (k == "COSTBOT_AWS_MAX_REQUESTS_PER_QUERY").then(|| "lots".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "environment variable COSTBOT_AWS_MAX_REQUESTS_PER_QUERY has an invalid value"
            ),
            "{err}"
        );
        let err = c
            .apply_env(&|k| (k == "COSTBOT_SOURCE").then(|| " Azure ".into()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable COSTBOT_SOURCE has an invalid value: 'azure' is not a source; use 'sample' or 'explorer'"
        );
    }
}
