//! What every handler shares within one worker: the settings, the auth state and the
//! handles on the arena.

use std::net::SocketAddr;
use std::sync::Arc;

use lightrag_config::Settings;
use lightrag_supervisor::{Arena, WorkerContext};

use lightrag_engine::coordination::{Coordination, LoginThrottle, Renewals};
use lightrag_engine::documents::Pipeline;
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::identity::{self, EmbeddingIdentity};
use lightrag_engine::llm::LanguageModel;
use lightrag_engine::rerank::Reranker;
use lightrag_engine::storage::postgres::{PgCoordination, PgRenewals, PgThrottle};
use lightrag_engine::storage::redis::{RedisCoordination, RedisRenewals, RedisThrottle};
use lightrag_engine::storage::{Backend, StorageConfig, StorageError};
use lightrag_engine::workspace::Workspace;

use crate::arena::SharedRegion;
use crate::arena::coordination::ArenaCoordination;
use crate::arena::renewal::RENEWAL_INTERVAL;
use crate::arena::throttle::SharedThrottle;
use crate::auth::Auth;
use crate::models::ModelLoadError;
use crate::open_workspaces::{OpenError, Workspaces};
use crate::{engine_settings, models};

/// The arena on one node; with document status in Redis or PostgreSQL, several nodes
/// share it, and the pipeline claim and status go through that database (with
/// PostgreSQL, the change counters too: its vectors are shared).
fn coordination(
    shared: &'static SharedRegion,
    storage: &StorageConfig,
) -> Result<Arc<dyn Coordination>, StorageError> {
    let local: Arc<dyn Coordination> = Arc::new(ArenaCoordination::new(shared));
    match (&storage.redis, &storage.postgres, storage.doc_status) {
        (Some(redis), _, Backend::Redis) => Ok(Arc::new(RedisCoordination::new(local, redis)?)),
        (_, Some(pg), Backend::Postgres) => Ok(Arc::new(PgCoordination::new(local, pg)?)),
        _ => Ok(local),
    }
}

type Limits = (Box<dyn LoginThrottle>, Box<dyn Renewals>);

/// The login throttle and the token-renewal limit: across nodes when they share
/// document status (as the pipeline is), else across this node's workers.
fn limits(
    shared: &'static SharedRegion,
    storage: &StorageConfig,
    auth: &lightrag_config::api::AuthSettings,
) -> Result<Limits, StorageError> {
    let (max, window) = (auth.login_max_failed_attempts, auth.login_lockout_window);
    Ok(
        match (&storage.redis, &storage.postgres, storage.doc_status) {
            (Some(redis), _, Backend::Redis) => (
                Box::new(RedisThrottle::new(redis, max, window)?),
                Box::new(RedisRenewals::new(redis, RENEWAL_INTERVAL)?),
            ),
            (_, Some(pg), Backend::Postgres) => (
                Box::new(PgThrottle::new(pg, max, window)?),
                Box::new(PgRenewals::new(pg, RENEWAL_INTERVAL)?),
            ),
            _ => (
                Box::new(SharedThrottle::new(&shared.throttle, max, window)),
                Box::new(&shared.renewals),
            ),
        },
    )
}

/// LightRAG's API version string, which clients compare against.
pub const API_VERSION: &str = "0344";
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct App {
    /// The worker's slot index.
    pub worker_id: usize,
    pub settings: Settings,
    /// WORKING_DIR and INPUT_DIR made absolute once, for `/health`.
    pub working_directory: String,
    pub input_directory: String,
    pub auth: Auth,
    pub arena: Arena,
    pub shared: &'static SharedRegion,
    /// The server's `WORKSPACE`, its store opened right after fork.
    pub default_workspace: Arc<Workspace>,
    /// Workspaces requests have named, opened on first use and closed when idle.
    workspaces: Workspaces,
    /// The LLM and the embedding model, limited across workers.
    pub model: Arc<dyn LanguageModel>,
    pub embedder: Arc<dyn Embedder>,
    /// The query chunks' reranker (RERANK_BINDING), if one is configured.
    pub reranker: Option<Arc<dyn Reranker>>,
    /// The embedding every workspace this worker opens must have been made by.
    pub embedding: EmbeddingIdentity,
    /// The document pipeline over those models.
    pub pipeline: Pipeline,
    /// What the workers coordinate through (the arena on one node, with Redis across
    /// nodes).
    pub coordination: Arc<dyn Coordination>,
    /// Told when this worker records documents to process, so its pipeline looks at
    /// once instead of at its next poll ([`crate::pipeline`]).
    pub pipeline_wake: tokio::sync::Notify,
    storage: StorageConfig,
}

