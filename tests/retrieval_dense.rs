//! Dense and hybrid retrieval with the real ONNX model (fetched from PyPI by
//! scripts/fetch-model.sh) and a real SQLite file.

#[path = "common/model.rs"]
mod model;

use std::sync::Arc;

use costbot::config::RetrievalMode;
use costbot::retrieval::dense::{dot, DenseIndex, Embedder};
use costbot::retrieval::eval::{evaluate, load_questions};
use costbot::retrieval::lexical::chunk_hash;
use costbot::retrieval::precomputed::{Precomputed, VectorSource, EXPORT_COMMAND};
use costbot::retrieval::{guides, GuideIndex, LexicalIndex, Retriever};
use costbot::store::Store;

fn embedder(test: &str) -> Option<Arc<Embedder>> {
    let dir = model::model_dir(test)?;
    Some(Arc::new(Embedder::load(&dir).expect("the model loads")))
}

#[tokio::test]
async fn embeddings_match_the_reference_implementation() {
    let Some(e) = embedder("embeddings_match_the_reference_implementation") else {
        return;
    };
    assert_eq!(e.dim, 384);
    let v = e
        .embed(&[
            "How much did we spend on EC2 last month?".into(),
            "What was our Amazon S3 storage cost in March?".into(),
        ])
        .unwrap();
    // Reference: Python onnxruntime on the same files, mean pooling, 256 tokens.
    let expected_first = [0.08839f32, 0.03284, -0.01239, 0.04166];
    for (got, want) in v[0].iter().zip(expected_first) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    let expected_second = [-0.00567f32, -0.00337, -0.01901, 0.02451];
    for (got, want) in v[1].iter().zip(expected_second) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    assert!((dot(&v[0], &v[1]) - 0.6041).abs() < 1e-3);
    assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn indexing_is_incremental_by_chunk_content() {
    let Some(e) = embedder("indexing_is_incremental_by_chunk_content") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let knowledge = model::three_guides();
    let store = Store::open(&data.path().join("k.db")).await.unwrap();
    let dense = Arc::new(DenseIndex::new(store.clone(), e));
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(dense.clone()),
        None,
        RetrievalMode::Hybrid,
    );
    let first = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    let d = first.dense.unwrap();
    assert_eq!(d.reused, 0);
    assert_eq!(d.embedded, first.lexical.chunks);
    assert_eq!(dense.len(), first.lexical.chunks);

    // Nothing changed: nothing re-embedded.
    let again = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again.dense.unwrap().embedded, 0);

    // Edit one section of one guide: only that chunk is embedded again.
    let path = knowledge.path().join("ebs-gp2-to-gp3.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = "## What to watch out for";
    assert!(
        text.contains(marker),
        "the guide has the section the test edits"
    );
    std::fs::write(
        &path,
        text.replacen(
            marker,
            &format!("{marker}\n\nCheck burst-heavy volumes first."),
            1,
        ),
    )
    .unwrap();
    let edited = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(edited.lexical.updated, 1);
    let d = edited.dense.unwrap();
    assert_eq!(d.embedded, 1, "{d:?}");
    assert_eq!(d.pruned, 1);

    // Remove a guide: its vectors go too.
    std::fs::remove_file(knowledge.path().join("nat-gateway.md")).unwrap();
    let removed = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(removed.lexical.removed, 1);
    assert!(removed.dense.unwrap().pruned > 0);
    assert_eq!(dense.len(), removed.lexical.chunks);
}

