//! Secrets that never print, and the webhook tokens built from them.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use super::{Config, ConfigError};

/// A secret value: shown as `[redacted]` in Debug, Display and Serialize.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// A named bearer token for the webhook.
#[derive(Clone, Debug)]
pub struct WebhookToken {
    pub name: String,
    pub secret: Secret,
}

impl Config {
    /// All webhook tokens, from the config/env list and the tokens file.
    pub fn webhook_tokens(&self) -> Result<Vec<WebhookToken>, ConfigError> {
        let mut raw: Vec<String> = self
            .server
            .webhook_tokens
            .iter()
            .map(|s| s.expose().to_string())
            .collect();
        if let Some(path) = &self.server.webhook_tokens_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            raw.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        let mut tokens: Vec<WebhookToken> = Vec::new();
        for entry in raw {
            let (name, secret) = match entry.split_once(':') {
                Some((n, s)) if !n.is_empty() && !s.is_empty() => (n.to_string(), s.to_string()),
                // A bare secret is named by a digest prefix, so its conversations stay its own
                // when other tokens are added, removed or reordered.
                _ => {
                    use sha2::{Digest, Sha256};
                    (
                        format!(
                            "token-{}",
                            &format!("{:x}", Sha256::digest(entry.as_bytes()))[..8]
                        ),
                        entry,
                    )
                }
            };
            if secret.len() < 16 {
                return Err(ConfigError::Invalid(format!(
                    "webhook token '{name}' is shorter than 16 characters; generate one with `openssl rand -hex 32`"
                )));
            }
            if tokens.iter().any(|t| t.name == name) {
                return Err(ConfigError::Invalid(format!(
                    "two webhook tokens are named '{name}'; each needs its own name"
                )));
            }
            tokens.push(WebhookToken {
                name,
                secret: Secret::new(secret),
            });
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let mut c = Config::default();
        c.server.webhook_tokens = vec![Secret::new("super-secret-value-123")];
        let debug = format!("{c:?}");
        let toml = toml::to_string(&c).unwrap();
        assert!(!debug.contains("super-secret"));
        assert!(!toml.contains("super-secret"));
        assert!(toml.contains("[redacted]"));
    }

    #[test]
    fn short_tokens_are_refused() {
        let mut c = Config::default();
        c.server.webhook_tokens = vec![Secret::new("short")];
        assert!(c.webhook_tokens().is_err());
    }
}
