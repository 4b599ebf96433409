//! Discord over the gateway against a local fake of its gateway and REST API:
//! costbot identifies with the non-privileged intents, answers a mention in
//! its channel (typing first, a reply referencing the question), keeps the
//! channel's conversation for a follow-up, ignores bots and messages not for
//! it, answers DMs, resumes after the socket drops (getting the message it
//! missed), takes /cost (and /cost digest) over the gateway through the
//! interaction callback, and leaves with close code 1000 on shutdown.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/discord.rs"]
mod discord;
use discord::*;

const WAIT: Duration = Duration::from_secs(60);
const DM_CHANNEL: &str = "1100000000000000099";

fn messages_path(channel: &str) -> String {
    format!("/api/v10/channels/{channel}/messages")
}

/// Every text a message shows: content, embed titles, descriptions, fields, footers.
fn shown(body: &Value) -> String {
    let mut out = vec![body["content"].as_str().unwrap_or("").to_string()];
    for e in body["embeds"].as_array().into_iter().flatten() {
        for key in ["title", "description"] {
            out.extend(e[key].as_str().map(str::to_string));
        }
        for f in e["fields"].as_array().into_iter().flatten() {
            out.push(format!("{}: {}", f["name"], f["value"]));
        }
        out.extend(e["footer"]["text"].as_str().map(str::to_string));
    }
    out.join("\n")
}

/// The replies costbot posted referencing message `id`.
fn replies_to(fake: &Fake, id: &str) -> Vec<Call> {
    fake.calls()
        .into_iter()
        .filter(|c| {
            c.method == "POST"
                && c.path.ends_with("/messages")
                && c.body["message_reference"]["message_id"] == id
        })
        .collect()
}

async fn reply_to(fake: &Fake, id: &str) -> Call {
    fake.wait_for(&format!("the reply to {id}"), WAIT, |calls| {
        calls.iter().any(|c| {
            c.path.ends_with("/messages") && c.body["message_reference"]["message_id"] == id
        })
    })
    .await;
    replies_to(fake, id).remove(0)
}

fn mention(id: &str, user: &str, text: &str) -> Value {
    message_create(
        id,
        CHANNEL_ID,
        true,
        (user, false),
        &format!("<@{BOT}> {text}"),
        &[BOT],
    )
}

