//! Channels: thin adapters that verify a request, turn it into an
//! [`Inquiry`](crate::agent::Inquiry), and render the answer. No business logic.
//!
//! Each channel owns its routes, state and auth, and hands the server a
//! [`Router`]; the server merges them and knows none of them.

use axum::Router;

use crate::app::App;
use crate::config::ConfigError;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

pub mod discord;
pub mod slack;
pub mod webhook;

/// The routers of every channel this app serves over HTTP; a channel's
/// background tasks (Slack's Socket Mode and outbox) join `shutdown`'s set.
/// A channel without settings is left out.
pub fn routers(
    app: &App,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Vec<Router>, ConfigError> {
    let mut routers = vec![webhook::router(webhook::WebhookState::from_app(
        app, metrics,
    )?)];
    routers.extend(slack::serve(app, metrics, shutdown)?);
    routers.extend(discord::serve(app, metrics, shutdown)?);
    Ok(routers)
}

/// Runs a chat answer on the answers' own runtime, tracked by `tasks` (a
/// drain that times out aborts it).
pub(crate) fn spawn_answer(
    tasks: &Shutdown,
    name: &'static str,
    fut: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let job = answers_runtime().spawn(fut);
    let abort = job.abort_handle();
    tasks.spawn(name, async move {
        // Dropped unfinished (a drain past its deadline): stop the answer too.
        struct AbortOnDrop(tokio::task::AbortHandle);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _guard = AbortOnDrop(abort);
        if let Err(e) = job.await {
            if e.is_panic() {
                tracing::error!(error = %e, task = name, "an answer panicked");
            }
        }
    });
}

/// Answers run on a runtime of their own. Composing an answer is CPU work
/// that does not yield; sharing the server's workers with it would hold back
/// acks (Slack's and Discord's 3 s) whenever a burst of questions arrives. On
/// their own OS threads the kernel shares the cores preemptively, so acks
/// stay prompt.
fn answers_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("chat-answers")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .expect("the answers runtime starts")
    })
}

/// Answer threads yield the cores to acks: on Linux a thread's nice value is
/// its own, so this leaves the server's threads at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the calling thread's scheduling priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}
