//! The HTTP server: webhook inquiries, health, readiness, Prometheus metrics.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::agent::Agent;
use crate::channels::webhook::{self, RateLimiter};
use crate::config::WebhookToken;
use crate::costs::cache::SourceMetrics;

#[derive(Debug, Default)]
pub struct ServerMetrics {
    pub inquiries: AtomicU64,
    pub failed: AtomicU64,
    pub rate_limited: AtomicU64,
}

#[derive(Clone)]
pub struct AppState {
    pub agent: Arc<Agent>,
    pub tokens: Arc<Vec<WebhookToken>>,
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<ServerMetrics>,
    pub source_metrics: Arc<SourceMetrics>,
    pub max_body_bytes: usize,
}

impl AppState {
    /// The server state for a built app; fails on invalid webhook tokens.
    pub fn from_app(app: &crate::app::App) -> Result<AppState, crate::config::ConfigError> {
        let tokens = app.config.webhook_tokens()?;
        if tokens.is_empty() {
            tracing::warn!("no webhook tokens configured: /v1/inquiries will refuse every request; set COSTBOT_WEBHOOK_TOKENS");
        }
        Ok(AppState {
            agent: app.agent.clone(),
            tokens: Arc::new(tokens),
            limiter: Arc::new(RateLimiter::new(app.config.server.rate_limit_per_minute)),
            metrics: Arc::new(ServerMetrics::default()),
            source_metrics: app.source_metrics.clone(),
            max_body_bytes: app.config.server.max_body_bytes,
        })
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/v1/inquiries", post(webhook::inquire))
        .route("/v1/conversations/{id}", get(webhook::conversation))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.agent.store().ping().await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let s = &state.source_metrics;
    let requests = s.requests.load(Ordering::Relaxed);
    let month = chrono::Utc::now().format("%Y-%m-01").to_string();
    let month_requests = state
        .agent
        .store()
        .requests_since(&month)
        .await
        .unwrap_or(0);
    let body = format!(
        "# HELP costbot_inquiries_total Inquiries received over the webhook.\n\
         # TYPE costbot_inquiries_total counter\n\
         costbot_inquiries_total {}\n\
         # HELP costbot_inquiries_failed_total Inquiries answered with an error.\n\
         # TYPE costbot_inquiries_failed_total counter\n\
         costbot_inquiries_failed_total {}\n\
         # HELP costbot_rate_limited_total Requests refused by the per-token rate limit.\n\
         # TYPE costbot_rate_limited_total counter\n\
         costbot_rate_limited_total {}\n\
         # HELP costbot_cost_explorer_requests_total Billable Cost Explorer requests made by this process.\n\
         # TYPE costbot_cost_explorer_requests_total counter\n\
         costbot_cost_explorer_requests_total {}\n\
         # HELP costbot_cost_explorer_cost_dollars_total What those requests cost at $0.01 each.\n\
         # TYPE costbot_cost_explorer_cost_dollars_total counter\n\
         costbot_cost_explorer_cost_dollars_total {:.2}\n\
         # HELP costbot_cost_explorer_requests_this_month Billable requests recorded this calendar month (UTC), all processes.\n\
         # TYPE costbot_cost_explorer_requests_this_month gauge\n\
         costbot_cost_explorer_requests_this_month {}\n\
         # HELP costbot_cost_cache_hits_total Queries answered from the cost cache.\n\
         # TYPE costbot_cost_cache_hits_total counter\n\
         costbot_cost_cache_hits_total {}\n\
         # HELP costbot_cost_cache_misses_total Queries that went to the source.\n\
         # TYPE costbot_cost_cache_misses_total counter\n\
         costbot_cost_cache_misses_total {}\n",
        m.inquiries.load(Ordering::Relaxed),
        m.failed.load(Ordering::Relaxed),
        m.rate_limited.load(Ordering::Relaxed),
        requests,
        requests as f64 * 0.01,
        month_requests,
        s.cache_hits.load(Ordering::Relaxed),
        s.cache_misses.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
