//! One lightrag-master worker process.
//!
//! The master forks us with the listening socket, an arena slot and the settings. Here
//! we build our own tokio runtime (never inherited: the master has none), start the
//! heartbeat, install the worker's signal handling, mark the slot Ready once the socket
//! is registered with the runtime, and serve HTTP/1.1 through our own hyper accept loop
//! until the master tells us to stop.
//!
//! The tree is cut by concern, and its modules depend on each other in one direction
//! only (no cycle):
//!
//! - shared-memory tables: `arena` (the coordination seam on the arena, claims,
//!   pipeline status, permits, login throttle, renewals, metrics counters); it depends
//!   on no other module of this crate.
//! - what every request shares: `open_workspaces`, `models`, `engine_settings`,
//!   `auth`, then `app` over them.
//! - the pipeline runner: `pipeline` drives the engine's pipeline over `app`.
//! - HTTP: `host_header`, `limits`, `error` (every failure as an answer, engine
//!   errors by kind), `validate`, `cors`, `body_limit`, `body_deadline`, `extract`,
//!   `workspace` (the request's workspace), `access_log`, `service`,
//!   `send_deadline`, `server` (the accept loop, TLS, the connection cap), and
//!   `routes` (the handlers by area) on top.
//! - process life: `heartbeat`, `lifecycle` (signals and hooks).

mod access_log;
mod app;
mod arena;
mod auth;
mod body_deadline;
mod body_limit;
mod cors;
mod engine_settings;
mod error;
mod extract;
mod heartbeat;
mod host_header;
mod lifecycle;
mod limits;
#[cfg(feature = "local-models")]
mod local_models;
mod models;
mod open_workspaces;
mod pipeline;
mod reembed;
mod routes;
mod send_deadline;
mod server;
mod service;
mod validate;
mod vector_recall;
mod workspace;

use std::ffi::OsString;
use std::io::BufRead;
use std::process::ExitCode;

use lightrag_config::Hook;
use lightrag_supervisor::{APP_LOAD_ERROR, SlotState, WORKER_BOOT_ERROR, WorkerContext};

pub use arena::init_shared;
#[cfg(feature = "local-models")]
pub use local_models::preload as preload_models;
pub use reembed::reembed_command;
pub use vector_recall::vector_recall_command;

