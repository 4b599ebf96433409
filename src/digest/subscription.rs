//! A digest subscription: from a `[[digests]]` table in `costbot.toml` or
//! made in chat (stored in SQLite), read into one checked shape.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::agent::tools::FilterArgs;
use crate::config::{ConfigError, Secret};

/// One `[[digests]]` table as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    pub name: String,
    /// "daily 09:00", "weekdays 09:00", "weekly mon 09:00", "monthly 1 09:00".
    pub schedule: String,
    /// IANA name; the config's `timezone` when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// "slack:#channel", "discord:CHANNEL_ID" or "webhook:URL".
    pub destination: String,
    /// Where the webhook's HMAC key is: "env:VARIABLE" or "file:/path".
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub scope: DigestScope,
    /// Monthly budget for this scope, compared with the forecast.
    #[serde(default)]
    pub budget: Option<Decimal>,
}

/// Which slice of the bill a digest covers; empty means all of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DigestScope {
    pub accounts: Vec<String>,
    pub tags: BTreeMap<String, Vec<String>>,
    pub services: Vec<String>,
}

impl DigestScope {
    pub fn filter(&self) -> FilterArgs {
        FilterArgs {
            services: self.services.clone(),
            accounts: self.accounts.clone(),
            regions: Vec::new(),
            tags: self.tags.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A channel name ("#finops") or id.
    Slack(String),
    /// A channel id.
    Discord(u64),
    Webhook(String),
}

impl Destination {
    pub fn parse(s: &str) -> Result<Destination, String> {
        let bad = |why: &str| {
            format!("destination '{s}' {why}; use \"slack:#channel\", \"discord:CHANNEL_ID\" or \"webhook:https://...\"")
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("names no kind"))?;
        let rest = rest.trim();
        match kind.trim().to_ascii_lowercase().as_str() {
            "slack" if !rest.is_empty() => Ok(Destination::Slack(rest.to_string())),
            "discord" => rest
                .parse()
                .map(Destination::Discord)
                .map_err(|_| bad("needs a numeric Discord channel id")),
            "webhook" if rest.starts_with("http://") || rest.starts_with("https://") => {
                url::Url::parse(rest).map_err(|e| bad(&format!("has an unreadable URL ({e})")))?;
                Ok(Destination::Webhook(rest.to_string()))
            }
            "webhook" => Err(bad("needs an http:// or https:// URL")),
            _ => Err(bad("has an unknown kind")),
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Slack(c) => write!(f, "slack:{c}"),
            Destination::Discord(c) => write!(f, "discord:{c}"),
            Destination::Webhook(u) => write!(f, "webhook:{u}"),
        }
    }
}

/// Where a subscription was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Config,
    Chat,
}

/// A checked subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub schedule: Schedule,
    pub tz: Tz,
    pub destination: Destination,
    pub secret: Option<Secret>,
    pub scope: DigestScope,
    pub budget: Option<Decimal>,
    pub origin: Origin,
}

impl Subscription {
    /// Checks one `[[digests]]` table; `env` reads the secret's variable.
    pub fn from_config(
        c: &DigestConfig,
        default_tz: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Subscription, ConfigError> {
        let ctx = |m: String| ConfigError::Invalid(format!("digest '{}': {m}", c.name));
        check_name(&c.name).map_err(ctx)?;
        let schedule: Schedule = c
            .schedule
            .parse()
            .map_err(|e: super::schedule::ScheduleError| ctx(e.to_string()))?;
        let tz_name = c.time_zone.as_deref().unwrap_or(default_tz);
        let tz = parse_tz(tz_name).map_err(ctx)?;
        let destination = Destination::parse(&c.destination).map_err(ctx)?;
        let secret = match &c.secret {
            None => None,
            Some(r) => Some(read_secret(r, env).map_err(ctx)?),
        };
        match (&destination, &secret) {
            (Destination::Webhook(_), None) => {
                return Err(ctx("a webhook destination needs `secret = \"env:VARIABLE\"` (or \"file:/path\") holding the HMAC key".into()))
            }
            (Destination::Webhook(_), Some(s)) if s.expose().len() < 16 => {
                return Err(ctx("the webhook secret is shorter than 16 characters; generate one with `openssl rand -hex 32`".into()))
            }
            (Destination::Slack(_) | Destination::Discord(_), Some(_)) => {
                return Err(ctx("`secret` is only for webhook destinations".into()))
            }
            _ => {}
        }
        if c.budget.is_some_and(|b| b <= Decimal::ZERO) {
            return Err(ctx("budget must be a positive amount".into()));
        }
        Ok(Subscription {
            name: c.name.clone(),
            schedule,
            tz,
            destination,
            secret,
            scope: c.scope.clone(),
            budget: c.budget,
            origin: Origin::Config,
        })
    }
}

impl Subscription {
    /// A subscription made in chat, as stored.
    pub fn from_stored(
        s: &crate::store::digests::StoredSubscription,
    ) -> Result<Subscription, String> {
        Ok(Subscription {
            name: s.name.clone(),
            schedule: s
                .schedule
                .parse()
                .map_err(|e: super::schedule::ScheduleError| e.to_string())?,
            tz: parse_tz(&s.time_zone)?,
            destination: Destination::parse(&s.destination)?,
            secret: None,
            scope: serde_json::from_str(&s.scope).map_err(|e| e.to_string())?,
            budget: s
                .budget
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e: rust_decimal::Error| e.to_string())?,
            origin: Origin::Chat,
        })
    }
}

pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "'{name}' is not a digest name: use 1-64 letters, digits, '-' or '_'"
        ));
    }
    Ok(())
}

pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("'{name}' is not an IANA time zone name such as 'Europe/Paris' or 'UTC'")
    })
}

/// "env:VARIABLE" or "file:/path"; a secret written in the file itself is refused.
fn read_secret(r: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
    if let Some(var) = r.strip_prefix("env:") {
        return env(var.trim())
            .filter(|v| !v.trim().is_empty())
            .map(|v| Secret::new(v.trim()))
            .ok_or_else(|| format!("the secret's environment variable {var} is not set"));
    }
    if let Some(path) = r.strip_prefix("file:") {
        return std::fs::read_to_string(path.trim())
            .map(|t| Secret::new(t.trim()))
            .map_err(|e| format!("the secret file {path} could not be read: {e}"));
    }
    Err("`secret` must be \"env:VARIABLE\" or \"file:/path\"; secrets are not written in costbot.toml".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<DigestConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_webhook_digest_reads_its_secret_from_the_environment() {
        let c = table(
            r#"name = "daily-finops"
schedule = "daily 09:00"
time_zone = "Europe/Paris"
destination = "webhook:https://hooks.example.com/costbot"
secret = "env:DIGEST_KEY"
budget = "12000"
[scope]
services = ["EC2"]
tags = { team = ["data"] }"#,
        )
        .unwrap();
        let env = |k: &str| (k == "DIGEST_KEY").then(|| "0123456789abcdef0123".to_string());
        let s = Subscription::from_config(&c, "UTC", &env).unwrap();
        assert_eq!(s.tz, chrono_tz::Europe::Paris);
        assert_eq!(s.secret.unwrap().expose(), "0123456789abcdef0123");
        assert_eq!(s.scope.filter().services, ["EC2"]);
        assert!(Subscription::from_config(&c, "UTC", &|_| None)
            .unwrap_err()
            .to_string()
            .contains("DIGEST_KEY is not set"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(table(
            "name = \"a\"\nschedule = \"daily 09:00\"\ndestination = \"slack:#x\"\nchanel = \"y\""
        )
        .unwrap_err()
        .contains("unknown field"));
        let cases = [
            ("schedule = \"hourly\"\ndestination = \"slack:#x\"", "not a schedule"),
            ("schedule = \"daily 09:00\"\ndestination = \"teams:x\"", "unknown kind"),
            ("schedule = \"daily 09:00\"\ndestination = \"discord:general\"", "numeric"),
            ("schedule = \"daily 09:00\"\ndestination = \"webhook:https://x.example\"", "needs `secret"),
            ("schedule = \"daily 09:00\"\ndestination = \"webhook:https://x.example\"\nsecret = \"abc\"", "not written in costbot.toml"),
            ("schedule = \"daily 09:00\"\ntime_zone = \"Paris\"\ndestination = \"slack:#x\"", "IANA"),
        ];
        for (body, expected) in cases {
            let c = table(&format!("name = \"d\"\n{body}")).unwrap();
            let e = Subscription::from_config(&c, "UTC", &|_| None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(expected) && e.contains("digest 'd'"),
                "{body}: {e}"
            );
        }
    }
}
