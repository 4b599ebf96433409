//! Qdrant as the vector store, against a real server at QDRANT_URL (`.ci/run`
//! starts `../shared/bin/qdrant` on loopback and sets COSTBOT_REQUIRE_QDRANT=1,
//! so there a missing server fails the test; elsewhere the test says it was
//! skipped).

#[path = "common/model.rs"]
mod model;

use std::sync::Arc;

use costbot::config::RetrievalMode;
use costbot::retrieval::dense::{DenseIndex, Embedder};
use costbot::retrieval::qdrant::QdrantStore;
use costbot::retrieval::{guides, GuideIndex, LexicalIndex, Retriever};
use costbot::store::Store;

/// QDRANT_URL when a server answers there; otherwise None after saying
/// why, or a failure when COSTBOT_REQUIRE_QDRANT=1.
async fn qdrant_url(test: &str) -> Option<String> {
    let required = std::env::var("COSTBOT_REQUIRE_QDRANT").is_ok_and(|v| v == "1");
    let problem = match std::env::var("QDRANT_URL") {
        Err(_) => "QDRANT_URL is not set".to_string(),
        Ok(url) => match QdrantStore::connect(&url, None, "unused") {
            Err(e) => format!("{url}: {e}"),
            Ok(q) => match q.server_version().await {
                Ok(_) => return Some(url),
                Err(e) => format!("no Qdrant server answers at {url}: {e}"),
            },
        },
    };
    if required {
        panic!("{test}: COSTBOT_REQUIRE_QDRANT=1 but {problem} (bash .ci/run starts ../shared/bin/qdrant)");
    }
    eprintln!("SKIPPED {test}: {problem}");
    None
}

