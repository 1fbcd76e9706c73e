//! How a worker reacts to signals (gunicorn's worker table):
//! TERM stops gracefully (stop accepting, finish in-flight requests);
//! INT and QUIT exit at once, also in the middle of a graceful stop;
//! ABRT, sent by the watchdog, exits with status 1;
//! USR1 (log reopen) is acknowledged: workers own no files, the master does.
//! Every other master signal stays ignored in workers.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// Resolves when the master asks for a graceful stop.
pub type GracefulStop = oneshot::Receiver<()>;

/// Installs the handlers on the current runtime; the task runs for the worker's life.
pub fn install() -> std::io::Result<GracefulStop> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut abrt = signal(SignalKind::from_raw(libc::SIGABRT))?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
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
                _ = int.recv() => quick_exit("SIGINT"),
                _ = quit.recv() => quick_exit("SIGQUIT"),
                _ = abrt.recv() => {
                    tracing::error!(pid = std::process::id(), "worker aborted by the master (heartbeat timeout)");
                    std::process::exit(1);
                }
                _ = usr1.recv() => tracing::debug!("USR1: log files are reopened by the master"),
            }
        }
    });
    Ok(rx)
}

fn quick_exit(signal: &str) -> ! {
    tracing::info!(pid = std::process::id(), signal, "worker quick exit");
    std::process::exit(0)
}
