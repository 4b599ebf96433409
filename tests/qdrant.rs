//! Qdrant as the vector store. Runs only when QDRANT_URL points at a server
//! (no Qdrant server can be installed from the package registries here);
//! otherwise each test says it was skipped.

#[path = "common/model.rs"]
mod model;

use std::sync::Arc;

use costbot::config::RetrievalMode;
use costbot::retrieval::dense::{DenseIndex, Embedder};
use costbot::retrieval::qdrant::QdrantStore;
use costbot::retrieval::{guides, GuideIndex, LexicalIndex, Retriever};
use costbot::store::Store;

#[tokio::test]
async fn qdrant_upserts_filters_and_deletes_stale_chunks() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("SKIPPED qdrant_upserts_filters_and_deletes_stale_chunks: QDRANT_URL is not set");
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

    std::fs::remove_file(knowledge.path().join("nat-gateway.md")).unwrap();
    let s = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    assert!(s.qdrant.unwrap().deleted > 0);
}