#[tokio::test]
async fn qdrant_upserts_filters_and_deletes_stale_chunks() {
    let Some(url) = qdrant_url("qdrant_upserts_filters_and_deletes_stale_chunks").await else {
        return;
    };
    let Some(dir) = model::model_dir("qdrant_upserts_filters_and_deletes_stale_chunks") else {
        return;
    };
    let embedder = Arc::new(Embedder::load(&dir).unwrap());
    let collection = format!("costbot_test_{}", std::process::id());
    let data = tempfile::tempdir().unwrap();
    let knowledge = model::three_guides();
    let store = Store::open(&data.path().join("q.db")).await.unwrap();
    let dense = Arc::new(DenseIndex::new(store.clone(), embedder.clone()));
    let qdrant = QdrantStore::connect(&url, None, &collection).unwrap();
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(dense),
        Some(qdrant),
        RetrievalMode::Dense,
    );
    let s = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    let q = s.qdrant.unwrap();
    assert!(q.created_collection);
    assert_eq!(q.upserted, s.lexical.chunks);
    let total = q.upserted;

    // In step: a second run sends nothing.
    let again = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap()
        .qdrant
        .unwrap();
    assert_eq!((again.upserted, again.deleted), (0, 0));

    let hits = index
        .search("logs never expire and storage keeps growing", &[], 2)
        .await
        .unwrap();
    assert_eq!(hits[0].guide, "cloudwatch-logs-retention.md");

    // Filtered by service: only guides for that service come back.
    let direct = QdrantStore::connect(&url, None, &collection).unwrap();
    let v = embedder.embed(&["cheaper storage".to_string()]).unwrap();
    let only_cw = direct
        .ranked(&store, &v[0], Some(&["AmazonCloudWatch".to_string()]), 10)
        .await
        .unwrap();
    assert!(!only_cw.is_empty());
    let cw_chunks: Vec<i64> = store
        .chunk_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, g, _)| g == "cloudwatch-logs-retention.md")
        .map(|(id, _, _)| id)
        .collect();
    assert!(only_cw.iter().all(|(id, _)| cw_chunks.contains(id)));

    // A changed guide re-sends only its own chunks.
    let ebs = knowledge.path().join("ebs-gp2-to-gp3.md");
    let text = std::fs::read_to_string(&ebs).unwrap();
    std::fs::write(&ebs, format!("{text}\n\n## Added\n\nOne more paragraph.\n")).unwrap();
    let changed = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap()
        .qdrant
        .unwrap();
    assert!(changed.upserted > 0 && changed.upserted < total);

    std::fs::remove_file(knowledge.path().join("nat-gateway.md")).unwrap();
    let s = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    assert!(s.qdrant.unwrap().deleted > 0);

    qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .unwrap()
        .delete_collection(&collection)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_collection_made_for_another_model_is_reported_with_what_to_do() {
    let test = "a_collection_made_for_another_model_is_reported_with_what_to_do";
    let Some(url) = qdrant_url(test).await else {
        return;
    };
    let Some(dir) = model::model_dir(test) else {
        return;
    };
    let embedder = Arc::new(Embedder::load(&dir).unwrap());
    // An older model's collection: same name, vectors of another size.
    let collection = format!("costbot_test_dim_{}", std::process::id());
    let client = qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .unwrap();
    let other = embedder.dim as u64 + 128;
    client
        .create_collection(
            qdrant_client::qdrant::CreateCollectionBuilder::new(&collection).vectors_config(
                qdrant_client::qdrant::VectorParamsBuilder::new(
                    other,
                    qdrant_client::qdrant::Distance::Cosine,
                ),
            ),
        )
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let knowledge = model::three_guides();
    let store = Store::open(&data.path().join("q.db")).await.unwrap();
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(Arc::new(DenseIndex::new(store.clone(), embedder.clone()))),
        Some(QdrantStore::connect(&url, None, &collection).unwrap()),
        RetrievalMode::Hybrid,
    );
    let err = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    let points = client
        .count(qdrant_client::qdrant::CountPointsBuilder::new(&collection).exact(true))
        .await
        .unwrap()
        .result
        .unwrap()
        .count;
    client.delete_collection(&collection).await.unwrap();
    for part in [
        collection.as_str(),
        &format!("vectors of size {other} compared by cosine"),
        &format!("vectors of size {}", embedder.dim),
        "delete the collection",
        "COSTBOT_QDRANT_COLLECTION",
        "costbot index",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(!err.to_lowercase().contains("grpc"), "{err}");
    assert_eq!(points, 0, "nothing is sent to a mismatched collection");
    // Search goes on lexically meanwhile.
    assert!(!index.is_dense_ready());
    let hits = index
        .search("logs never expire and storage keeps growing", &[], 2)
        .await
        .unwrap();
    assert_eq!(hits[0].guide, "cloudwatch-logs-retention.md");

    // The right size but another distance would rank differently: refused too.
    client
        .create_collection(
            qdrant_client::qdrant::CreateCollectionBuilder::new(&collection).vectors_config(
                qdrant_client::qdrant::VectorParamsBuilder::new(
                    embedder.dim as u64,
                    qdrant_client::qdrant::Distance::Euclid,
                ),
            ),
        )
        .await
        .unwrap();
    let err = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    client.delete_collection(&collection).await.unwrap();
    assert!(
        err.contains(&format!(
            "holds vectors of size {} compared by euclid",
            embedder.dim
        )),
        "{err}"
    );
}

