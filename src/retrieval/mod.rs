//! Retrieval over the optimization guides in `knowledge/`.

pub mod dense;
pub mod eval;
pub mod guides;
pub mod index;
pub mod lexical;
pub mod precomputed;
pub mod qdrant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use guides::Guide;
pub use index::GuideIndex;
pub use lexical::LexicalIndex;

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("guide {path} is not valid: {message}")]
    BadGuide { path: String, message: String },
    #[error("could not read the knowledge directory {path}: {message}")]
    Read { path: String, message: String },
    #[error("the guide index failed: {0}")]
    Index(String),
    #[error("dense retrieval failed: {0}")]
    Dense(String),
    #[error("Qdrant failed: {0}")]
    Qdrant(String),
    #[error(
        "the Qdrant collection {collection} holds {found}, but costbot's embedding model needs \
         cosine vectors of size {dim} (the collection was made for another model): delete the \
         collection or set COSTBOT_QDRANT_COLLECTION to a new name, then run `costbot index` to \
         fill it again"
    )]
    QdrantCollectionMismatch {
        collection: String,
        found: String,
        dim: usize,
    },
}

/// One passage from a guide, with what a citation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub guide: String,
    pub title: String,
    pub section: String,
    pub text: String,
    pub source_url: Option<String>,
    pub services: Vec<String>,
    pub typical_savings: Option<String>,
    pub score: f64,
}

#[async_trait]
pub trait Retriever: Send + Sync {
    /// The `k` best passages for `query`, at most one per guide; guides for
    /// `services` rank first when relevant.
    async fn search(
        &self,
        query: &str,
        services: &[String],
        k: usize,
    ) -> Result<Vec<Hit>, RetrievalError>;
}
