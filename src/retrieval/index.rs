//! The guide index: lexical (FTS5), dense (embedded store or Qdrant), and
//! their fusion. Implements [`Retriever`] for the Agent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;

use super::dense::{DenseIndex, DenseSummary};
use super::guides::Guide;
use super::lexical::IndexSummary;
use super::qdrant::QdrantStore;
use super::{Hit, LexicalIndex, RetrievalError, Retriever};
use crate::config::RetrievalMode;

/// Reciprocal rank fusion (Cormack et al.) constant and the dense list's
/// weight. Chosen on the odd-numbered half of tests/retrieval_questions.jsonl
/// and checked on the even half (hybrid beat lexical there on recall@1 and
/// MRR): a small k trusts the top ranks, and lexical is the stronger list
/// on this corpus, so dense counts half.
const RRF_K: f64 = 3.0;
const DENSE_WEIGHT: f64 = 0.5;
/// How much a guide for the question's services is preferred.
const SERVICE_BOOST: f64 = 1.5;
const CANDIDATES: usize = 60;

/// Orders candidates: service boost, best chunk per guide, top `k`.
pub(crate) fn finish(
    ranked: Vec<(i64, f64)>,
    mut details: HashMap<i64, Hit>,
    services: &[String],
    k: usize,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = ranked
        .into_iter()
        .filter_map(|(id, score)| {
            let mut h = details.remove(&id)?;
            let boosted = !services.is_empty() && h.services.iter().any(|s| services.contains(s));
            h.score = if boosted && score > 0.0 {
                score * SERVICE_BOOST
            } else {
                score
            };
            Some(h)
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut seen = std::collections::HashSet::new();
    hits.retain(|h| seen.insert(h.guide.clone()));
    hits.truncate(k);
    hits
}

#[cfg(test)]
fn rrf(lists: &[Vec<(i64, f64)>]) -> Vec<(i64, f64)> {
    rrf_weighted(lists, &vec![1.0; lists.len()])
}

fn rrf_weighted(lists: &[Vec<(i64, f64)>], weights: &[f64]) -> Vec<(i64, f64)> {
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for (list, w) in lists.iter().zip(weights) {
        for (rank, (id, _)) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += w / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut v: Vec<(i64, f64)> = scores.into_iter().collect();
    v.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    v
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncSummary {
    pub lexical: IndexSummary,
    pub dense: Option<DenseSummary>,
    pub qdrant: Option<super::qdrant::QdrantSummary>,
}

/// What building the dense side did; both None when dense retrieval is off.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DenseBuild {
    pub dense: Option<DenseSummary>,
    pub qdrant: Option<super::qdrant::QdrantSummary>,
}

/// Loads the model and makes the dense index; run on a blocking thread by
/// [`GuideIndex::build_dense`], so starting up does not wait for the model.
pub type DenseLoader = Box<dyn FnOnce() -> Result<Arc<DenseIndex>, RetrievalError> + Send>;

pub struct GuideIndex {
    lexical: LexicalIndex,
    dense: OnceLock<Arc<DenseIndex>>,
    /// The model, when it is still to be loaded.
    dense_loader: Mutex<Option<DenseLoader>>,
    qdrant: Option<QdrantStore>,
    mode: RetrievalMode,
    /// True once every current chunk has a vector where dense search looks
    /// (memory or Qdrant); until then searches are lexical.
    dense_ready: watch::Sender<bool>,
    /// Whether the lexical index changed since the last dense build (kept
    /// when a build fails; Qdrant now finds what to send by fingerprint).
    lexical_changed: AtomicBool,
    /// One dense build at a time.
    building: tokio::sync::Mutex<()>,
}

impl GuideIndex {
    pub fn new(
        lexical: LexicalIndex,
        dense: Option<Arc<DenseIndex>>,
        qdrant: Option<QdrantStore>,
        mode: RetrievalMode,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(d) = dense {
            let _ = cell.set(d);
        }
        GuideIndex {
            lexical,
            dense: cell,
            dense_loader: Mutex::new(None),
            qdrant,
            mode,
            dense_ready: watch::channel(false).0,
            lexical_changed: AtomicBool::new(false),
            building: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads the dense index in [`GuideIndex::build_dense`] rather than now.
    pub fn with_dense_loader(self, loader: DenseLoader) -> Self {
        *self.dense_loader.lock().unwrap_or_else(|e| e.into_inner()) = Some(loader);
        self
    }

    /// Whether there is a model (loaded, or to be loaded by `build_dense`).
    pub fn has_dense(&self) -> bool {
        self.dense.get().is_some()
            || self
                .dense_loader
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
    }

    /// The configured mode, or lexical when there is no model.
    pub fn mode(&self) -> RetrievalMode {
        if !self.has_dense() {
            RetrievalMode::Lexical
        } else {
            self.mode
        }
    }

    /// Whether dense search is usable now.
    pub fn is_dense_ready(&self) -> bool {
        *self.dense_ready.borrow()
    }

    /// Follows dense readiness: true once [`GuideIndex::build_dense`]
    /// finished for the current guides, false again when
    /// [`GuideIndex::sync_lexical`] changes them. Stays false without a model.
    pub fn dense_ready(&self) -> watch::Receiver<bool> {
        self.dense_ready.subscribe()
    }

    /// Brings every part of the index in line with `guides`, in the foreground.
    pub async fn sync(
        &self,
        guides: &[Guide],
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<SyncSummary, RetrievalError> {
        let lexical = self.sync_lexical(guides).await?;
        let DenseBuild { dense, qdrant } = self.build_dense(progress).await?;
        Ok(SyncSummary {
            lexical,
            dense,
            qdrant,
        })
    }

    /// The fast part: brings the lexical (FTS5) index in line with `guides`.
    /// Lexical search is complete when it returns; if guides changed, dense
    /// search waits for the next [`GuideIndex::build_dense`].
    pub async fn sync_lexical(&self, guides: &[Guide]) -> Result<IndexSummary, RetrievalError> {
        let summary = self.lexical.sync(guides).await?;
        if summary.added + summary.updated + summary.removed > 0 {
            self.lexical_changed.store(true, Ordering::SeqCst);
            self.dense_ready.send_replace(false);
        }
        Ok(summary)
    }

    /// The slow part: loads the model if it is not yet, gives every current
    /// chunk a vector (from the database, the shipped vectors, or the
    /// model), loads them, and syncs Qdrant; then marks dense search ready.
    /// Searches stay lexical while it runs, so `serve` runs this in the
    /// background. Does nothing without a model; if the model fails to load,
    /// search stays lexical for good.
    pub async fn build_dense(
        &self,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<DenseBuild, RetrievalError> {
        let _one_at_a_time = self.building.lock().await;
        if self.dense.get().is_none() {
            let loader = self
                .dense_loader
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let Some(loader) = loader else {
                return Ok(DenseBuild::default());
            };
            let loaded = tokio::task::spawn_blocking(loader)
                .await
                .map_err(|e| RetrievalError::Dense(e.to_string()))??;
            let _ = self.dense.set(loaded);
        }
        let Some(d) = self.dense.get() else {
            return Ok(DenseBuild::default());
        };
        let changed_lexically = self.lexical_changed.swap(false, Ordering::SeqCst);
        let dense = match d.sync(progress).await {
            Ok(s) => s,
            Err(e) => {
                self.lexical_changed
                    .fetch_or(changed_lexically, Ordering::SeqCst);
                return Err(e);
            }
        };
        let qdrant = match &self.qdrant {
            Some(q) => {
                match q
                    .sync(
                        self.lexical.store(),
                        &d.embedder().model_id,
                        d.embedder().dim,
                    )
                    .await
                {
                    Ok(s) => Some(s),
                    Err(e) => {
                        self.lexical_changed
                            .fetch_or(changed_lexically, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        self.dense_ready.send_replace(true);
        Ok(DenseBuild {
            dense: Some(dense),
            qdrant,
        })
    }

    /// The stored vectors of the current chunks, to ship with the guides;
    /// None without a model.
    pub async fn export_vectors(
        &self,
    ) -> Result<Option<super::precomputed::Precomputed>, RetrievalError> {
        match self.dense.get() {
            Some(d) => Ok(Some(d.export().await?)),
            None => Ok(None),
        }
    }

    async fn dense_ranked(&self, query: &str) -> Result<Vec<(i64, f64)>, RetrievalError> {
        let Some(dense) = self.dense.get() else {
            return Ok(Vec::new());
        };
        match &self.qdrant {
            Some(q) => {
                let v = dense.embedder().embed_query(query).await?;
                q.ranked(self.lexical.store(), &v, None, CANDIDATES).await
            }
            None => Ok(dense
                .ranked(query, CANDIDATES)
                .await?
                .into_iter()
                .map(|(id, s)| (id, s as f64))
                .collect()),
        }
    }

    /// Searches in a given mode (the evaluation compares them).
    pub async fn search_mode(
        &self,
        query: &str,
        services: &[String],
        k: usize,
        mode: RetrievalMode,
    ) -> Result<Vec<Hit>, RetrievalError> {
        // Until the dense side is built, every search is lexical: it never
        // waits for embedding and never fails for want of vectors.
        let mode = if self.is_dense_ready() {
            mode
        } else {
            RetrievalMode::Lexical
        };
        let (lexical, dense) = match mode {
            RetrievalMode::Lexical => (self.lexical.ranked(query, CANDIDATES).await?, Vec::new()),
            RetrievalMode::Dense => (Vec::new(), self.dense_ranked(query).await?),
            RetrievalMode::Hybrid => (
                self.lexical.ranked(query, CANDIDATES).await?,
                self.dense_ranked(query).await?,
            ),
        };
        let mut ids: Vec<i64> = lexical
            .iter()
            .chain(dense.iter())
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let details = self.lexical.hits(&ids).await?;
        let ranked = match (lexical.is_empty(), dense.is_empty()) {
            (_, true) => lexical,
            (true, false) => dense,
            // Fuse per guide: a guide's rank in a list is the rank of its best
            // chunk there, so one guide's many chunks do not crowd the fusion.
            (false, false) => {
                let guide_of = |id: &i64| details.get(id).map(|h| h.guide.clone());
                let lex_g = by_guide(&lexical, &guide_of);
                let dense_g = by_guide(&dense, &guide_of);
                let fused = rrf_weighted(
                    &[
                        lex_g.iter().map(|(_, id)| (*id, 0.0)).collect(),
                        dense_g.iter().map(|(_, id)| (*id, 0.0)).collect(),
                    ],
                    &[1.0, DENSE_WEIGHT],
                );
                // The same guide may be represented by different chunks in the two lists: merge by guide.
                let mut best: HashMap<String, (i64, f64)> = HashMap::new();
                for (id, score) in fused {
                    if let Some(g) = guide_of(&id) {
                        let e = best.entry(g).or_insert((id, 0.0));
                        e.1 += score;
                    }
                }
                let mut v: Vec<(i64, f64)> = best.into_values().collect();
                v.sort_by(|a, b| {
                    b.1.partial_cmp(&a.1)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(a.0.cmp(&b.0))
                });
                v
            }
        };
        Ok(finish(ranked, details, services, k))
    }
}

/// (guide, best chunk id) in rank order, one entry per guide.
fn by_guide(list: &[(i64, f64)], guide_of: &dyn Fn(&i64) -> Option<String>) -> Vec<(String, i64)> {
    let mut seen = std::collections::HashSet::new();
    list.iter()
        .filter_map(|(id, _)| {
            guide_of(id)
                .filter(|g| seen.insert(g.clone()))
                .map(|g| (g, *id))
        })
        .collect()
}

#[async_trait]
impl Retriever for GuideIndex {
    async fn search(
        &self,
        query: &str,
        services: &[String],
        k: usize,
    ) -> Result<Vec<Hit>, RetrievalError> {
        self.search_mode(query, services, k, self.mode()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_model_that_does_not_load_leaves_search_lexical() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("k.db"))
            .await
            .unwrap();
        let index = GuideIndex::new(LexicalIndex::new(store), None, None, RetrievalMode::Hybrid)
            .with_dense_loader(Box::new(|| {
                Err(RetrievalError::Dense("no such model".into()))
            }));
        index
            .sync_lexical(&super::super::guides::load(None).unwrap())
            .await
            .unwrap();
        assert!(index.has_dense());
        assert!(!index.is_dense_ready());
        let before = index.search("NAT gateway charges", &[], 3).await.unwrap();
        assert_eq!(before[0].guide, "nat-gateway.md");
        let err = index.build_dense(&|_, _| {}).await.unwrap_err();
        assert!(err.to_string().contains("no such model"), "{err}");
        assert!(!index.has_dense());
        assert_eq!(index.mode(), RetrievalMode::Lexical);
        assert!(!index.is_dense_ready());
        assert_eq!(
            index.search("NAT gateway charges", &[], 3).await.unwrap(),
            before
        );
    }

    #[test]
    fn rrf_rewards_agreement() {
        let a = vec![(1, 9.0), (2, 8.0), (3, 7.0)];
        let b = vec![(3, 0.9), (1, 0.8), (4, 0.7)];
        let fused = rrf(&[a, b]);
        assert_eq!(fused[0].0, 1);
        assert_eq!(fused[1].0, 3);
        assert!(fused.iter().any(|(id, _)| *id == 4));
    }
}
