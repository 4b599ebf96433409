//! `costbot serve`: the webhook, health and metrics endpoints until a signal.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::server::{self, AppState};

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
        let state = AppState::from_app(app)?;
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        // Logged under the binary's target, as before the commands moved out of main.rs.
        tracing::info!(target: "costbot", address = %listener.local_addr()?, "costbot is listening");
        server::serve(listener, state, server::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
    .await
}
