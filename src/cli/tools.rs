//! `costbot tools`: the tool definitions (OpenAI function-calling shape, with
//! their JSON Schemas) exactly as a model is given them, for checking a model
//! server by hand or wiring another client.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print as JSON (the only format; kept explicit for scripts).
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::agent::tools::definitions())?
    );
    Ok(ExitCode::SUCCESS)
}
