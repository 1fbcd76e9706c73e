//! How a worker reacts to signals (gunicorn's worker table):
//! TERM stops gracefully (stop accepting, finish in-flight requests);
//! INT and QUIT exit at once; ABRT, sent by the watchdog, exits with status 1;
//! USR1 (log reopen) is acknowledged: workers own no files, the master does.
//! Every other master signal stays ignored in workers.

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct Signals {
    term: Signal,
    int: Signal,
    quit: Signal,
    abrt: Signal,
    usr1: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            abrt: signal(SignalKind::from_raw(libc::SIGABRT))?,
            usr1: signal(SignalKind::user_defined1())?,
        })
    }

    /// Resolves when a graceful stop is requested; quick stops exit the process here.
    pub async fn graceful_stop(mut self) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => quick_exit("SIGINT"),
                _ = self.quit.recv() => quick_exit("SIGQUIT"),
                _ = self.abrt.recv() => {
                    tracing::error!(pid = std::process::id(), "worker aborted by the master (heartbeat timeout)");
                    std::process::exit(1);
                }
                _ = self.usr1.recv() => tracing::debug!("USR1: log files are reopened by the master"),
            }
        }
    }
}

fn quick_exit(signal: &str) -> ! {
    tracing::info!(pid = std::process::id(), signal, "worker quick exit");
    std::process::exit(0)
}
