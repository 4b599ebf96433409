//! The HTTP server: merges each channel's router with `/healthz`, `/readyz`
//! and `/metrics`, and serves it on an accept loop that holds under abuse.
//!
//! Channels are peers: each owns its routes, state and auth, and hands over a
//! [`Router`]; this module knows no channel. Every connection is bounded: the
//! request head must arrive within `header_timeout`, a whole request (body
//! included) within `request_timeout`, a connection that moves no bytes with
//! no request in progress is closed after `idle_timeout`, and at most
//! `max_connections` are served at once (the rest wait in the listen queue,
//! using no file descriptor of ours). On shutdown the accept loop stops,
//! connections finish their request and close, and [`Shutdown::drain`] cuts
//! whatever is left at its deadline.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::{Secret, ServerConfig};
use crate::costs::cache::SourceMetrics;
use crate::http::{bearer_token, same_secret, ApiError};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::Store;

/// How the server bounds connections; see the module docs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub drain: Duration,
}

impl ServerOptions {
    pub fn from_config(c: &ServerConfig) -> ServerOptions {
        ServerOptions {
            header_timeout: Duration::from_secs(c.header_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(c.request_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs.max(1)),
            max_connections: c.max_connections.max(1),
            drain: Duration::from_secs(c.drain_secs),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::from_config(&ServerConfig::default())
    }
}

/// What `/readyz` and `/metrics` need.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub source_metrics: Arc<SourceMetrics>,
    pub llm_metrics: Arc<crate::metrics::LlmMetrics>,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Secret>,
    /// Dense guide search readiness; None when there is no model (lexical only).
    pub dense_ready: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Health {
    /// "ready", "building" or "off".
    fn dense_state(&self) -> &'static str {
        match &self.dense_ready {
            None => "off",
            Some(r) if *r.borrow() => "ready",
            Some(_) => "building",
        }
    }
}

impl Health {
    pub fn from_app(app: &crate::app::App, metrics: Arc<Metrics>) -> Health {
        Health {
            store: app.store.clone(),
            metrics,
            source_metrics: app.source_metrics.clone(),
            llm_metrics: app.llm_metrics.clone(),
            metrics_token: app.config.server.metrics_token.clone(),
            dense_ready: app.guides.has_dense().then(|| app.guides.dense_ready()),
        }
    }
}

/// The channels' routers merged with the server's own routes. Unknown paths
/// and wrong methods get JSON errors like every other refusal.
pub fn router(channels: Vec<Router>, health: Health) -> Router {
    let own = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    channels
        .into_iter()
        .fold(own, Router::merge)
        .fallback(not_found)
        // After the merge: it applies to the routes present.
        .method_not_allowed_fallback(method_not_allowed)
}

/// The router while the app is still starting: `/healthz` answers at once,
/// everything else is 503 until [`Starting::ready`] hands over the full
/// router, so a process that is up but not ready says so instead of refusing
/// connections.
#[derive(Clone, Default)]
pub struct Starting {
    full: Arc<std::sync::OnceLock<Router>>,
}

impl Starting {
    pub fn new() -> Self {
        Starting::default()
    }

    /// From now on every request goes to `router`.
    pub fn ready(&self, router: Router) {
        let _ = self.full.set(router);
    }

    pub fn is_ready(&self) -> bool {
        self.full.get().is_some()
    }

