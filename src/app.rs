//! Wires configuration into a running Agent: store, cost source behind the
//! cache, guide index, tools.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::agent::{Agent, Tools};
use crate::config::{Config, ConfigError, SourceKind};
use crate::costs::cache::{CachedSource, SourceMetrics, Today};
use crate::costs::explorer::ExplorerSource;
use crate::costs::sample::SampleSource;
use crate::costs::CostSource;
use crate::retrieval::lexical::IndexSummary;
use crate::retrieval::{guides, LexicalIndex, RetrievalError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
}

pub struct App {
    pub config: Config,
    pub store: Store,
    pub agent: Arc<Agent>,
    pub source_metrics: Arc<SourceMetrics>,
    pub index: IndexSummary,
}

/// "Today" in the configured time zone, or a fixed day for reproducible runs.
pub fn today_fn(config: &Config, as_of: Option<NaiveDate>) -> Result<Today, ConfigError> {
    let tz = config.tz()?;
    Ok(match as_of {
        Some(d) => Arc::new(move || d),
        None => Arc::new(move || chrono::Utc::now().with_timezone(&tz).date_naive()),
    })
}

impl App {
    pub async fn build(config: Config, as_of: Option<NaiveDate>) -> Result<App, AppError> {
        let store = Store::open(&config.database_path()).await?;
        let today = today_fn(&config, as_of)?;
        let inner: Arc<dyn CostSource> = match config.source {
            SourceKind::Sample => Arc::new(SampleSource::new(today())),
            SourceKind::Explorer => Arc::new(ExplorerSource::connect(&config.aws).await),
        };
        let cached = CachedSource::new(inner, store.clone(), config.cache.clone(), today.clone());
        let source_metrics = cached.metrics();
        let index = LexicalIndex::new(store.clone());
        let guides = guides::load(config.knowledge_dir.as_deref())?;
        let summary = index.sync(&guides).await?;
        let tools = Tools {
            source: Arc::new(cached),
            retriever: Arc::new(index),
            budget: config.budget_monthly,
            connections: config
                .aws
                .accounts
                .iter()
                .filter(|a| a.has_own_connection())
                .map(|a| a.name.clone())
                .collect(),
        };
        let agent = Arc::new(Agent::new(tools, store.clone(), today));
        Ok(App {
            config,
            store,
            agent,
            source_metrics,
            index: summary,
        })
    }
}