/// Why a worker could not boot.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("storage failed to open: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Models(#[from] ModelLoadError),
}

/// Opens workspace `name` and checks that `embedding` made its vectors.
fn open_workspace(
    storage: &StorageConfig,
    coordination: Arc<dyn Coordination>,
    input_dir: &std::path::Path,
    name: &str,
    embedding: &EmbeddingIdentity,
) -> Result<Workspace, StorageError> {
    let workspace = Workspace::open(storage, coordination, input_dir, name)?;
    identity::ensure(&*workspace.storage, name, embedding)?;
    Ok(workspace)
}

impl App {
    /// Fails when the storage under WORKING_DIR cannot be opened, when a model run in
    /// process cannot be loaded, or when the default workspace was embedded by another
    /// model (the worker then exits with APP_LOAD_ERROR).
    pub fn new(ctx: &WorkerContext) -> Result<Arc<App>, BootError> {
        let settings = &ctx.settings;
        let shared = SharedRegion::of(ctx.arena.app_region());
        let storage = engine_settings::storage(settings);
        let coordination = coordination(shared, &storage)?;
        let embedder = models::embedder(
            &settings.models,
            settings.indexing.embedding_dim,
            settings.workers,
            &shared.embedding_permits,
        )?;
        let embedding = models::identity(&settings.models, &*embedder);
        if ctx.id == 0 {
            models::log_embedding(&settings.models, &embedding);
        }
        let default_workspace = Arc::new(open_workspace(
            &storage,
            coordination.clone(),
            &settings.input_dir,
            &settings.api.workspace,
            &embedding,
        )?);
        let auth_settings = settings.auth.clone();
        let (throttle, renewals) = limits(shared, &storage, &auth_settings)?;
        let absolute = |path: &std::path::Path| {
            std::path::absolute(path)
                .unwrap_or_else(|_| path.to_owned())
                .display()
                .to_string()
        };
        let model = models::language_model(&settings.models, &shared.llm_permits);
        Ok(Arc::new(App {
            default_workspace,
            workspaces: Workspaces::default(),
            pipeline: Pipeline {
                config: engine_settings::indexing(settings),
                model: model.clone(),
                embedder: embedder.clone(),
            },
            model,
            embedder,
            reranker: models::reranker(
                &settings.rerank,
                &settings.models.local,
                settings.workers,
                &shared.rerank_permits,
            )?,
            embedding,
            worker_id: ctx.id,
            working_directory: absolute(&settings.working_dir),
            input_directory: absolute(&settings.input_dir),
            auth: Auth::new(auth_settings, renewals, throttle),
            settings: settings.clone(),
            arena: ctx.arena,
            shared,
            coordination,
            pipeline_wake: tokio::sync::Notify::new(),
            storage,
        }))
    }

    /// The workspace called `name` (sanitised), opened on first use.
    pub fn workspace(&self, name: &str) -> Result<Arc<Workspace>, OpenError> {
        if name == self.default_workspace.name {
            return Ok(self.default_workspace.clone());
        }
        self.workspaces.get_or_open(name, || {
            open_workspace(
                &self.storage,
                self.coordination.clone(),
                &self.settings.input_dir,
                name,
                &self.embedding,
            )
        })
    }

    /// Closes the workspaces nobody has used for a while.
    pub fn close_idle_workspaces(&self) {
        self.workspaces.close_idle();
    }

    /// Every workspace this worker has open, the default one first, weakly (see
    /// [`Workspaces::all`]): one closed meanwhile no longer upgrades.
    pub fn open_workspaces(&self) -> Vec<std::sync::Weak<Workspace>> {
        let mut all = vec![Arc::downgrade(&self.default_workspace)];
        all.extend(self.workspaces.all());
        all
    }
}

/// The TCP peer of the connection a request came on (X-Forwarded-For is not trusted).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);
