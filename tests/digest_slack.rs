//! Digests to Slack against the local Web API mock: the post carries its run
//! id in metadata, the chart is uploaded into its thread through the
//! external upload flow, and a `kill -9` after Slack took the post is
//! followed by a restart that finds the post and does not post again.

#[path = "support/slack.rs"]
mod slack;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use slack::Mock;

const CHANNEL: &str = "C0DIGEST1";

fn write_config(dir: &Path) {
    std::fs::write(
        dir.join("costbot.toml"),
        format!(
            r#"data_dir = "{}"
[retrieval]
mode = "lexical"

[[digests]]
name = "team"
schedule = "weekdays 09:00"
time_zone = "Europe/Paris"
destination = "slack:{CHANNEL}"
"#,
            dir.display()
        ),
    )
    .unwrap();
}

async fn post(dir: &Path, mock: &Mock, crash_at: Option<&str>) -> Output {
    let (dir, api, point) = (
        dir.to_path_buf(),
        mock.api_url.clone(),
        crash_at.map(String::from),
    );
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_costbot"));
        c.args(["digest", "post", "team", "--as-of", "2026-11-19"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("SLACK_BOT_TOKEN", slack::BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET)
            .env("COSTBOT_SLACK_API_URL", api)
            .current_dir(&dir);
        if let Some(p) = point {
            c.env("COSTBOT_DIGEST_CRASH_AT", p);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_posts_once_to_slack_with_its_chart_even_across_a_kill_9() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());

    let crashed = post(dir.path(), &mock, Some("sent")).await;
    assert_eq!(crashed.status.signal(), Some(9), "{crashed:?}");
    let posts = mock.calls_of("chat.postMessage");
    assert!(!posts.is_empty());
    let first = &posts[0].body;
    assert_eq!(first["channel"], CHANNEL);
    assert_eq!(first["metadata"]["event_type"], "costbot_digest");
    let run_id = first["metadata"]["event_payload"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(posts
        .iter()
        .all(|p| p.body["metadata"]["event_payload"]["run_id"] == run_id.as_str()));
    assert!(
        first["text"].as_str().unwrap().contains("team cost digest"),
        "{first}"
    );
    // The chart: an upload URL, the PNG bytes, then completion into the post's thread.
    let upload = mock.calls_of("upload");
    assert_eq!(upload.len(), 1);
    assert_eq!(upload[0].body["png"], true);
    let complete = mock.calls_of("files.completeUploadExternal");
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].body["channel_id"], CHANNEL);
    assert_eq!(complete[0].body["thread_ts"], "1800000001.000100");
    let posted_before = posts.len();

    // Restarted: the post is found by its run id in the channel's history; nothing is posted again.
    let restarted = post(dir.path(), &mock, None).await;
    assert!(restarted.status.success(), "{restarted:?}");
    let out = String::from_utf8_lossy(&restarted.stdout);
    assert!(out.contains("found already posted"), "{out}");
    assert_eq!(
        mock.calls_of("conversations.history").len(),
        2,
        "checked before each post"
    );
    assert_eq!(mock.calls_of("chat.postMessage").len(), posted_before);
    assert_eq!(mock.calls_of("upload").len(), 1);

    let again = post(dir.path(), &mock, None).await;
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("already delivered"));
    assert_eq!(mock.calls_of("chat.postMessage").len(), posted_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_subscribe_list_and_unsubscribe_a_channel() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = slack::start(dir.path(), &mock, None, |_| {}).await;
    let form = "application/x-www-form-urlencoded";
    let mut replies = Vec::new();
    for (i, text) in [
        "digest subscribe daily 09:00 Europe/Paris",
        "digest list",
        "digest unsubscribe c1-daily",
        "digest list",
    ]
    .into_iter()
    .enumerate()
    {
        let hook = mock.hook_url(&format!("digest/{i}"));
        let body = slack::command_body(text, &hook, &format!("1.2.{i}"));
        let r = slack::post(&s.url, "/slack/commands", form, &body, &[]).await;
        assert_eq!(r.status().as_u16(), 200);
        let path = format!("/hooks/digest/{i}");
        let calls = mock
            .wait_for(text, std::time::Duration::from_secs(30), |c| {
                c.iter().any(|c| c.path == path)
            })
            .await;
        let reply = calls.iter().find(|c| c.path == path).unwrap();
        assert_eq!(reply.body["response_type"], "ephemeral");
        replies.push(reply.body["text"].as_str().unwrap().to_string());
    }
    assert!(
        replies[0]
            .starts_with("Subscribed: digest 'c1-daily' (daily 09:00 Europe/Paris) posts here"),
        "{replies:?}"
    );
    assert!(
        replies[1].contains("c1-daily — daily 09:00 Europe/Paris → slack:C1"),
        "{replies:?}"
    );
    assert!(replies[2].starts_with("Unsubscribed"), "{replies:?}");
    assert!(
        replies[3].starts_with("No digest made in chat posts here yet."),
        "{replies:?}"
    );
    s.stop().await;
}
