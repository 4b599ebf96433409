//! Lexical search over guide chunks with SQLite FTS5 and bm25.

use std::collections::HashSet;

use async_trait::async_trait;
use serde::Serialize;

use super::guides::{FrontMatter, Guide};
use super::{Hit, RetrievalError, Retriever};
use crate::store::{ChunkRecord, GuideRecord, Store};

#[derive(Clone)]
pub struct LexicalIndex {
    store: Store,
}

/// What an index run changed.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct IndexSummary {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub chunks: usize,
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "is", "are", "was", "were", "be",
    "it", "its", "do", "does", "did", "i", "we", "our", "us", "you", "your", "my", "me", "how",
    "what", "which", "why", "when", "can", "could", "should", "would", "with", "about", "at", "by",
    "from", "that", "this", "these", "those", "there", "any", "some", "much", "many", "more",
    "most", "get", "got", "have", "has", "had", "not", "no", "so", "if", "then", "than", "into",
    "up", "down", "out", "as", "save", "saving", "savings", "cost", "costs", "bill", "cheaper",
    "cut", "reduce", "lower", "money", "spend", "spending", "aws", "amazon",
];

fn index_err(e: impl std::fmt::Display) -> RetrievalError {
    RetrievalError::Index(e.to_string())
}

/// An FTS5 MATCH expression: each meaningful word quoted, joined with OR.
pub fn match_expression(query: &str) -> Option<String> {
    let mut seen = HashSet::new();
    let terms: Vec<String> = query
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !STOPWORDS.contains(w))
        .filter(|w| seen.insert(w.to_string()))
        .map(|w| format!("\"{w}\""))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

impl LexicalIndex {
    pub fn new(store: Store) -> Self {
        LexicalIndex { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Brings the index in line with `guides`: only changed guides are rewritten.
    pub async fn sync(&self, guides: &[Guide]) -> Result<IndexSummary, RetrievalError> {
        let existing = self.store.guide_hashes().await.map_err(index_err)?;
        let mut summary = IndexSummary::default();
        let wanted: HashSet<&str> = guides.iter().map(|g| g.path.as_str()).collect();
        let removed: Vec<String> = existing
            .iter()
            .filter(|(p, _)| !wanted.contains(p.as_str()))
            .map(|(p, _)| p.clone())
            .collect();
        summary.removed = removed.len();
        let mut written = Vec::new();
        for g in guides {
            let hash = g.content_hash();
            match existing.iter().find(|(p, _)| *p == g.path) {
                Some((_, h)) if *h == hash => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(_) => summary.updated += 1,
                None => summary.added += 1,
            }
            written.push(record(g, hash)?);
        }
        if !removed.is_empty() || !written.is_empty() {
            self.store
                .write_guides(&removed, &written)
                .await
                .map_err(index_err)?;
        }
        summary.chunks = self.store.chunk_count().await.map_err(index_err)?;
        Ok(summary)
    }
}

/// A guide as the store keeps it.
fn record(g: &Guide, content_hash: String) -> Result<GuideRecord, RetrievalError> {
    Ok(GuideRecord {
        path: g.path.clone(),
        title: g.meta.title.clone(),
        meta: serde_json::to_string(&g.meta).map_err(index_err)?,
        content_hash,
        tags: format!("{} {}", g.meta.tags.join(" "), g.meta.services.join(" ")),
        chunks: g
            .chunks()
            .into_iter()
            .map(|c| ChunkRecord {
                ord: c.ord as i64,
                content_hash: chunk_hash(&c.section, &c.text),
                section: c.section,
                body: c.text,
            })
            .collect(),
    })
}

/// The hash of what is embedded for a chunk: its section path and text.
pub fn chunk_hash(section: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "{:x}",
        Sha256::digest(format!("{section}\n{text}").as_bytes())
    )
}

impl LexicalIndex {
    /// Chunk ids by bm25 (higher is better), at most `limit`.
    pub async fn ranked(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<(i64, f64)>, RetrievalError> {
        let Some(expr) = match_expression(query) else {
            return Ok(Vec::new());
        };
        self.store
            .search_chunks(&expr, limit)
            .await
            .map_err(index_err)
    }

    /// The citation details of chunks, by id.
    pub async fn hits(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Hit>, RetrievalError> {
        let mut out = std::collections::HashMap::new();
        for c in self.store.chunk_details(ids).await.map_err(index_err)? {
            let meta: FrontMatter = serde_json::from_str(&c.meta).map_err(index_err)?;
            out.insert(
                c.id,
                Hit {
                    guide: c.guide_path,
                    title: c.title,
                    section: c.section,
                    text: c.body,
                    source_url: meta.sources.first().cloned(),
                    services: meta.services,
                    typical_savings: meta.typical_savings,
                    score: 0.0,
                },
            );
        }
        Ok(out)
    }
}

#[async_trait]
impl Retriever for LexicalIndex {
    async fn search(
        &self,
        query: &str,
        services: &[String],
        k: usize,
    ) -> Result<Vec<Hit>, RetrievalError> {
        let ranked = self.ranked(query, 60).await?;
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let details = self.hits(&ids).await?;
        Ok(super::index::finish(ranked, details, services, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide(path: &str, title: &str, services: &[&str], body: &str) -> Guide {
        let text = format!(
            "+++\ntitle = \"{title}\"\nservices = [{}]\nsources = [\"https://docs.aws.amazon.com/x\"]\n+++\n# {title}\n{body}",
            services.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",")
        );
        Guide::parse(path, &text).unwrap()
    }

    #[tokio::test]
    async fn finds_by_words_and_reindexes_only_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("k.db")).await.unwrap();
        let index = LexicalIndex::new(store);
        let mut guides = vec![
            guide(
                "nat.md",
                "NAT gateway charges",
                &["EC2 - Other"],
                "## Endpoints\nGateway endpoints for S3 avoid NAT processing fees.",
            ),
            guide(
                "gp3.md",
                "Move gp2 volumes to gp3",
                &["EC2 - Other"],
                "## Why\ngp3 costs less per GB than gp2.",
            ),
            guide(
                "logs.md",
                "CloudWatch Logs retention",
                &["AmazonCloudWatch"],
                "## Retention\nSet a retention policy; logs never expire by default.",
            ),
        ];
        let s = index.sync(&guides).await.unwrap();
        assert_eq!((s.added, s.updated, s.removed, s.unchanged), (3, 0, 0, 0));
        let hits = index
            .search("how do I cut our NAT gateway bill?", &[], 3)
            .await
            .unwrap();
        assert_eq!(hits[0].guide, "nat.md");
        assert_eq!(
            hits[0].source_url.as_deref(),
            Some("https://docs.aws.amazon.com/x")
        );
        let hits = index
            .search("is gp3 cheaper than gp2", &[], 3)
            .await
            .unwrap();
        assert_eq!(hits[0].guide, "gp3.md");

        guides[1] = guide(
            "gp3.md",
            "Move gp2 volumes to gp3",
            &["EC2 - Other"],
            "## Why\ngp3 is about 20% cheaper per GB.",
        );
        guides.remove(2);
        let s = index.sync(&guides).await.unwrap();
        assert_eq!((s.added, s.updated, s.removed, s.unchanged), (0, 1, 1, 1));
        assert!(index.search("retention", &[], 3).await.unwrap().is_empty());
        assert!(index.search("the and of", &[], 3).await.unwrap().is_empty());
    }
}
