//! Guide vectors computed ahead of time and shipped with the guides, so a
//! fresh data directory does not embed the whole corpus before dense search
//! works. A file holds one model's vectors keyed by chunk content hash; a
//! vector is used only when both the model id and the hash match a current
//! chunk, everything else is embedded as usual.
//!
//! `knowledge/embeddings/<model-id>.bin` is compiled into the binary with the
//! guides. Regenerate it after editing a guide with [`EXPORT_COMMAND`].
//!
//! Format (little-endian): the magic `COSTBOT-VEC1\n`, u32 length and UTF-8
//! bytes of the model id, u32 dimension, u32 count, then per vector the 32
//! raw bytes of the chunk's sha256 content hash and `dimension` f32 values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::RetrievalError;

const MAGIC: &[u8] = b"COSTBOT-VEC1\n";

/// What guide editors run to bring the shipped vectors up to date.
pub const EXPORT_COMMAND: &str =
    "scripts/fetch-model.sh && cargo run --release -- index --export-embeddings knowledge/embeddings";

/// One model's precomputed vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Precomputed {
    model: String,
    dim: usize,
    vectors: HashMap<[u8; 32], Vec<f32>>,
}

/// Where precomputed vectors come from; read only when something is missing.
#[derive(Debug, Clone)]
pub enum VectorSource {
    /// `knowledge/embeddings/*.bin` compiled into the binary.
    Shipped,
    /// Every `*.bin` file in a directory (e.g. `<knowledge dir>/embeddings`).
    Dir(PathBuf),
    /// An in-memory file.
    Bytes(Arc<Vec<u8>>),
}

fn bad(message: impl std::fmt::Display) -> RetrievalError {
    RetrievalError::Dense(format!("precomputed vectors: {message}"))
}

