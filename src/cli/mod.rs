//! The `costbot` commands, one module each; `main.rs` only parses and
//! dispatches. A command that needs the app runs inside [`with_app`], which
//! builds it and closes the store when the command is done (also when it
//! fails), so no command can forget to.

pub mod ask;
pub mod chat;
pub mod digest;
pub mod doctor;
pub mod eval;
pub mod index;
pub mod serve;
pub mod tools;

use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;

use crate::agent::{ConversationKey, Inquiry, TurnError};
use crate::app::App;
use crate::config::Config;

/// Loads `--config` (or `COSTBOT_CONFIG`, or `./costbot.toml`) and the environment.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(path, &|k| std::env::var(k).ok()).context("loading configuration")
}

/// Builds the app (as if today were `as_of`, when given), runs `f` on it,
/// then closes the store whatever `f` returned.
pub async fn with_app<T>(
    config: Config,
    as_of: Option<NaiveDate>,
    f: impl AsyncFnOnce(&App) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    with_app_reporting(config, as_of, &|_, _| {}, f).await
}

/// [`with_app`], with `progress(done, total)` told about chunks embedded while
/// the guide index is brought up to date.
pub async fn with_app_reporting<T>(
    config: Config,
    as_of: Option<NaiveDate>,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
    f: impl AsyncFnOnce(&App) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let app = App::build_with_progress(config, as_of, progress).await?;
    let result = f(&app).await;
    app.store.close().await;
    result
}

/// The CLI's turns: the terminal user is both scope and author.
fn inquiry(conversation: Option<String>, text: String) -> Inquiry {
    Inquiry::new(
        ConversationKey::from_optional_id(conversation),
        "cli",
        "cli",
        text,
    )
}

/// Prints a failed turn: as JSON on stdout, or as text with its suggestions on stderr.
fn print_error(e: &TurnError, json: bool) {
    let p = &e.public;
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "code": p.code, "message": p.message, "suggestions": p.suggestions } })
        );
    } else {
        eprintln!("{}", p.message);
        for s in &p.suggestions {
            eprintln!("  - {s}");
        }
    }
}
