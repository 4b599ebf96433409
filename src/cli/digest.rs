//! `costbot digest preview|post|list`: a digest printed without posting,
//! posted once for a date, and the subscriptions with their runs.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::digest::{Digests, Posted};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a digest without posting it (the first subscription, or a default one, when no name is given).
    Preview {
        name: Option<String>,
        /// The digest's date (its data runs through the day before); default today.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[arg(long)]
        json: bool,
    },
    /// Post a digest for a date, once: a second post for the same name and date posts nothing.
    Post {
        name: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Subscriptions, their next run times and their last runs.
    List,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let as_of = match &args.command {
        Command::Preview { as_of, .. } | Command::Post { as_of, .. } => *as_of,
        Command::List => None,
    };
    super::with_app(config, as_of, async |app: &App| {
        let digests = app.digests(Arc::new(SystemClock))?;
        let today = app.agent.today();
        match args.command {
            Command::Preview { name, json, .. } => preview(&digests, name, today, json).await,
            Command::Post { name, .. } => post(&digests, &name, today).await,
            Command::List => list(&digests).await,
        }
    })
    .await
}

async fn preview(
    digests: &Digests,
    name: Option<String>,
    date: NaiveDate,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let sub = match name {
        Some(n) => digests.subscription(&n).await?,
        None => match digests.subscriptions().await?.into_iter().next() {
            Some(s) => s,
            // Nothing configured yet: show what a whole-bill digest would say.
            None => crate::digest::Subscription::from_config(
                &crate::digest::DigestConfig {
                    name: "preview".into(),
                    schedule: "daily 09:00".into(),
                    time_zone: None,
                    destination: "slack:#preview".into(),
                    secret: None,
                    scope: Default::default(),
                    budget: None,
                },
                "UTC",
                &|_| None,
            )?,
        },
    };
    let (built, png) = digests.preview(&sub, date).await?;
    if json {
        let mut v = crate::render::json::render(&built.answer);
        v["chart"] = serde_json::json!({ "series": built.chart, "png_bytes": png.len() });
        v["cost_explorer_requests"] = built.ce_requests.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", crate::render::markdown::render(&built.answer));
        println!(
            "(chart: {} services over {} days, {} bytes of PNG; {} Cost Explorer requests)",
            built.chart.series.len(),
            built.chart.days.len(),
            png.len(),
            built.ce_requests
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn post(digests: &Digests, name: &str, date: NaiveDate) -> anyhow::Result<ExitCode> {
    Ok(match digests.post(name, date).await? {
        Posted::Delivered(run) => {
            println!(
                "delivered: {name} for {date} (run {}, {} attempt(s), {} Cost Explorer requests; {})",
                run.id,
                run.attempts,
                run.ce_requests.unwrap_or(0),
                run.receipt.unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Posted::AlreadyDelivered(run) => {
            println!(
                "already delivered: {name} for {date} (run {}); nothing posted",
                run.id
            );
            ExitCode::SUCCESS
        }
        Posted::Busy(run) => {
            eprintln!(
                "not posted: another costbot process ({}) is delivering {name} for {date} (run {}, {}); `costbot digest list` shows how it ends",
                run.claimed_by.as_deref().and_then(|c| c.split(':').next()).map(|p| format!("pid {p}")).unwrap_or_default(),
                run.id,
                run.state.as_str()
            );
            ExitCode::from(1)
        }
        Posted::NotDelivered(run) => {
            eprintln!(
                "not delivered: {name} for {date} is {} after {} attempt(s): {}",
                run.state.as_str(),
                run.attempts,
                run.last_error.unwrap_or_default()
            );
            ExitCode::from(1)
        }
    })
}

async fn list(digests: &Digests) -> anyhow::Result<ExitCode> {
    let subs = digests.subscriptions().await?;
    if subs.is_empty() {
        println!("No digests. Add a [[digests]] table to costbot.toml, or `/cost digest subscribe daily 09:00 Europe/Paris` in Slack.");
    }
    let now = SystemClock.now();
    for s in subs {
        let next = s.schedule.next_after(now, s.tz);
        println!(
            "{}  {} {}  -> {}  ({:?}; next: {} {})",
            s.name,
            s.schedule,
            s.tz.name(),
            s.destination,
            s.origin,
            next.at.with_timezone(&s.tz).format("%Y-%m-%d %H:%M %Z"),
            next.period
        );
        for r in digests.store.digest_recent_runs(&s.name, 5).await? {
            println!(
                "    {}  {:<10} {}{}{}",
                r.period,
                r.state.as_str(),
                if r.delayed { "delayed " } else { "" },
                r.ce_requests
                    .map(|n| format!("{n} CE requests "))
                    .unwrap_or_default(),
                r.last_error.map(|e| format!("({e})")).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
