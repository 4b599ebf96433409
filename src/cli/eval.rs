//! `costbot eval`: measures parts of costbot against a question set.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, RetrievalMode};
use crate::retrieval::eval::{evaluate, load_questions};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand)]
pub enum What {
    /// Recall@1, recall@5 and MRR of lexical, dense and hybrid retrieval.
    Retrieval {
        /// JSON lines: {"question": "...", "relevant": ["guide.md", ...]}
        #[arg(long)]
        questions: PathBuf,
        /// How deep to look for the reciprocal rank.
        #[arg(long, default_value_t = 10)]
        k: usize,
    },
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Retrieval { questions, k } => retrieval(config, &questions, k).await,
    }
}

async fn retrieval(
    config: Config,
    questions: &std::path::Path,
    k: usize,
) -> anyhow::Result<ExitCode> {
    super::with_app(config, None, async |app| {
        let questions = load_questions(questions)?;
        println!("{} questions; success@k = share of questions with a relevant guide in the top k; MRR over the top {k}.", questions.len());
        println!(
            "{:<8} {:>10} {:>10} {:>8}",
            "mode", "recall@1", "recall@5", "MRR"
        );
        for mode in [
            RetrievalMode::Lexical,
            RetrievalMode::Dense,
            RetrievalMode::Hybrid,
        ] {
            if mode != RetrievalMode::Lexical && !app.guides.has_dense() {
                println!(
                    "{:<8} skipped: {}",
                    format!("{mode:?}").to_lowercase(),
                    app.dense_status.clone().unwrap_or_default()
                );
                continue;
            }
            let r = evaluate(&app.guides, &questions, mode, k).await?;
            println!(
                "{:<8} {:>10.3} {:>10.3} {:>8.3}",
                format!("{mode:?}").to_lowercase(),
                r.recall_at_1,
                r.recall_at_5,
                r.mrr
            );
        }
        Ok(ExitCode::SUCCESS)
    })
    .await
}
