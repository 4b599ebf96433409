//! Retrieval benchmark: time to index the corpus from scratch and
//! incrementally, and query latency p50/p99 per mode, with the embedded
//! store and, when QDRANT_URL is set, with Qdrant (a collection of its own,
//! deleted afterwards).
//!
//! `cargo bench --bench retrieval` runs it in full and prints a report.
//! Under `cargo test --all-targets` (no `--bench` argument) it runs one quick
//! pass so the code stays working without slowing the test suite.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use costbot::config::RetrievalMode;
use costbot::retrieval::dense::{default_model_dir, missing_files, DenseIndex, Embedder};
use costbot::retrieval::eval::{load_questions, Question};
use costbot::retrieval::qdrant::QdrantStore;
use costbot::retrieval::{guides, Guide, GuideIndex, LexicalIndex};
use costbot::store::Store;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 5 } else { 1 };
    let model_dir = std::env::var("COSTBOT_MODEL_DIR")
        .map(std::path::PathBuf::from)
        .ok()
        .or_else(default_model_dir);
    let model_dir = model_dir.filter(|d| missing_files(d).is_empty());
    let embedder = model_dir
        .as_ref()
        .map(|d| Arc::new(Embedder::load(d).expect("model loads")));
    let guides = guides::load(None).unwrap();
    let questions = load_questions(Path::new("tests/retrieval_questions.jsonl")).unwrap();
    let questions = if full {
        questions
    } else {
        questions.into_iter().take(5).collect()
    };

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
    let dense = embedder
        .clone()
        .map(|e| Arc::new(DenseIndex::new(store.clone(), e)));
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        dense.clone(),
        None,
        RetrievalMode::Hybrid,
    );

    println!(
        "costbot retrieval benchmark ({} guides, {} questions, {} rounds)",
        guides.len(),
        questions.len(),
        rounds
    );
    println!(
        "model: {}",
        embedder
            .as_ref()
            .map(|e| e.model_id.clone())
            .unwrap_or_else(|| "none (lexical only; run scripts/fetch-model.sh)".into())
    );

    let t = Instant::now();
    let s = index.sync(&guides, &|_, _| {}).await.unwrap();
    let scratch = t.elapsed();
    println!(
        "index from scratch: {} ({} chunks, {} embedded)",
        ms(scratch),
        s.lexical.chunks,
        s.dense.as_ref().map(|d| d.embedded).unwrap_or(0)
    );

    // Incremental: one guide gains a sentence in one section.
    let mut edited = guides.clone();
    let g = edited
        .iter_mut()
        .find(|g| g.path == "nat-gateway.md")
        .expect("the NAT guide exists");
    g.body = g
        .body
        .replacen("## ", "An extra sentence for the benchmark.\n\n## ", 1);
    let t = Instant::now();
    let s = index.sync(&edited, &|_, _| {}).await.unwrap();
    println!(
        "index incrementally (1 guide edited): {} ({} guide updated, {} chunks embedded)",
        ms(t.elapsed()),
        s.lexical.updated,
        s.dense.as_ref().map(|d| d.embedded).unwrap_or(0)
    );
    let t = Instant::now();
    index.sync(&edited, &|_, _| {}).await.unwrap();
    println!("index with nothing changed: {}", ms(t.elapsed()));

    let modes: Vec<RetrievalMode> = if dense.is_some() {
        vec![
            RetrievalMode::Lexical,
            RetrievalMode::Dense,
            RetrievalMode::Hybrid,
        ]
    } else {
        vec![RetrievalMode::Lexical]
    };
    latencies(&index, &questions, rounds, &modes).await;

    match (std::env::var("QDRANT_URL"), model_dir) {
        (Err(_), _) => println!("qdrant: skipped (QDRANT_URL is not set)"),
        (Ok(_), None) => println!("qdrant: skipped (no embedding model)"),
        (Ok(url), Some(dir)) => {
            // A model of its own: the embedded run's has every question's
            // vector cached, which would spare Qdrant's queries the embedding.
            let e = Arc::new(Embedder::load(&dir).expect("model loads"));
            qdrant(&url, &store, e, &guides, &edited, &questions, rounds).await
        }
    }
    store.close().await;
}

