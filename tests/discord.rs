//! Discord over HTTP interactions against a local fake of its REST API:
//! signatures made by PyNaCl (accepted) and stale, forged, changed or missing
//! ones (401), PING, a slash command deferred at once while its answer takes
//! longer and then edited in, follow-ups in the same channel and by button
//! that keep the conversation, and command registration at start.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

#[path = "support/discord.rs"]
mod discord;
use discord::*;

#[path = "support/running.rs"]
mod running;

fn original_path(token: &str) -> String {
    format!("/api/v10/webhooks/{APP}/{token}/messages/@original")
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

#[tokio::test]
async fn signed_interactions_are_accepted_and_stale_forged_changed_or_unsigned_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let s = start(dir.path(), &fake, None, |_| {}).await;

    // PING, signed by PyNaCl, is answered with PONG.
    let r = post(&s.url, &ping()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 1);

    // A real question, refused every way: nothing may be answered or stored.
    let body = ask(
        "tok-refused",
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
        "spend yesterday",
    )
    .to_string();
    let ts = now();
    let stale = ts - 5 * 60 - 30;
    let ahead = ts + 2 * 60;
    let mut changed = body.clone().into_bytes();
    let i = body.find("yesterday").unwrap();
    changed[i] = b'Y';
    let changed = String::from_utf8(changed).unwrap();
    for (what, sent, at, sig) in [
        ("stale", body.clone(), Some(stale), Some(sign(stale, &body))),
        (
            "from the future",
            body.clone(),
            Some(ahead),
            Some(sign(ahead, &body)),
        ),
        (
            "forged",
            body.clone(),
            Some(ts),
            Some(sign_with(OTHER_SEED, ts, &body)),
        ),
        ("one byte changed", changed, Some(ts), Some(sign(ts, &body))),
        (
            "signed for another timestamp",
            body.clone(),
            Some(ts),
            Some(sign(ts - 1, &body)),
        ),
        ("unsigned", body.clone(), None, None),
        ("no timestamp", body.clone(), None, Some(sign(ts, &body))),
        (
            "signature not hex",
            body.clone(),
            Some(ts),
            Some("zz".repeat(64)),
        ),
    ] {
        let r = post_signed(&s.url, &sent, at, sig.as_deref()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unauthorized", "{what}");
    }

    // Bodies are bounded (default 256 KiB) before the signature is looked at.
    let big = format!("{{\"type\":1,\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let r = post_signed(&s.url, &big, Some(ts), Some(&"00".repeat(64))).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A signed interaction of a type costbot does not handle says so.
    let modal = json!({"id": "1", "application_id": APP, "type": 5, "token": "t", "version": 1});
    let r = post(&s.url, &modal).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interaction type 5 is not one costbot handles"),
        "{e}"
    );

    // Only the registration and the gateway's address at start reached Discord.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.method == "PUT" || (c.method == "GET" && c.path.contains("/gateway"))),
        "nothing was answered: {calls:#?}"
    );
    assert_eq!(
        s.store
            .conversation_by_key(&format!("discord:{GUILD}:{CHANNEL_ID}"))
            .await
            .unwrap(),
        None
    );
    s.stop().await;
}