#[tokio::test]
async fn mentions_and_dms_are_answered_in_place_with_context_and_the_session_resumes_after_a_drop()
{
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let gw = fake.gateway.clone();
    let s = start(dir.path(), &fake, None, |_| {}).await;
    gw.wait_live(WAIT).await;

    // The address came from the REST API, and costbot identified as Discord documents.
    let asked_for: Vec<String> = fake
        .calls_to("GET", "/api/v10/gateway")
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(
        asked_for,
        ["/api/v10/gateway", "/api/v10/gateway/bot"],
        "serenity 0.12.5 takes the address from GET /gateway, the shard count from /gateway/bot"
    );
    assert_eq!(gw.queries()[0], "v=10", "API v10, JSON");
    let identify = gw.frames_with_op(2);
    assert_eq!(identify.len(), 1);
    let d = &identify[0].payload["d"];
    assert_eq!(d["token"], format!("Bot {TOKEN}"));
    assert_eq!(
        d["intents"],
        (1 << 9) | (1 << 12),
        "GUILD_MESSAGES | DIRECT_MESSAGES, not MESSAGE_CONTENT"
    );
    assert_eq!(d["shard"], json!([0, 1]));
    assert!(d["properties"]["os"].is_string());

    // A mention in a guild channel: typing first, then a reply referencing the question.
    let asked = Instant::now();
    gw.dispatch(
        "MESSAGE_CREATE",
        mention(
            "1500000000000000001",
            "7",
            "how much did we spend on EC2 last month?",
        ),
    );
    let first = reply_to(&fake, "1500000000000000001").await;
    let calls = fake.calls();
    let typing = calls
        .iter()
        .position(|c| {
            c.method == "POST" && c.path == format!("/api/v10/channels/{CHANNEL_ID}/typing")
        })
        .expect("typing was shown");
    let reply = calls
        .iter()
        .position(|c| c.path == messages_path(CHANNEL_ID))
        .unwrap();
    assert!(typing < reply, "typing before the reply");
    eprintln!(
        "MESSAGE_CREATE → typing {:?}, → reply {:?}",
        calls[typing].at - asked,
        calls[reply].at - asked
    );
    assert_eq!(first.path, messages_path(CHANNEL_ID), "in the same channel");
    assert_eq!(
        first.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );
    assert_eq!(
        first.body["message_reference"],
        json!({"type": 0, "message_id": "1500000000000000001", "channel_id": CHANNEL_ID,
               "guild_id": GUILD, "fail_if_not_exists": false})
    );
    assert_eq!(
        first.body["allowed_mentions"],
        json!({"parse": [], "users": [], "roles": [], "replied_user": true}),
        "the asker is notified, nobody else"
    );
    let text = shown(&first.body);
    assert!(
        text.contains("EC2") && text.contains("1–31 October 2026"),
        "{text}"
    );
    assert!(!text.contains(&format!("<@{BOT}>")));
    let buttons: Vec<&Value> = first.body["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap())
        .collect();
    assert!(
        buttons
            .iter()
            .all(|b| b["type"] == 2 && b["custom_id"].as_str().unwrap().starts_with("costbot:q:")),
        "{buttons:?}"
    );
    assert!(!buttons.is_empty(), "next steps as buttons");

    // Someone else follows up in the same channel: S3, for the same month.
    let typings = fake.calls_to("POST", "/api/v10/channels/").len();
    let asked = Instant::now();
    gw.dispatch(
        "MESSAGE_CREATE",
        mention("1500000000000000002", "8", "and S3?"),
    );
    let second = reply_to(&fake, "1500000000000000002").await;
    let typed = &fake.calls_to("POST", "/api/v10/channels/")[typings];
    assert!(typed.path.ends_with("/typing"));
    eprintln!(
        "follow-up: MESSAGE_CREATE → typing {:?}, → reply {:?}",
        typed.at - asked,
        second.at - asked
    );
    let text = shown(&second.body);
    assert!(
        text.contains("S3") && text.contains("1–31 October 2026") && !text.contains("EC2 spend"),
        "the follow-up kept the period: {text}"
    );
    let (conversation, scope) = s
        .store
        .conversation_by_key(&format!("discord:{GUILD}:{CHANNEL_ID}"))
        .await
        .unwrap()
        .expect("the channel's conversation");
    assert_eq!(scope, format!("discord:{GUILD}:{CHANNEL_ID}"));
    let stored = s.store.messages(&conversation).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0].author.as_deref(), Some("discord:user:7"));
    assert_eq!(stored[2].author.as_deref(), Some("discord:user:8"));

    // A bot's mention, and a message not for costbot (no content without
    // MESSAGE_CONTENT), get nothing; a DM is answered in the DM.
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000003",
            CHANNEL_ID,
            true,
            ("8000", true),
            &format!("<@{BOT}> spend yesterday"),
            &[BOT],
        ),
    );
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000004",
            CHANNEL_ID,
            true,
            ("7", false),
            "",
            &[],
        ),
    );
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000005",
            DM_CHANNEL,
            false,
            ("9", false),
            "spend yesterday",
            &[],
        ),
    );
    let dm = reply_to(&fake, "1500000000000000005").await;
    assert_eq!(dm.path, messages_path(DM_CHANNEL));
    assert_eq!(
        dm.body["message_reference"],
        json!({"type": 0, "message_id": "1500000000000000005", "channel_id": DM_CHANNEL,
               "guild_id": null, "fail_if_not_exists": false})
    );
    assert!(shown(&dm.body).contains("18 November 2026"), "{}", dm.body);
    assert!(s
        .store
        .conversation_by_key("discord:dm:9")
        .await
        .unwrap()
        .is_some());
    assert!(
        replies_to(&fake, "1500000000000000003").is_empty(),
        "bots are ignored"
    );
    assert!(replies_to(&fake, "1500000000000000004").is_empty());
    assert_eq!(
        fake.calls_to("POST", "/api/v10/channels/")
            .iter()
            .filter(|c| c.path.ends_with("/messages"))
            .count(),
        3,
        "three answers, nothing else"
    );

    // Heartbeats carry the last sequence number and are acknowledged.
    let seen = gw.seq();
    gw.wait_for("a heartbeat after the last event", WAIT, |f| {
        f.iter()
            .any(|f| f.payload["op"] == 1 && f.payload["d"] == seen)
    })
    .await;

    // The socket drops; the next message is sent meanwhile. costbot resumes
    // the same session from the last sequence it saw and gets it replayed.
    let session = gw.session().unwrap();
    gw.drop_then_dispatch(
        "MESSAGE_CREATE",
        mention("1500000000000000006", "7", "spend yesterday"),
    );
    let frames = gw
        .wait_for("a RESUME", WAIT, |f| f.iter().any(|f| f.payload["op"] == 6))
        .await;
    let resume = frames.iter().find(|f| f.payload["op"] == 6).unwrap();
    assert_eq!(resume.conn, 2, "on a new connection");
    assert_eq!(
        resume.payload["d"],
        json!({"token": format!("Bot {TOKEN}"), "session_id": session, "seq": seen})
    );
    let missed = reply_to(&fake, "1500000000000000006").await;
    assert!(shown(&missed.body).contains("18 November 2026"));
    gw.wait_live(WAIT).await;
    gw.dispatch(
        "MESSAGE_CREATE",
        mention("1500000000000000007", "7", "and the day before?"),
    );
    let after = reply_to(&fake, "1500000000000000007").await;
    assert!(
        shown(&after.body).contains("17 November 2026"),
        "{}",
        after.body
    );
    assert_eq!(
        gw.frames_with_op(2).len(),
        1,
        "resumed, not identified again"
    );
    assert_eq!(gw.queries()[1], "v=10");

    // Discord asks for a reconnect (op 7): costbot resumes again, on a third connection.
    let seen = gw.seq();
    gw.reconnect();
    let frames = gw
        .wait_for("a second RESUME", WAIT, |f| {
            f.iter().filter(|f| f.payload["op"] == 6).count() == 2
        })
        .await;
    let resume = frames.iter().rfind(|f| f.payload["op"] == 6).unwrap();
    assert_eq!(resume.conn, 3);
    assert_eq!(resume.payload["d"]["seq"], seen);
    assert_eq!(resume.payload["d"]["session_id"], session);
    gw.wait_live(WAIT).await;
    // A thread is a channel of its own: its own conversation.
    let thread = "1100000000000000004";
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000008",
            thread,
            true,
            ("7", false),
            &format!("<@{BOT}> and the day before?"),
            &[BOT],
        ),
    );
    let in_thread = reply_to(&fake, "1500000000000000008").await;
    assert_eq!(in_thread.path, messages_path(thread));
    let (id, _) = s
        .store
        .conversation_by_key(&format!("discord:{GUILD}:{thread}"))
        .await
        .unwrap()
        .expect("the thread's conversation");
    assert_ne!(id, conversation);
    assert_eq!(gw.frames_with_op(2).len(), 1, "still the first session");

    // Shutting down leaves the gateway with a normal close.
    s.stop().await;
    assert!(
        gw.closes()
            .iter()
            .any(|(conn, code)| *conn == 3 && *code == Some(1000)),
        "{:?}",
        gw.closes()
    );
}

