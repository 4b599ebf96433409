//! The guide index: lexical (FTS5), dense (embedded store or Qdrant), and
//! their fusion. Implements [`Retriever`] for the Agent.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::dense::{DenseIndex, DenseSummary};
use super::guides::Guide;
use super::lexical::IndexSummary;
use super::qdrant::QdrantStore;
use super::{Hit, LexicalIndex, RetrievalError, Retriever};
use crate::config::RetrievalMode;

/// Reciprocal rank fusion constant (Cormack et al.): damps the top ranks.
const RRF_K: f64 = 60.0;
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

fn rrf(lists: &[Vec<(i64, f64)>]) -> Vec<(i64, f64)> {
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for list in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
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

pub struct GuideIndex {
    lexical: LexicalIndex,
    dense: Option<Arc<DenseIndex>>,
    qdrant: Option<QdrantStore>,
    mode: RetrievalMode,
}

impl GuideIndex {
    pub fn new(
        lexical: LexicalIndex,
        dense: Option<Arc<DenseIndex>>,
        qdrant: Option<QdrantStore>,
        mode: RetrievalMode,
    ) -> Self {
        GuideIndex {
            lexical,
            dense,
            qdrant,
            mode,
        }
    }

    pub fn has_dense(&self) -> bool {
        self.dense.is_some()
    }

    pub fn mode(&self) -> RetrievalMode {
        if self.dense.is_none() {
            RetrievalMode::Lexical
        } else {
            self.mode
        }
    }

    /// Brings every part of the index in line with `guides`.
    pub async fn sync(
        &self,
        guides: &[Guide],
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<SyncSummary, RetrievalError> {
        let lexical = self.lexical.sync(guides).await?;
        let dense = match &self.dense {
            Some(d) => Some(d.sync(progress).await?),
            None => None,
        };
        let qdrant = match (&self.qdrant, &self.dense) {
            (Some(q), Some(d)) => Some(
                q.sync(
                    self.lexical.store(),
                    &d.embedder().model_id,
                    d.embedder().dim,
                )
                .await?,
            ),
            _ => None,
        };
        Ok(SyncSummary {
            lexical,
            dense,
            qdrant,
        })
    }

    async fn dense_ranked(&self, query: &str) -> Result<Vec<(i64, f64)>, RetrievalError> {
        let Some(dense) = &self.dense else {
            return Ok(Vec::new());
        };
        match &self.qdrant {
            Some(q) => {
                let embedder = dense.embedder().clone();
                let text = query.to_string();
                let v = tokio::task::spawn_blocking(move || embedder.embed(&[text]))
                    .await
                    .map_err(|e| RetrievalError::Dense(e.to_string()))??;
                q.ranked(self.lexical.store(), &v[0], None, CANDIDATES)
                    .await
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
        let ranked = match mode {
            RetrievalMode::Lexical => self.lexical.ranked(query, CANDIDATES).await?,
            RetrievalMode::Dense => self.dense_ranked(query).await?,
            RetrievalMode::Hybrid => {
                let lexical = self.lexical.ranked(query, CANDIDATES).await?;
                let dense = self.dense_ranked(query).await?;
                if dense.is_empty() {
                    lexical
                } else {
                    rrf(&[lexical, dense])
                }
            }
        };
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let details = self.lexical.hits(&ids).await?;
        Ok(finish(ranked, details, services, k))
    }
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