#[tokio::test]
async fn a_slash_command_is_deferred_at_once_and_its_original_response_edited_with_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    // Every Cost Explorer call takes 2 s, so the answer takes longer than Discord's 3 s.
    let s = start(dir.path(), &fake, Some(Duration::from_secs(2)), |_| {}).await;
    let token = "aW50ZXJhY3Rpb246MTQwMDAwMDAwMDAwMDAwMDAwMA.slow";
    let body = ask(
        token,
        Origin::Guild {
            channel: CHANNEL_ID,
            user: "7",
        },
        "why did EC2 go up last week?",
    );
    let (body, ts) = (body.to_string(), now());
    let signature = sign(ts, &body);
    // PyNaCl signs before the clock starts: this is costbot's time alone.
    let started = Instant::now();
    let r = post_signed(&s.url, &body, Some(ts), Some(&signature)).await;
    let deferred = started.elapsed();
    assert_eq!(r.status(), StatusCode::OK);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["type"], 5, "a deferred response: {ack}");
    assert!(
        deferred < Duration::from_secs(1),
        "deferred after {deferred:?}"
    );
    eprintln!("deferred in {deferred:?}");

    let calls = fake
        .wait_for("the edited response", Duration::from_secs(60), |c| {
            c.iter().any(|c| c.method == "PATCH")
        })
        .await;
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the slow source really was slow"
    );
    let edit = calls.iter().find(|c| c.method == "PATCH").unwrap();
    assert_eq!(edit.path, original_path(token));
    assert_eq!(
        edit.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );
    let b = &edit.body;
    assert!(
        b["content"]
            .as_str()
            .unwrap()
            .starts_with("EC2 spend went up by"),
        "{b}"
    );
    let embeds = b["embeds"].as_array().unwrap();
    assert!(embeds
        .iter()
        .any(|e| e["fields"].as_array().is_some_and(|f| !f.is_empty())));
    assert!(embeds.iter().any(|e| e["description"]
        .as_str()
        .is_some_and(|d| d.starts_with("```\n"))));
    assert!(
        embeds.iter().any(|e| e["footer"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Basis: 9–15 November 2026"))),
        "{b}"
    );
    assert_eq!(
        b["allowed_mentions"]["parse"],
        json!([]),
        "nobody is pinged: {}",
        b["allowed_mentions"]
    );
    assert!(b["allowed_mentions"]["users"]
        .as_array()
        .is_none_or(|u| u.is_empty()));
    let buttons: Vec<&Value> = b["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap())
        .collect();
    assert!(buttons
        .iter()
        .any(|b| b["custom_id"] == "costbot:q:break that down by region" && b["type"] == 2));
    assert!(
        fake.calls_to("POST", "/api/v10/webhooks/").is_empty(),
        "a short answer is one message"
    );
    s.stop().await;
}

#[tokio::test]
async fn follow_ups_in_the_same_channel_and_by_button_keep_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let s = start(dir.path(), &fake, None, |_| {}).await;
    let here = || Origin::Guild {
        channel: CHANNEL_ID,
        user: "7",
    };

    let r = post(
        &s.url,
        &ask("tok-1", here(), "how much did we spend last month?"),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 5);
    let calls = fake
        .wait_for("the first answer", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.path == original_path("tok-1"))
        })
        .await;
    let first = calls
        .iter()
        .find(|c| c.path == original_path("tok-1"))
        .unwrap();
    assert!(
        shown(&first.body).contains("1–31 October 2026"),
        "{}",
        first.body
    );

    // Someone else in the same channel follows up.
    let r = post(
        &s.url,
        &ask(
            "tok-2",
            Origin::Guild {
                channel: CHANNEL_ID,
                user: "8",
            },
            "and the month before?",
        ),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 5);
    let calls = fake
        .wait_for("the follow-up", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.path == original_path("tok-2"))
        })
        .await;
    let second = calls
        .iter()
        .find(|c| c.path == original_path("tok-2"))
        .unwrap();
    assert!(
        shown(&second.body).contains("1–30 September 2026"),
        "the follow-up kept 'how much we spent': {}",
        second.body
    );

    // A button under that answer asks its question in the same conversation.
    let r = post(
        &s.url,
        &press("tok-3", here(), "costbot:q:break that down by region"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["type"],
        6,
        "a deferred update"
    );
    let calls = fake
        .wait_for("the button's answer", Duration::from_secs(30), |c| {
            c.iter()
                .any(|c| c.path == format!("/api/v10/webhooks/{APP}/tok-3"))
        })
        .await;
    let pressed = calls
        .iter()
        .find(|c| c.path == format!("/api/v10/webhooks/{APP}/tok-3"))
        .unwrap();
    assert_eq!(
        pressed.method, "POST",
        "a new message, not an edit of the pressed one"
    );
    let text = shown(&pressed.body);
    assert!(
        text.starts_with("**break that down by region**"),
        "the question heads the answer: {text}"
    );
    assert!(
        text.contains("us-east-1") && text.contains("1–30 September 2026"),
        "by region, for the month the conversation was about: {text}"
    );

    let (id, scope) = s
        .store
        .conversation_by_key(&format!("discord:{GUILD}:{CHANNEL_ID}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scope, format!("discord:{GUILD}:{CHANNEL_ID}"));
    let messages = s.store.messages(&id).await.unwrap();
    assert_eq!(messages.len(), 6);
    assert_eq!(messages[0].author.as_deref(), Some("discord:user:7"));
    assert_eq!(messages[2].author.as_deref(), Some("discord:user:8"));

    // Another channel (a thread is one) and a DM are conversations of their own.
    let r = post(
        &s.url,
        &ask(
            "tok-4",
            Origin::Guild {
                channel: "1100000000000000004",
                user: "7",
            },
            "and the month before?",
        ),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 5);
    let r = post(
        &s.url,
        &ask("tok-5", Origin::Dm { user: "9" }, "spend yesterday"),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 5);
    let calls = fake
        .wait_for("two more answers", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.path == original_path("tok-4"))
                && c.iter().any(|c| c.path == original_path("tok-5"))
        })
        .await;
    let (other, _) = s
        .store
        .conversation_by_key(&format!("discord:{GUILD}:1100000000000000004"))
        .await
        .unwrap()
        .expect("the other channel has its own conversation");
    assert_ne!(other, id);
    assert_eq!(s.store.messages(&other).await.unwrap().len(), 2);
    assert_eq!(s.store.messages(&id).await.unwrap().len(), 6, "untouched");
    let elsewhere = calls
        .iter()
        .find(|c| c.path == original_path("tok-4"))
        .unwrap();
    eprintln!("elsewhere: {}", shown(&elsewhere.body));
    assert!(s
        .store
        .conversation_by_key("discord:dm:9")
        .await
        .unwrap()
        .is_some());

    // /cost help is answered in the response itself, to the asker only.
    let r = post(&s.url, &help("tok-6", here())).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], 4);
    assert_eq!(v["data"]["flags"], 64);
    assert!(v["data"]["content"].as_str().unwrap().contains("/cost ask"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.calls().iter().all(|c| !c.path.contains("tok-6")));
    s.stop().await;
}

