//! `/cost digest subscribe|list|unsubscribe` from chat: one [`Command`] —
//! read from Slack's text ([`parse_text`]) or built from Discord's options —
//! checked like a `[[digests]]` table and answered with one sentence.
//! Channels only hand the command over and post the reply.

use chrono::Utc;

use super::schedule::Schedule;
use super::subscription::{check_name, parse_tz, Destination};
use crate::store::digests::StoredSubscription;
use crate::store::Store;

/// A digest command, whichever surface it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `schedule` as in `[[digests]]` ("daily 09:00"); `time_zone` IANA.
    Subscribe {
        schedule: String,
        time_zone: String,
        name: Option<String>,
    },
    List,
    Unsubscribe {
        name: Option<String>,
    },
    /// Not a digest command costbot can read: the usage is the reply.
    Usage,
}

/// How a surface spells the commands, for the replies that name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Slack,
    Discord,
}

impl Surface {
    fn usage(self) -> &'static str {
        match self {
            Surface::Slack => "Digest commands: `digest subscribe daily 09:00 Europe/Paris [as NAME]` (also `weekdays 09:00`, `weekly mon 09:00`, `monthly 1 09:00`), `digest list`, `digest unsubscribe NAME`.",
            Surface::Discord => "Digest commands: `/cost digest subscribe schedule: daily 09:00 time_zone: Europe/Paris [name: NAME]` (also `weekdays 09:00`, `weekly mon 09:00`, `monthly 1 09:00`), `/cost digest list`, `/cost digest unsubscribe name: NAME`.",
        }
    }
    fn other_name(self) -> &'static str {
        match self {
            Surface::Slack => "add `as OTHER-NAME`",
            Surface::Discord => "give `name: OTHER-NAME`",
        }
    }
    fn unsubscribe(self, name: &str) -> String {
        match self {
            Surface::Slack => format!("`digest unsubscribe {name}`"),
            Surface::Discord => format!("`/cost digest unsubscribe name: {name}`"),
        }
    }
    fn list(self) -> &'static str {
        match self {
            Surface::Slack => "`digest list`",
            Surface::Discord => "`/cost digest list`",
        }
    }
    fn subscribe(self) -> &'static str {
        match self {
            Surface::Slack => "`digest subscribe daily 09:00 Europe/Paris`",
            Surface::Discord => {
                "`/cost digest subscribe schedule: daily 09:00 time_zone: Europe/Paris`"
            }
        }
    }
}

/// IANA zone names for what someone has typed so far (Discord's
/// autocomplete): names starting with it first, then names containing it,
/// case-insensitively, at most `max`. Nothing typed: the common ones.
pub fn time_zones_matching(typed: &str, max: usize) -> Vec<&'static str> {
    const COMMON: [&str; 8] = [
        "UTC",
        "Europe/London",
        "Europe/Paris",
        "Europe/Berlin",
        "America/New_York",
        "America/Los_Angeles",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    let typed = typed.trim().to_ascii_lowercase();
    if typed.is_empty() {
        return COMMON.iter().take(max).copied().collect();
    }
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let starts = names().filter(|n| n.to_ascii_lowercase().starts_with(&typed));
    let inside = names().filter(|n| {
        let n = n.to_ascii_lowercase();
        !n.starts_with(&typed) && n.contains(&typed)
    });
    starts.chain(inside).take(max).collect()
}

/// Whether a command's text is a digest command ("digest ...").
pub fn is_digest_command(text: &str) -> bool {
    let t = text.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("digest")
        && t[6..].chars().next().is_none_or(char::is_whitespace)
}

/// Slack's text (`digest subscribe daily 09:00 Europe/Paris as finops`) →
/// a [`Command`]. Only splits words: everything is checked in [`run`].
pub fn parse_text(text: &str) -> Command {
    let words: Vec<&str> = text.split_whitespace().skip(1).collect();
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("subscribe") => parse_subscribe(&words[1..]),
        Some("unsubscribe") => Command::Unsubscribe {
            name: words.get(1).map(|w| w.to_string()),
        },
        Some("list") => Command::List,
        _ => Command::Usage,
    }
}

/// `daily 09:00 Europe/Paris as finops` (the zone defaults to UTC).
fn parse_subscribe(words: &[&str]) -> Command {
    let n = match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("daily" | "weekdays") => 2,
        Some("weekly" | "monthly") => 3,
        _ => return Command::Usage,
    };
    if words.len() < n {
        return Command::Usage;
    }
    let mut rest = words[n..].iter();
    let mut time_zone = "UTC".to_string();
    let mut name = None;
    while let Some(w) = rest.next() {
        if w.eq_ignore_ascii_case("as") {
            // `as` without a name is a name check's error, said in run.
            name = Some(rest.next().map_or(String::new(), |n| n.to_string()));
        } else {
            time_zone = w.to_string();
        }
    }
    Command::Subscribe {
        schedule: words[..n].join(" "),
        time_zone,
        name,
    }
}

