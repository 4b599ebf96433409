//! Digests to a Discord channel against the local REST fake: embeds with the
//! chart attached (multipart), and Discord's enforced nonce from the run id;
//! and `/cost digest subscribe|list|unsubscribe` as signed HTTP interactions
//! (answered ephemerally, kept in SQLite, Manage Channels needed to change).

#[path = "support/discord.rs"]
mod discord;

use std::sync::Arc;

use chrono::NaiveDate;
use costbot::app::App;
use costbot::clock::SystemClock;
use costbot::config::{Config, RetrievalMode};
use costbot::digest::{DigestConfig, Posted};
use discord::{Origin, CHANNEL_ID, MANAGE_CHANNELS};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_goes_to_a_discord_channel_with_its_chart_attached() {
    let fake = discord::Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.retrieval.mode = RetrievalMode::Lexical;
    config.discord = discord::discord_config(&fake);
    config.digests = vec![DigestConfig {
        name: "guild".into(),
        schedule: "weekly mon 09:00".into(),
        time_zone: Some("Asia/Tokyo".into()),
        destination: format!("discord:{}", discord::CHANNEL_ID),
        secret: None,
        scope: Default::default(),
        budget: None,
    }];
    let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let app = App::build_lexical(config, Some(date)).await.unwrap();
    let digests = app.digests(Arc::new(SystemClock)).unwrap();
    let Posted::Delivered(run) = digests.post("guild", date).await.unwrap() else {
        panic!("not delivered")
    };
    assert!(run.receipt.unwrap().starts_with("discord message "));
    let path = format!("/api/v10/channels/{}/messages", discord::CHANNEL_ID);
    let posts = fake.calls_to("POST", &path);
    assert!(!posts.is_empty());
    let first = &posts[0].body;
    assert_eq!(
        posts[0].authorization.as_deref(),
        Some(format!("Bot {}", discord::TOKEN).as_str())
    );
    let embeds = first["embeds"].as_array().unwrap();
    assert!(!embeds.is_empty());
    assert!(
        first["embeds"]
            .to_string()
            .contains("Month to date vs the same days last month"),
        "{first}"
    );
    assert_eq!(first["enforce_nonce"], true);
    let nonce = first["nonce"].as_str().unwrap();
    assert!(
        nonce.len() <= 25 && run.id.replace('-', "").starts_with(&nonce[..20]),
        "{nonce}"
    );
    // The chart rides on the first message only.
    assert_eq!(first["files"][0]["name"], "digest.png");
    assert_eq!(first["files"][0]["png"], true);
    assert!(posts[1..]
        .iter()
        .all(|p| p.body["files"].as_array().is_none_or(|f| f.is_empty())));
    // Posting again for the same date posts nothing.
    assert!(matches!(
        digests.post("guild", date).await.unwrap(),
        Posted::AlreadyDelivered(_)
    ));
    assert_eq!(fake.calls_to("POST", &path).len(), posts.len());
    app.store.close().await;
}

