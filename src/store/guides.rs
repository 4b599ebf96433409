//! The optimization guides, their chunks, and the FTS5 index over them.
//! Retrieval decides what a guide and a chunk are; this file only stores
//! and searches them.

use sqlx::Row;

use super::{Store, StoreError};

/// A guide as stored: its front matter as JSON, and the chunks it splits into.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideRecord {
    /// File name relative to the knowledge directory; the key.
    pub path: String,
    pub title: String,
    /// The front matter, serialized as JSON.
    pub meta: String,
    /// Hash of the whole guide: an unchanged hash means nothing to rewrite.
    pub content_hash: String,
    /// Extra words for the FTS `tags` column (tags and services).
    pub tags: String,
    pub chunks: Vec<ChunkRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    pub ord: i64,
    pub section: String,
    pub body: String,
    /// Hash of what is embedded for the chunk (section and body).
    pub content_hash: String,
}

/// A chunk with its guide's title and front matter, for a citation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDetails {
    pub id: i64,
    pub guide_path: String,
    pub section: String,
    pub body: String,
    pub title: String,
    /// The guide's front matter as JSON.
    pub meta: String,
}

/// The text to embed for each distinct chunk content.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkText {
    pub content_hash: String,
    /// Section path, a newline, then the body.
    pub text: String,
}

/// FTS5 column weights for bm25: title, section, body, tags.
const BM25: &str = "bm25(chunks_fts, 4.0, 3.0, 1.0, 2.0)";

impl Store {
    /// (path, content hash) of every stored guide.
    pub async fn guide_hashes(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT path, content_hash FROM guides")
            .fetch_all(self.pool())
            .await?)
    }

    /// In one transaction: removes the guides at `removed`, and writes each
    /// of `written` (replacing a stored guide with the same path, its chunks
    /// and their FTS rows).
    pub async fn write_guides(
        &self,
        removed: &[String],
        written: &[GuideRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for path in removed {
            delete_guide(&mut tx, path).await?;
        }
        for g in written {
            delete_guide(&mut tx, &g.path).await?;
            sqlx::query("INSERT INTO guides (path, title, meta, content_hash) VALUES (?, ?, ?, ?)")
                .bind(&g.path)
                .bind(&g.title)
                .bind(&g.meta)
                .bind(&g.content_hash)
                .execute(&mut *tx)
                .await?;
            for c in &g.chunks {
                let id = sqlx::query(
                    "INSERT INTO chunks (guide_path, ord, section, body, content_hash) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&g.path)
                .bind(c.ord)
                .bind(&c.section)
                .bind(&c.body)
                .bind(&c.content_hash)
                .execute(&mut *tx)
                .await?
                .last_insert_rowid();
                sqlx::query(
                    "INSERT INTO chunks_fts (rowid, title, section, body, tags) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(&g.title)
                .bind(&c.section)
                .bind(&c.body)
                .bind(&g.tags)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn chunk_count(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chunks")
            .fetch_one(self.pool())
            .await?;
        Ok(n as usize)
    }

    /// Chunk ids matching the FTS5 expression `fts_match`, best first, with
    /// their bm25 relevance flipped so that higher is better; at most `limit`.
    pub async fn search_chunks(
        &self,
        fts_match: &str,
        limit: usize,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let sql = format!(
            "SELECT rowid, {BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?"
        );
        let rows: Vec<(i64, f64)> = sqlx::query_as(&sql)
            .bind(fts_match)
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
        // bm25 is negative, lower is better.
        Ok(rows.into_iter().map(|(id, s)| (id, -s)).collect())
    }

    /// The chunks with these ids and their guides' details, in no particular order.
    pub async fn chunk_details(&self, ids: &[i64]) -> Result<Vec<ChunkDetails>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(",");
        let sql = format!(
            "SELECT c.id, c.guide_path, c.section, c.body, g.title, g.meta FROM chunks c
             JOIN guides g ON g.path = c.guide_path WHERE c.id IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| ChunkDetails {
                id: r.get("id"),
                guide_path: r.get("guide_path"),
                section: r.get("section"),
                body: r.get("body"),
                title: r.get("title"),
                meta: r.get("meta"),
            })
            .collect())
    }

    /// The text of every distinct chunk content, by content hash.
    pub async fn chunk_texts(&self) -> Result<Vec<ChunkText>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT content_hash, MIN(section || char(10) || body) FROM chunks GROUP BY content_hash",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(content_hash, text)| ChunkText { content_hash, text })
            .collect())
    }

    /// (chunk id, guide path, content hash) of every chunk: what a Qdrant
    /// point id is derived from.
    pub async fn chunk_keys(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, guide_path, content_hash FROM chunks")
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// [`Store::chunk_keys`] for the chunks of these guides only (the guides
    /// a Qdrant search found: a query reads its hits, not the corpus).
    pub async fn chunk_keys_of(
        &self,
        guides: &[String],
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        if guides.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; guides.len()].join(",");
        let sql = format!(
            "SELECT id, guide_path, content_hash FROM chunks WHERE guide_path IN ({placeholders})"
        );
        let mut q = sqlx::query_as(&sql);
        for g in guides {
            q = q.bind(g);
        }
        Ok(q.fetch_all(self.pool()).await?)
    }
}

async fn delete_guide(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    path: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE guide_path = ?)",
    )
    .bind(path)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM chunks WHERE guide_path = ?")
        .bind(path)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM guides WHERE path = ?")
        .bind(path)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, body: &str) -> GuideRecord {
        GuideRecord {
            path: path.into(),
            title: format!("Title of {path}"),
            meta: "{}".into(),
            content_hash: format!("h-{body}"),
            tags: "nat".into(),
            chunks: vec![ChunkRecord {
                ord: 0,
                section: "S".into(),
                body: body.into(),
                content_hash: format!("c-{body}"),
            }],
        }
    }

    #[tokio::test]
    async fn guides_are_written_replaced_searched_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db")).await.unwrap();
        store
            .write_guides(
                &[],
                &[
                    record("a.md", "gateway endpoints"),
                    record("b.md", "volumes"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(store.chunk_count().await.unwrap(), 2);
        let found = store.search_chunks("\"gateway\"", 10).await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].1 > 0.0, "higher is better: {found:?}");
        let d = store.chunk_details(&[found[0].0]).await.unwrap();
        assert_eq!(d[0].guide_path, "a.md");
        assert_eq!(d[0].title, "Title of a.md");

        // Rewriting a guide replaces its chunks and FTS rows.
        store
            .write_guides(&["b.md".into()], &[record("a.md", "lifecycle rules")])
            .await
            .unwrap();
        assert!(store
            .search_chunks("\"gateway\"", 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.chunk_count().await.unwrap(), 1);
        let texts = store.chunk_texts().await.unwrap();
        assert_eq!(texts[0].text, "S\nlifecycle rules");
        assert_eq!(
            store.guide_hashes().await.unwrap(),
            vec![("a.md".to_string(), "h-lifecycle rules".to_string())]
        );
    }
}
