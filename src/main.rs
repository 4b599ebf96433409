//! The `costbot` binary: parses the command line and hands each command to
//! its module in `costbot::cli`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use costbot::cli;

#[derive(Parser)]
#[command(
    name = "costbot",
    version,
    about = "Answers questions about an AWS bill with Cost Explorer's own numbers."
)]
struct Cli {
    /// Config file (default: ./costbot.toml if present; env COSTBOT_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ask one question and print the answer.
    Ask(cli::ask::Args),
    /// Talk to costbot in the terminal (multi-turn).
    Chat(cli::chat::Args),
    /// Serve the webhook, health and metrics endpoints.
    Serve(cli::serve::Args),
    /// Index the optimization guides (done automatically at start-up too).
    Index(cli::index::Args),
    /// Evaluate parts of costbot against a question set.
    Eval(cli::eval::Args),
    /// Show the effective configuration and what is ready.
    Doctor(cli::doctor::Args),
    /// Scheduled digests: preview, post once, list.
    Digest(cli::digest::Args),
    /// Print the tool definitions (JSON Schemas) a model is given.
    Tools(cli::tools::Args),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COSTBOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,costbot=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    if let Command::Tools(args) = cli.command {
        return cli::tools::run(args);
    }
    let config = cli::load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Ask(args) => cli::ask::run(config, args).await,
        Command::Chat(args) => cli::chat::run(config, args).await,
        Command::Serve(args) => cli::serve::run(config, args).await,
        Command::Index(args) => cli::index::run(config, args).await,
        Command::Eval(args) => cli::eval::run(config, args).await,
        Command::Doctor(args) => cli::doctor::run(config, args).await,
        Command::Digest(args) => cli::digest::run(config, args).await,
        Command::Tools(_) => unreachable!("handled before the configuration is loaded"),
    }
}
