//! `lightrag-master`: the binary only wires the master (supervisor) to the worker.

#[cfg(feature = "local-models")]
mod fetch_model;
mod healthcheck;

use std::process::ExitCode;

/// Request handling allocates many small, short-lived objects; mimalloc's thread-local
/// free lists cut glibc malloc's share of a request's CPU time substantially (see
/// `bench/`). Safe across fork: the master is single-threaded when it forks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("hash-password") => return lightrag_worker::hash_password_command(&args[2..]),
        Some("healthcheck") => return healthcheck::run(&args[2..]),
        Some("reembed") => return lightrag_worker::reembed_command(&args[2..]),
        Some("vector-recall") => return lightrag_worker::vector_recall_command(&args[2..]),
        #[cfg(feature = "local-models")]
        Some("fetch-model") => return fetch_model::run(&args[2..]),
        _ => {}
    }
    // Before the first fork, so the workers share the model's pages.
    #[cfg(feature = "local-models")]
    lightrag_worker::preload_models(&args);
    let app = lightrag_supervisor::Application {
        init_shared: lightrag_worker::init_shared,
        worker_main: lightrag_worker::run,
    };
    let code = lightrag_supervisor::run(args, app);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
