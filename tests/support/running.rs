//! A real server on 127.0.0.1:0 with a real SQLite file and the sample
//! organization, wired as `costbot serve` wires it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use chrono::NaiveDate;
use costbot::config::{Config, Secret};
use costbot::shutdown::Shutdown;

pub const TOKEN: &str = "ci:0123456789abcdef0123456789abcdef";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const OTHER: &str = "grafana:fedcba9876543210fedcba9876543210";
pub const OTHER_SECRET: &str = "fedcba9876543210fedcba9876543210";

pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts shutting down without waiting.
    pub fn trigger_shutdown(&self) {
        self.shutdown.trigger();
    }

    /// Triggers shutdown and waits for the drain and the store to close.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap();
    }
}

pub async fn start(data_dir: &Path, rate_limit: u32) -> Running {
    start_with(data_dir, rate_limit, |_| {}).await
}

/// Like [`start`], with `tweak` applied to the configuration last.
pub async fn start_with(
    data_dir: &Path,
    rate_limit: u32,
    tweak: impl FnOnce(&mut Config),
) -> Running {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        budget_monthly: Some("150000".parse().unwrap()),
        ..Config::default()
    };
    config.server.webhook_tokens = vec![Secret::new(TOKEN), Secret::new(OTHER)];
    config.server.rate_limit_per_minute = rate_limit;
    config.server.max_body_bytes = 4096;
    // These tests are about the server; retrieval modes have their own tests.
    config.retrieval.mode = costbot::config::RetrievalMode::Lexical;
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            costbot::app::serve(
                config,
                NaiveDate::from_ymd_opt(2026, 11, 19),
                listener,
                shutdown,
            )
            .await
            .unwrap();
        }
    });
    // Health answers at once; wait until the channels are in.
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Running {
        url: format!("http://{addr}"),
        addr,
        shutdown,
        task,
    }
}
