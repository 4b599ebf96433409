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
        /// Where dense search looks: the embedded store (SQLite) or Qdrant
        /// (needs QDRANT_URL). Default: as configured.
        #[arg(long, value_enum)]
        store: Option<VectorStore>,
    },
    /// Accuracy of the rules planner per intent and slot, asking back, and
    /// the right guide in the top three for advice.
    Planner {
        /// JSON lines of labelled questions (see tests/planner_questions.jsonl).
        #[arg(long)]
        questions: PathBuf,
        /// The day the labels assume.
        #[arg(long, default_value = "2026-11-19")]
        today: chrono::NaiveDate,
        /// List every question that was not exactly right.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VectorStore {
    Embedded,
    Qdrant,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Retrieval {
            questions,
            k,
            store,
        } => retrieval(config, &questions, k, store).await,
        What::Planner {
            questions,
            today,
            verbose,
        } => planner(config, &questions, today, verbose).await,
    }
}

async fn planner(
    mut config: Config,
    questions: &std::path::Path,
    today: chrono::NaiveDate,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    use crate::agent::eval::{evaluate, load};
    use crate::agent::{PlanContext, RulesPlanner, ToolOutput};
    let labelled = load(questions)?;
    // The labels describe the sample organization.
    config.source = crate::config::SourceKind::Sample;
    super::with_app(config, Some(today), async |app| {
        let ctx = PlanContext::for_tests_on(today);
        let tools = app.agent.tools();
        let report = evaluate(&RulesPlanner, &labelled, &ctx, |plan| async move {
            let call = plan.calls.iter().find(|c| c.name == "search_guides")?;
            match tools.call(&call.name, &call.arguments, today).await {
                Ok(ToolOutput::Guides { hits }) => {
                    Some(hits.into_iter().map(|h| h.guide).collect())
                }
                _ => None,
            }
        })
        .await;
        if verbose {
            for o in report.outcomes.iter().filter(|o| !o.misses.is_empty()) {
                let q = labelled
                    .iter()
                    .find(|l| l.id == o.id)
                    .map(|l| l.q.as_str())
                    .unwrap_or("");
                println!("{} {q:?}\n    {}", o.id, o.misses.join("\n    "));
            }
            println!();
        }
        println!(
            "guide search: {}",
            if app.guides.has_dense() {
                "hybrid (lexical and dense)".to_string()
            } else {
                format!(
                    "lexical only ({})",
                    app.dense_status.clone().unwrap_or_default()
                )
            }
        );
        println!(
            "{} questions, {} exactly right ({:.1}%)",
            report.exact.total,
            report.exact.right,
            100.0 * report.exact.share()
        );
        println!(
            "asked back when they must be: {}/{} ({:.1}%); answers asked back instead: {}",
            report.asked_back.right,
            report.asked_back.total,
            100.0 * report.asked_back.share(),
            report.wrongly_asked_back
        );
        println!(
            "right guide in the top 3: {}/{} ({:.1}%)",
            report.guide_top3.right,
            report.guide_top3.total,
            100.0 * report.guide_top3.share()
        );
        for (style, t) in &report.guide_top3_by_style {
            println!(
                "  {style:<10} {}/{} ({:.1}%)",
                t.right,
                t.total,
                100.0 * t.share()
            );
        }
        println!("{:<12} {:>8} {:>8}", "intent", "right", "share");
        for (k, t) in &report.per_intent {
            println!(
                "{:<12} {:>4}/{:<3} {:>7.1}%",
                k,
                t.right,
                t.total,
                100.0 * t.share()
            );
        }
        println!("{:<12} {:>8} {:>8}", "slot", "right", "share");
        for (k, t) in &report.per_slot {
            println!(
                "{:<12} {:>4}/{:<3} {:>7.1}%",
                k,
                t.right,
                t.total,
                100.0 * t.share()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
    .await
}

async fn retrieval(
    mut config: Config,
    questions: &std::path::Path,
    k: usize,
    store: Option<VectorStore>,
) -> anyhow::Result<ExitCode> {
    match store {
        Some(VectorStore::Embedded) => config.retrieval.qdrant_url = None,
        Some(VectorStore::Qdrant) if config.retrieval.qdrant_url.is_none() => anyhow::bail!(
            "--store qdrant needs a Qdrant server: set QDRANT_URL (its gRPC port, e.g. http://127.0.0.1:6334) or retrieval.qdrant_url in costbot.toml"
        ),
        _ => {}
    }
    super::with_app(config, None, async |app| {
        let questions = load_questions(questions)?;
        // Qdrant is in use only when the model is (it stores the model's vectors).
        match (&app.config.retrieval.qdrant_url, &app.index.qdrant) {
            (Some(url), Some(_)) => println!(
                "vectors: Qdrant at {url}, collection {}",
                app.config.retrieval.qdrant_collection
            ),
            _ if app.guides.has_dense() => println!("vectors: embedded store (SQLite)"),
            _ => {}
        }
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