/// Sends a signed `/cost digest …` and returns the ephemeral reply's text.
async fn command(url: &str, sub: &str, options: &[(&str, &str)], permissions: u64) -> String {
    let from = Origin::Guild {
        channel: CHANNEL_ID,
        user: "7",
    };
    let body = discord::digest(&format!("tok-{sub}"), from, sub, options, permissions);
    let r = discord::post(url, &body).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], 4, "answered at once: {v}");
    assert_eq!(v["data"]["flags"], 64, "to the asker only: {v}");
    v["data"]["content"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_commands_subscribe_list_and_unsubscribe_the_channel_they_are_run_in() {
    let fake = discord::Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = discord::start(dir.path(), &fake, None, |_| {}).await;
    let paris = [("schedule", "daily 09:00"), ("time_zone", "Europe/Paris")];

    // A zone that is not IANA's is said, and nothing is kept.
    let bad = command(
        &s.url,
        "subscribe",
        &[("schedule", "daily 09:00"), ("time_zone", "Paris")],
        MANAGE_CHANNELS,
    )
    .await;
    assert_eq!(
        bad,
        "'Paris' is not an IANA time zone name such as 'Europe/Paris' or 'UTC'"
    );
    // So is a member who may not manage the channel.
    let refused = command(&s.url, "subscribe", &paris, 0x0400 | 0x0800).await;
    assert!(
        refused.starts_with("Only members who may manage this channel (Manage Channels)"),
        "{refused}"
    );
    assert!(s.store.digest_subscriptions().await.unwrap().is_empty());

    let ok = command(&s.url, "subscribe", &paris, MANAGE_CHANNELS).await;
    let name = format!("{CHANNEL_ID}-daily");
    assert!(
        ok.starts_with(&format!(
            "Subscribed: digest '{name}' (daily 09:00 Europe/Paris) posts here; the first is due 20"
        )),
        "{ok}"
    );
    let kept = s.store.digest_subscriptions().await.unwrap();
    assert_eq!(kept.len(), 1);
    let sub = &kept[0];
    assert_eq!(
        (
            sub.name.as_str(),
            sub.schedule.as_str(),
            sub.time_zone.as_str(),
            sub.destination.clone(),
            sub.created_by.as_str()
        ),
        (
            name.as_str(),
            "daily 09:00",
            "Europe/Paris",
            format!("discord:{CHANNEL_ID}"),
            "discord:user:7"
        )
    );

    // Anyone may list; the next run is at 09:00 Paris time.
    let list = command(&s.url, "list", &[], 0).await;
    let line = format!("• {name} — daily 09:00 Europe/Paris → discord:{CHANNEL_ID}; next ");
    let at = list
        .strip_prefix("Digests made in chat that post here:\n")
        .and_then(|l| l.strip_prefix(line.as_str()))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        at.len() == "2026-12-01 09:00 CET".len()
            && at[10..].starts_with(" 09:00 C")
            && at.ends_with("ET"),
        "{list}"
    );

    let refused = command(&s.url, "unsubscribe", &[("name", &name)], 0).await;
    assert!(refused.starts_with("Only members"), "{refused}");
    assert_eq!(s.store.digest_subscriptions().await.unwrap().len(), 1);
    let gone = command(&s.url, "unsubscribe", &[("name", &name)], MANAGE_CHANNELS).await;
    assert_eq!(
        gone,
        format!("Unsubscribed: digest '{name}' will not post again.")
    );
    assert!(s.store.digest_subscriptions().await.unwrap().is_empty());
    let list = command(&s.url, "list", &[], 0).await;
    assert!(
        list.starts_with("No digest made in chat posts here yet. `/cost digest subscribe"),
        "{list}"
    );

    // An administrator may too, and so may someone in a DM with costbot.
    let admin = command(
        &s.url,
        "subscribe",
        &[
            ("schedule", "monthly 1 08:00"),
            ("time_zone", "UTC"),
            ("name", "admins"),
        ],
        0x8,
    )
    .await;
    assert!(admin.starts_with("Subscribed: digest 'admins'"), "{admin}");
    let dm = discord::digest(
        "tok-dm",
        Origin::Dm { user: "9" },
        "subscribe",
        &[
            ("schedule", "weekly fri 17:00"),
            ("time_zone", "Asia/Tokyo"),
        ],
        0,
    );
    let r: Value = discord::post(&s.url, &dm).await.json().await.unwrap();
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Subscribed: digest '1100000000000000099-weekly'"),
        "{r}"
    );
    let kept = s.store.digest_subscriptions().await.unwrap();
    let to: Vec<(&str, &str)> = kept
        .iter()
        .map(|s| (s.name.as_str(), s.destination.as_str()))
        .collect();
    assert_eq!(
        to,
        [
            ("1100000000000000099-weekly", "discord:1100000000000000099"),
            ("admins", &format!("discord:{CHANNEL_ID}")[..]),
        ]
    );

    // Typing a zone gets IANA names to pick (type 8).
    let typing = discord::typing_time_zone(
        "tok-typing",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
        "new_y",
    );
    let r: Value = discord::post(&s.url, &typing).await.json().await.unwrap();
    assert_eq!(
        r,
        serde_json::json!({"type": 8, "data": {"choices": [{"name": "America/New_York", "value": "America/New_York"}]}})
    );

    // Every reply was the HTTP response: nothing else reached Discord.
    assert!(
        fake.calls()
            .iter()
            .all(|c| c.method == "PUT" || c.path.contains("/gateway")),
        "{:#?}",
        fake.calls()
    );
    s.stop().await;
}