/// Slack's entry: [`parse_text`] then [`run`].
pub async fn handle(store: &Store, text: &str, destination: &str, author: &str) -> String {
    run(
        store,
        Surface::Slack,
        &parse_text(text),
        destination,
        author,
    )
    .await
}

/// Runs one digest command for a chat `destination` ("slack:C123",
/// "discord:1100…"); `author` is kept with a subscription. Returns the
/// reply, a success or what to do instead.
pub async fn run(
    store: &Store,
    surface: Surface,
    command: &Command,
    destination: &str,
    author: &str,
) -> String {
    match execute(store, surface, command, destination, author).await {
        Ok(reply) => reply,
        Err(e) => e,
    }
}

async fn execute(
    store: &Store,
    surface: Surface,
    command: &Command,
    destination: &str,
    author: &str,
) -> Result<String, String> {
    let store_err = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "digest command failed");
        "costbot could not reach its database; try again in a minute.".to_string()
    };
    match command {
        Command::Subscribe {
            schedule,
            time_zone,
            name,
        } => {
            let (stored, schedule, tz) =
                subscription(schedule, time_zone, name.as_deref(), destination, author)?;
            if !store.digest_subscribe(&stored).await.map_err(store_err)? {
                return Err(format!(
                    "A digest named '{}' already exists; {}, or {} first.",
                    stored.name,
                    surface.other_name(),
                    surface.unsubscribe(&stored.name)
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
        Command::Unsubscribe { name } => {
            let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            let name = name.ok_or_else(|| {
                format!(
                    "Say which digest: {} ({} shows the names).",
                    surface.unsubscribe("NAME"),
                    surface.list()
                )
            })?;
            // Stopped only where it posts, so nobody stops another channel's digest.
            let subs = store.digest_subscriptions().await.map_err(store_err)?;
            // Where it posts is not said: that channel may be another team's.
            if subs
                .iter()
                .any(|s| s.name == name && s.destination != destination)
            {
                return Err(format!(
                    "Digest '{name}' does not post here; unsubscribe it in the channel it posts to."
                ));
            }
            if store.digest_unsubscribe(name).await.map_err(store_err)? {
                Ok(format!(
                    "Unsubscribed: digest '{name}' will not post again."
                ))
            } else {
                Err(format!("No digest made in chat is named '{name}'. Digests from costbot.toml are changed there; {} shows the names.", surface.list()))
            }
        }
        Command::List => {
            // Only this place's: other channels may be other teams' (or other workspaces').
            let subs: Vec<_> = store
                .digest_subscriptions()
                .await
                .map_err(store_err)?
                .into_iter()
                .filter(|s| s.destination == destination)
                .collect();
            if subs.is_empty() {
                return Ok(format!("No digest made in chat posts here yet. {} starts one (digests from costbot.toml show in `costbot digest list`).", surface.subscribe()));
            }
            let mut lines = vec!["Digests made in chat that post here:".to_string()];
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
        Command::Usage => Ok(surface.usage().into()),
    }
}

/// A subscription to `destination`, checked as a `[[digests]]` table is:
/// the schedule, the zone, the destination and the name (by default the
/// place and the schedule's kind, "c0finops1-daily").
fn subscription(
    schedule: &str,
    time_zone: &str,
    name: Option<&str>,
    destination: &str,
    author: &str,
) -> Result<(StoredSubscription, Schedule, chrono_tz::Tz), String> {
    let schedule_text = schedule.split_whitespace().collect::<Vec<_>>().join(" ");
    let schedule_text = schedule_text.to_ascii_lowercase();
    let parsed: Schedule = schedule_text
        .parse()
        .map_err(|e: super::schedule::ScheduleError| e.to_string())?;
    let tz = parse_tz(time_zone.trim())?;
    Destination::parse(destination)?;
    let name = match name.map(str::trim) {
        Some(n) => n.to_string(),
        None => {
            let place: String = destination
                .split(':')
                .next_back()
                .unwrap_or("chat")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            let kind = schedule_text.split(' ').next().unwrap_or("digest");
            format!("{place}-{kind}")
        }
    };
    check_name(&name)?;
    let stored = StoredSubscription {
        name,
        schedule: schedule_text,
        time_zone: time_zone.trim().to_string(),
        destination: destination.to_string(),
        scope: "{}".into(),
        budget: None,
        created_by: author.to_string(),
    };
    Ok((stored, parsed, tz))
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

    #[test]
    fn time_zones_are_suggested_from_what_was_typed() {
        assert_eq!(
            time_zones_matching("", 3),
            ["UTC", "Europe/London", "Europe/Paris"]
        );
        let paris = time_zones_matching("pari", 25);
        assert_eq!(paris, ["Europe/Paris"]);
        let europe = time_zones_matching("EUROPE/", 25);
        assert_eq!(europe.len(), 25);
        assert!(europe.iter().all(|z| z.starts_with("Europe/")));
        let york = time_zones_matching("york", 25);
        assert!(york.contains(&"America/New_York"), "{york:?}");
        assert!(time_zones_matching("Mars/", 25).is_empty());
    }

    #[test]
    fn slack_text_is_read_into_a_command() {
        assert_eq!(
            parse_text("digest subscribe weekly Mon 08:30 Asia/Tokyo as ec2"),
            Command::Subscribe {
                schedule: "weekly Mon 08:30".into(),
                time_zone: "Asia/Tokyo".into(),
                name: Some("ec2".into())
            }
        );
        assert_eq!(
            parse_text("digest subscribe daily 09:00"),
            Command::Subscribe {
                schedule: "daily 09:00".into(),
                time_zone: "UTC".into(),
                name: None
            }
        );
        assert_eq!(parse_text("digest subscribe hourly"), Command::Usage);
        assert_eq!(parse_text("digest subscribe weekly mon"), Command::Usage);
        assert_eq!(parse_text("digest LIST"), Command::List);
        assert_eq!(
            parse_text("digest unsubscribe"),
            Command::Unsubscribe { name: None }
        );
    }

    #[tokio::test]
    async fn discord_fields_share_the_checks_and_replies_name_discords_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let to = "discord:1100000000000000001";
        let sub = |schedule: &str, tz: &str, name: Option<&str>| Command::Subscribe {
            schedule: schedule.into(),
            time_zone: tz.into(),
            name: name.map(String::from),
        };
        let r = run(
            &store,
            Surface::Discord,
            &sub(" Daily  09:00 ", "Europe/Paris", None),
            to,
            "discord:user:7",
        )
        .await;
        assert!(
            r.starts_with(
                "Subscribed: digest '1100000000000000001-daily' (daily 09:00 Europe/Paris)"
            ),
            "{r}"
        );
        let again = run(
            &store,
            Surface::Discord,
            &sub("daily 09:00", "UTC", None),
            to,
            "u",
        )
        .await;
        assert!(again.contains("give `name: OTHER-NAME`"), "{again}");
        let bad = run(
            &store,
            Surface::Discord,
            &sub("daily 09:00", "Mars/Olympus", Some("x")),
            to,
            "u",
        )
        .await;
        assert!(bad.contains("IANA"), "{bad}");
        let bad = run(
            &store,
            Surface::Discord,
            &sub("daily 09:00", "UTC", Some("no spaces")),
            to,
            "u",
        )
        .await;
        assert!(bad.contains("is not a digest name"), "{bad}");
        assert_eq!(store.digest_subscriptions().await.unwrap().len(), 1);
        let r = run(
            &store,
            Surface::Discord,
            &Command::Unsubscribe {
                name: Some("nope".into()),
            },
            to,
            "u",
        )
        .await;
        assert!(r.contains("`/cost digest list`"), "{r}");
        let stop = |name: &str| Command::Unsubscribe {
            name: Some(name.into()),
        };
        let elsewhere = "discord:1100000000000000002";
        let r = run(
            &store,
            Surface::Discord,
            &stop("1100000000000000001-daily"),
            elsewhere,
            "u",
        )
        .await;
        assert_eq!(
            r,
            "Digest '1100000000000000001-daily' does not post here; unsubscribe it in the channel it posts to."
        );
        assert_eq!(store.digest_subscriptions().await.unwrap().len(), 1);
        // Another channel's list does not show it.
        let r = run(&store, Surface::Discord, &Command::List, elsewhere, "u").await;
        assert!(
            r.starts_with("No digest made in chat posts here yet."),
            "{r}"
        );
        let r = run(&store, Surface::Discord, &Command::List, to, "u").await;
        assert!(
            r.starts_with("Digests made in chat that post here:\n• 1100000000000000001-daily"),
            "{r}"
        );
        let r = run(
            &store,
            Surface::Discord,
            &stop("1100000000000000001-daily"),
            to,
            "u",
        )
        .await;
        assert!(r.starts_with("Unsubscribed"), "{r}");
        store.close().await;
    }
}
