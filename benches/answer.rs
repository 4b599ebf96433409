//! Answer benchmark: one warm no-LLM answer in process (p50/p99), on the
//! sample organization with the configured retrieval (hybrid when the model
//! is present), and the webhook under 200 concurrent clients over HTTP on
//! 127.0.0.1 (throughput, p50/p99).
//!
//! `cargo bench --bench answer` runs it in full and prints a report. Under
//! `cargo test --all-targets` it runs one quick pass so it keeps working.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use costbot::agent::{ConversationKey, Inquiry};
use costbot::app::App;
use costbot::config::{Config, Secret};

const TOKEN: &str = "bench:0123456789abcdef0123456789abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

const QUESTIONS: [&str; 4] = [
    "Why did EC2 go up last week?",
    "How much did we spend last month by service?",
    "What's the forecast for this month?",
    "How can we cut NAT gateway costs?",
];

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 200 } else { 2 };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        budget_monthly: Some("150000".parse().unwrap()),
        ..Config::default()
    };
    config.server.webhook_tokens = vec![Secret::new(TOKEN)];
    config.server.rate_limit_per_minute = 10_000_000;
    config.retrieval.model_dir = std::env::var("COSTBOT_MODEL_DIR").ok().map(Into::into);
    let app = App::build(config, NaiveDate::from_ymd_opt(2026, 11, 19))
        .await
        .unwrap();
    println!(
        "costbot answer benchmark (sample organization, dense retrieval {})",
        if app.guides.has_dense() { "on" } else { "off" }
    );
    let agent = app.agent.clone();
    println!(
        "{:<48} {:>10} {:>10}",
        "warm answer, in process", "p50", "p99"
    );
    for q in QUESTIONS {
        // Warm: the cost cache and any query embedding are filled once.
        agent
            .handle(Inquiry::new(ConversationKey::New, "bench", "bench", q))
            .await
            .unwrap();
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let a = agent
                .handle(Inquiry::new(ConversationKey::New, "bench", "bench", q))
                .await
                .unwrap();
            times.push(t.elapsed());
            std::hint::black_box(a);
        }
        times.sort();
        println!(
            "{:<48} {:>10} {:>10}",
            q,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }
    webhook_under_load(&app, if full { 200 } else { 4 }, if full { 10 } else { 1 }).await;
    app.store.close().await;
}

/// `clients` concurrent webhook callers, each asking `per_client` questions
/// in a row over HTTP on 127.0.0.1 (new conversations, so every turn is
/// written to SQLite).
async fn webhook_under_load(app: &App, clients: usize, per_client: usize) {
    use costbot::metrics::Metrics;
    use costbot::server::{self, Health, ServerOptions};
    use costbot::shutdown::Shutdown;

    let metrics = Metrics::new();
    let shutdown = Shutdown::new();
    let router = server::router(
        costbot::channels::routers(app, &metrics, &shutdown).unwrap(),
        Health::from_app(app, metrics.clone()),
    );
    let mut options = ServerOptions::from_config(&app.config.server);
    options.max_connections = clients + 16;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/inquiries", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { server::serve(listener, router, options, metrics, shutdown).await }
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let q = QUESTIONS[(c + i) % QUESTIONS.len()];
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(SECRET)
                    .json(&serde_json::json!({ "text": q }))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    times.sort();
    println!(
        "webhook over HTTP, {clients} concurrent clients x {per_client}: {:.0} answers/s, p50 {}, p99 {}",
        times.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
    shutdown.trigger();
    server.await.unwrap().unwrap();
    shutdown.drain(Duration::from_secs(5)).await;
}
