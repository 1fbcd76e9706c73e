//! The pre-fork master of lightrag-master, modelled on gunicorn's arbiter.
//!
//! [`run`] is the whole life of the master: load and validate the configuration, check
//! fork safety, open the log, write the pidfile, bind (or adopt systemd's socket), map
//! the shared [`arena`], then hand over to the [`arbiter`] loop, which forks workers,
//! supervises them and answers signals. It knows nothing of HTTP or RAG: the binary
//! passes in an [`Application`]: how to lay out the arena's application region before the
//! first fork, and the function each worker runs.

pub mod arbiter;
pub mod arena;
mod backoff;
pub mod boot_pages;
pub mod clock;
mod fleet;
pub mod fork_safety;
pub mod hooks;
mod listener;
mod log_escape;
mod log_file;
mod log_pipe;
pub mod logging;
mod pidfile;
mod privileges;
mod reload;
pub mod robust_mutex;
mod sd_notify;
pub mod signals;
mod spawn;
pub mod tls;
mod upgrade;

use std::ffi::OsString;

use lightrag_config::{ConfigError, Environment, Hook, Settings};

pub use arena::AppRegion;
pub use arena::{Arena, SlotState, WorkerSlot};
pub use spawn::{APP_LOAD_ERROR, WORKER_BOOT_ERROR, WorkerContext, WorkerMain};

/// What the master runs, without knowing what it is.
#[derive(Clone, Copy)]
pub struct Application {
    /// Initialises the arena's application region (robust mutexes, tables) once, in the
    /// master, before the first fork. It survives reloads.
    pub init_shared: fn(&'static AppRegion) -> std::io::Result<()>,
    /// The body of every worker process.
    pub worker_main: WorkerMain,
}

/// Exit code for anything that stops the master before it serves.
const STARTUP_FAILURE: i32 = 1;

/// Runs the master with `args` (program name first); returns the exit code.
pub fn run(args: Vec<OsString>, app: Application) -> i32 {
    match start(args, app) {
        Ok(arbiter) => {
            // Configuration, binding and the arena's layout are done; the loop needs
            // little of what they ran.
            boot_pages::release();
            arbiter.run()
        }
        Err(line) => {
            eprintln!("Error: {line}");
            STARTUP_FAILURE
        }
    }
}

fn start(args: Vec<OsString>, app: Application) -> Result<arbiter::Arbiter, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let env = Environment::capture(&cwd).map_err(|e| e.to_string())?;
    let settings = match Settings::load(args.iter().cloned(), &env) {
        Ok(settings) => settings,
        Err(ConfigError::CommandLine(e)) => e.exit(),
        Err(e) => return Err(e.to_string()),
    };
    tls::check(&settings)?;
    fork_safety::check(fork_safety::Os::current(), settings.workers, |name| {
        env.get(name).map(|(v, _)| v.to_owned())
    })
    .map_err(|e| e.to_string())?;
    let credentials =
        privileges::Credentials::resolve(settings.user.as_deref(), settings.group.as_deref())
            .map_err(|e| e.to_string())?;
    logging::init_master(&settings).map_err(|e| {
        format!(
            "cannot open log file {}: {e}",
            settings.log_file().display()
        )
    })?;

    let pid = std::process::id();
    // The binary as it is now: USR2 execs whatever is at this path then.
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this binary: {e}"))?;
    let upgraded = upgrade::Upgraded::from_env();
    let notifier = sd_notify::Notifier::from_env(pid);
    // SAFETY: single-threaded start-up. Workers must not talk to systemd.
    unsafe {
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(var);
        }
    }
    let pidfile = settings
        .pidfile
        .as_deref()
        .map(|path| match &upgraded {
            Some(_) => pidfile::Pidfile::create(&upgrade::pending_pidfile(path), pid as i32),
            None => pidfile::Pidfile::create(path, pid as i32),
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    let cleanup = |message: String| {
        if let Some(p) = &pidfile {
            p.remove();
        }
        message
    };
    // on_starting: LightRAG's gunicorn config logs these.
    tracing::info!(
        pid,
        workers = settings.workers,
        log_file = %settings.log_file().display(),
        master_rss_kib = resident_kib().unwrap_or(0),
        upgrade_from = upgraded.as_ref().map(|u| u.old_master.as_raw()),
        "Starting lightrag-master {}",
        env!("CARGO_PKG_VERSION")
    );
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let master_event = hooks::Event {
        master_pid: pid as i32,
        ..Default::default()
    };
    hooks::run(&settings, Hook::OnStarting, master_event)
        .map_err(|e| cleanup(format!("start-up aborted: {e}")))?;
    let signals = signals::SignalQueue::install()
        .map_err(|e| cleanup(format!("cannot install signal handlers: {e}")))?;
    let adopted = listener::adopt_inherited(pid).map_err(|e| cleanup(e.to_string()))?;
    let listener = match adopted {
        Some(listener) => {
            let addr = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            tracing::info!("Listening on an inherited socket at http://{addr} ({pid})");
            listener
        }
        None => {
            let listener = listener::bind(&settings.bind_address(), settings.backlog)
                .map_err(|e| cleanup(e.to_string()))?;
            let scheme = match settings.connections.tls {
                Some(_) => "https",
                None => "http",
            };
            tracing::info!(
                "Listening at: {scheme}://{} ({pid})",
                settings.bind_address()
            );
            listener
        }
    };
    let arena = arena::Arena::map(pid as i32)
        .map_err(|e| cleanup(format!("cannot map the shared arena: {e}")))?;
    (app.init_shared)(arena.app_region()).map_err(|e| {
        cleanup(format!(
            "cannot initialise the shared application state: {e}"
        ))
    })?;
    hooks::run_logged(&settings, Hook::WhenReady, master_event);
    Ok(arbiter::Arbiter::new(arbiter::Startup {
        exe,
        upgraded,
        notifier,
        args,
        cwd,
        settings,
        credentials,
        listener,
        arena,
        signals,
        pidfile,
        worker_main: app.worker_main,
    }))
}

/// The master's resident memory, for the on_starting log line.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
