//! Runs digests exactly once per (subscription, period): plans runs from the
//! schedules (one ahead, and missed ones after downtime within the catch-up
//! window; older ones recorded as skipped), then moves each open run along
//! planned -> built -> delivering -> delivered | failed. A run found in
//! `delivering` after a restart is sent again with the same body and the
//! same idempotency key (its id), so a receiver that dedupes on it shows
//! one post.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::builder::{self, Built};
use super::chart;
use super::deliver::{Deliverer, SendError};
use super::subscription::Subscription;
use crate::agent::{Agent, ToolError};
use crate::clock::Clock;
use crate::store::digests::{DigestRun, RunState};
use crate::store::{Store, StoreError};

/// How long a claim on a run holds without its process being seen gone.
const CLAIM: i64 = 10 * 60;

/// This process, as it signs its claims on runs: "<pid>:<uuid>".
pub fn process_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{}:{}", std::process::id(), uuid::Uuid::new_v4()))
}

/// Whether the process that signed `claim` is gone (the database is a local
/// file, so its processes are on this machine).
fn holder_gone(claim: &str) -> bool {
    let Some(pid) = claim.split(':').next().and_then(|p| p.parse::<i32>().ok()) else {
        return true;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// A run planned later than this after its time says it was delayed.
const GRACE: i64 = 5 * 60;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the digest failed: {0}")]
    Build(#[from] ToolError),
    #[error("no digest is named '{0}'; `costbot digest list` shows them")]
    Unknown(String),
    #[error("the stored digest is unreadable: {0}")]
    Corrupt(String),
}

/// How failed builds and deliveries are retried: the Slack outbox's policy
/// (base, doubling, at most an hour). The run row itself is the digest's
/// outbox entry (attempts, next attempt, last error), so "delivered" and
/// "dequeued" are one statement.
pub type Retry = crate::channels::slack::deliver::RetryPolicy;

pub struct Digests {
    pub store: Store,
    /// The chat Agent: its tools, cache and clock are the digests' too.
    pub agent: Arc<Agent>,
    pub config_subscriptions: Vec<Subscription>,
    pub clock: Arc<dyn Clock>,
    pub deliverer: Deliverer,
    pub retry: Retry,
    pub catch_up: Duration,
    /// Who this runner is in claims on runs ([`process_id`]).
    pub me: String,
}

/// What `post` did.
#[derive(Debug)]
pub enum Posted {
    Delivered(DigestRun),
    AlreadyDelivered(DigestRun),
    /// Failed for good, or still waiting for a retry.
    NotDelivered(DigestRun),
    /// Another costbot process (a running `serve`) is moving this run.
    Busy(DigestRun),
}

/// A crash injected at a named point (tests only): the process kills itself
/// with SIGKILL, as `kill -9` would.
fn crash_point(point: &str) {
    if std::env::var("COSTBOT_DIGEST_CRASH_AT").as_deref() == Ok(point) {
        tracing::warn!(point, "COSTBOT_DIGEST_CRASH_AT: killing costbot");
        // SAFETY: kill(2) on our own pid; nothing is touched afterwards.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

impl Digests {
    /// Subscriptions from the config and from chat (config wins on a name).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, DigestError> {
        let mut all = self.config_subscriptions.clone();
        for s in self.store.digest_subscriptions().await? {
            if all.iter().any(|c| c.name == s.name) {
                continue;
            }
            match Subscription::from_stored(&s) {
                Ok(sub) => all.push(sub),
                Err(e) => {
                    tracing::warn!(name = %s.name, error = %e, "unreadable chat subscription")
                }
            }
        }
        Ok(all)
    }

    pub async fn subscription(&self, name: &str) -> Result<Subscription, DigestError> {
        self.subscriptions()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| DigestError::Unknown(name.to_string()))
    }

    /// Plans what is due by `now` and the next run of every subscription.
    pub async fn plan(&self, now: DateTime<Utc>) -> Result<(), DigestError> {
        for sub in self.subscriptions().await? {
            // A new subscription starts now: nothing before it is owed.
            let from = self
                .store
                .digest_last_scheduled(&sub.name)
                .await?
                .unwrap_or(now);
            for o in sub.schedule.between(from, now, sub.tz, 400) {
                let period = o.period.to_string();
                if o.at < now - self.catch_up {
                    let run = self
                        .store
                        .digest_skip(
                            &sub.name,
                            &period,
                            o.at,
                            "skipped (too late): costbot was down past the catch-up window",
                        )
                        .await?;
                    tracing::warn!(subscription = %sub.name, period, state = run.state.as_str(), "digest missed while costbot was down");
                } else {
                    self.store
                        .digest_plan(&sub.name, &period, o.at, false)
                        .await?;
                }
            }
            let next = sub.schedule.next_after(now.max(from), sub.tz);
            self.store
                .digest_plan(&sub.name, &next.period.to_string(), next.at, false)
                .await?;
        }
        Ok(())
    }

    /// Plans, then moves every open run that is due as far as it goes now.
    pub async fn tick(&self) -> Result<(), DigestError> {
        let now = self.clock.now();
        self.plan(now).await?;
        let subs = self.subscriptions().await?;
        for run in self.store.digest_open_runs(now).await? {
            let Some(sub) = subs.iter().find(|s| s.name == run.subscription) else {
                continue;
            };
            if let Err(e) = self.advance(sub, run, false).await {
                tracing::warn!(subscription = %sub.name, error = %e, "digest run did not advance");
            }
        }
        Ok(())
    }

    /// Builds the digest for `date` without recording anything.
    pub async fn preview(
        &self,
        sub: &Subscription,
        date: NaiveDate,
    ) -> Result<(Built, Vec<u8>), DigestError> {
        let built = builder::build(self.agent.tools(), sub, date, None).await?;
        let png = chart::draw(&built.chart);
        Ok((built, png))
    }

    /// Posts `name`'s digest for `date` now, unless that run was delivered;
    /// resumes a run a crash left behind; waits out retries.
    pub async fn post(&self, name: &str, date: NaiveDate) -> Result<Posted, DigestError> {
        let sub = self.subscription(name).await?;
        let at = sub.schedule.instant_on(date, sub.tz);
        let run = self
            .store
            .digest_plan(&sub.name, &date.to_string(), at, false)
            .await?;
        crash_point("planned");
        if run.state == RunState::Delivered {
            return Ok(Posted::AlreadyDelivered(run));
        }
        let mut run = self.advance_now(&sub, run).await?;
        if run.claimed_by.as_deref() != Some(self.me.as_str()) && run.state != RunState::Delivered {
            return Ok(Posted::Busy(run));
        }
        while run.state == RunState::Delivering && run.attempts < self.retry.max_attempts {
            tokio::time::sleep(self.retry.delay(run.attempts)).await;
            run = self.advance_now(&sub, run).await?;
        }
        Ok(match run.state {
            RunState::Delivered => Posted::Delivered(run),
            _ => Posted::NotDelivered(run),
        })
    }

    /// `advance`, then the run as stored.
    async fn advance_now(
        &self,
        sub: &Subscription,
        run: DigestRun,
    ) -> Result<DigestRun, DigestError> {
        let (name, period) = (run.subscription.clone(), run.period.clone());
        self.advance(sub, run, true).await?;
        self.store
            .digest_run(&name, &period)
            .await?
            .ok_or_else(|| DigestError::Corrupt("a digest run vanished".into()))
    }

    /// Moves one run as far as it goes: to delivered, failed, or a retry
    /// later. A `manual` run (asked for by name and date) is never too late
    /// and never delayed.
    pub async fn advance(
        &self,
        sub: &Subscription,
        mut run: DigestRun,
        manual: bool,
    ) -> Result<(), DigestError> {
        // One process moves a run at a time (`serve`'s scheduler and a
        // `digest post` may both find it); a crashed holder does not block.
        let now = self.clock.now();
        let stale = run
            .claimed_by
            .as_deref()
            .filter(|c| *c != self.me && holder_gone(c));
        if !self
            .store
            .digest_claim(
                &run.id,
                &self.me,
                now,
                now + Duration::seconds(CLAIM),
                stale,
            )
            .await?
        {
            tracing::info!(subscription = %sub.name, period = %run.period, holder = ?run.claimed_by, "another costbot process is moving this digest run");
            return Ok(());
        }
        loop {
            let now = self.clock.now();
            match run.state {
                RunState::Delivered | RunState::Failed => return Ok(()),
                RunState::Planned => {
                    if !manual && run.scheduled_for < now - self.catch_up {
                        self.store
                            .digest_build_failed(
                                &run.id,
                                "skipped (too late): costbot was down past the catch-up window",
                            )
                            .await?;
                        return Ok(());
                    }
                    let late = !manual && (now - run.scheduled_for).num_seconds() > GRACE;
                    let date: NaiveDate = run
                        .period
                        .parse()
                        .map_err(|_| DigestError::Corrupt(format!("period '{}'", run.period)))?;
                    let built = match builder::build(
                        self.agent.tools(),
                        sub,
                        date,
                        late.then_some(run.scheduled_for),
                    )
                    .await
                    {
                        Ok(b) => b,
                        // Cost Explorer busy or down: build again later, within the attempts.
                        Err(e) if passing(&e) && run.attempts + 1 < self.retry.max_attempts => {
                            let next = now
                                + Duration::from_std(self.retry.delay(run.attempts + 1))
                                    .unwrap_or_default();
                            self.store
                                .digest_build_retry(&run.id, &e.to_string(), next)
                                .await?;
                            return Err(e.into());
                        }
                        Err(e) => {
                            self.store
                                .digest_build_failed(&run.id, &e.to_string())
                                .await?;
                            return Err(e.into());
                        }
                    };
                    let png = chart::draw(&built.chart);
                    let content = serde_json::to_string(&built)
                        .map_err(|e| DigestError::Corrupt(e.to_string()))?;
                    self.store
                        .digest_built(&run.id, &content, Some(&png), built.ce_requests, late)
                        .await?;
                    crash_point("built");
                }
                RunState::Built => {
                    self.store.digest_delivering(&run.id).await?;
                    crash_point("delivering");
                }
                RunState::Delivering => {
                    let built: Built = serde_json::from_str(run.content.as_deref().unwrap_or(""))
                        .map_err(|e| DigestError::Corrupt(e.to_string()))?;
                    match self
                        .deliverer
                        .send(sub, &run, &built, run.chart.as_deref())
                        .await
                    {
                        Ok(receipt) => {
                            crash_point("sent");
                            self.store.digest_delivered(&run.id, &receipt).await?;
                            tracing::info!(subscription = %sub.name, period = %run.period, %receipt, "digest delivered");
                        }
                        Err(e) => {
                            let attempts = run.attempts + 1;
                            let next = match &e {
                                SendError::Transient(_) if attempts < self.retry.max_attempts => {
                                    Some(
                                        now + Duration::from_std(self.retry.delay(attempts))
                                            .unwrap_or_default(),
                                    )
                                }
                                _ => None,
                            };
                            self.store
                                .digest_attempt_failed(&run.id, &e.to_string(), next)
                                .await?;
                            tracing::warn!(subscription = %sub.name, period = %run.period, attempts, error = %e, "digest not delivered");
                        }
                    }
                    return Ok(());
                }
            }
            run = self
                .store
                .digest_run(&run.subscription, &run.period)
                .await?
                .ok_or_else(|| DigestError::Corrupt("a digest run vanished".into()))?;
        }
    }
}

/// A build failure worth trying again later.
fn passing(e: &ToolError) -> bool {
    use crate::costs::CostError;
    matches!(
        e,
        ToolError::Cost(CostError::Throttled | CostError::Service(_) | CostError::Cache(_))
    )
}

/// The scheduler inside `costbot serve`: a tick every `every` until shutdown.
pub async fn run_scheduler(
    digests: Arc<Digests>,
    every: StdDuration,
    mut signal: crate::shutdown::Signal,
) {
    loop {
        if let Err(e) = digests.tick().await {
            tracing::warn!(error = %e, "digest scheduler pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = signal.recv() => return,
        }
    }
}
