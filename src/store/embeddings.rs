//! Dense vectors for guide chunks, keyed by (chunk content hash, model), so
//! an edited guide re-embeds only the chunks that changed and vectors of
//! different models never mix. Vectors are little-endian f32 blobs.

use std::collections::HashSet;

use sqlx::Row;

use super::{Store, StoreError};

/// A current chunk's vector with what a vector database's payload needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVector {
    pub content_hash: String,
    pub guide_path: String,
    pub section: String,
    /// The guide's front matter as JSON.
    pub meta: String,
    pub vector: Vec<f32>,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Store {
    /// Content hashes that have a vector for `model`.
    pub async fn embedded_hashes(&self, model: &str) -> Result<HashSet<String>, StoreError> {
        let hashes: Vec<String> =
            sqlx::query_scalar("SELECT text_hash FROM embeddings WHERE model = ?")
                .bind(model)
                .fetch_all(self.pool())
                .await?;
        Ok(hashes.into_iter().collect())
    }

    /// Stores (content hash, vector) pairs for `model` in one transaction.
    pub async fn put_embeddings(
        &self,
        model: &str,
        vectors: &[(String, Vec<f32>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (hash, v) in vectors {
            sqlx::query(
                "INSERT OR REPLACE INTO embeddings (text_hash, model, dim, vector) VALUES (?, ?, ?, ?)",
            )
            .bind(hash)
            .bind(model)
            .bind(v.len() as i64)
            .bind(to_blob(v))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `model`'s vectors that no current chunk uses; returns how many.
    pub async fn prune_embeddings(&self, model: &str) -> Result<usize, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM embeddings WHERE model = ? AND text_hash NOT IN (SELECT content_hash FROM chunks)",
        )
        .bind(model)
        .execute(self.pool())
        .await?
        .rows_affected() as usize)
    }

    /// (chunk id, vector) of every chunk that has a vector for `model`.
    pub async fn chunk_vectors(&self, model: &str) -> Result<Vec<(i64, Vec<f32>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, e.vector FROM chunks c
             JOIN embeddings e ON e.text_hash = c.content_hash AND e.model = ?",
        )
        .bind(model)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0), from_blob(&r.get::<Vec<u8>, _>(1))))
            .collect())
    }

    /// Every chunk with a vector for `model`, with its guide's details.
    pub async fn chunk_vectors_with_details(
        &self,
        model: &str,
    ) -> Result<Vec<ChunkVector>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.content_hash, c.guide_path, c.section, g.meta, e.vector FROM chunks c
             JOIN guides g ON g.path = c.guide_path
             JOIN embeddings e ON e.text_hash = c.content_hash AND e.model = ?",
        )
        .bind(model)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ChunkVector {
                content_hash: r.get(0),
                guide_path: r.get(1),
                section: r.get(2),
                meta: r.get(3),
                vector: from_blob(&r.get::<Vec<u8>, _>(4)),
            })
            .collect())
    }

    /// (content hash, vector) for `model` of every distinct current chunk
    /// content that has one, ordered by hash (for an export file).
    pub async fn current_embeddings(
        &self,
        model: &str,
    ) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.text_hash, e.vector FROM embeddings e
             WHERE e.model = ? AND e.text_hash IN (SELECT content_hash FROM chunks)
             ORDER BY e.text_hash",
        )
        .bind(model)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), from_blob(&r.get::<Vec<u8>, _>(1))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::guides::{ChunkRecord, GuideRecord};
    use super::*;

    #[tokio::test]
    async fn vectors_round_trip_per_model_and_stale_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("e.db")).await.unwrap();
        let chunk = |h: &str| ChunkRecord {
            ord: 0,
            section: "S".into(),
            body: h.into(),
            content_hash: h.into(),
        };
        store
            .write_guides(
                &[],
                &[GuideRecord {
                    path: "a.md".into(),
                    title: "A".into(),
                    meta: "{\"services\":[]}".into(),
                    content_hash: "g".into(),
                    tags: String::new(),
                    chunks: vec![chunk("h1"), chunk("h2")],
                }],
            )
            .await
            .unwrap();
        store
            .put_embeddings(
                "m1",
                &[
                    ("h1".into(), vec![0.5, -1.25]),
                    ("gone".into(), vec![1.0, 0.0]),
                ],
            )
            .await
            .unwrap();
        store
            .put_embeddings("m2", &[("h2".into(), vec![0.0, 1.0])])
            .await
            .unwrap();
        assert_eq!(
            store.embedded_hashes("m1").await.unwrap(),
            ["h1".to_string(), "gone".to_string()].into_iter().collect()
        );
        assert_eq!(
            store.current_embeddings("m1").await.unwrap(),
            vec![("h1".to_string(), vec![0.5, -1.25])]
        );
        let v = store.chunk_vectors("m1").await.unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, vec![0.5, -1.25]);
        let d = store.chunk_vectors_with_details("m2").await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].guide_path, "a.md");
        assert_eq!(store.prune_embeddings("m1").await.unwrap(), 1);
        assert_eq!(store.prune_embeddings("m2").await.unwrap(), 0);
    }
}
