//! Locating the embedding model for dense tests.

use std::path::PathBuf;

/// The model directory, or None (after saying so) when it is absent and not
/// required. `.ci/run` fetches the model and sets COSTBOT_REQUIRE_MODEL=1, so
/// in CI a missing model fails instead of skipping.
pub fn model_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var("COSTBOT_MODEL_DIR")
        .map(PathBuf::from)
        .ok()
        .or_else(costbot::retrieval::dense::default_model_dir)?;
    let missing = costbot::retrieval::dense::missing_files(&dir);
    if missing.is_empty() {
        return Some(dir);
    }
    if std::env::var("COSTBOT_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
        panic!(
            "{test}: the model is required but {} lacks {:?}; run scripts/fetch-model.sh",
            dir.display(),
            missing
        );
    }
    eprintln!(
        "SKIPPED {test}: no embedding model in {} (run scripts/fetch-model.sh, or bash .ci/run)",
        dir.display()
    );
    None
}

/// A knowledge directory with three real guides, for tests that edit guides.
pub fn three_guides() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "nat-gateway.md",
        "ebs-gp2-to-gp3.md",
        "cloudwatch-logs-retention.md",
    ] {
        std::fs::copy(format!("knowledge/{name}"), dir.path().join(name)).unwrap();
    }
    dir
}
