//! Server hooks at gunicorn's points. Each point has built-in behaviour (see the call
//! sites) and may run an operator command (`--hook-<name>` / `LIGHTRAG_HOOK_<NAME>`)
//! through `sh -c`, with the event in environment variables:
//!
//! | variable | value |
//! |---|---|
//! | `LIGHTRAG_HOOK` | the hook name |
//! | `LIGHTRAG_MASTER_PID` | the master's pid |
//! | `LIGHTRAG_WORKER_PID`, `LIGHTRAG_WORKER_ID` | for worker hooks |
//! | `LIGHTRAG_WORKERS_OLD`, `LIGHTRAG_WORKERS_NEW` | for `nworkers_changed` (old is empty at start) |
//!
//! A command that runs past `HOOK_TIMEOUT` is killed. Only a failing `on_starting`
//! stops anything (start-up); every other failure is logged and ignored.

use std::io::{Read, Seek, SeekFrom};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use lightrag_config::{Hook, Settings};

/// A hook command that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hook {hook} could not start: {source}")]
    Spawn {
        hook: Hook,
        #[source]
        source: std::io::Error,
    },
    #[error("hook {hook} failed ({status}): {output}")]
    Failed {
        hook: Hook,
        status: ExitStatus,
        output: String,
    },
    #[error("hook {hook} timed out after {timeout:?} and was killed")]
    TimedOut { hook: Hook, timeout: Duration },
}

/// The event a hook describes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Event {
    pub master_pid: i32,
    pub worker: Option<(i32, usize)>,
    pub workers_change: Option<(Option<usize>, usize)>,
}

/// Runs the operator's command for `hook`, if configured. Blocks until it ends.
pub fn run(settings: &Settings, hook: Hook, event: Event) -> Result<(), HookError> {
    let Some(command) = settings.hook(hook) else {
        return Ok(());
    };
    let spawn_error = |source| HookError::Spawn { hook, source };
    // Output goes to an unlinked file, not a pipe: a command that leaves a background
    // process behind must not keep us waiting for the pipe to close.
    let capture_path = std::env::temp_dir().join(format!(
        ".lightrag-hook-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let mut capture = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&capture_path)
        .map_err(spawn_error)?;
    let _ = std::fs::remove_file(&capture_path);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("LIGHTRAG_HOOK", hook.as_str())
        .env("LIGHTRAG_MASTER_PID", event.master_pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(capture.try_clone().map_err(spawn_error)?))
        .stderr(Stdio::from(capture.try_clone().map_err(spawn_error)?));
    if let Some((pid, id)) = event.worker {
        cmd.env("LIGHTRAG_WORKER_PID", pid.to_string())
            .env("LIGHTRAG_WORKER_ID", id.to_string());
    }
    if let Some((old, new)) = event.workers_change {
        cmd.env(
            "LIGHTRAG_WORKERS_OLD",
            old.map(|n| n.to_string()).unwrap_or_default(),
        )
        .env("LIGHTRAG_WORKERS_NEW", new.to_string());
    }
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let deadline = Instant::now() + settings.hook_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HookError::TimedOut {
                    hook,
                    timeout: settings.hook_timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => return Err(HookError::Spawn { hook, source }),
        }
    };
    let mut output = String::new();
    let _ = capture
        .seek(SeekFrom::Start(0))
        .and_then(|_| capture.read_to_string(&mut output));
    let output = output.trim().to_owned();
    if status.success() {
        if !output.is_empty() {
            tracing::info!(hook = hook.as_str(), "{output}");
        }
        Ok(())
    } else {
        Err(HookError::Failed {
            hook,
            status,
            output,
        })
    }
}

/// Runs a hook whose failure must not stop anything: logged, then ignored.
pub fn run_logged(settings: &Settings, hook: Hook, event: Event) {
    if let Err(e) = run(settings, hook, event) {
        tracing::error!("{e}");
    }
}
