//! Scheduled digests end to end: a real SQLite file, the sample organization
//! (or moto), a signed-webhook receiver on 127.0.0.1. Exactly one delivery
//! per (subscription, period): with `costbot digest post` run twice, after a
//! `kill -9` at each state of a run and a restart, after a receiver that
//! fails twice, and with the scheduler driven by a manual clock across DST
//! switches, month ends and downtime.

#[path = "support/receiver.rs"]
mod receiver;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use costbot::app::App;
use costbot::clock::ManualClock;
use costbot::config::{Config, RetrievalMode};
use costbot::digest::{DigestConfig, Digests};
use costbot::store::digests::RunState;
use receiver::Receiver;

const KEY: &str = "digest-key-0123456789abcdef";

fn write_config(dir: &Path, hook: &str, extra: &str) {
    std::fs::write(
        dir.join("costbot.toml"),
        format!(
            r#"data_dir = "{}"
budget_monthly = "150000"
digest_retry_base_secs = 1
{extra}
[retrieval]
mode = "lexical"

[[digests]]
name = "finops"
schedule = "daily 09:00"
time_zone = "Europe/Paris"
destination = "webhook:{hook}"
secret = "env:DIGEST_KEY"
"#,
            dir.display()
        ),
    )
    .unwrap();
}

