//! `costbot serve`: the webhook, health and metrics endpoints until a signal.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::{channels, server};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (default from config: 127.0.0.1:8080).
    #[arg(long)]
    pub bind: Option<String>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let bind = args.bind.unwrap_or_else(|| config.server.bind.clone());
    // Check tokens before anything else starts.
    config.webhook_tokens()?;
    super::with_app(config, None, async move |app| {
        let metrics = Metrics::new();
        let router = server::router(
            channels::routers(app, &metrics)?,
            server::Health::from_app(app, metrics.clone()),
        );
        let options = server::ServerOptions::from_config(&app.config.server);
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        // Logged under the binary's target, as before the commands moved out of main.rs.
        tracing::info!(target: "costbot", address = %listener.local_addr()?, "costbot is listening");
        let shutdown = Shutdown::new();
        shutdown.trigger_on(crate::shutdown::signal());
        let served =
            server::serve(listener, router, options.clone(), metrics, shutdown.clone()).await;
        shutdown.drain(options.drain).await;
        served?;
        Ok(ExitCode::SUCCESS)
    })
    .await
}
