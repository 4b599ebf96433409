//! Guides: markdown with TOML front matter between `+++` lines, chunked by heading.

use std::path::Path;

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RetrievalError;

/// The guides shipped inside the binary, used when no directory is configured.
static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/knowledge");

/// The knowledge directory compiled into the binary (guides and `embeddings/`).
pub(crate) fn embedded_dir() -> &'static Dir<'static> {
    &EMBEDDED
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub typical_savings: Option<String>,
    pub effort: Option<String>,
    pub risk: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    pub last_reviewed: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Guide {
    /// File name relative to the knowledge directory, e.g. `nat-gateway.md`.
    pub path: String,
    pub meta: FrontMatter,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub ord: usize,
    /// "Guide title > Section".
    pub section: String,
    pub text: String,
}

impl Guide {
    pub fn parse(path: &str, text: &str) -> Result<Guide, RetrievalError> {
        let bad = |message: String| RetrievalError::BadGuide {
            path: path.to_string(),
            message,
        };
        let rest = text
            .trim_start()
            .strip_prefix("+++")
            .ok_or_else(|| bad("it must start with TOML front matter between +++ lines".into()))?;
        let (front, body) = rest
            .split_once("\n+++")
            .ok_or_else(|| bad("the front matter has no closing +++".into()))?;
        let meta: FrontMatter = toml::from_str(front).map_err(|e| bad(e.to_string()))?;
        if meta.title.trim().is_empty() {
            return Err(bad("title is empty".into()));
        }
        Ok(Guide {
            path: path.to_string(),
            meta,
            body: body.trim_start_matches(['+', '\n', '\r']).to_string(),
        })
    }

    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.path.as_bytes());
        h.update(
            serde_json::to_string(&self.meta)
                .unwrap_or_default()
                .as_bytes(),
        );
        h.update(self.body.as_bytes());
        format!("{:x}", h.finalize())
    }

    /// Splits the body at `## ` headings; text before the first is the overview.
    pub fn chunks(&self) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut section = "Overview".to_string();
        let mut buf = String::new();
        let flush = |section: &str, buf: &mut String, chunks: &mut Vec<Chunk>| {
            let text = buf.trim();
            if !text.is_empty() {
                chunks.push(Chunk {
                    ord: chunks.len(),
                    section: format!("{} > {}", self.meta.title, section),
                    text: text.to_string(),
                });
            }
            buf.clear();
        };
        for line in self.body.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                flush(&section, &mut buf, &mut chunks);
                section = h.trim().to_string();
            } else if line.starts_with("# ") {
                continue;
            } else {
                buf.push_str(line);
                buf.push('\n');
            }
        }
        flush(&section, &mut buf, &mut chunks);
        chunks
    }
}

/// Loads every `*.md` guide from `dir`, or the embedded copy when `dir` is None.
pub fn load(dir: Option<&Path>) -> Result<Vec<Guide>, RetrievalError> {
    let mut guides = Vec::new();
    match dir {
        Some(dir) => {
            let entries = std::fs::read_dir(dir).map_err(|e| RetrievalError::Read {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
            for entry in entries {
                let entry = entry.map_err(|e| RetrievalError::Read {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                })?;
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("md") {
                    continue;
                }
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                if name.eq_ignore_ascii_case("README.md") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| RetrievalError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                guides.push(Guide::parse(&name, &text)?);
            }
        }
        None => {
            for file in EMBEDDED.files() {
                let name = file.path().display().to_string();
                if !name.ends_with(".md") || name.eq_ignore_ascii_case("README.md") {
                    continue;
                }
                let text = file
                    .contents_utf8()
                    .ok_or_else(|| RetrievalError::BadGuide {
                        path: name.clone(),
                        message: "not UTF-8".into(),
                    })?;
                guides.push(Guide::parse(&name, text)?);
            }
        }
    }
    guides.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(guides)
}

/// One guide shipped inside the binary, by file name (e.g. `ec2-rightsizing.md`),
/// for answers that cite a guide without searching.
pub fn embedded_guide(path: &str) -> Option<Guide> {
    let text = EMBEDDED.get_file(path)?.contents_utf8()?;
    Guide::parse(path, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "+++\ntitle = \"Cut NAT costs\"\nservices = [\"EC2 - Other\"]\ntags = [\"nat\"]\nsources = [\"https://docs.aws.amazon.com/vpc/\"]\n+++\n\n# Cut NAT costs\n\nIntro text.\n\n## When it applies\nAlways.\n\n## How to do it\nUse endpoints.\n";

    #[test]
    fn parses_and_chunks_by_heading() {
        let g = Guide::parse("nat.md", SAMPLE).unwrap();
        assert_eq!(g.meta.services, vec!["EC2 - Other"]);
        let c = g.chunks();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].section, "Cut NAT costs > Overview");
        assert_eq!(c[2].section, "Cut NAT costs > How to do it");
        assert_eq!(c[2].text, "Use endpoints.");
    }

    #[test]
    fn bad_front_matter_is_named() {
        let err = Guide::parse("x.md", "# no front matter").unwrap_err();
        assert!(err.to_string().contains("x.md"));
        let err = Guide::parse("y.md", "+++\ntitle = \"t\"\nunknown = 1\n+++\nbody").unwrap_err();
        assert!(err.to_string().contains("y.md"));
    }

    #[test]
    fn embedded_guides_all_parse() {
        let guides = load(None).unwrap();
        assert!(guides.len() >= 8, "only {} guides", guides.len());
        for g in &guides {
            assert!(!g.chunks().is_empty(), "{} has no text", g.path);
            assert!(!g.meta.sources.is_empty(), "{} cites no source", g.path);
        }
    }
}
