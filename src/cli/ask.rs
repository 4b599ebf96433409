//! `costbot ask`: one question, one answer on stdout.

use std::process::ExitCode;

use chrono::NaiveDate;

use crate::config::Config;
use crate::render;

#[derive(clap::Args)]
pub struct Args {
    pub question: String,
    /// Print the structured answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Continue a conversation.
    #[arg(long)]
    pub conversation: Option<String>,
    /// Answer as if today were this date (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
}

/// Exit code 0 with an answer, 2 when the agent could not answer.
pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        question,
        json,
        conversation,
        as_of,
    } = args;
    super::with_app(config, as_of, async move |app| {
        match app
            .agent
            .handle(super::inquiry(conversation, question))
            .await
        {
            Ok(answer) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&render::json::render(&answer))?
                    );
                } else {
                    print!("{}", render::markdown::render(&answer));
                    eprintln!("(conversation {})", answer.conversation_id);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                super::print_error(&e, json);
                if let Some(c) = &e.conversation_id {
                    eprintln!("(conversation {c})");
                }
                Ok(ExitCode::from(2))
            }
        }
    })
    .await
}
