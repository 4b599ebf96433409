//! Retrieval evaluation: how often a relevant guide comes first or in the top 5.

use std::path::Path;

use serde::Deserialize;

use super::{GuideIndex, RetrievalError};
use crate::config::RetrievalMode;
use crate::language::services;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub question: String,
    /// Guide file names that answer it, best first.
    pub relevant: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    pub questions: usize,
    /// Share of questions whose first result is a relevant guide.
    pub recall_at_1: f64,
    /// Share with a relevant guide in the top 5.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first relevant guide (0 beyond the depth searched).
    pub mrr: f64,
}

pub fn load_questions(path: &Path) -> Result<Vec<Question>, RetrievalError> {
    let text = std::fs::read_to_string(path).map_err(|e| RetrievalError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| RetrievalError::Read {
                path: format!("{}:{}", path.display(), i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Runs every question the way the Agent would: services named in the
/// question steer the ranking.
pub async fn evaluate(
    index: &GuideIndex,
    questions: &[Question],
    mode: RetrievalMode,
    depth: usize,
) -> Result<EvalResult, RetrievalError> {
    let (mut at1, mut at5, mut rr) = (0usize, 0usize, 0f64);
    for q in questions {
        let svc: Vec<String> = services::find_in_text(&q.question)
            .into_iter()
            .flat_map(|m| m.services)
            .collect();
        let hits = index
            .search_mode(&q.question, &svc, depth.max(5), mode)
            .await?;
        if let Some(rank) = hits.iter().position(|h| q.relevant.contains(&h.guide)) {
            if rank == 0 {
                at1 += 1;
            }
            if rank < 5 {
                at5 += 1;
            }
            if rank < depth {
                rr += 1.0 / (rank as f64 + 1.0);
            }
        }
    }
    let n = questions.len().max(1) as f64;
    Ok(EvalResult {
        questions: questions.len(),
        recall_at_1: at1 as f64 / n,
        recall_at_5: at5 as f64 / n,
        mrr: rr / n,
    })
}
