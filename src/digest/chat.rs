//! `/cost digest subscribe|list|unsubscribe` from chat: reads the command,
//! checks it like a `[[digests]]` table, and answers with one sentence.
//! Channels only hand the text over and post the reply.

use chrono::Utc;

use super::schedule::Schedule;
use super::subscription::{check_name, parse_tz, Destination};
use crate::store::digests::StoredSubscription;
use crate::store::Store;

/// Whether a command's text is a digest command ("digest ...").
pub fn is_digest_command(text: &str) -> bool {
    let t = text.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("digest")
        && t[6..].chars().next().is_none_or(char::is_whitespace)
}

const USAGE: &str = "Digest commands: `digest subscribe daily 09:00 Europe/Paris [as NAME]` (also `weekdays 09:00`, `weekly mon 09:00`, `monthly 1 09:00`), `digest list`, `digest unsubscribe NAME`.";

/// Runs one digest command for a chat `destination` ("slack:C123");
/// `author` is kept with a subscription. Returns the reply.
pub async fn handle(store: &Store, text: &str, destination: &str, author: &str) -> String {
    match run(store, text, destination, author).await {
        Ok(reply) => reply,
        Err(e) => e,
    }
}

async fn run(store: &Store, text: &str, destination: &str, author: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().skip(1).collect();
    let store_err = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "digest command failed");
        "costbot could not reach its database; try again in a minute.".to_string()
    };
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("subscribe") => {
            let s = read_subscribe(&words[1..], destination)?;
            let schedule: Schedule = s
                .schedule
                .parse()
                .map_err(|e: super::schedule::ScheduleError| e.to_string())?;
            let tz = parse_tz(&s.time_zone)?;
            let stored = StoredSubscription {
                created_by: author.to_string(),
                ..s
            };
            if !store.digest_subscribe(&stored).await.map_err(store_err)? {
                return Err(format!(
                    "A digest named '{}' already exists; add `as OTHER-NAME`, or `digest unsubscribe {}` first.",
                    stored.name, stored.name
                ));
            }
            let next = schedule.next_after(Utc::now(), tz);
            Ok(format!(
                "Subscribed: digest '{}' ({} {}) posts here; the first is due {}.",
                stored.name,
                schedule,
                tz.name(),
                next.at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
            ))
        }
        Some("unsubscribe") => {
            let name = words.get(1).ok_or(
                "Say which digest: `digest unsubscribe NAME` (`digest list` shows the names).",
            )?;
            if store.digest_unsubscribe(name).await.map_err(store_err)? {
                Ok(format!(
                    "Unsubscribed: digest '{name}' will not post again."
                ))
            } else {
                Err(format!("No digest made in chat is named '{name}'. Digests from costbot.toml are changed there; `digest list` shows the names."))
            }
        }
        Some("list") => {
            let subs = store.digest_subscriptions().await.map_err(store_err)?;
            if subs.is_empty() {
                return Ok("No digests were made in chat yet. `digest subscribe daily 09:00 Europe/Paris` starts one here (digests from costbot.toml show in `costbot digest list`).".into());
            }
            let mut lines = vec!["Digests made in chat:".to_string()];
            for s in subs {
                let last = store
                    .digest_recent_runs(&s.name, 1)
                    .await
                    .map_err(store_err)?
                    .into_iter()
                    .find(|r| r.scheduled_for <= Utc::now())
                    .map(|r| format!("; last run {} {}", r.period, r.state.as_str()))
                    .unwrap_or_default();
                let next = s
                    .schedule
                    .parse::<Schedule>()
                    .ok()
                    .zip(parse_tz(&s.time_zone).ok())
                    .map(|(sch, tz)| {
                        format!(
                            "; next {}",
                            sch.next_after(Utc::now(), tz)
                                .at
                                .with_timezone(&tz)
                                .format("%Y-%m-%d %H:%M %Z")
                        )
                    })
                    .unwrap_or_default();
                lines.push(format!(
                    "• {} — {} {} → {}{next}{last}",
                    s.name, s.schedule, s.time_zone, s.destination
                ));
            }
            Ok(lines.join("\n"))
        }
        _ => Ok(USAGE.into()),
    }
}

/// `daily 09:00 Europe/Paris as finops` → a subscription to `destination`.
fn read_subscribe(words: &[&str], destination: &str) -> Result<StoredSubscription, String> {
    let n = match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("daily" | "weekdays") => 2,
        Some("weekly" | "monthly") => 3,
        _ => return Err(USAGE.into()),
    };
    if words.len() < n {
        return Err(USAGE.into());
    }
    let schedule = words[..n].join(" ").to_ascii_lowercase();
    let mut rest = words[n..].iter();
    let mut time_zone = "UTC".to_string();
    let mut name = None;
    while let Some(w) = rest.next() {
        if w.eq_ignore_ascii_case("as") {
            name = Some(
                rest.next()
                    .ok_or("`as` needs a name after it.")?
                    .to_string(),
            );
        } else {
            time_zone = w.to_string();
        }
    }
    Destination::parse(destination)?;
    let name = name.unwrap_or_else(|| {
        let place: String = destination
            .split(':')
            .next_back()
            .unwrap_or("chat")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        format!("{place}-{}", words[0].to_ascii_lowercase())
    });
    check_name(&name)?;
    Ok(StoredSubscription {
        name,
        schedule,
        time_zone,
        destination: destination.to_string(),
        scope: "{}".into(),
        budget: None,
        created_by: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribe_list_unsubscribe() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let to = "slack:C0FINOPS1";
        let r = handle(
            &store,
            "digest subscribe daily 09:00 Europe/Paris",
            to,
            "slack:T1:U1",
        )
        .await;
        assert!(
            r.starts_with(
                "Subscribed: digest 'c0finops1-daily' (daily 09:00 Europe/Paris) posts here"
            ),
            "{r}"
        );
        let again = handle(&store, "digest subscribe daily 09:00 Europe/Paris", to, "u").await;
        assert!(again.contains("already exists"), "{again}");
        let r = handle(
            &store,
            "digest subscribe weekly mon 08:30 as weekly-ec2",
            to,
            "u",
        )
        .await;
        assert!(r.contains("'weekly-ec2' (weekly mon 08:30 UTC)"), "{r}");
        let bad = handle(&store, "digest subscribe daily 9am", to, "u").await;
        assert!(bad.contains("not a time like 09:00"), "{bad}");
        let bad = handle(&store, "digest subscribe daily 09:00 Paris", to, "u").await;
        assert!(bad.contains("IANA"), "{bad}");
        let list = handle(&store, "digest list", to, "u").await;
        assert!(
            list.contains("• c0finops1-daily — daily 09:00 Europe/Paris → slack:C0FINOPS1; next "),
            "{list}"
        );
        assert!(list.contains("weekly-ec2"));
        let stored = store.digest_subscriptions().await.unwrap();
        assert_eq!(stored[0].created_by, "slack:T1:U1");
        let r = handle(&store, "digest unsubscribe weekly-ec2", to, "u").await;
        assert!(r.starts_with("Unsubscribed"), "{r}");
        let r = handle(&store, "digest unsubscribe weekly-ec2", to, "u").await;
        assert!(r.starts_with("No digest made in chat"), "{r}");
        assert!(handle(&store, "digest", to, "u")
            .await
            .starts_with("Digest commands"));
        assert!(is_digest_command("Digest list") && !is_digest_command("digests cost?"));
        store.close().await;
    }
}
