//! Slack against a local mock of its Web API: signatures (costbot's signer and
//! slack_sdk's), acks within Slack's 3 s while answers take longer, threaded
//! replies with the thread's context, exactly-once events, buttons and
//! feedback, the outbox across a restart, and Socket Mode against a fake
//! WebSocket server speaking Slack's envelopes.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[path = "support/slack.rs"]
mod slack;
use slack::*;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn all_text(call: &Call) -> String {
    call.body.to_string()
}

#[tokio::test]
async fn signed_requests_are_accepted_and_stale_forged_or_changed_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let s = start(dir.path(), &mock, None, |_| {}).await;
    let body = json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let ts = now();

    let r = post_signed(
        &s.url,
        "/slack/events",
        JSON,
        &body,
        ts,
        Some(&sign(ts, &body)),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    if let Some(sdk) = sign_with_slack_sdk(ts, &body) {
        assert_eq!(sdk, sign(ts, &body), "slack_sdk and costbot sign alike");
        let r = post_signed(&s.url, "/slack/events", JSON, &body, ts, Some(&sdk), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        // slack_sdk's signature over a slash command body too.
        let cmd = command_body("help", &mock.hook_url("sdk"), "1.2.3");
        let sdk = sign_with_slack_sdk(ts, &cmd).unwrap();
        let r = post_signed(&s.url, "/slack/commands", FORM, &cmd, ts, Some(&sdk), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // Slack's certificate check is answered and does nothing else.
    let r = post(&s.url, "/slack/commands", FORM, "ssl_check=1&token=x", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);

    // A real question, refused every way: nothing may be answered or stored.
    let event = mention("EvRefused", "U1", "50.1", None, "spend yesterday").to_string();
    let stale = ts - 6 * 60;
    let mut changed = event.clone().into_bytes();
    let i = changed.iter().position(|b| *b == b'y').unwrap();
    changed[i] = b'Y';
    let changed = String::from_utf8(changed).unwrap();
    let forged =
        costbot::channels::slack::verify::sign("another-secret", &ts.to_string(), event.as_bytes());
    for (what, body, at, sig) in [
        ("stale", event.clone(), stale, Some(sign(stale, &event))),
        (
            "future",
            event.clone(),
            ts + 6 * 60,
            Some(sign(ts + 6 * 60, &event)),
        ),
        ("forged", event.clone(), ts, Some(forged)),
        ("one byte changed", changed, ts, Some(sign(ts, &event))),
        ("unsigned", event.clone(), ts, None),
    ] {
        let r = post_signed(
            &s.url,
            "/slack/events",
            JSON,
            &body,
            at,
            sig.as_deref(),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    for path in ["/slack/commands", "/slack/interactions"] {
        let r = post_signed(
            &s.url,
            path,
            FORM,
            "payload=%7B%7D",
            stale,
            Some(&sign(stale, "payload=%7B%7D")),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Bodies are bounded (the default is 256 KiB).
    let big = format!(
        "{{\"type\":\"url_verification\",\"challenge\":\"{}\"}}",
        "x".repeat(300 * 1024)
    );
    let r = post(&s.url, "/slack/events", JSON, &big, &[]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mock.calls().is_empty(), "{:?}", mock.calls());
    assert_eq!(
        s.store
            .conversation_by_key("slack:T1:C1:50.1")
            .await
            .unwrap(),
        None
    );
    assert!(
        s.store.slack_event_first_seen("EvRefused").await.unwrap(),
        "a refused event is not recorded"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_slash_command_is_acked_at_once_and_answered_to_its_response_url() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // Every Cost Explorer call takes 2 s, so the answer takes longer than Slack's 3 s.
    let s = start(dir.path(), &mock, Some(Duration::from_secs(2)), |_| {}).await;
    let hook = mock.hook_url("commands/T1/1/abc");
    let body = command_body(
        "why did EC2 go up last week?",
        &hook,
        "13345224609.738474920.8088930838d88f008e0",
    );
    let started = Instant::now();
    let r = post(&s.url, "/slack/commands", FORM, &body, &[]).await;
    let acked = started.elapsed();
    assert_eq!(r.status(), StatusCode::OK);
    let ack: Value = r.json().await.unwrap();
    assert!(acked < Duration::from_secs(3), "acked after {acked:?}");
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(ack["text"].as_str().unwrap().contains("Working"), "{ack}");

    let calls = mock
        .wait_for(
            "the answer at the response URL",
            Duration::from_secs(60),
            |c| c.iter().any(|c| c.method == "hook"),
        )
        .await;
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the slow source really was slow"
    );
    let answer = calls.iter().find(|c| c.method == "hook").unwrap();
    assert_eq!(answer.path, "/hooks/commands/T1/1/abc");
    assert_eq!(answer.authorization, None, "a response URL gets no token");
    assert_eq!(answer.body["response_type"], "in_channel");
    assert!(
        answer.body["text"]
            .as_str()
            .unwrap()
            .starts_with("EC2 spend went up by"),
        "{}",
        answer.body
    );
    let blocks = answer.body["blocks"].as_array().unwrap();
    assert!(blocks
        .iter()
        .any(|b| b["type"] == "context" && b.to_string().contains("Basis: 9–15 November 2026")));
    assert!(blocks.iter().any(|b| b["type"] == "actions"));
    assert!(mock.calls_of("chat.postMessage").is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_mention_is_answered_in_its_thread_and_the_thread_keeps_its_context() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let s = start(dir.path(), &mock, None, |_| {}).await;
    let first = mention(
        "Ev1",
        "U1",
        "100.000100",
        None,
        "Why did EC2 go up last week?",
    )
    .to_string();
    let r = post(&s.url, "/slack/events", JSON, &first, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the first answer", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.method == "chat.update")
        })
        .await;
    let placeholder = &calls
        .iter()
        .find(|c| c.method == "chat.postMessage")
        .unwrap();
    assert_eq!(
        placeholder.authorization.as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    assert_eq!(placeholder.body["thread_ts"], "100.000100");
    assert_eq!(placeholder.body["channel"], "C1");
    let update = calls.iter().find(|c| c.method == "chat.update").unwrap();
    let placeholder_ts = update.body["ts"].as_str().unwrap().to_string();
    assert!(
        update.body["text"]
            .as_str()
            .unwrap()
            .starts_with("EC2 spend went up by"),
        "{}",
        update.body
    );

    // Slack retries the same event; a bot's message and a plain channel message come in too.
    let r = post(
        &s.url,
        "/slack/events",
        JSON,
        &first,
        &[
            ("x-slack-retry-num", "1"),
            ("x-slack-retry-reason", "http_timeout"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut from_bot = mention(
        "Ev2",
        "U9",
        "101.000100",
        Some("100.000100"),
        "spend yesterday",
    );
    from_bot["event"]["bot_id"] = json!("B1");
    let r = post(&s.url, "/slack/events", JSON, &from_bot.to_string(), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut bot_dm = mention("Ev3", "U9", "101.000200", None, "spend yesterday");
    bot_dm["event"] = json!({"type": "message", "subtype": "bot_message", "channel_type": "im", "channel": "D1", "ts": "101.000200", "text": "spend yesterday", "bot_id": "B0COSTBOT"});
    let r = post(&s.url, "/slack/events", JSON, &bot_dm.to_string(), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Someone else follows up in the thread.
    let second = mention(
        "Ev4",
        "U2",
        "102.000100",
        Some("100.000100"),
        "break that down by region",
    )
    .to_string();
    let r = post(&s.url, "/slack/events", JSON, &second, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the follow-up answer", Duration::from_secs(30), |c| {
            c.iter().filter(|c| c.method == "chat.update").count() >= 2
        })
        .await;
    let update = calls
        .iter()
        .filter(|c| c.method == "chat.update")
        .nth(1)
        .unwrap();
    let text = all_text(update);
    assert!(
        text.contains("us-east-1") && text.contains("eu-west-1"),
        "{text}"
    );
    assert!(
        text.contains("Basis: 9–15 November 2026"),
        "the follow-up kept last week: {text}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mock.calls_of("chat.postMessage").len(),
        2,
        "one placeholder per answered event: {:#?}",
        mock.calls()
    );
    assert!(mock
        .calls_of("chat.postMessage")
        .iter()
        .all(|c| c.body["thread_ts"] == "100.000100"));

    let (id, scope) = s
        .store
        .conversation_by_key("slack:T1:C1:100.000100")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scope, "slack:T1");
    let messages = s.store.messages(&id).await.unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0].author.as_deref(), Some("slack:T1:U1"));
    assert_eq!(messages[2].author.as_deref(), Some("slack:T1:U2"));

    // The buttons under the answer: "How did you get that?" runs in the thread, 👍 is stored.
    let blocks = update.body["blocks"].as_array().unwrap();
    let buttons = blocks.iter().find(|b| b["type"] == "actions").unwrap()["elements"]
        .as_array()
        .unwrap()
        .clone();
    let how = buttons
        .iter()
        .find(|b| b["text"]["text"] == "How did you get that?")
        .unwrap();
    let press = |action: &Value| {
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T1", "domain": "acme"},
            "user": {"id": "U3", "name": "joe"},
            "api_app_id": "A1",
            "container": {"type": "message", "message_ts": placeholder_ts, "channel_id": "C1", "is_ephemeral": false, "thread_ts": "100.000100"},
            "channel": {"id": "C1", "name": "finops"},
            "message": {"type": "message", "ts": "1800000004.000100", "thread_ts": "100.000100", "text": "…"},
            "response_url": mock.hook_url("actions/T1/2/xyz"),
            "trigger_id": "1.2.3",
            "actions": [{"type": "button", "action_id": action["action_id"], "block_id": "costbot_actions", "value": action["value"], "action_ts": "103.1"}]
        });
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
    };
    let r = post(&s.url, "/slack/interactions", FORM, &press(how), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the explanation", Duration::from_secs(30), |c| {
            c.iter().filter(|c| c.method == "chat.update").count() >= 3
        })
        .await;
    let explained = calls
        .iter()
        .filter(|c| c.method == "chat.update")
        .nth(2)
        .unwrap();
    assert!(
        all_text(explained).contains("tool call"),
        "{}",
        explained.body
    );
    assert_eq!(
        s.store.messages(&id).await.unwrap().len(),
        6,
        "the button's turn is in the same conversation"
    );

    let up = buttons
        .iter()
        .find(|b| b["action_id"] == "costbot_feedback_up")
        .unwrap();
    let r = post(&s.url, "/slack/interactions", FORM, &press(up), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    mock.wait_for("the thanks", Duration::from_secs(10), |c| {
        c.iter().any(|c| c.method == "hook")
    })
    .await;
    let rated: Value = serde_json::from_str(up["value"].as_str().unwrap()).unwrap();
    let votes = s
        .store
        .slack_feedback_for(rated["m"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(votes, vec![("slack:T1:U3".to_string(), 1)]);
    assert_eq!(
        messages[3].id,
        rated["m"].as_i64().unwrap(),
        "the vote is on the answer it was under"
    );
    let metrics = reqwest::get(format!("{}/metrics", s.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("costbot_inquiries_total{channel=\"slack\"} 3\n"),
        "{metrics}"
    );
    assert!(!metrics.contains(BOT_TOKEN) && !metrics.contains(SIGNING_SECRET));
    s.stop().await;
}

#[tokio::test]
async fn a_reply_slack_did_not_take_waits_in_the_outbox_and_goes_out_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.fail_next(1000);
    // Retries start after 1 s and double.
    let s = start(dir.path(), &mock, None, |_| {}).await;
    let dm = json!({"team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "EvDM", "event_time": 1,
        "event": {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": "200.000100", "text": "How much did we spend last month?"}});
    let r = post(&s.url, "/slack/events", JSON, &dm.to_string(), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.store.outbox_counts().await.unwrap().0 == 0 {
        assert!(Instant::now() < deadline, "nothing reached the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tried = mock.calls_of("chat.postMessage").len();
    assert!(tried >= 2, "placeholder and answer were tried");
    // The worker tries again (and fails again) on its own.
    mock.wait_for("a retry", Duration::from_secs(10), |c| {
        c.iter().filter(|c| c.method == "chat.postMessage").count() > tried
    })
    .await;
    s.stop().await;

    mock.fail_next(0);
    let before = mock.calls().len();
    let s = start(dir.path(), &mock, None, |_| {}).await;
    let calls = mock
        .wait_for("the kept answer", Duration::from_secs(30), |c| {
            c[before..].iter().any(|c| {
                c.method == "chat.postMessage"
                    && c.body["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("1–31 October 2026"))
            })
        })
        .await;
    let delivered = calls
        .iter()
        .rev()
        .find(|c| c.method == "chat.postMessage")
        .unwrap();
    assert_eq!(delivered.body["channel"], "D1");
    assert_eq!(delivered.body["thread_ts"], "200.000100");
    assert!(delivered.body["blocks"]
        .as_array()
        .is_some_and(|b| !b.is_empty()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.store.outbox_counts().await.unwrap() != (0, 0) {
        assert!(Instant::now() < deadline, "the outbox did not empty");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The DM is its own conversation.
    assert!(s
        .store
        .conversation_by_key("slack:T1:dm:U1")
        .await
        .unwrap()
        .is_some());
    s.stop().await;
}

/// A fake Socket Mode endpoint: hands each accepted connection to the test.
async fn fake_socket_server() -> (
    String,
    tokio::sync::mpsc::Receiver<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/link/?ticket=abc", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                let _ = tx.send(ws).await;
            }
        }
    });
    (url, rx)
}

async fn next_json(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(WsMessage::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn socket_mode_answers_events_and_commands_and_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let (url, mut connections) = fake_socket_server().await;
    mock.set_socket_url(&url);
    let s = start(dir.path(), &mock, None, |c| {
        c.slack.signing_secret = None;
        c.slack.app_token = Some(costbot::config::Secret::new(APP_TOKEN));
        c.slack.socket_connections = 1;
    })
    .await;
    let mut ws = tokio::time::timeout(Duration::from_secs(10), connections.recv())
        .await
        .unwrap()
        .unwrap();
    let opened = mock.calls_of("apps.connections.open");
    assert_eq!(
        opened[0].authorization.as_deref(),
        Some(format!("Bearer {APP_TOKEN}").as_str())
    );
    ws.send(WsMessage::Text(
        json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();

    let event = mention("EvSock1", "U1", "300.000100", None, "spend yesterday");
    ws.send(WsMessage::Text(json!({"envelope_id": "env-1", "type": "events_api", "payload": event, "accepts_response_payload": false, "retry_attempt": 0}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"envelope_id": "env-1"}));

    let command = json!({"token": "x", "team_id": "T1", "team_domain": "acme", "channel_id": "C1", "channel_name": "finops", "user_id": "U1", "user_name": "ana",
        "command": "/cost", "text": "spend last month", "api_app_id": "A1", "response_url": mock.hook_url("commands/T1/9/sock"), "trigger_id": "9.9.9"});
    ws.send(WsMessage::Text(json!({"envelope_id": "env-2", "type": "slash_commands", "payload": command, "accepts_response_payload": true}).to_string().into())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["envelope_id"], "env-2");
    assert_eq!(ack["payload"]["response_type"], "ephemeral");

    mock.wait_for("both answers", Duration::from_secs(30), |c| {
        c.iter().any(|c| c.method == "chat.update") && c.iter().any(|c| c.method == "hook")
    })
    .await;

    // Slack asks for a reconnect; the same event then arrives on the new connection.
    ws.send(WsMessage::Text(json!({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "applink-1"}}).to_string().into())).await.unwrap();
    let mut ws2 = tokio::time::timeout(Duration::from_secs(15), connections.recv())
        .await
        .expect("a reconnect")
        .unwrap();
    assert!(mock.calls_of("apps.connections.open").len() >= 2);
    ws2.send(WsMessage::Text(
        json!({"type": "hello", "num_connections": 1})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws2.send(WsMessage::Text(json!({"envelope_id": "env-3", "type": "events_api", "payload": event, "accepts_response_payload": false, "retry_attempt": 1, "retry_reason": "timeout"}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws2).await, json!({"envelope_id": "env-3"}));
    let another = mention(
        "EvSock2",
        "U2",
        "301.000100",
        Some("300.000100"),
        "and the day before?",
    );
    ws2.send(WsMessage::Text(
        json!({"envelope_id": "env-4", "type": "events_api", "payload": another})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws2).await, json!({"envelope_id": "env-4"}));
    mock.wait_for(
        "the follow-up over the new connection",
        Duration::from_secs(30),
        |c| c.iter().filter(|c| c.method == "chat.update").count() >= 2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mock.calls_of("chat.update").len(),
        2,
        "the duplicate event was answered once"
    );
    let (id, _) = s
        .store
        .conversation_by_key("slack:T1:C1:300.000100")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.store.messages(&id).await.unwrap().len(), 4);
    s.stop().await;
}

#[tokio::test]
async fn commands_can_post_their_own_thread_wait_out_rate_limits_and_answer_privately() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let s = start(dir.path(), &mock, None, |c| {
        c.slack.post_mode = costbot::config::SlackPostMode::ChatPostMessage;
    })
    .await;
    // Slack says "slow down" once: the placeholder waits Retry-After and goes through.
    mock.rate_limit_next(1);
    let body = command_body(
        "how much did we spend last month?",
        &mock.hook_url("commands/T1/3/p"),
        "3.3.3",
    );
    let r = post(&s.url, "/slack/commands", FORM, &body, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the posted answer", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.method == "chat.update")
        })
        .await;
    let posts: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .collect();
    assert_eq!(
        posts.len(),
        2,
        "the rate-limited post was retried: {posts:#?}"
    );
    assert_eq!(posts[1].body["channel"], "C1");
    assert!(
        posts[1].body.get("thread_ts").is_none(),
        "the command's message starts a thread"
    );
    let update = calls.iter().find(|c| c.method == "chat.update").unwrap();
    assert!(all_text(update).contains("1–31 October 2026"));
    assert!(
        calls.iter().all(|c| c.method != "hook"),
        "posted, not sent to response_url"
    );
    // Its thread is the conversation: a mention there follows up.
    let ts = update.body["ts"].as_str().unwrap().to_string();
    let follow = mention(
        "EvCmd",
        "U2",
        "1900000000.000100",
        Some(&ts),
        "and the month before?",
    )
    .to_string();
    let r = post(&s.url, "/slack/events", JSON, &follow, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the follow-up", Duration::from_secs(30), |c| {
            c.iter().filter(|c| c.method == "chat.update").count() >= 2
        })
        .await;
    let second = calls
        .iter()
        .filter(|c| c.method == "chat.update")
        .nth(1)
        .unwrap();
    assert!(
        all_text(second).contains("1–30 September 2026"),
        "{}",
        second.body
    );
    let (id, _) = s
        .store
        .conversation_by_key(&format!("slack:T1:C1:{ts}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.store.messages(&id).await.unwrap().len(), 4);

    // "/cost private ..." goes only to the asker, through the response URL.
    let body = command_body(
        "private spend yesterday",
        &mock.hook_url("commands/T1/4/q"),
        "4.4.4",
    );
    let r = post(&s.url, "/slack/commands", FORM, &body, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let calls = mock
        .wait_for("the private answer", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.method == "hook")
        })
        .await;
    let private = calls.iter().find(|c| c.method == "hook").unwrap();
    assert_eq!(private.body["response_type"], "ephemeral");
    assert!(
        private.body["text"]
            .as_str()
            .unwrap()
            .contains("18 November 2026"),
        "{}",
        private.body
    );
    s.stop().await;
}

#[tokio::test]
async fn one_event_over_two_socket_mode_connections_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let (url, mut connections) = fake_socket_server().await;
    mock.set_socket_url(&url);
    let s = start(dir.path(), &mock, None, |c| {
        c.slack.signing_secret = None;
        c.slack.app_token = Some(costbot::config::Secret::new(APP_TOKEN));
        c.slack.socket_connections = 2;
    })
    .await;
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let mut ws = tokio::time::timeout(Duration::from_secs(10), connections.recv())
            .await
            .expect("two connections")
            .unwrap();
        ws.send(WsMessage::Text(
            json!({"type": "hello", "num_connections": 2})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        sockets.push(ws);
    }
    let event = mention("EvTwice", "U1", "400.000100", None, "spend yesterday");
    for (i, ws) in sockets.iter_mut().enumerate() {
        let envelope =
            json!({"envelope_id": format!("env-{i}"), "type": "events_api", "payload": event});
        ws.send(WsMessage::Text(envelope.to_string().into()))
            .await
            .unwrap();
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        assert_eq!(
            next_json(ws).await,
            json!({"envelope_id": format!("env-{i}")})
        );
    }
    mock.wait_for("the answer", Duration::from_secs(30), |c| {
        c.iter().any(|c| c.method == "chat.update")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        mock.calls_of("chat.postMessage").len(),
        1,
        "{:#?}",
        mock.calls()
    );
    assert_eq!(mock.calls_of("chat.update").len(), 1);
    s.stop().await;
}