fn costbot(dir: &Path, args: &[&str], crash_at: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costbot"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("DIGEST_KEY", KEY)
        .current_dir(dir);
    if let Some(point) = crash_at {
        c.env("COSTBOT_DIGEST_CRASH_AT", point);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The process is a blocking child; the receiver runs on this runtime.
async fn post(dir: &Path, crash_at: Option<&str>) -> Output {
    let dir = dir.to_path_buf();
    let point = crash_at.map(String::from);
    tokio::task::spawn_blocking(move || {
        costbot(
            &dir,
            &["digest", "post", "finops", "--as-of", "2026-11-19"],
            point.as_deref(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_delivers_once_signed_and_a_second_post_says_already_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    write_config(dir.path(), &hook.url, "");
    let first = post(dir.path(), None).await;
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).starts_with("delivered: finops for 2026-11-19"),
        "{}",
        stdout(&first)
    );
    assert_eq!(
        (hook.deliveries(), hook.requests(), hook.bad_signatures()),
        (1, 1, 0)
    );
    let body = hook.last();
    assert_eq!(body["subscription"], "finops");
    assert_eq!(body["period"], "2026-11-19");
    assert_eq!(body["delayed"], false);
    let sections = body["digest"]["answer"]["sections"].as_array().unwrap();
    let titles: Vec<&str> = sections
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Yesterday vs the 7 days before",
            "Month to date vs the same days last month",
            "Forecast",
            "Anomalies",
            "Worth doing"
        ]
    );
    // Every section states its basis.
    assert!(sections[..4]
        .iter()
        .all(|s| s["answer"]["basis"]["metric"] == "unblended cost"));
    assert_eq!(body["chart"]["media_type"], "image/png");
    assert_eq!(
        body["chart"]["series"]["days"].as_array().unwrap().len(),
        30
    );

    let second = post(dir.path(), None).await;
    assert!(second.status.success(), "{second:?}");
    assert!(
        stdout(&second).starts_with("already delivered: finops for 2026-11-19"),
        "{}",
        stdout(&second)
    );
    assert_eq!((hook.deliveries(), hook.requests()), (1, 1));

    let list = costbot(dir.path(), &["digest", "list"], None);
    let text = stdout(&list);
    assert!(
        text.contains("finops  daily 09:00 Europe/Paris  -> webhook:"),
        "{text}"
    );
    assert!(text.contains("2026-11-19  delivered"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_at_each_state_then_a_restart_delivers_exactly_once() {
    for point in ["planned", "built", "delivering", "sent"] {
        let dir = tempfile::tempdir().unwrap();
        let hook = Receiver::start(KEY).await;
        write_config(dir.path(), &hook.url, "");
        let crashed = post(dir.path(), Some(point)).await;
        assert_eq!(crashed.status.signal(), Some(9), "{point}: {crashed:?}");
        // Only a crash after the receiver took it has reached the receiver.
        assert_eq!(hook.deliveries(), usize::from(point == "sent"), "{point}");

        let restarted = post(dir.path(), None).await;
        assert!(restarted.status.success(), "{point}: {restarted:?}");
        assert!(
            stdout(&restarted).starts_with("delivered: finops"),
            "{point}: {}",
            stdout(&restarted)
        );
        let again = post(dir.path(), None).await;
        assert!(
            stdout(&again).starts_with("already delivered"),
            "{point}: {}",
            stdout(&again)
        );

        assert_eq!(hook.deliveries(), 1, "{point}: one delivery per run");
        // A re-send after a crash is the same body under the same key.
        let accepted = hook.accepted();
        let bodies = accepted.values().next().unwrap();
        assert_eq!(bodies.len(), if point == "sent" { 2 } else { 1 }, "{point}");
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "{point}: re-sent body differs"
        );
        assert_eq!(hook.bad_signatures(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_one_delivery_on_the_third_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    hook.fail_next(2);
    write_config(dir.path(), &hook.url, "");
    let out = post(dir.path(), None).await;
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("3 attempt(s)"), "{}", stdout(&out));
    assert_eq!((hook.requests(), hook.deliveries()), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_accepts_leaves_a_failed_run_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    hook.fail_next(100);
    write_config(dir.path(), &hook.url, "digest_retry_max_attempts = 2");
    let out = post(dir.path(), None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed after 2 attempt(s)") && err.contains("HTTP 503"),
        "{err}"
    );
    assert_eq!((hook.requests(), hook.deliveries()), (2, 0));
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn scheduled(
    dir: &Path,
    hook: &Receiver,
    schedule: &str,
    clock: Arc<ManualClock>,
) -> (App, Digests) {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.retrieval.mode = RetrievalMode::Lexical;
    config.digest_retry_base_secs = 1;
    // The HMAC key from a file, as a deployment would mount it.
    let key_file = dir.join("digest.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    config.digests = vec![DigestConfig {
        name: "paris".into(),
        schedule: schedule.into(),
        time_zone: Some("Europe/Paris".into()),
        destination: format!("webhook:{}", hook.url),
        secret: Some(format!("file:{}", key_file.display())),
        scope: Default::default(),
        budget: Some("200000".parse().unwrap()),
    }];
    let app = App::build_lexical(config, NaiveDate::from_ymd_opt(2026, 11, 19))
        .await
        .unwrap();
    let digests = app.digests(clock).unwrap();
    (app, digests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_keeps_paris_time_across_dst_catches_up_and_skips_what_is_too_late() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    let clock = Arc::new(ManualClock::new(utc("2026-03-27T12:00:00Z")));
    let (app, digests) = scheduled(dir.path(), &hook, "daily 09:00", clock.clone()).await;
    let runs = |p: &'static str| {
        let store = app.store.clone();
        async move { store.digest_run("paris", p).await.unwrap() }
    };

    // First sight: nothing owed, the next run planned ahead.
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 0);
    let next = runs("2026-03-28").await.unwrap();
    assert_eq!(
        (next.state, next.scheduled_for),
        (RunState::Planned, utc("2026-03-28T08:00:00Z"))
    );

    // One minute early: nothing; on time: delivered. Then 09:00 CEST the day clocks go forward.
    clock.set(utc("2026-03-28T07:59:00Z"));
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 0);
    clock.set(utc("2026-03-28T08:00:00Z"));
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 1);
    clock.set(utc("2026-03-29T06:59:00Z"));
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 1, "08:59 CEST is not 09:00");
    clock.set(utc("2026-03-29T07:00:00Z"));
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 2);
    assert_eq!(runs("2026-03-29").await.unwrap().state, RunState::Delivered);
    // Ticking again changes nothing.
    digests.tick().await.unwrap();
    assert_eq!(hook.deliveries(), 2);

    // Down from just after the 29th's run until noon on 1 April: the 30th
    // and 31st are past the 24-hour window (recorded as skipped), the 1st is
    // posted late and says so.
    clock.set(utc("2026-04-01T12:00:00Z"));
    digests.tick().await.unwrap();
    for p in ["2026-03-30", "2026-03-31"] {
        let r = runs(p).await.unwrap();
        assert_eq!(r.state, RunState::Failed, "{p}");
        assert!(
            r.last_error.unwrap().starts_with("skipped (too late)"),
            "{p}"
        );
    }
    let late = runs("2026-04-01").await.unwrap();
    assert_eq!((late.state, late.delayed), (RunState::Delivered, true));
    assert_eq!(hook.deliveries(), 3);
    let body = hook
        .bodies()
        .into_iter()
        .find(|b| b["period"] == "2026-04-01")
        .unwrap();
    assert_eq!(body["delayed"], true);
    let notes = body["digest"]["answer"]["notes"].to_string();
    assert!(
        notes.contains("Delayed: costbot was down; this digest was due at 2026-04-01 09:00"),
        "{notes}"
    );

    // October: 09:00 CET after the switch back is 08:00Z.
    clock.set(utc("2026-10-24T12:00:00Z"));
    digests.tick().await.unwrap();
    clock.set(utc("2026-10-25T08:00:00Z"));
    digests.tick().await.unwrap();
    let sunday = runs("2026-10-25").await.unwrap();
    assert_eq!(
        (sunday.state, sunday.scheduled_for),
        (RunState::Delivered, utc("2026-10-25T08:00:00Z"))
    );
    app.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_on_the_31st_runs_on_the_last_day_of_shorter_months() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    let clock = Arc::new(ManualClock::new(utc("2026-01-31T12:00:00Z")));
    let (app, digests) = scheduled(dir.path(), &hook, "monthly 31 09:00", clock.clone()).await;
    digests.tick().await.unwrap();
    for (at, period) in [
        ("2026-02-28T08:00:00Z", "2026-02-28"),
        ("2026-03-31T07:00:00Z", "2026-03-31"),
        ("2026-04-30T07:00:00Z", "2026-04-30"),
    ] {
        clock.set(utc(at));
        digests.tick().await.unwrap();
        let r = app
            .store
            .digest_run("paris", period)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.state, r.scheduled_for),
            (RunState::Delivered, utc(at)),
            "{period}"
        );
    }
    assert_eq!(hook.deliveries(), 3);
    app.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_left_delivering_is_resent_with_the_same_key_by_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    let clock = Arc::new(ManualClock::new(utc("2026-11-18T12:00:00Z")));
    let (app, digests) = scheduled(dir.path(), &hook, "daily 09:00", clock.clone()).await;
    digests.tick().await.unwrap();
    // A receiver down for the first attempt: the run waits, delivering.
    hook.fail_next(1);
    clock.set(utc("2026-11-19T08:00:00Z"));
    digests.tick().await.unwrap();
    let r = app
        .store
        .digest_run("paris", "2026-11-19")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.state, r.attempts), (RunState::Delivering, 1));
    // Not due yet: no second attempt.
    digests.tick().await.unwrap();
    assert_eq!(hook.requests(), 1);
    clock.set(utc("2026-11-19T08:00:01Z"));
    digests.tick().await.unwrap();
    let r = app
        .store
        .digest_run("paris", "2026-11-19")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.state, r.attempts), (RunState::Delivered, 2));
    assert_eq!((hook.requests(), hook.deliveries()), (2, 1));
    app.store.close().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `costbot serve` on a free port; returns once the run `period` is no longer open.
