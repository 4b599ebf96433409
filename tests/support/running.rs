//! A real server on 127.0.0.1:0 with a real SQLite file and the sample
//! organization, wired as `costbot serve` wires it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use chrono::NaiveDate;
use costbot::app::App;
use costbot::config::{Config, Secret};
use costbot::metrics::Metrics;
use costbot::server::{self, Health, ServerOptions};
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
    let app = App::build(config, NaiveDate::from_ymd_opt(2026, 11, 19))
        .await
        .unwrap();
    let metrics = Metrics::new();
    let router = server::router(
        costbot::channels::routers(&app, &metrics).unwrap(),
        Health::from_app(&app, metrics.clone()),
    );
    let options = ServerOptions::from_config(&app.config.server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            server::serve(listener, router, options.clone(), metrics, shutdown.clone())
                .await
                .unwrap();
            shutdown.drain(options.drain).await;
            app.store.close().await;
        }
    });
    Running {
        url: format!("http://{addr}"),
        addr,
        shutdown,
        task,
    }
}
