//! What every handler shares within one worker: the settings, the auth state and the
//! handles on the arena.

use std::net::SocketAddr;
use std::sync::Arc;

use lightrag_config::Settings;
use lightrag_supervisor::{Arena, WorkerContext};

use lightrag_engine::embedding::Embedder;
use lightrag_engine::llm::LanguageModel;
use lightrag_engine::storage::StorageError;

use crate::auth::Auth;
use crate::auth::throttle::LoginThrottle;
use crate::models;
use crate::shared::SharedRegion;
use crate::workspace::{OpenError, Workspace, Workspaces};

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
    /// Workspaces requests have named, opened on first use.
    workspaces: Workspaces,
    /// The LLM and the embedding model, limited across workers.
    pub model: Arc<dyn LanguageModel>,
    pub embedder: Arc<dyn Embedder>,
}

impl App {
    /// Fails when the storage under WORKING_DIR cannot be opened (the worker then exits
    /// with APP_LOAD_ERROR).
    pub fn new(ctx: &WorkerContext) -> Result<Arc<App>, StorageError> {
        let shared = SharedRegion::of(ctx.arena.app_region());
        let default_workspace = Arc::new(Workspace::open(
            &ctx.settings,
            shared,
            &ctx.settings.api.workspace,
        )?);
        let auth_settings = ctx.settings.auth.clone();
        let throttle = LoginThrottle::new(
            &shared.throttle,
            auth_settings.login_max_failed_attempts,
            auth_settings.login_lockout_window,
        );
        let absolute = |path: &std::path::Path| {
            std::path::absolute(path)
                .unwrap_or_else(|_| path.to_owned())
                .display()
                .to_string()
        };
        Ok(Arc::new(App {
            default_workspace,
            workspaces: Workspaces::default(),
            model: models::language_model(&ctx.settings.models, &shared.llm_permits),
            embedder: models::embedder(
                &ctx.settings.models,
                ctx.settings.indexing.embedding_dim,
                &shared.embedding_permits,
            ),
            worker_id: ctx.id,
            working_directory: absolute(&ctx.settings.working_dir),
            input_directory: absolute(&ctx.settings.input_dir),
            auth: Auth::new(auth_settings, &shared.renewals, throttle),
            settings: ctx.settings.clone(),
            arena: ctx.arena,
            shared,
        }))
    }

    /// The workspace called `name` (sanitised), opened on first use.
    pub fn workspace(&self, name: &str) -> Result<Arc<Workspace>, OpenError> {
        if name == self.default_workspace.name {
            return Ok(self.default_workspace.clone());
        }
        self.workspaces
            .get_or_open(name, || Workspace::open(&self.settings, self.shared, name))
    }
}

/// The TCP peer of the connection a request came on (X-Forwarded-For is not trusted).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);