async fn serve_until_settled(
    dir: &Path,
    period: &str,
    crash_at: Option<&str>,
) -> std::process::ExitStatus {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costbot"));
    c.args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("DIGEST_KEY", KEY)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(p) = crash_at {
        c.env("COSTBOT_DIGEST_CRASH_AT", p);
    }
    let mut child = c.spawn().unwrap();
    let store = costbot::store::Store::open(&dir.join("costbot.db"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let run = store.digest_run("finops", period).await.unwrap().unwrap();
        if matches!(run.state, RunState::Delivered | RunState::Failed) {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler never settled the run: {run:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    store.close().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_catches_up_a_missed_run_and_a_kill_9_after_sending_still_makes_one_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    write_config(dir.path(), &hook.url, "");
    // A run that was due an hour ago, as if costbot had been down since before it.
    let now = Utc::now();
    let period = now.date_naive().to_string();
    let store = costbot::store::Store::open(&dir.path().join("costbot.db"))
        .await
        .unwrap();
    store
        .digest_plan("finops", &period, now - chrono::Duration::hours(1), false)
        .await
        .unwrap();
    store.close().await;

    let killed = serve_until_settled(dir.path(), &period, Some("sent")).await;
    assert_eq!(
        killed.signal(),
        Some(9),
        "the serve process killed itself after sending"
    );
    assert_eq!((hook.deliveries(), hook.requests()), (1, 1));

    serve_until_settled(dir.path(), &period, None).await;
    assert_eq!(hook.deliveries(), 1, "re-sent under the same key");
    assert_eq!(hook.requests(), 2);
    let body = hook.last();
    assert_eq!(body["period"], period.as_str());
    assert_eq!(body["delayed"], true);
    assert!(body["digest"]["answer"]["notes"]
        .to_string()
        .contains("Delayed: costbot was down"));
    let store = costbot::store::Store::open(&dir.path().join("costbot.db"))
        .await
        .unwrap();
    let run = store.digest_run("finops", &period).await.unwrap().unwrap();
    assert_eq!((run.state, run.delayed), (RunState::Delivered, true));
    store.close().await;
}

/// Cost Explorer throttling the first `fail` queries.
struct Throttled {
    inner: Arc<dyn costbot::costs::CostSource>,
    fail: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl costbot::costs::CostSource for Throttled {
    fn name(&self) -> &str {
        "throttled"
    }
    async fn cost_and_usage(
        &self,
        q: &costbot::costs::CostQuery,
    ) -> Result<costbot::costs::CostResult, costbot::costs::CostError> {
        use std::sync::atomic::Ordering;
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(costbot::costs::CostError::Throttled);
        }
        self.inner.cost_and_usage(q).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_build_is_tried_again_later_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    let clock = Arc::new(ManualClock::new(utc("2026-11-18T12:00:00Z")));
    let (app, mut digests) = scheduled(dir.path(), &hook, "daily 09:00", clock.clone()).await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let tools = costbot::agent::Tools {
        source: Arc::new(Throttled {
            inner: Arc::new(costbot::costs::sample::SampleSource::with_clock(Arc::new(
                move || date,
            ))),
            fail: 1.into(),
        }),
        retriever: app.agent.tools().retriever.clone(),
        budget: None,
        connections: vec![],
    };
    digests.agent = Arc::new(costbot::agent::Agent::new(
        tools,
        app.store.clone(),
        Arc::new(move || date),
    ));
    digests.tick().await.unwrap();
    clock.set(utc("2026-11-19T08:00:00Z"));
    digests.tick().await.unwrap();
    let r = app
        .store
        .digest_run("paris", "2026-11-19")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.state, r.attempts), (RunState::Planned, 1));
    assert!(r.last_error.unwrap().contains("throttling"));
    assert_eq!(hook.requests(), 0);
    clock.set(utc("2026-11-19T08:00:01Z"));
    digests.tick().await.unwrap();
    let r = app
        .store
        .digest_run("paris", "2026-11-19")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.state, r.attempts, r.delayed),
        (RunState::Delivered, 1, false)
    );
    assert_eq!(hook.deliveries(), 1);
    app.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_held_by_a_live_process_is_left_alone_and_a_dead_holder_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(KEY).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (app, digests) = scheduled(dir.path(), &hook, "daily 09:00", clock).await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let at = Utc::now();
    let run = app
        .store
        .digest_plan("paris", "2026-11-19", at, false)
        .await
        .unwrap();
    // Held by a live process (this one, under another name), as `serve` would hold it.
    let live = format!("{}:serve", std::process::id());
    let until = at + chrono::Duration::minutes(10);
    assert!(app
        .store
        .digest_claim(&run.id, &live, at, until, None)
        .await
        .unwrap());
    let posted = digests.post("paris", date).await.unwrap();
    assert!(
        matches!(posted, costbot::digest::Posted::Busy(_)),
        "{posted:?}"
    );
    assert_eq!(hook.requests(), 0);
    // Held by a process that is gone (no such pid): taken over at once.
    let gone = "999999999:crashed";
    assert!(app
        .store
        .digest_claim(&run.id, gone, at, until, Some(&live))
        .await
        .unwrap());
    let posted = digests.post("paris", date).await.unwrap();
    assert!(
        matches!(posted, costbot::digest::Posted::Delivered(_)),
        "{posted:?}"
    );
    assert_eq!(hook.deliveries(), 1);
    app.store.close().await;
}
