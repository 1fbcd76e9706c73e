//! `lightrag-master`: the binary only wires the master (supervisor) to the worker.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = lightrag_supervisor::run(std::env::args_os().collect(), lightrag_worker::run);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