    /// The router to serve from the first second.
    pub fn router(&self) -> Router {
        let full = self.full.clone();
        Router::new().fallback_service(tower::service_fn(move |request: Request| {
            let full = full.get().cloned();
            async move {
                use tower::ServiceExt;
                match full {
                    Some(router) => router.oneshot(request).await,
                    None if request.uri().path() == "/healthz" => Ok("ok\n".into_response()),
                    None => Ok(ApiError {
                        retry_after: Some(2),
                        ..ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "starting",
                            "costbot is starting; try again in a few seconds",
                        )
                    }
                    .into_response()),
                }
            }
        }))
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    // Questions are answered as soon as lexical search is up; dense search
    // joins later, which the second line says.
    if health.store.ping().await {
        (
            StatusCode::OK,
            format!("ready\ndense guide search: {}\n", health.dense_state()),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable\n".to_string(),
        )
    }
}

async fn metrics(State(health): State<Health>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(expected) = &health.metrics_token {
        let given = bearer_token(&headers).ok_or_else(|| {
            ApiError::unauthorized("send 'Authorization: Bearer <metrics token>'")
        })?;
        if !same_secret(given, expected.expose()) {
            return Err(ApiError::unauthorized("the bearer token is not valid"));
        }
    }
    let s = &health.source_metrics;
    let requests = s.requests.load(Ordering::Relaxed);
    let month = chrono::Utc::now().format("%Y-%m-01").to_string();
    let month_requests = health.store.requests_since(&month).await.unwrap_or(0);
    let mut body = String::new();
    health.metrics.render(&mut body);
    health.llm_metrics.render(&mut body);
    body.push_str(&format!(
        "# HELP costbot_cost_explorer_requests_total Billable Cost Explorer requests made by this process.\n\
         # TYPE costbot_cost_explorer_requests_total counter\n\
         costbot_cost_explorer_requests_total {}\n\
         # HELP costbot_cost_explorer_cost_dollars_total What those requests cost at $0.01 each.\n\
         # TYPE costbot_cost_explorer_cost_dollars_total counter\n\
         costbot_cost_explorer_cost_dollars_total {:.2}\n\
         # HELP costbot_cost_explorer_requests_this_month Billable requests recorded this calendar month (UTC), all processes.\n\
         # TYPE costbot_cost_explorer_requests_this_month gauge\n\
         costbot_cost_explorer_requests_this_month {}\n\
         # HELP costbot_dense_search_ready 1 once dense guide search is built, 0 while it is built or when it is off.\n\
         # TYPE costbot_dense_search_ready gauge\n\
         costbot_dense_search_ready {}\n\
         # HELP costbot_cost_cache_hits_total Queries answered from the cost cache.\n\
         # TYPE costbot_cost_cache_hits_total counter\n\
         costbot_cost_cache_hits_total {}\n\
         # HELP costbot_cost_cache_misses_total Queries that went to the source.\n\
         # TYPE costbot_cost_cache_misses_total counter\n\
         costbot_cost_cache_misses_total {}\n\
         # HELP costbot_cost_cache_write_failures_total Paid-for results returned but not cached because the cache write failed.\n\
         # TYPE costbot_cost_cache_write_failures_total counter\n\
         costbot_cost_cache_write_failures_total {}\n\
         # HELP costbot_cost_request_record_failures_total Times the Cost Explorer request count could not be written to the database.\n\
         # TYPE costbot_cost_request_record_failures_total counter\n\
         costbot_cost_request_record_failures_total {}\n",
        requests,
        requests as f64 * 0.01,
        month_requests,
        u8::from(health.dense_state() == "ready"),
        s.cache_hits.load(Ordering::Relaxed),
        s.cache_misses.load(Ordering::Relaxed),
        s.cache_write_failures.load(Ordering::Relaxed),
        s.request_record_failures.load(Ordering::Relaxed),
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

/// Answers 408 when a request, reading its body included, takes too long.
async fn request_timeout(
    State((limit, metrics)): State<(Duration, Arc<Metrics>)>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics
                .http
                .request_timeouts
                .fetch_add(1, Ordering::Relaxed);
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request took longer than {} s, sending the body included",
                    limit.as_secs_f64()
                ),
            )
            .closing()
            .into_response()
        }
    }
}

/// Accepts connections until `shutdown` triggers, serving each on the
/// shutdown's task set. Returns once accepting has stopped; then call
/// `shutdown.drain(options.drain)` to let in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServerOptions,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let app = app.layer(middleware::from_fn_with_state(
        (options.request_timeout, metrics.clone()),
        request_timeout,
    ));
    let slots = Arc::new(Semaphore::new(connection_cap(
        options.max_connections,
        open_files_limit(),
    )));
    let mut signal = shutdown.subscribe();
    loop {
        // A slot first: when all are taken, connections wait in the kernel's
        // listen queue, holding none of our file descriptors.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = signal.recv() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // accept: wait a little rather than spin, and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = signal.recv() => break,
        };
        let _ = stream.set_nodelay(true);
        metrics
            .http
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let app = app.clone();
        let options = options.clone();
        let metrics = metrics.clone();
        let signal = shutdown.subscribe();
        shutdown.spawn("http-connection", async move {
            metrics
                .http
                .connections_open
                .fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, app, &options, signal).await;
            metrics
                .http
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
            tracing::trace!(%peer, "connection closed");
            drop(permit);
        });
    }
    tracing::info!("stopped accepting connections");
    Ok(())
}

/// File descriptors kept free for everything else: SQLite, the model, logs.
const RESERVED_FDS: u64 = 64;