/// `costbot eval retrieval --store STORE` on a few of the evaluation
/// questions: what it printed.
fn eval_with(store: &str, url: &str, collection: &str, model: &std::path::Path) -> String {
    let data = tempfile::tempdir().unwrap();
    let questions = data.path().join("q.jsonl");
    let all = std::fs::read_to_string("tests/retrieval_questions.jsonl").unwrap();
    std::fs::write(
        &questions,
        all.lines().take(20).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["eval", "retrieval", "--questions"])
        .arg(&questions)
        .args(["--store", store])
        .current_dir(data.path())
        .env("COSTBOT_DATA_DIR", data.path())
        .env("COSTBOT_MODEL_DIR", model)
        .env("QDRANT_URL", url)
        .env("COSTBOT_QDRANT_COLLECTION", collection)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn eval_retrieval_measures_qdrant_with_the_same_figures_as_the_embedded_store() {
    let test = "eval_retrieval_measures_qdrant_with_the_same_figures_as_the_embedded_store";
    let Some(url) = qdrant_url(test).await else {
        return;
    };
    let Some(dir) = model::model_dir(test) else {
        return;
    };
    let collection = format!("costbot_test_eval_{}", std::process::id());
    let embedded = eval_with("embedded", &url, &collection, &dir);
    let qdrant = eval_with("qdrant", &url, &collection, &dir);
    qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .unwrap()
        .delete_collection(&collection)
        .await
        .unwrap();
    assert!(embedded.contains("vectors: embedded store"), "{embedded}");
    assert!(
        qdrant.contains(&format!(
            "vectors: Qdrant at {url}, collection {collection}"
        )),
        "{qdrant}"
    );
    // Below Qdrant's indexing threshold its search is exact: the same ranking.
    let rows = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                ["lexical ", "dense ", "hybrid "]
                    .iter()
                    .any(|m| l.starts_with(m))
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(rows(&embedded).len(), 3, "{embedded}");
    assert!(!embedded.contains("skipped"), "{embedded}");
    assert_eq!(rows(&qdrant), rows(&embedded));
}

/// Kills the test's own Qdrant also when an assertion fails.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Qdrant of the test's own, from QDRANT_BIN, on free loopback ports.
fn start_qdrant(bin: &str, storage: &std::path::Path, http: u16, grpc: u16) -> Server {
    Server(
        std::process::Command::new(bin)
            .current_dir(storage)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", grpc.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", storage.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", storage.join("snapshots"))
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_up(url: &str) {
    let q = QdrantStore::connect(url, None, "unused").unwrap();
    for _ in 0..300 {
        if q.server_version().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("Qdrant at {url} did not come up");
}

#[tokio::test]
async fn qdrant_restart_between_runs_finds_everything_in_step() {
    let Ok(bin) = std::env::var("QDRANT_BIN") else {
        if std::env::var("COSTBOT_REQUIRE_QDRANT").is_ok_and(|v| v == "1") {
            panic!("COSTBOT_REQUIRE_QDRANT=1 but QDRANT_BIN is not set");
        }
        eprintln!(
            "SKIPPED qdrant_restart_between_runs_finds_everything_in_step: QDRANT_BIN is not set"
        );
        return;
    };
    let Some(dir) = model::model_dir("qdrant_restart_between_runs_finds_everything_in_step") else {
        return;
    };
    let storage = tempfile::tempdir().unwrap();
    let (http, grpc) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{grpc}");
    let server = start_qdrant(&bin, storage.path(), http, grpc);
    wait_up(&url).await;
    let embedder = Arc::new(Embedder::load(&dir).unwrap());
    let data = tempfile::tempdir().unwrap();
    let knowledge = model::three_guides();
    let store = Store::open(&data.path().join("q.db")).await.unwrap();
    let make_index = || {
        GuideIndex::new(
            LexicalIndex::new(store.clone()),
            Some(Arc::new(DenseIndex::new(store.clone(), embedder.clone()))),
            Some(QdrantStore::connect(&url, None, "restart").unwrap()),
            RetrievalMode::Dense,
        )
    };
    let first = make_index()
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    let q = first.qdrant.unwrap();
    assert!(q.created_collection && q.upserted == first.lexical.chunks);

    drop(server);
    let server = start_qdrant(&bin, storage.path(), http, grpc);
    wait_up(&url).await;
    let second = make_index()
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap()
        .qdrant
        .unwrap();
    drop(server);
    assert!(!second.created_collection);
    assert_eq!((second.upserted, second.deleted), (0, 0));
}
