//! `costbot chat`: a multi-turn conversation in the terminal (or over stdin).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use chrono::NaiveDate;

use crate::app::App;
use crate::config::Config;
use crate::render;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub conversation: Option<String>,
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        conversation,
        as_of,
    } = args;
    super::with_app(config, as_of, async move |app| {
        chat(app, conversation).await?;
        Ok(ExitCode::SUCCESS)
    })
    .await
}

async fn chat(app: &App, conversation: Option<String>) -> anyhow::Result<()> {
    let mut conversation = conversation;
    let stdin = std::io::stdin();
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    if interactive {
        println!("costbot chat. Ask about your AWS bill; 'help' for examples, 'exit' to leave.");
        if app.agent.tools().source.is_sample() {
            println!("(Using the built-in SAMPLE organization: no AWS account is connected.)");
        }
    }
    loop {
        if interactive {
            print!("\n> ");
            std::io::stdout().flush()?;
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if matches!(text, "exit" | "quit" | ":q") {
            break;
        }
        match app
            .agent
            .handle(super::inquiry(conversation.clone(), text.to_string()))
            .await
        {
            Ok(answer) => {
                conversation = Some(answer.conversation_id.clone());
                println!("{}", render::markdown::render(&answer));
            }
            Err(e) => {
                if e.conversation_id.is_some() {
                    conversation = e.conversation_id.clone();
                }
                super::print_error(&e, false);
            }
        }
    }
    if let Some(c) = conversation {
        eprintln!("(conversation {c}; continue it with --conversation {c})");
    }
    Ok(())
}
