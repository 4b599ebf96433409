//! Wires configuration into a running Agent: store, cost source behind the
//! cache, guide index, tools.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::agent::llm::LlmPlanner;
use crate::agent::{Agent, Tools};
use crate::config::RetrievalMode;
use crate::config::{Config, ConfigError, SourceKind};
use crate::costs::cache::{CachedSource, SourceMetrics, Today};
use crate::costs::explorer::ExplorerSource;
use crate::costs::sample::SampleSource;
use crate::costs::CostSource;
use crate::retrieval::dense::{missing_files, DenseIndex, Embedder};
use crate::retrieval::index::{DenseBuild, DenseLoader, SyncSummary};
use crate::retrieval::precomputed::VectorSource;
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
    /// The language model's requests, tokens and fallbacks (zero without one).
    pub llm_metrics: Arc<crate::metrics::LlmMetrics>,
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
    /// Builds the app with every part of the guide index ready (one-shot
    /// commands: `ask`, `chat`, `eval`). Guides shipped with the binary come
    /// with their vectors, so this embeds only edited or added chunks.
    pub async fn build(config: Config, as_of: Option<NaiveDate>) -> Result<App, AppError> {
        Self::build_with_progress(config, as_of, &|_, _| {}).await
    }

    /// [`App::build`]; `progress(done, total)` reports chunks embedded.
    pub async fn build_with_progress(
        config: Config,
        as_of: Option<NaiveDate>,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<App, AppError> {
        let mut app = Self::build_lexical(config, as_of).await?;
        match app.build_dense(progress).await {
            Ok(built) => {
                app.index.dense = built.dense;
                app.index.qdrant = built.qdrant;
            }
            // In hybrid mode a model that does not load means lexical search.
            Err(e)
                if app.config.retrieval.mode == RetrievalMode::Hybrid
                    && !app.guides.has_dense() =>
            {
                tracing::debug!(reason = %e, "dense retrieval off");
                app.dense_status = Some(e.to_string());
            }
            Err(e) => return Err(e),
        }
        Ok(app)
    }

    /// Builds the app with lexical guide search ready and dense search not
    /// yet built (fast: neither the model is loaded nor anything embedded). Searches are lexical until
    /// [`App::build_dense`] (or `app.guides.build_dense`) has run; `serve`
    /// runs that in the background and `app.guides.dense_ready()` says when
    /// it is done.
    pub async fn build_lexical(config: Config, as_of: Option<NaiveDate>) -> Result<App, AppError> {
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
        let (dense, dense_status) = dense_loader(&config, &store)?;
        let qdrant = match (&config.retrieval.qdrant_url, &dense) {
            (Some(url), Some(_)) => Some(QdrantStore::connect(
                url,
                config.retrieval.qdrant_api_key.as_ref(),
                &config.retrieval.qdrant_collection,
            )?),
            _ => None,
        };
        let mut index = GuideIndex::new(
            LexicalIndex::new(store.clone()),
            None,
            qdrant,
            config.retrieval.mode,
        );
        if let Some(loader) = dense {
            index = index.with_dense_loader(loader);
        }
        let index = Arc::new(index);
        let guides = guides::load(config.knowledge_dir.as_deref())?;
        let summary = SyncSummary {
            lexical: index.sync_lexical(&guides).await?,
            ..Default::default()
        };
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
        let mut agent = Agent::new(tools, store.clone(), today).with_time_zone(config.tz()?);
        let llm_metrics = crate::metrics::LlmMetrics::new();
        let model = LlmPlanner::new(&config.llm, llm_metrics.clone()).map_err(|e| {
            ConfigError::Invalid(format!("the [llm] client could not be built: {e}"))
        })?;
        if let Some(model) = model {
            agent = agent.with_planner(Box::new(model));
        }
        let agent = Arc::new(agent);
        Ok(App {
            config,
            store,
            agent,
            source_metrics,
            llm_metrics,
            guides: index,
            index: summary,
            dense_status,
        })
    }

    /// Builds the dense side of the guide index (see
    /// [`GuideIndex::build_dense`]) and hands the memory embedding used back
    /// to the system.
    pub async fn build_dense(
        &self,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<DenseBuild, AppError> {
        let built = self.guides.build_dense(progress).await;
        release_free_memory();
        Ok(built?)
    }
}

impl App {
    /// The digest runner on this app's Agent (its tools and cost cache),
    /// with `clock` for "now"; Slack and Discord are used when configured.
    pub fn digests(
        &self,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<crate::digest::Digests, ConfigError> {
        let slack = if self.config.slack.bot_token.is_some() {
            Some(Arc::new(crate::channels::slack::deliver::WebApi::new(
                &self.config.slack,
            )?))
        } else {
            None
        };
        let discord = if self.config.discord.token.is_some()
            && self.config.discord.application_id().is_some()
        {
            Some(Arc::new(crate::channels::discord::rest::Rest::new(
                &self.config.discord,
            )?))
        } else {
            None
        };
        Ok(crate::digest::Digests {
            store: self.store.clone(),
            agent: self.agent.clone(),
            config_subscriptions: self.config.subscriptions(&|k| std::env::var(k).ok())?,
            clock,
            deliverer: crate::digest::deliver::Deliverer::new(slack, discord),
            retry: crate::digest::Retry {
                base: std::time::Duration::from_secs(self.config.digest_retry_base_secs.max(1)),
                max_attempts: self.config.digest_retry_max_attempts.max(1),
            },
            catch_up: chrono::Duration::hours(i64::from(self.config.digest_catch_up_hours)),
            me: crate::digest::run::process_id().to_string(),
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
        // Lexical guide search is ready at once; dense search joins when its
        // vectors are built, in the background.
        let app = App::build_lexical(config, as_of).await?;
        let channels = crate::channels::routers(&app, &metrics, &shutdown)?;
        starting.ready(server::router(
            channels,
            Health::from_app(&app, metrics.clone()),
        ));
        tracing::info!("costbot is ready");
        // Digests run on the system clock, whatever day `as_of` pins answers to.
        let digests = Arc::new(app.digests(Arc::new(crate::clock::SystemClock))?);
        shutdown.spawn(
            "digest scheduler",
            crate::digest::run::run_scheduler(
                digests,
                std::time::Duration::from_secs(20),
                shutdown.subscribe(),
            ),
        );
        let guides = app.guides.clone();
        shutdown.spawn("dense guide index", async move {
            match guides.build_dense(&|_, _| {}).await {
                Ok(b) => {
                    if let Some(d) = b.dense {
                        tracing::info!(
                            embedded = d.embedded,
                            imported = d.imported,
                            reused = d.reused,
                            "dense guide search ready"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "dense guide search is off; answering with lexical search")
                }
            }
            release_free_memory();
        });
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

/// Returns freed heap memory to the system. Embedding allocates and frees
/// large buffers on several threads; glibc keeps them in per-thread arenas
/// otherwise, and the process would stay at its indexing peak.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap structures.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What loads the embedding model when the mode wants it and the files are
/// there (loading happens in `build_dense`). In hybrid mode a missing model
/// means lexical search, with the reason kept for `doctor`; in dense mode it
/// is an error.
fn dense_loader(
    config: &Config,
    store: &Store,
) -> Result<(Option<DenseLoader>, Option<String>), AppError> {
    if config.retrieval.mode == RetrievalMode::Lexical {
        return Ok((None, Some("retrieval.mode is lexical".into())));
    }
    let why_not = |reason: String| -> Result<(Option<DenseLoader>, Option<String>), AppError> {
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
    let (store, options, sources) = (
        store.clone(),
        config.retrieval.model,
        vector_sources(config),
    );
    Ok((
        Some(Box::new(move || {
            let e = Embedder::load_with(&dir, options)?;
            Ok(Arc::new(
                DenseIndex::new(store, Arc::new(e)).with_precomputed(sources),
            ))
        })),
        None,
    ))
}

/// Where precomputed guide vectors are looked for: next to configured
/// guides (`<knowledge dir>/embeddings/`), then the ones shipped in the binary.
fn vector_sources(config: &Config) -> Vec<VectorSource> {
    let mut sources = Vec::new();
    if let Some(dir) = &config.knowledge_dir {
        sources.push(VectorSource::Dir(dir.join("embeddings")));
    }
    sources.push(VectorSource::Shipped);
    sources
}