#[tokio::test]
async fn hybrid_finds_paraphrases_and_keeps_its_measured_quality() {
    let Some(e) = embedder("hybrid_finds_paraphrases_and_keeps_its_measured_quality") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(&data.path().join("k.db")).await.unwrap();
    let dense = Arc::new(DenseIndex::new(store.clone(), e));
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(dense),
        None,
        RetrievalMode::Hybrid,
    );
    index
        .sync(&guides::load(None).unwrap(), &|_, _| {})
        .await
        .unwrap();

    // No word of the guide's title in the question; dense retrieval alone finds it.
    let q = "our disks are still on the old general purpose SSD type, worth switching?";
    let dense_hits = index
        .search_mode(q, &[], 3, RetrievalMode::Dense)
        .await
        .unwrap();
    assert!(
        dense_hits.iter().any(|h| h.guide == "ebs-gp2-to-gp3.md"),
        "{:?}",
        dense_hits.iter().map(|h| &h.guide).collect::<Vec<_>>()
    );
    let hits = index
        .search(
            "how do I stop paying for traffic through the NAT box?",
            &[],
            3,
        )
        .await
        .unwrap();
    // Both guides answer it (the evaluation set lists both).
    assert!(
        ["nat-gateway.md", "vpc-endpoints.md"].contains(&hits[0].guide.as_str()),
        "{:?}",
        hits.iter().map(|h| &h.guide).collect::<Vec<_>>()
    );
    assert!(hits[0]
        .source_url
        .as_deref()
        .unwrap()
        .starts_with("https://docs.aws.amazon.com/"));
    // What the Agent asks when a cost answer shows a large mover: the service's guides come first.
    let hits = index
        .search(
            "reduce CloudWatch cost",
            &["AmazonCloudWatch".to_string()],
            3,
        )
        .await
        .unwrap();
    assert!(
        hits[0].services.contains(&"AmazonCloudWatch".to_string()),
        "{:?}",
        hits[0]
    );

    // Regression guard on the evaluation set (measured: lexical MRR 0.920, hybrid 0.932, recall@5 0.968).
    let questions =
        load_questions(std::path::Path::new("tests/retrieval_questions.jsonl")).unwrap();
    assert!(questions.len() >= 60);
    let lexical = evaluate(&index, &questions, RetrievalMode::Lexical, 10)
        .await
        .unwrap();
    let hybrid = evaluate(&index, &questions, RetrievalMode::Hybrid, 10)
        .await
        .unwrap();
    let dense = evaluate(&index, &questions, RetrievalMode::Dense, 10)
        .await
        .unwrap();
    assert!(hybrid.recall_at_5 >= 0.95, "{hybrid:?}");
    assert!(hybrid.mrr >= 0.90, "{hybrid:?}");
    assert!(
        hybrid.mrr >= lexical.mrr,
        "hybrid {hybrid:?} vs lexical {lexical:?}"
    );
    assert!(dense.recall_at_5 >= 0.90, "{dense:?}");
}

/// The vectors shipped in knowledge/embeddings/ spare a fresh install from
/// embedding every guide: they must cover every current chunk.
#[tokio::test]
async fn shipped_vectors_cover_every_guide_chunk() {
    let Some(e) = embedder("shipped_vectors_cover_every_guide_chunk") else {
        return;
    };
    let files = VectorSource::Shipped.load();
    let file = files
        .iter()
        .find(|f| f.model() == e.model_id)
        .unwrap_or_else(|| {
            panic!(
                "knowledge/embeddings/ has no vectors for model {} (it has {:?}); run `{}`",
                e.model_id,
                files.iter().map(|f| f.model()).collect::<Vec<_>>(),
                EXPORT_COMMAND
            )
        });
    let mut missing = Vec::new();
    let mut samples = Vec::new();
    for g in guides::load(None).unwrap() {
        for c in g.chunks() {
            let hash = chunk_hash(&c.section, &c.text);
            match file.get(&e.model_id, e.dim, &hash) {
                Some(v) if samples.len() < 3 => {
                    samples.push((format!("{}\n{}", c.section, c.text), v.to_vec()))
                }
                Some(_) => {}
                None => missing.push(c.section.clone()),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the shipped guide vectors are out of date for {} chunk(s), e.g. {:?}; after editing guides run `{}` and commit knowledge/embeddings/",
        missing.len(),
        &missing[..missing.len().min(5)],
        EXPORT_COMMAND
    );
    // They are what the model computes here.
    let texts: Vec<String> = samples.iter().map(|(t, _)| t.clone()).collect();
    for (fresh, (_, shipped)) in e.embed(&texts).unwrap().iter().zip(&samples) {
        assert!(dot(fresh, shipped) > 0.9999, "{}", dot(fresh, shipped));
    }
}

#[tokio::test]
async fn precomputed_vectors_are_used_only_for_the_same_model_and_chunk_text() {
    let Some(e) = embedder("precomputed_vectors_are_used_only_for_the_same_model_and_chunk_text")
    else {
        return;
    };
    let knowledge = model::three_guides();
    // Vectors computed for the guides as they were.
    let first = tempfile::tempdir().unwrap();
    let store = Store::open(&first.path().join("k.db")).await.unwrap();
    let dense = Arc::new(DenseIndex::new(store.clone(), e.clone()));
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(dense.clone()),
        None,
        RetrievalMode::Hybrid,
    );
    let s = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    let exported = index.export_vectors().await.unwrap().unwrap();
    assert_eq!(exported.len(), s.lexical.chunks);
    let bytes = exported.to_bytes();
    // Another model's file with the same chunk hashes: never used.
    let mut other = Precomputed::new("onnx-another-model-mean-256", e.dim);
    for g in guides::load(Some(knowledge.path())).unwrap() {
        for c in g.chunks() {
            other
                .insert(&chunk_hash(&c.section, &c.text), vec![0.0; e.dim])
                .unwrap();
        }
    }

    // One section edited since: its stored vector is stale and is not used.
    let path = knowledge.path().join("ebs-gp2-to-gp3.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "## What to watch out for",
            "## What to watch out for\n\nCheck burst-heavy volumes first.",
            1,
        ),
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    let store = Store::open(&second.path().join("k.db")).await.unwrap();
    let dense = Arc::new(
        DenseIndex::new(store.clone(), e.clone()).with_precomputed(vec![
            VectorSource::Bytes(Arc::new(other.to_bytes())),
            VectorSource::Bytes(Arc::new(bytes)),
        ]),
    );
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        Some(dense.clone()),
        None,
        RetrievalMode::Hybrid,
    );
    let s = index
        .sync(&guides::load(Some(knowledge.path())).unwrap(), &|_, _| {})
        .await
        .unwrap();
    let d = s.dense.unwrap();
    assert_eq!(d.embedded, 1, "{d:?}");
    assert_eq!(d.imported, s.lexical.chunks - 1, "{d:?}");
    // The imported vectors are the first model's, not the other's zeros.
    let now = index.export_vectors().await.unwrap().unwrap();
    assert_eq!(now.len(), s.lexical.chunks);
    let q = e.embed(&["gp3 volumes".to_string()]).unwrap();
    let best = dense.ranked_by_vector(&q[0], 1);
    assert!(best[0].1 > 0.2, "{best:?}");
}

