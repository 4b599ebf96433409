//! Digests to a Discord channel against the local REST fake: embeds with the
//! chart attached (multipart), and Discord's enforced nonce from the run id.

#[path = "support/discord.rs"]
mod discord;

use std::sync::Arc;

use chrono::NaiveDate;
use costbot::app::App;
use costbot::clock::SystemClock;
use costbot::config::{Config, RetrievalMode};
use costbot::digest::{DigestConfig, Posted};

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