/// `lightrag-master hash-password [PASSWORD]`: prints a `{bcrypt}` value for
/// AUTH_ACCOUNTS. Without an argument the password is read from the first line of stdin
/// (so it stays out of the shell history). A password over 72 bytes is refused: bcrypt
/// would ignore its end, and /login refuses it.
pub fn hash_password_command(args: &[OsString]) -> ExitCode {
    let password = match args.first() {
        Some(arg) => arg.to_string_lossy().into_owned(),
        None => {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                eprintln!("Error: cannot read the password from stdin");
                return ExitCode::FAILURE;
            }
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.is_empty() {
        eprintln!("Error: the password must not be empty");
        return ExitCode::FAILURE;
    }
    match auth::accounts::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the worker to completion; the return value is the process exit code.
pub fn run(ctx: WorkerContext) -> i32 {
    // Panics in handlers are answered 500 (crate::service); log them as one line instead of
    // the default multi-line stderr dump.
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    if let Err(e) = install_prompts(&ctx.settings) {
        tracing::error!(error = %e, "cannot install the prompt templates");
        return WORKER_BOOT_ERROR;
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(runtime_threads(&ctx.settings));
    // A runtime thread that runs out of work writes out the access lines it held back:
    // under load that batches the lines of a round of ready connections, and an idle
    // worker's lines leave at once.
    builder.on_thread_park(lightrag_supervisor::logging::flush_worker);
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the tokio runtime");
            return WORKER_BOOT_ERROR;
        }
    };
    let code = runtime.block_on(boot_and_serve(ctx));
    runtime.shutdown_background();
    code
}

/// PROMPT_DIR's templates (checked by the configuration) in effect for this process.
fn install_prompts(
    settings: &lightrag_config::Settings,
) -> Result<(), lightrag_engine::llm::templates::InstallError> {
    let prompts = &settings.prompts;
    if !prompts.templates.is_empty() {
        tracing::info!(
            dir = %prompts.dir.display(),
            templates = ?prompts.templates.keys().collect::<Vec<_>>(),
            "prompt templates from PROMPT_DIR"
        );
    }
    lightrag_engine::llm::templates::install(prompts.templates.clone())
}

/// WORKER_THREADS, or the CPU cores shared out among the workers: N workers with a
/// thread per core each would oversubscribe the machine N times.
fn runtime_threads(settings: &lightrag_config::Settings) -> usize {
    if settings.worker_threads > 0 {
        return settings.worker_threads;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / settings.workers.max(1)).max(1)
}

async fn boot_and_serve(ctx: WorkerContext) -> i32 {
    let pid = std::process::id();
    let app = match app::App::new(&ctx) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(worker = ctx.id, pid, error = %e, "application failed to load");
            return APP_LOAD_ERROR;
        }
    };
    let built = routes::router(&ctx, app.clone())
        .and_then(|router| Ok((router, cors::Cors::new(&ctx.settings.api.cors_origins)?)));
    let (router, cors) = match built {
        Ok(built) => built,
        Err(e) => {
            tracing::error!(worker = ctx.id, pid, error = %e, "application failed to load");
            return APP_LOAD_ERROR;
        }
    };
    let booted = ctx
        .listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(ctx.listener));
    let listener = match booted {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(worker = ctx.id, pid, error = %e, "cannot use the inherited listener");
            return WORKER_BOOT_ERROR;
        }
    };
    // The master checked these bytes before forking; failing here is a boot failure.
    let tls = match ctx
        .settings
        .connections
        .tls
        .as_ref()
        .map(lightrag_supervisor::tls::server_config)
    {
        None => None,
        Some(Ok(config)) => Some(tokio_rustls::TlsAcceptor::from(config)),
        Some(Err(e)) => {
            tracing::error!(worker = ctx.id, pid, error = %e, "cannot use the TLS certificate");
            return WORKER_BOOT_ERROR;
        }
    };
    let hooks = lifecycle::WorkerHooks::new(&ctx.settings, ctx.master_pid.as_raw(), ctx.id);
    let stop = match lifecycle::install(hooks.clone()) {
        Ok(stop) => stop,
        Err(e) => {
            tracing::error!(worker = ctx.id, pid, error = %e, "cannot install signal handlers");
            return WORKER_BOOT_ERROR;
        }
    };
    heartbeat::spawn(ctx.slot, &ctx.settings, ctx.master_pid);
    access_log::spawn_flusher();
    pipeline::spawn(app.clone());
    hooks.run(Hook::PostWorkerInit).await;
    ctx.slot.transition(SlotState::Booting, SlotState::Ready);
    tracing::info!(
        worker = ctx.id,
        pid,
        generation = ctx.generation,
        "Worker ready"
    );
    let shared = service::Shared::new(router, cors, &app, ctx.slot, ctx.max_requests);
    server::serve(listener, shared, &ctx.settings, tls, stop).await;
    tracing::info!(worker = ctx.id, pid, "Worker exiting");
    hooks.run(Hook::WorkerExit).await;
    0
}

#[cfg(test)]
mod tests {
    use lightrag_config::prompt_dir::{TEMPLATES, check};
    use lightrag_engine::llm::templates::Template;

    /// The configuration checks PROMPT_DIR files against the engine's templates: the
    /// two lists name the same templates, and every built-in one passes the check.
    #[test]
    fn prompt_dir_checks_match_the_engine_templates() {
        assert_eq!(TEMPLATES.len(), Template::ALL.len());
        for template in Template::ALL {
            let spec = TEMPLATES
                .iter()
                .find(|s| s.name == template.name())
                .unwrap_or_else(|| panic!("{} is not checked", template.name()));
            assert_eq!(check(spec, template.builtin()), Ok(()), "{}", spec.name);
        }
    }
}
