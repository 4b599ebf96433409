//! Wires configuration into a running Agent: store, cost source behind the
//! cache, guide index, tools.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::agent::{Agent, Tools};
use crate::config::RetrievalMode;
use crate::config::{Config, ConfigError, SourceKind};
use crate::costs::cache::{CachedSource, SourceMetrics, Today};
use crate::costs::explorer::ExplorerSource;
use crate::costs::sample::SampleSource;
use crate::costs::CostSource;
use crate::retrieval::dense::{missing_files, DenseIndex, Embedder};
use crate::retrieval::index::SyncSummary;
use crate::retrieval::qdrant::QdrantStore;
use crate::retrieval::{guides, GuideIndex, LexicalIndex, RetrievalError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
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
    pub guides: Arc<GuideIndex>,
    pub index: SyncSummary,
    /// Why dense retrieval is off, when it is.
    pub dense_status: Option<String>,
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
        Self::build_with_progress(config, as_of, &|_, _| {}).await
    }

    /// Builds the app; `progress(done, total)` reports chunks embedded.
    pub async fn build_with_progress(
        config: Config,
        as_of: Option<NaiveDate>,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<App, AppError> {
        let store = Store::open(&config.database_path()).await?;
        let today = today_fn(&config, as_of)?;
        let inner: Arc<dyn CostSource> = match config.source {
            SourceKind::Sample => Arc::new(SampleSource::with_clock(today.clone())),
            SourceKind::Explorer => Arc::new(ExplorerSource::connect(&config.aws).await),
        };
        let cached = CachedSource::new(inner, store.clone(), config.cache.clone(), today.clone())
            .with_monthly_limit(config.aws.max_requests_per_month);
        // Expired cache entries are dead weight.
        if let Err(e) = store.cache_prune(chrono::Utc::now()).await {
            tracing::warn!(error = %e, "could not prune the cost cache");
        }
        let source_metrics = cached.metrics();
        let (dense, dense_status) = load_dense(&config, &store)?;
        let qdrant = match (&config.retrieval.qdrant_url, &dense) {
            (Some(url), Some(_)) => Some(QdrantStore::connect(
                url,
                config.retrieval.qdrant_api_key.as_ref(),
                &config.retrieval.qdrant_collection,
            )?),
            _ => None,
        };
        let index = Arc::new(GuideIndex::new(
            LexicalIndex::new(store.clone()),
            dense,
            qdrant,
            config.retrieval.mode,
        ));
        let guides = guides::load(config.knowledge_dir.as_deref())?;
        let summary = index.sync(&guides, progress).await?;
        let tools = Tools {
            source: Arc::new(cached),
            retriever: index.clone(),
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
            guides: index,
            index: summary,
            dense_status,
        })
    }
}

/// `costbot serve` on `listener`: `/healthz` answers from the first second,
/// every channel joins once the app is built, and every task obeys
/// `shutdown`; in-flight requests get `server.drain_secs` to finish.
pub async fn serve(
    config: Config,
    as_of: Option<NaiveDate>,
    listener: tokio::net::TcpListener,
    shutdown: crate::shutdown::Shutdown,
) -> Result<(), AppError> {
    use crate::server::{self, Health, ServerOptions, Starting};
    let options = ServerOptions::from_config(&config.server);
    let metrics = crate::metrics::Metrics::new();
    let starting = Starting::new();
    let accepting = tokio::spawn(server::serve(
        listener,
        starting.router(),
        options.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    let built = async {
        let app = App::build(config, as_of).await?;
        let channels = crate::channels::routers(&app, &metrics)?;
        starting.ready(server::router(
            channels,
            Health::from_app(&app, metrics.clone()),
        ));
        tracing::info!("costbot is ready");
        Ok::<_, AppError>(app)
    }
    .await;
    if built.is_err() {
        shutdown.trigger();
    }
    let served = accepting
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    shutdown.drain(options.drain).await;
    let app = built?;
    app.store.close().await;
    Ok(served?)
}

/// Loads the embedding model when the mode wants it and the files are there.
/// In hybrid mode a missing model means lexical search, with the reason kept
/// for `doctor`; in dense mode it is an error.
fn load_dense(
    config: &Config,
    store: &Store,
) -> Result<(Option<Arc<DenseIndex>>, Option<String>), AppError> {
    if config.retrieval.mode == RetrievalMode::Lexical {
        return Ok((None, Some("retrieval.mode is lexical".into())));
    }
    let why_not = |reason: String| -> Result<(Option<Arc<DenseIndex>>, Option<String>), AppError> {
        if config.retrieval.mode == RetrievalMode::Dense {
            Err(AppError::Retrieval(RetrievalError::Dense(reason)))
        } else {
            tracing::debug!(%reason, "dense retrieval off");
            Ok((None, Some(reason)))
        }
    };
    let Some(dir) = config.model_dir() else {
        return why_not("no model directory: set COSTBOT_MODEL_DIR".into());
    };
    let missing = missing_files(&dir);
    if !missing.is_empty() {
        return why_not(format!(
            "the model is not in {} (missing {}); run scripts/fetch-model.sh {}",
            dir.display(),
            missing.join(", "),
            dir.display()
        ));
    }
    match Embedder::load_with(&dir, config.retrieval.model) {
        Ok(e) => Ok((
            Some(Arc::new(DenseIndex::new(store.clone(), Arc::new(e)))),
            None,
        )),
        Err(e) => why_not(e.to_string()),
    }
}