fn hash_bytes(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Precomputed {
    pub fn new(model: &str, dim: usize) -> Self {
        Precomputed {
            model: model.to_string(),
            dim,
            vectors: HashMap::new(),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Adds the vector of the chunk with this (hex sha256) content hash; a
    /// hash that is not 64 hex digits or a vector of another dimension is refused.
    pub fn insert(&mut self, content_hash: &str, vector: Vec<f32>) -> Result<(), RetrievalError> {
        let key = hash_bytes(content_hash)
            .ok_or_else(|| bad(format!("{content_hash:?} is not a sha256 hex digest")))?;
        if vector.len() != self.dim {
            return Err(bad(format!(
                "a vector of dimension {} in a file of dimension {}",
                vector.len(),
                self.dim
            )));
        }
        self.vectors.insert(key, vector);
        Ok(())
    }

    /// The vector for this chunk content under `model` with `dim`, if the file has it.
    pub fn get(&self, model: &str, dim: usize, content_hash: &str) -> Option<&[f32]> {
        if self.model != model || self.dim != dim {
            return None;
        }
        self.vectors
            .get(&hash_bytes(content_hash)?)
            .map(Vec::as_slice)
    }

    pub fn contains(&self, content_hash: &str) -> bool {
        hash_bytes(content_hash).is_some_and(|k| self.vectors.contains_key(&k))
    }

    /// The file's bytes; entries sorted by hash so the output is reproducible.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut keys: Vec<&[u8; 32]> = self.vectors.keys().collect();
        keys.sort();
        let mut out = Vec::with_capacity(64 + keys.len() * (32 + 4 * self.dim));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.model.len() as u32).to_le_bytes());
        out.extend_from_slice(self.model.as_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            out.extend_from_slice(k);
            for x in &self.vectors[k] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Precomputed, RetrievalError> {
        let mut rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a costbot vector file"))?;
        let mut take = |n: usize| -> Result<&[u8], RetrievalError> {
            if rest.len() < n {
                return Err(bad("the file is truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let model_len = u32_at(take(4)?);
        let model = String::from_utf8(take(model_len)?.to_vec())
            .map_err(|_| bad("the model id is not UTF-8"))?;
        let dim = u32_at(take(4)?);
        let count = u32_at(take(4)?);
        let mut vectors = HashMap::with_capacity(count);
        for _ in 0..count {
            let key: [u8; 32] = take(32)?.try_into().expect("32 bytes");
            let v = take(4 * dim)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            vectors.insert(key, v);
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the last vector"));
        }
        Ok(Precomputed {
            model,
            dim,
            vectors,
        })
    }

    /// Writes the file to `path`, or to `<path>/<model-id>.bin` when `path` is
    /// a directory; returns where it went.
    pub fn write(&self, path: &Path) -> Result<PathBuf, RetrievalError> {
        let target = if path.is_dir() {
            path.join(format!("{}.bin", self.model))
        } else {
            path.to_path_buf()
        };
        std::fs::write(&target, self.to_bytes())
            .map_err(|e| bad(format!("{}: {e}", target.display())))?;
        Ok(target)
    }
}

impl VectorSource {
    /// The files this source holds; unreadable ones are logged and skipped,
    /// since embedding is always the fallback.
    pub fn load(&self) -> Vec<Precomputed> {
        let parse = |name: &str, bytes: &[u8]| match Precomputed::parse(bytes) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(file = name, error = %e, "ignoring a precomputed vector file");
                None
            }
        };
        match self {
            VectorSource::Shipped => super::guides::embedded_dir()
                .get_dir("embeddings")
                .into_iter()
                .flat_map(|d| d.files())
                .filter(|f| f.path().extension().is_some_and(|e| e == "bin"))
                .filter_map(|f| parse(&f.path().display().to_string(), f.contents()))
                .collect(),
            VectorSource::Dir(dir) => {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    return Vec::new();
                };
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "bin"))
                    .collect();
                paths.sort();
                paths
                    .iter()
                    .filter_map(|p| {
                        let name = p.display().to_string();
                        match std::fs::read(p) {
                            Ok(bytes) => parse(&name, &bytes),
                            Err(e) => {
                                tracing::warn!(file = name, error = %e, "could not read a precomputed vector file");
                                None
                            }
                        }
                    })
                    .collect()
            }
            VectorSource::Bytes(b) => parse("(in memory)", b).into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[test]
    fn round_trips_and_matches_only_the_same_model_dimension_and_hash() {
        let mut p = Precomputed::new("onnx-abc-mean-256", 3);
        p.insert(&hash(1), vec![0.25, -0.5, 1.0]).unwrap();
        p.insert(&hash(2), vec![0.0, 1.0, 0.0]).unwrap();
        assert!(p.insert("not-hex", vec![0.0; 3]).is_err());
        assert!(p.insert(&hash(3), vec![0.0; 4]).is_err());
        let bytes = p.to_bytes();
        let q = Precomputed::parse(&bytes).unwrap();
        assert_eq!(p, q);
        assert_eq!(
            q.get("onnx-abc-mean-256", 3, &hash(1)),
            Some(&[0.25, -0.5, 1.0][..])
        );
        assert_eq!(q.get("onnx-other-mean-256", 3, &hash(1)), None);
        assert_eq!(q.get("onnx-abc-mean-256", 4, &hash(1)), None);
        assert_eq!(q.get("onnx-abc-mean-256", 3, &hash(9)), None);
        assert!(Precomputed::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(Precomputed::parse(b"something else").is_err());
        let src = VectorSource::Bytes(Arc::new(bytes));
        assert_eq!(src.load(), vec![q]);
    }

    #[test]
    fn shipped_files_parse() {
        let dir = crate::retrieval::guides::embedded_dir()
            .get_dir("embeddings")
            .expect("knowledge/embeddings/ is shipped");
        let mut n = 0;
        for f in dir.files() {
            let p = Precomputed::parse(f.contents())
                .unwrap_or_else(|e| panic!("{}: {e}", f.path().display()));
            assert!(!p.is_empty(), "{} is empty", f.path().display());
            assert_eq!(
                f.path().file_stem().and_then(|s| s.to_str()),
                Some(p.model()),
                "the file is named after its model id"
            );
            n += 1;
        }
        assert!(n >= 1, "no vector file in knowledge/embeddings/");
    }
}