#[tokio::test]
async fn slash_commands_and_buttons_over_the_gateway_are_acknowledged_by_callback_then_answered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let gw = fake.gateway.clone();
    let s = start(dir.path(), &fake, None, |_| {}).await;
    gw.wait_live(WAIT).await;

    let command = ask(
        "gw-tok-1",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
        "why did EC2 go up last week?",
    );
    let id = command["id"].as_str().unwrap().to_string();
    gw.dispatch("INTERACTION_CREATE", command);
    let original = format!("/api/v10/webhooks/{APP}/gw-tok-1/messages/@original");
    let calls = fake
        .wait_for("the edited response", WAIT, |c| {
            c.iter().any(|c| c.path == original)
        })
        .await;
    let callback = format!("/api/v10/interactions/{id}/gw-tok-1/callback");
    let ack = calls
        .iter()
        .position(|c| c.method == "POST" && c.path == callback)
        .expect("acknowledged through the callback");
    let edit = calls.iter().position(|c| c.path == original).unwrap();
    assert!(ack < edit, "acknowledged before the answer");
    assert_eq!(
        calls[ack].body,
        json!({"type": 5, "data": {"attachments": []}}),
        "deferred"
    );
    assert_eq!(calls[edit].method, "PATCH");
    assert!(
        calls[edit].body["content"]
            .as_str()
            .unwrap()
            .starts_with("EC2 spend went up by"),
        "{}",
        calls[edit].body
    );

    // A button under that answer: a deferred update (6), then a new message.
    let press = press(
        "gw-tok-2",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "8",
        },
        "costbot:q:break that down by region",
    );
    let id = press["id"].as_str().unwrap().to_string();
    gw.dispatch("INTERACTION_CREATE", press);
    let follow_up = format!("/api/v10/webhooks/{APP}/gw-tok-2");
    let calls = fake
        .wait_for("the button's answer", WAIT, |c| {
            c.iter().any(|c| c.path == follow_up)
        })
        .await;
    let callback = format!("/api/v10/interactions/{id}/gw-tok-2/callback");
    let ack = calls.iter().position(|c| c.path == callback).unwrap();
    let answer = calls.iter().position(|c| c.path == follow_up).unwrap();
    assert!(ack < answer);
    assert_eq!(
        calls[ack].body,
        json!({"type": 6, "data": null}),
        "a deferred update"
    );
    let text = shown(&calls[answer].body);
    assert!(
        text.starts_with("**break that down by region**") && text.contains("us-east-1"),
        "{text}"
    );

    // /cost help is answered in the callback itself, to the asker only.
    let help = help(
        "gw-tok-3",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
    );
    let id = help["id"].as_str().unwrap().to_string();
    gw.dispatch("INTERACTION_CREATE", help);
    let callback = format!("/api/v10/interactions/{id}/gw-tok-3/callback");
    let calls = fake
        .wait_for("the help", WAIT, |c| c.iter().any(|c| c.path == callback))
        .await;
    let help = calls.iter().find(|c| c.path == callback).unwrap();
    assert_eq!(help.body["type"], 4);
    assert_eq!(help.body["data"]["flags"], 64);
    assert!(help.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("/cost ask"));

    // /cost digest subscribe is answered in the callback too, and kept for this channel.
    let subscribe = digest(
        "gw-tok-4",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
        "subscribe",
        &[
            ("schedule", "weekdays 08:30"),
            ("time_zone", "America/New_York"),
            ("name", "gw-digest"),
        ],
        MANAGE_CHANNELS,
    );
    let id = subscribe["id"].as_str().unwrap().to_string();
    gw.dispatch("INTERACTION_CREATE", subscribe);
    let callback = format!("/api/v10/interactions/{id}/gw-tok-4/callback");
    let calls = fake
        .wait_for("the digest reply", WAIT, |c| {
            c.iter().any(|c| c.path == callback)
        })
        .await;
    let reply = calls.iter().find(|c| c.path == callback).unwrap();
    assert_eq!(reply.body["type"], 4);
    assert_eq!(reply.body["data"]["flags"], 64);
    assert!(
        reply.body["data"]["content"].as_str().unwrap().starts_with(
            "Subscribed: digest 'gw-digest' (weekdays 08:30 America/New_York) posts here"
        ),
        "{}",
        reply.body
    );
    let kept = s.store.digest_subscriptions().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].destination, format!("discord:{CHANNEL_ID}"));
    s.stop().await;
}

