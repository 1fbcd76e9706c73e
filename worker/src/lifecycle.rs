//! How a worker reacts to signals (gunicorn's worker table):
//! TERM stops gracefully (stop accepting, finish in-flight requests);
//! INT and QUIT exit at once, also in the middle of a graceful stop;
//! ABRT, sent by the watchdog, exits with status 1;
//! USR1 (log reopen): workers own no files, the master does; a worker writes out the
//! log lines it holds back ([`crate::access_log`]).
//! Every other master signal stays ignored in workers.

use std::sync::Arc;

use lightrag_config::{Hook, Settings};
use lightrag_supervisor::hooks;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// Runs this worker's hooks (post_worker_init, worker_int, worker_abort, worker_exit).
#[derive(Clone)]
pub struct WorkerHooks {
    settings: Arc<Settings>,
    event: hooks::Event,
}

impl WorkerHooks {
    pub fn new(settings: &Settings, master_pid: i32, worker_id: usize) -> WorkerHooks {
        WorkerHooks {
            settings: Arc::new(settings.clone()),
            event: hooks::Event {
                master_pid,
                worker: Some((std::process::id() as i32, worker_id)),
                ..Default::default()
            },
        }
    }

    /// Runs `hook` on a blocking thread, so the runtime keeps beating meanwhile. A hook
    /// that is not configured starts no thread (an idle one stays 10 s).
    pub async fn run(&self, hook: Hook) {
        if self.settings.hook(hook).is_none() {
            return;
        }
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            hooks::run_logged(&this.settings, hook, this.event)
        })
        .await;
    }

    /// Runs `hook` then worker_exit, and exits the process with `code`.
    fn exit_after(&self, hook: Hook, code: i32) -> ! {
        hooks::run_logged(&self.settings, hook, self.event);
        hooks::run_logged(&self.settings, Hook::WorkerExit, self.event);
        lightrag_supervisor::logging::flush_worker();
        std::process::exit(code)
    }
}

/// Resolves when the master asks for a graceful stop.
pub type GracefulStop = oneshot::Receiver<()>;

/// Installs the handlers on the current runtime; the task runs for the worker's life.
pub fn install(hooks: WorkerHooks) -> std::io::Result<GracefulStop> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut abrt = signal(SignalKind::from_raw(libc::SIGABRT))?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    // Signals sent while the worker booted were held pending; deliver them now.
    lightrag_supervisor::signals::unblock_worker_signals();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut graceful = Some(tx);
        loop {
            tokio::select! {
                _ = term.recv() => {
                    if let Some(tx) = graceful.take() {
                        let _ = tx.send(());
                    }
                }
                _ = int.recv() => quick_exit(&hooks, "SIGINT"),
                _ = quit.recv() => quick_exit(&hooks, "SIGQUIT"),
                _ = abrt.recv() => {
                    tracing::error!(pid = std::process::id(), "worker aborted by the master (heartbeat timeout)");
                    hooks.exit_after(Hook::WorkerAbort, 1);
                }
                _ = usr1.recv() => {
                    // What was held back goes to the file the master has just reopened.
                    lightrag_supervisor::logging::flush_worker();
                    tracing::debug!("USR1: log files are reopened by the master");
                }
            }
        }
    });
    Ok(rx)
}

fn quick_exit(hooks: &WorkerHooks, signal: &str) -> ! {
    tracing::info!(pid = std::process::id(), signal, "worker quick exit");
    hooks.exit_after(Hook::WorkerInt, 0)
}