#[tokio::test]
async fn search_is_lexical_until_the_dense_side_is_built() {
    let Some(e) = embedder("search_is_lexical_until_the_dense_side_is_built") else {
        return;
    };
    let knowledge = model::three_guides();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(&data.path().join("k.db")).await.unwrap();
    // The model loads in build_dense, as in `serve`.
    let for_loader = store.clone();
    let index = GuideIndex::new(
        LexicalIndex::new(store.clone()),
        None,
        None,
        RetrievalMode::Hybrid,
    )
    .with_dense_loader(Box::new(move || {
        Ok(Arc::new(DenseIndex::new(for_loader, e)))
    }));
    assert!(index.has_dense());
    let mut ready = index.dense_ready();
    index
        .sync_lexical(&guides::load(Some(knowledge.path())).unwrap())
        .await
        .unwrap();
    assert!(!index.is_dense_ready());
    // Hybrid and dense searches answer from the lexical index meanwhile.
    let q = "how do I cut our NAT gateway bill?";
    let lexical = index
        .search_mode(q, &[], 3, RetrievalMode::Lexical)
        .await
        .unwrap();
    assert_eq!(lexical[0].guide, "nat-gateway.md");
    assert_eq!(index.search(q, &[], 3).await.unwrap(), lexical);
    assert_eq!(
        index
            .search_mode(q, &[], 3, RetrievalMode::Dense)
            .await
            .unwrap(),
        lexical
    );

    let built = index.build_dense(&|_, _| {}).await.unwrap();
    assert!(built.dense.unwrap().embedded > 0);
    ready.changed().await.unwrap();
    assert!(*ready.borrow_and_update());
    let dense_hits = index
        .search_mode(
            "our disks are still on the old general purpose SSD type, worth switching?",
            &[],
            1,
            RetrievalMode::Dense,
        )
        .await
        .unwrap();
    assert_eq!(dense_hits[0].guide, "ebs-gp2-to-gp3.md");

    // A changed guide makes dense search wait for the next build.
    std::fs::remove_file(knowledge.path().join("nat-gateway.md")).unwrap();
    index
        .sync_lexical(&guides::load(Some(knowledge.path())).unwrap())
        .await
        .unwrap();
    assert!(!index.is_dense_ready());
    index.build_dense(&|_, _| {}).await.unwrap();
    assert!(index.is_dense_ready());
}

#[tokio::test]
async fn a_repeated_query_reuses_its_vector() {
    let Some(e) = embedder("a_repeated_query_reuses_its_vector") else {
        return;
    };
    let q = "how do I cut NAT gateway data processing charges";
    let first = e.embed_query(q).await.unwrap();
    let again = e.embed_query(q).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the second ask is served from the cache"
    );
    // And it is the vector the model gives for that text.
    let direct = e.embed(&[q.to_string()]).unwrap().remove(0);
    assert_eq!(*first, direct);
    let other = e.embed_query("reserved instances for RDS").await.unwrap();
    assert_ne!(*other, *first);
}