#[tokio::test]
async fn a_long_answer_is_split_into_messages_within_discords_limits_the_first_a_reply() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let gw = fake.gateway.clone();
    let s = start(dir.path(), &fake, None, |_| {}).await;
    gw.wait_live(WAIT).await;
    let channel = "1100000000000000005";
    // A bare mention gets the examples, as a reply.
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000100",
            channel,
            true,
            ("7", false),
            &format!("<@{BOT}>"),
            &[BOT],
        ),
    );
    let help = reply_to(&fake, "1500000000000000100").await;
    assert!(
        help.body["content"]
            .as_str()
            .unwrap()
            .starts_with("Mention me with a question about your AWS bill"),
        "{}",
        help.body
    );
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000101",
            channel,
            true,
            ("7", false),
            &format!("<@{BOT}> spend per day this year"),
            &[BOT],
        ),
    );
    reply_to(&fake, "1500000000000000101").await;
    // The parts are posted one after another; the last carries the buttons.
    let calls = fake
        .wait_for("every part", WAIT, |c| {
            c.iter().any(|c| {
                c.path == messages_path(channel)
                    && c.body["components"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty())
            })
        })
        .await;
    let parts: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            c.path == messages_path(channel)
                && c.body["message_reference"]["message_id"] != "1500000000000000100"
        })
        .collect();
    assert!(parts.len() >= 2, "split: {} part(s)", parts.len());
    assert_eq!(
        parts[0].body["message_reference"]["message_id"],
        "1500000000000000101"
    );
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            assert!(
                p.body.get("message_reference").is_none(),
                "only the first replies"
            );
        }
        let b = &p.body;
        assert!(b["content"].as_str().unwrap_or("").chars().count() <= 2000);
        let embeds = b["embeds"].as_array().unwrap();
        assert!(embeds.len() <= 10);
        let total: usize = embeds
            .iter()
            .map(|e| {
                let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
                n(&e["title"])
                    + n(&e["description"])
                    + n(&e["footer"]["text"])
                    + e["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| n(&f["name"]) + n(&f["value"]))
                        .sum::<usize>()
            })
            .sum();
        assert!(total <= 6000, "part {i}: {total} characters of embeds");
        for e in embeds {
            if let Some(d) = e["description"].as_str().filter(|d| d.starts_with("```")) {
                assert!(d.trim_end().ends_with("```"), "a whole code block: {d}");
            }
        }
    }
    let text: String = parts.iter().map(|p| shown(&p.body)).collect();
    assert!(
        text.contains("2026-01-01") || text.contains("1 Jan"),
        "from the year's first day"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_session_discord_no_longer_has_is_identified_anew_and_chat_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let gw = fake.gateway.clone();
    let s = start(dir.path(), &fake, None, |_| {}).await;
    gw.wait_live(WAIT).await;
    let first = gw.session().unwrap();

    gw.expire_session_and_drop();
    // RESUME → op 9 (not resumable) → a new IDENTIFY and a new session.
    gw.wait_for("a second IDENTIFY", WAIT, |f| {
        f.iter().filter(|f| f.payload["op"] == 2).count() == 2
    })
    .await;
    gw.wait_live(WAIT).await;
    let frames = gw.frames();
    let resume = frames.iter().position(|f| f.payload["op"] == 6).unwrap();
    let identify = frames.iter().rposition(|f| f.payload["op"] == 2).unwrap();
    assert!(resume < identify, "tried to resume first");
    assert_ne!(gw.session().unwrap(), first);

    gw.dispatch(
        "MESSAGE_CREATE",
        mention("1500000000000000201", "7", "spend yesterday"),
    );
    let reply = reply_to(&fake, "1500000000000000201").await;
    assert!(shown(&reply.body).contains("18 November 2026"));
    s.stop().await;
}