#[tokio::test]
async fn commands_are_registered_at_start_in_the_guild_or_globally_and_failures_are_kept() {
    let fake = Fake::start().await;
    // Through `costbot serve`'s own wiring (app::serve → channels::routers).
    let dir = tempfile::tempdir().unwrap();
    let config = discord_config(&fake);
    let s = running::start_with(dir.path(), 30, |c| c.discord = config.clone()).await;
    let calls = fake
        .wait_for("the guild registration", Duration::from_secs(30), |c| {
            c.iter().any(|c| c.method == "PUT")
        })
        .await;
    let put = calls.iter().find(|c| c.method == "PUT").unwrap();
    assert_eq!(
        put.path,
        format!("/api/v10/applications/{APP}/guilds/{GUILD}/commands")
    );
    assert_eq!(
        put.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );
    let commands = put.body.as_array().expect("a bulk overwrite sends a list");
    assert_eq!(commands.len(), 1);
    let cost = &commands[0];
    assert_eq!(
        (cost["name"].as_str(), cost["type"].as_u64()),
        (Some("cost"), Some(1))
    );
    let options = cost["options"].as_array().unwrap();
    let names: Vec<&str> = options
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ask", "help", "digest"]);
    // The digest group, exactly as Discord gets it (serenity writes every
    // field): typed string options, the required ones first, lengths bounded.
    let option = |kind: u8,
                  name: &str,
                  description: &str,
                  required: bool,
                  max: Option<u16>,
                  options: Vec<Value>| {
        json!({"type": kind, "name": name, "description": description, "required": required,
            "autocomplete": false, "channel_types": [], "choices": [], "max_length": max,
            "min_length": null, "max_value": null, "min_value": null, "options": options})
    };
    let text = |name: &str, description: &str, max: u16, required: bool| {
        option(3, name, description, required, Some(max), vec![])
    };
    let sub = |name: &str, description: &str, options: Vec<Value>| {
        option(1, name, description, false, None, options)
    };
    assert_eq!(
        options[2],
        option(2, "digest", "Scheduled cost digests posted to this channel", false, None, vec![
            sub("subscribe", "Post a cost digest to this channel on a schedule", vec![
                text("schedule", "daily 09:00, weekdays 09:00, weekly mon 09:00 or monthly 1 09:00", 40, true),
                text("time_zone", "An IANA time zone, for example Europe/Paris or UTC", 64, true)
                    .tap(|o| o["autocomplete"] = json!(true)),
                text("name", "The digest's name (letters, digits, - or _); by default channel-schedule", 64, false),
            ]),
            sub("list", "The digests made in chat that post here, with their next run times", vec![]),
            sub("unsubscribe", "Stop a digest made in chat", vec![
                text("name", "The digest's name, as /cost digest list shows it", 64, true),
            ]),
        ]),
        "{}",
        serde_json::to_string_pretty(&options[2]).unwrap()
    );
    // No default permission on /cost: who may change digests is checked per use.
    assert!(
        cost.get("default_member_permissions")
            .is_none_or(Value::is_null),
        "{cost}"
    );
    assert_eq!(options[0]["type"], 1, "a subcommand");
    let question = &options[0]["options"][0];
    assert_eq!(
        (
            question["name"].as_str(),
            question["type"].as_u64(),
            question["required"].as_bool()
        ),
        (Some("question"), Some(3), Some(true))
    );
    // PING works through the same server.
    let r = post(&running_url(&s), &ping()).await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 1);
    s.stop().await;
    let store = costbot::store::Store::open(&dir.path().join("costbot.db"))
        .await
        .unwrap();
    let kept = store
        .discord_registration(APP, &format!("guild:{GUILD}"))
        .await
        .unwrap()
        .unwrap();
    assert!(kept.ok && kept.detail == "/cost", "{kept:?}");
    store.close().await;

    // Without a guild the commands are global; a refusal is logged and kept, not fatal.
    fake.refuse_registration(1);
    let dir = tempfile::tempdir().unwrap();
    let mut config = discord_config(&fake);
    config.guild_id = None;
    let s = running::start_with(dir.path(), 30, |c| c.discord = config.clone()).await;
    fake.wait_for("the global registration", Duration::from_secs(30), |c| {
        c.iter()
            .any(|c| c.path == format!("/api/v10/applications/{APP}/commands"))
    })
    .await;
    let r = post(&running_url(&s), &ping()).await;
    assert_eq!(r.status(), StatusCode::OK, "serving goes on");
    let store = costbot::store::Store::open(&dir.path().join("costbot.db"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let kept = loop {
        if let Some(k) = store.discord_registration(APP, "global").await.unwrap() {
            break k;
        }
        assert!(Instant::now() < deadline, "the outcome was not kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!kept.ok);
    assert!(kept.detail.contains("HTTP 401"), "{kept:?}");
    assert!(!kept.detail.contains(TOKEN));
    store.close().await;
    s.stop().await;
}

fn running_url(s: &running::Running) -> String {
    s.url.clone()
}

/// `costbot doctor` as a user runs it: what Discord still needs, and how the
/// last registration went, without printing the token.
#[tokio::test]
async fn doctor_says_what_discord_needs_and_how_registering_went() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = |vars: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("COSTBOT_DATA_DIR", dir.path())
            .current_dir(dir.path())
            .arg("doctor");
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
        (out.status.success(), text)
    };
    let (ok, text) = doctor(&[]);
    assert!(ok, "{text}");
    assert!(text.contains("info Discord off"), "{text}");

    let (ok, text) = doctor(&[("DISCORD_APPLICATION_ID", APP)]);
    assert!(!ok);
    assert!(
        text.contains("info Discord gateway: DISCORD_TOKEN missing"),
        "{text}"
    );

    let (ok, text) = doctor(&[("DISCORD_TOKEN", TOKEN)]);
    assert!(!ok, "a partial setup is a problem: {text}");
    assert!(text.contains("FAIL Discord needs the application id (DISCORD_APPLICATION_ID"));
    assert!(
        !text.contains("FAIL Discord needs the public key"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");

    // Token and application alone: the gateway, HTTP interactions off.
    let (ok, text) = doctor(&[("DISCORD_TOKEN", TOKEN), ("DISCORD_APPLICATION_ID", APP)]);
    assert!(ok, "{text}");
    assert!(
        text.contains("HTTP interactions off (no DISCORD_PUBLIC_KEY), so leave the Interactions Endpoint URL empty"),
        "{text}"
    );

    let key = public_key();
    let all = [
        ("DISCORD_TOKEN", TOKEN),
        ("DISCORD_APPLICATION_ID", APP),
        ("DISCORD_PUBLIC_KEY", key.as_str()),
    ];
    let (ok, text) = doctor(&all);
    assert!(ok, "{text}");
    assert!(text.contains("/cost not registered yet"), "{text}");
    assert!(
        text.contains("info Discord gateway: token set; intents GUILD_MESSAGES | DIRECT_MESSAGES (4608), not the privileged MESSAGE_CONTENT"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");

    let store = costbot::store::Store::open(&dir.path().join("costbot.db"))
        .await
        .unwrap();
    store
        .discord_registration_record(
            APP,
            "global",
            false,
            "Discord refused the request (HTTP 401): 401: Unauthorized (code 0)",
        )
        .await
        .unwrap();
    store.close().await;
    let (ok, text) = doctor(&all);
    assert!(!ok, "a failed registration is a problem: {text}");
    assert!(
        text.contains("FAIL registering the Discord commands failed") && text.contains("HTTP 401"),
        "{text}"
    );

    let (ok, text) = doctor(&[("DISCORD_PUBLIC_KEY", "not-hex")]);
    assert!(!ok);
    assert!(
        text.contains("discord.public_key must be the application's public key: 64 hex digits"),
        "a bad setting says what to do: {text}"
    );
}
