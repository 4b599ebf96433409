//! One shutdown signal every task obeys, and a bounded drain (mini-redis style).
//!
//! A [`Shutdown`] is cloned into everything long-lived: the HTTP accept loop,
//! each connection, and background tasks (Slack socket mode, Discord gateway,
//! digest scheduler, outbox). Tasks spawned through [`Shutdown::spawn`] are
//! tracked in one set; they watch [`Signal::recv`] and wind down on their own.
//! [`Shutdown::drain`] triggers the signal, waits for the set to empty up to a
//! deadline, then aborts whatever is left, so a stalled client can never keep
//! the process alive.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

/// The shutdown signal and the set of tasks that obey it. Cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    tx: watch::Sender<bool>,
    /// Each task returns its name, so the log can say which ones finished or panicked.
    tasks: Mutex<JoinSet<&'static str>>,
}

/// A receiver of the shutdown signal, for a task to select on.
#[derive(Clone)]
pub struct Signal {
    rx: watch::Receiver<bool>,
}

impl Signal {
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered (at once if it already was).
    pub async fn recv(&mut self) {
        // An error means the sender is gone, which is a shutdown too.
        let _ = self.rx.wait_for(|triggered| *triggered).await;
    }
}

/// What a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Tasks that ended on their own before the deadline.
    pub finished: usize,
    /// Tasks still running at the deadline, aborted.
    pub aborted: usize,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Shutdown {
            inner: Arc::new(Inner {
                tx,
                tasks: Mutex::new(JoinSet::new()),
            }),
        }
    }

    /// A receiver for the signal.
    pub fn subscribe(&self) -> Signal {
        Signal {
            rx: self.inner.tx.subscribe(),
        }
    }

    /// Starts shutting down: every [`Signal`] resolves. Idempotent.
    pub fn trigger(&self) {
        self.inner.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.inner.tx.borrow()
    }

    /// Runs `fut` on the tracked set. The task should select on
    /// [`Shutdown::subscribe`] and return soon after the signal; whatever is
    /// still running when a drain's deadline passes is aborted.
    pub fn spawn<F>(&self, name: &'static str, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = self.tasks();
        // Reap what has finished so a long-running server's set stays small.
        while let Some(done) = tasks.try_join_next() {
            log_join(done);
        }
        tasks.spawn(async move {
            fut.await;
            name
        });
    }

    /// Triggers shutdown once `cause` resolves (for example [`signal`]).
    /// The waiting task is tracked, and ends early if shutdown comes another way.
    pub fn trigger_on<F>(&self, cause: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        let mut signal = self.subscribe();
        self.spawn("shutdown-trigger", async move {
            tokio::select! {
                _ = cause => this.trigger(),
                _ = signal.recv() => {}
            }
        });
    }

    /// How many tracked tasks have not been reaped yet (finished ones included
    /// until the next spawn or drain).
    pub fn task_count(&self) -> usize {
        self.tasks().len()
    }

    /// Triggers shutdown, waits up to `grace` for every tracked task to end,
    /// then aborts the rest and waits for them to be dropped.
    pub async fn drain(&self, grace: Duration) -> Drained {
        self.trigger();
        let deadline = tokio::time::Instant::now() + grace;
        let mut report = Drained::default();
        loop {
            // Tasks may spawn others while draining (a connection accepted just
            // before the signal), so take the set until it stays empty.
            let mut set = std::mem::take(&mut *self.tasks());
            if set.is_empty() {
                break;
            }
            loop {
                match tokio::time::timeout_at(deadline, set.join_next()).await {
                    Ok(Some(done)) => {
                        report.finished += 1;
                        log_join(done);
                    }
                    Ok(None) => break,
                    Err(_) => {
                        report.aborted += set.len();
                        set.shutdown().await;
                        break;
                    }
                }
            }
        }
        if report.aborted > 0 {
            tracing::warn!(
                finished = report.finished,
                aborted = report.aborted,
                grace_secs = grace.as_secs_f64(),
                "drain deadline passed; aborted the tasks still running"
            );
        } else {
            tracing::info!(finished = report.finished, "drained");
        }
        report
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, JoinSet<&'static str>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn log_join(done: Result<&'static str, tokio::task::JoinError>) {
    match done {
        Ok(name) => tracing::trace!(task = name, "task finished"),
        Err(e) if e.is_panic() => tracing::error!(error = %e, "a task panicked"),
        Err(_) => {}
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_that_obey_finish_and_stalled_ones_are_aborted() {
        let shutdown = Shutdown::new();
        let mut signal = shutdown.subscribe();
        assert!(!signal.is_triggered());
        shutdown.spawn("obeys", async move { signal.recv().await });
        // Holds a guard that is dropped only when the task is dropped.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        shutdown.spawn("stalls", async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        let drained = shutdown.drain(Duration::from_millis(200)).await;
        assert_eq!(
            drained,
            Drained {
                finished: 1,
                aborted: 1
            }
        );
        // The aborted task was dropped, not leaked.
        assert!(rx.await.is_err());
        assert!(shutdown.is_triggered());
        assert_eq!(shutdown.task_count(), 0);
    }

    #[tokio::test]
    async fn trigger_on_a_cause_and_late_subscribers_see_it() {
        let shutdown = Shutdown::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        shutdown.trigger_on(async move {
            let _ = rx.await;
        });
        tx.send(()).unwrap();
        let mut late = shutdown.subscribe();
        tokio::time::timeout(Duration::from_secs(5), late.recv())
            .await
            .expect("triggered");
        let drained = shutdown.drain(Duration::from_secs(5)).await;
        assert_eq!(drained.aborted, 0);
    }
}