#[tokio::test]
async fn without_a_public_key_discord_is_the_gateway_alone() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let gw = fake.gateway.clone();
    let s = start(dir.path(), &fake, None, |c| c.discord.public_key = None).await;
    gw.wait_live(WAIT).await;
    // No key to verify with: no endpoint.
    let r = post(&s.url, &ping()).await;
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    // Commands and chat come over the gateway.
    let command = ask("gw-only-1", Origin::Dm { user: "9" }, "spend yesterday");
    let id = command["id"].as_str().unwrap().to_string();
    gw.dispatch("INTERACTION_CREATE", command);
    let original = format!("/api/v10/webhooks/{APP}/gw-only-1/messages/@original");
    let calls = fake
        .wait_for("the answer", WAIT, |c| c.iter().any(|c| c.path == original))
        .await;
    assert!(calls
        .iter()
        .any(|c| c.path == format!("/api/v10/interactions/{id}/gw-only-1/callback")));
    gw.dispatch(
        "MESSAGE_CREATE",
        message_create(
            "1500000000000000301",
            DM_CHANNEL,
            false,
            ("9", false),
            "and the day before?",
            &[],
        ),
    );
    let reply = reply_to(&fake, "1500000000000000301").await;
    assert!(
        shown(&reply.body).contains("17 November 2026"),
        "the DM's conversation carried on from the command: {}",
        reply.body
    );
    s.stop().await;
}