/// `max_connections`, lowered so connections cannot use up the process's file
/// descriptors (each takes one) and starve the database and `accept` itself.
fn connection_cap(max_connections: usize, open_files: Option<u64>) -> usize {
    let Some(limit) = open_files else {
        return max_connections;
    };
    let budget = limit.saturating_sub(RESERVED_FDS).max(1);
    if (max_connections as u64) > budget {
        tracing::warn!(
            max_connections,
            open_files_limit = limit,
            serving = budget,
            "server.max_connections is above what the open-files limit allows; serving fewer (raise `ulimit -n` for more)"
        );
        budget as usize
    } else {
        max_connections
    }
}

/// The soft limit on open files, where the platform says (Linux: /proc).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&limits)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files  <soft>  <hard>  files"; "unlimited" means no cap.
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    options: &ServerOptions,
    mut signal: crate::shutdown::Signal,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Tracked {
        io: stream,
        activity: activity.clone(),
    });
    let tower = TowerToHyperService::new(app);
    let in_flight = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = in_flight.begin();
        let fut = hyper::service::Service::call(&tower, req);
        async move {
            let response = fut.await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            // Finish the request in progress, then close; the drain bounds it.
            _ = signal.recv(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = activity.idle_for(options.idle_timeout) => {
                tracing::debug!("closing an idle connection");
                return;
            }
        }
    }
}

/// When a connection last moved bytes, and how many of its requests are
/// being handled.
#[derive(Clone)]
struct Activity {
    inner: Arc<ActivityInner>,
}

struct ActivityInner {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            inner: Arc::new(ActivityInner {
                start: Instant::now(),
                last: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    fn touch(&self) {
        let now = self.inner.start.elapsed().as_millis() as u64;
        self.inner.last.store(now, Ordering::Relaxed);
    }

    fn begin(&self) -> Busy {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }

    /// Resolves once no request is being handled and no byte has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last =
                self.inner.start + Duration::from_millis(self.inner.last.load(Ordering::Relaxed));
            let quiet = last.elapsed();
            if quiet >= limit && self.inner.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            // A busy connection is looked at again after a full period.
            let wait = limit.saturating_sub(quiet).max(Duration::from_millis(50));
            tokio::time::sleep(wait).await;
        }
    }
}

/// A stream that records when bytes move, for the idle timeout.
struct Tracked<T> {
    io: T,
    activity: Activity,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get as get_route;

    async fn get(router: &Router, path: &str) -> (StatusCode, String) {
        use tower::ServiceExt;
        let response = router
            .clone()
            .oneshot(
                Request::builder()
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn while_starting_only_health_answers_then_the_full_router_takes_over() {
        let starting = Starting::new();
        let served = starting.router();
        assert_eq!(get(&served, "/healthz").await.0, StatusCode::OK);
        let (status, body) = get(&served, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("\"starting\""), "{body}");
        assert_eq!(
            get(&served, "/v1/inquiries").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        starting.ready(Router::new().route("/readyz", get_route(|| async { "ready" })));
        assert!(starting.is_ready());
        assert_eq!(
            get(&served, "/readyz").await,
            (StatusCode::OK, "ready".to_string())
        );
    }

    #[tokio::test]
    async fn a_connection_is_idle_only_when_quiet_with_no_request_in_flight() {
        let activity = Activity::new();
        let busy = activity.begin();
        let limit = Duration::from_millis(50);
        // A request in flight (the agent thinking, a body being read) is not idleness.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), activity.idle_for(limit))
                .await
                .is_err()
        );
        drop(busy);
        tokio::time::timeout(Duration::from_secs(5), activity.idle_for(limit))
            .await
            .expect("idle once the request is done and nothing moves");
    }

    #[test]
    fn connections_fit_in_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             96364                96364                processes \n\
                      Max open files            256                  4096                 files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(256));
        assert_eq!(
            parse_open_files_limit("Max open files  unlimited  unlimited  files\n"),
            None
        );
        assert_eq!(connection_cap(512, Some(256)), 192);
        assert_eq!(connection_cap(100, Some(256)), 100);
        assert_eq!(connection_cap(512, None), 512);
        assert_eq!(connection_cap(512, Some(10)), 1);
    }

    #[test]
    fn options_come_from_config() {
        let o = ServerOptions::default();
        assert_eq!(o.header_timeout, Duration::from_secs(10));
        assert_eq!(o.max_connections, 512);
        assert_eq!(o.drain, Duration::from_secs(10));
    }
}
