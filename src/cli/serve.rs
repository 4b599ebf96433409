//! `costbot serve`: the webhook, health and metrics endpoints until a signal.
//! Unlike the other commands it does not use `with_app`: `app::serve` builds
//! the app while already answering `/healthz`, and closes the store itself.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::shutdown::Shutdown;

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
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    // Logged under the binary's target, as before the commands moved out of main.rs.
    tracing::info!(target: "costbot", address = %listener.local_addr()?, "costbot is listening");
    let shutdown = Shutdown::new();
    shutdown.trigger_on(crate::shutdown::signal());
    crate::app::serve(config, None, listener, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
