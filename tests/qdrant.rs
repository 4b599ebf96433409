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
