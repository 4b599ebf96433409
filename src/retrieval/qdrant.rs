//! Vectors in a Qdrant server or cluster, for scale. Chosen when QDRANT_URL
//! is set; the vectors themselves still come from the local embedder (and its
//! SQLite cache), Qdrant stores and searches them.
//!
//! qdrant-client 1.20 is used with servers from 1.16 on (tests/qdrant.rs
//! runs against a real 1.16.3 in CI). The client's own compatibility check
//! is off: it wants minor versions within one of each other, blocks on a
//! health check while connecting, and prints its verdict to stdout, where
//! `costbot ask --json` writes its answer.

use std::collections::{HashMap, HashSet};

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{
    vectors_config, with_payload_selector::SelectorOptions, Condition, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter,
    PayloadIncludeSelector, PointId, PointStruct, PointsIdsList, QueryPointsBuilder,
    ScrollPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::RetrievalError;
use crate::config::Secret;
use crate::store::Store;

fn q_err(e: impl std::fmt::Display) -> RetrievalError {
    RetrievalError::Qdrant(e.to_string())
}

/// A point id per chunk of a guide, stable across re-indexing: from the
/// guide's path and the chunk's content hash (the same text in two guides is
/// two points, each with its own guide's services).
fn point_id(guide_path: &str, text_hash: &str) -> u64 {
    let h = format!("{:x}", Sha256::digest(format!("{guide_path}\n{text_hash}")));
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
}

/// Everything a point carries besides its id, hashed: a point whose
/// fingerprint matches is in step and is not sent again.
fn fingerprint(payload: &serde_json::Value) -> String {
    format!("{:x}", Sha256::digest(payload.to_string()))
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct QdrantSummary {
    pub upserted: usize,
    pub deleted: usize,
    pub created_collection: bool,
}

pub struct QdrantStore {
    client: Qdrant,
    collection: String,
}

impl QdrantStore {
    pub fn connect(
        url: &str,
        api_key: Option<&Secret>,
        collection: &str,
    ) -> Result<QdrantStore, RetrievalError> {
        // The client's own version check would block on a health check while
        // connecting and print to stdout; `server_version` asks instead.
        let mut builder = Qdrant::from_url(url).skip_compatibility_check();
        if let Some(k) = api_key {
            builder = builder.api_key(k.expose().to_string());
        }
        Ok(QdrantStore {
            client: builder.build().map_err(q_err)?,
            collection: collection.to_string(),
        })
    }

    /// The server's version (its health check).
    pub async fn server_version(&self) -> Result<String, RetrievalError> {
        Ok(self.client.health_check().await.map_err(q_err)?.version)
    }

    /// Creates the collection (cosine, `dim`) and the payload index for service filters if missing.
    pub async fn ensure_collection(&self, dim: usize) -> Result<bool, RetrievalError> {
        if self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(q_err)?
        {
            self.check_vectors(dim).await?;
            return Ok(false);
        }
        self.client
            .create_collection(
                CreateCollectionBuilder::new(&self.collection)
                    .vectors_config(VectorParamsBuilder::new(dim as u64, Distance::Cosine)),
            )
            .await
            .map_err(q_err)?;
        self.client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(
                    &self.collection,
                    "services",
                    FieldType::Keyword,
                )
                .wait(true),
            )
            .await
            .map_err(q_err)?;
        Ok(true)
    }

    /// An existing collection must hold one unnamed cosine vector of the
    /// model's size: otherwise every upsert would fail with a gRPC "wrong input",
    /// which does not say that the collection was made for another model.
    async fn check_vectors(&self, dim: usize) -> Result<(), RetrievalError> {
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(q_err)?;
        let vectors = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        let found = match vectors {
            Some(vectors_config::Config::Params(p))
                if p.size == dim as u64 && p.distance == Distance::Cosine as i32 =>
            {
                return Ok(())
            }
            Some(vectors_config::Config::Params(p)) => format!(
                "vectors of size {} compared by {}",
                p.size,
                Distance::try_from(p.distance)
                    .map(|d| d.as_str_name().to_lowercase())
                    .unwrap_or_else(|_| "an unknown distance".into())
            ),
            Some(vectors_config::Config::ParamsMap(_)) => "named vectors".to_string(),
            None => "no vector configuration".to_string(),
        };
        Err(RetrievalError::QdrantCollectionMismatch {
            collection: self.collection.clone(),
            found,
            dim,
        })
    }

    /// Brings the collection in step with the current chunks: upserts the
    /// points that are missing or differ (guide, section, services, model or
    /// text) and deletes points no chunk has any more. What is already in
    /// step is compared by fingerprint and not sent, so a run with nothing
    /// changed sends nothing, also after a Qdrant restart.
    pub async fn sync(
        &self,
        store: &Store,
        model: &str,
        dim: usize,
    ) -> Result<QdrantSummary, RetrievalError> {
        let mut summary = QdrantSummary {
            created_collection: self.ensure_collection(dim).await?,
            ..Default::default()
        };
        let existing = self.fingerprints().await?;
        let rows = store
            .chunk_vectors_with_details(model)
            .await
            .map_err(q_err)?;
        let mut points = Vec::new();
        let mut wanted = HashSet::new();
        for r in rows {
            let meta: super::guides::FrontMatter = serde_json::from_str(&r.meta).map_err(q_err)?;
            let id = point_id(&r.guide_path, &r.content_hash);
            let mut json = serde_json::json!({
                "text_hash": r.content_hash,
                "guide": r.guide_path,
                "section": r.section,
                "services": meta.services,
                "model": model,
            });
            let fp = fingerprint(&json);
            wanted.insert(id);
            if existing
                .get(&id)
                .is_some_and(|e| e.as_deref() == Some(fp.as_str()))
            {
                continue;
            }
            json["fp"] = serde_json::Value::String(fp);
            let payload = Payload::try_from(json).map_err(q_err)?;
            points.push(PointStruct::new(id, r.vector, payload));
        }
        summary.upserted = points.len();
        if !points.is_empty() {
            self.client
                .upsert_points_chunked(
                    UpsertPointsBuilder::new(&self.collection, points).wait(true),
                    128,
                )
                .await
                .map_err(q_err)?;
        }
        // Stale points: in the collection, not among the current chunks.
        let stale: Vec<PointId> = existing
            .keys()
            .filter(|id| !wanted.contains(id))
            .map(|id| PointId::from(*id))
            .collect();
        summary.deleted = stale.len();
        if !stale.is_empty() {
            self.client
                .delete_points(
                    DeletePointsBuilder::new(&self.collection)
                        .points(PointsIdsList { ids: stale })
                        .wait(true),
                )
                .await
                .map_err(q_err)?;
        }
        Ok(summary)
    }

    /// Every point's id and fingerprint (None for a point without one).
    async fn fingerprints(&self) -> Result<HashMap<u64, Option<String>>, RetrievalError> {
        let mut found = HashMap::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut req = ScrollPointsBuilder::new(&self.collection)
                .limit(256)
                .with_payload(SelectorOptions::Include(PayloadIncludeSelector {
                    fields: vec!["fp".to_string()],
                }))
                .with_vectors(false);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let page = self.client.scroll(req).await.map_err(q_err)?;
            for p in &page.result {
                if let Some(PointIdOptions::Num(n)) =
                    p.id.as_ref().and_then(|i| i.point_id_options.clone())
                {
                    let fp = p.payload.get("fp").and_then(|v| v.as_str()).cloned();
                    found.insert(n, fp);
                }
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        Ok(found)
    }

    /// Chunk ids by similarity, optionally only guides for `services`.
    pub async fn ranked(
        &self,
        store: &Store,
        vector: &[f32],
        services: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(i64, f64)>, RetrievalError> {
        let mut req = QueryPointsBuilder::new(&self.collection)
            .query(vector.to_vec())
            .limit(limit as u64)
            .with_payload(SelectorOptions::Include(PayloadIncludeSelector {
                fields: vec!["guide".to_string()],
            }));
        if let Some(s) = services.filter(|s| !s.is_empty()) {
            req = req.filter(Filter::must([Condition::matches("services", s.to_vec())]));
        }
        let found = self.client.query(req).await.map_err(q_err)?;
        let scores: Vec<(u64, f64)> = found
            .result
            .iter()
            .filter_map(
                |p| match p.id.as_ref().and_then(|i| i.point_id_options.clone()) {
                    Some(PointIdOptions::Num(n)) => Some((n, p.score as f64)),
                    _ => None,
                },
            )
            .collect();
        // Map point ids back to chunk ids through the content hash, reading
        // only the chunks of the guides found (not every chunk, per query).
        let mut guides: Vec<String> = found
            .result
            .iter()
            .filter_map(|p| p.payload.get("guide").and_then(|v| v.as_str()).cloned())
            .collect();
        guides.sort_unstable();
        guides.dedup();
        let chunks = store.chunk_keys_of(&guides).await.map_err(q_err)?;
        let by_point: HashMap<u64, i64> = chunks
            .into_iter()
            .map(|(id, guide, h)| (point_id(&guide, &h), id))
            .collect();
        Ok(scores
            .into_iter()
            .filter_map(|(n, s)| by_point.get(&n).map(|id| (*id, s)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn point_ids_are_stable_and_per_guide() {
        assert_eq!(super::point_id("a.md", "h1"), super::point_id("a.md", "h1"));
        assert_ne!(super::point_id("a.md", "h1"), super::point_id("b.md", "h1"));
        assert_ne!(super::point_id("a.md", "h1"), super::point_id("a.md", "h2"));
    }
}