/// Query latency per mode, `rounds` times over the questions, as the Agent
/// asks (top 5).
async fn latencies(
    index: &GuideIndex,
    questions: &[Question],
    rounds: usize,
    modes: &[RetrievalMode],
) {
    println!("{:<8} {:>10} {:>10} {:>10}", "mode", "p50", "p99", "max");
    for &mode in modes {
        let mut times = Vec::new();
        for _ in 0..rounds {
            for q in questions {
                let t = Instant::now();
                let hits = index.search_mode(&q.question, &[], 5, mode).await.unwrap();
                times.push(t.elapsed());
                std::hint::black_box(hits);
            }
        }
        times.sort();
        println!(
            "{:<8} {:>10} {:>10} {:>10}",
            format!("{mode:?}").to_lowercase(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
    }
}

/// The same corpus, questions, model and k with the vectors in Qdrant. The
/// vectors come from the same local embedder either way, so the embedding
/// already done above is reused and what is timed is Qdrant's part.
async fn qdrant(
    url: &str,
    store: &Store,
    embedder: Arc<Embedder>,
    guides: &[Guide],
    edited: &[Guide],
    questions: &[Question],
    rounds: usize,
) {
    let collection = format!("costbot_bench_{}", std::process::id());
    let client = qdrant_client::Qdrant::from_url(url)
        .skip_compatibility_check()
        .build()
        .unwrap();
    let q = QdrantStore::connect(url, None, &collection).unwrap();
    // As tests/qdrant.rs: no server is a skip, unless one is required (CI).
    let version = match q.server_version().await {
        Ok(v) => v,
        Err(e) if std::env::var("COSTBOT_REQUIRE_QDRANT").is_ok_and(|v| v == "1") => {
            panic!("COSTBOT_REQUIRE_QDRANT=1 but no Qdrant answers at {url}: {e}")
        }
        Err(e) => {
            println!("qdrant: skipped (no Qdrant answers at {url}: {e})");
            return;
        }
    };
    println!("qdrant {version} at {url}, collection {collection}");
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(Arc::new(DenseIndex::new(store.clone(), embedder))),
        Some(q),
        RetrievalMode::Hybrid,
    );
    let t = Instant::now();
    let s = index.sync(edited, &|_, _| {}).await.unwrap();
    let q = s.qdrant.unwrap();
    assert!(q.created_collection);
    println!(
        "qdrant index from scratch (empty collection, vectors already embedded): {} ({} points upserted)",
        ms(t.elapsed()),
        q.upserted
    );
    // Incremental: the guide edited above goes back to how it was.
    let t = Instant::now();
    let s = index.sync(guides, &|_, _| {}).await.unwrap();
    println!(
        "qdrant index incrementally (1 guide edited): {} ({} guide updated, {} chunks embedded, {} points upserted, {} deleted)",
        ms(t.elapsed()),
        s.lexical.updated,
        s.dense.as_ref().map(|d| d.embedded).unwrap_or(0),
        s.qdrant.as_ref().map(|q| q.upserted).unwrap_or(0),
        s.qdrant.as_ref().map(|q| q.deleted).unwrap_or(0)
    );
    let t = Instant::now();
    let s = index.sync(guides, &|_, _| {}).await.unwrap();
    let q = s.qdrant.unwrap();
    assert_eq!((q.upserted, q.deleted), (0, 0));
    println!("qdrant index with nothing changed: {}", ms(t.elapsed()));
    latencies(
        &index,
        questions,
        rounds,
        &[RetrievalMode::Dense, RetrievalMode::Hybrid],
    )
    .await;
    client.delete_collection(&collection).await.unwrap();
}
