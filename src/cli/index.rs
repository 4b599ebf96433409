//! `costbot index`: brings the guide index up to date and says what changed.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Also write the guide vectors to this file (or `<dir>/<model-id>.bin`
    /// for a directory), e.g. knowledge/embeddings to refresh the shipped ones.
    #[arg(long, value_name = "PATH")]
    pub export_embeddings: Option<PathBuf>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    super::with_app_reporting(config, None, &progress, async move |app| {
        let s = &app.index;
        println!(
            "Guides: {} added, {} updated, {} removed, {} unchanged; {} chunks in the lexical index (SQLite FTS5).",
            s.lexical.added, s.lexical.updated, s.lexical.removed, s.lexical.unchanged, s.lexical.chunks
        );
        match &s.dense {
            Some(d) => println!("Dense: {} chunks embedded, {} reused from earlier runs, {} from shipped vectors, {} stale vectors removed.", d.embedded, d.reused, d.imported, d.pruned),
            None => println!("Dense: off ({}).", app.dense_status.clone().unwrap_or_default()),
        }
        if let Some(path) = &args.export_embeddings {
            let Some(vectors) = app.guides.export_vectors().await? else {
                anyhow::bail!(
                    "--export-embeddings needs the embedding model: {}",
                    app.dense_status.clone().unwrap_or_default()
                );
            };
            let written = vectors.write(path)?;
            println!(
                "Exported {} vectors of model {} to {}.",
                vectors.len(),
                vectors.model(),
                written.display()
            );
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
        Ok(ExitCode::SUCCESS)
    })
    .await
}

/// A progress bar on stderr for the chunks being embedded.
fn progress(done: usize, total: usize) {
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
}
