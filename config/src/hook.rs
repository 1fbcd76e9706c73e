//! The server hook points, gunicorn's names. One enum so the master, the workers and
//! the settings agree on the set and the spelling: the name is what the operator sees
//! (`LIGHTRAG_HOOK`, log lines), and each point has one setting holding its command.

use std::fmt;

use crate::spec::{self, Spec};

/// A point in the master's or a worker's life where an operator command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    OnStarting,
    WhenReady,
    PreFork,
    PostFork,
    PostWorkerInit,
    WorkerInt,
    WorkerAbort,
    WorkerExit,
    ChildExit,
    NworkersChanged,
    OnReload,
    PreExec,
    OnExit,
}

impl Hook {
    /// Every hook, in gunicorn's order.
    pub const ALL: [Hook; 13] = [
        Hook::OnStarting,
        Hook::WhenReady,
        Hook::PreFork,
        Hook::PostFork,
        Hook::PostWorkerInit,
        Hook::WorkerInt,
        Hook::WorkerAbort,
        Hook::WorkerExit,
        Hook::ChildExit,
        Hook::NworkersChanged,
        Hook::OnReload,
        Hook::PreExec,
        Hook::OnExit,
    ];

    /// Gunicorn's name of the hook.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::OnStarting => "on_starting",
            Hook::WhenReady => "when_ready",
            Hook::PreFork => "pre_fork",
            Hook::PostFork => "post_fork",
            Hook::PostWorkerInit => "post_worker_init",
            Hook::WorkerInt => "worker_int",
            Hook::WorkerAbort => "worker_abort",
            Hook::WorkerExit => "worker_exit",
            Hook::ChildExit => "child_exit",
            Hook::NworkersChanged => "nworkers_changed",
            Hook::OnReload => "on_reload",
            Hook::PreExec => "pre_exec",
            Hook::OnExit => "on_exit",
        }
    }

    /// The setting that holds the hook's command.
    pub fn setting(self) -> Spec {
        match self {
            Hook::OnStarting => spec::HOOK_ON_STARTING,
            Hook::WhenReady => spec::HOOK_WHEN_READY,
            Hook::PreFork => spec::HOOK_PRE_FORK,
            Hook::PostFork => spec::HOOK_POST_FORK,
            Hook::PostWorkerInit => spec::HOOK_POST_WORKER_INIT,
            Hook::WorkerInt => spec::HOOK_WORKER_INT,
            Hook::WorkerAbort => spec::HOOK_WORKER_ABORT,
            Hook::WorkerExit => spec::HOOK_WORKER_EXIT,
            Hook::ChildExit => spec::HOOK_CHILD_EXIT,
            Hook::NworkersChanged => spec::HOOK_NWORKERS_CHANGED,
            Hook::OnReload => spec::HOOK_ON_RELOAD,
            Hook::PreExec => spec::HOOK_PRE_EXEC,
            Hook::OnExit => spec::HOOK_ON_EXIT,
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hook_has_its_own_setting_named_after_it() {
        for hook in Hook::ALL {
            let setting = hook.setting();
            assert_eq!(
                setting.env,
                format!("LIGHTRAG_HOOK_{}", hook.as_str().to_uppercase())
            );
            assert_eq!(
                setting.flag,
                format!("hook-{}", hook.as_str().replace('_', "-"))
            );
            assert!(setting.help.ends_with(&format!(" {hook} hook")));
        }
    }
}
