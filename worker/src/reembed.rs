//! `lightrag-master reembed [FLAGS]`: embeds the chunks, entities and relations of
//! workspace WORKSPACE again with the embedding the settings name (flags, environment
//! and `.env`, read as the server reads them), and records that embedding as the
//! workspace's. It is how a workspace moves to another EMBEDDING_BINDING,
//! EMBEDDING_MODEL or EMBEDDING_DIM: the server refuses to open a workspace whose
//! vectors another embedding made. Run it with the server stopped (running workers
//! would keep serving their cached vectors); interrupted, it can be run again.

use std::ffi::OsString;
use std::process::ExitCode;

use lightrag_config::{Environment, Settings};
use lightrag_engine::embedding::identity;

use crate::{engine_settings, models};

pub fn reembed_command(args: &[OsString]) -> ExitCode {
    match reembed(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn reembed(args: &[OsString]) -> Result<String, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let env = Environment::capture(&cwd).map_err(|e| e.to_string())?;
    let program = std::iter::once(OsString::from("lightrag-master reembed"));
    let settings =
        Settings::load(program.chain(args.iter().cloned()), &env).map_err(|e| e.to_string())?;
    // The only work on the machine while it runs: every core.
    let embedder = models::unlimited_embedder(&settings.models, settings.indexing.embedding_dim, 1)
        .map_err(|e| e.to_string())?;
    let embedding = models::identity(&settings.models, &*embedder);
    let workspace = &settings.api.workspace;
    let storage = lightrag_engine::storage::open(&engine_settings::storage(&settings), workspace)
        .map_err(|e| e.to_string())?;
    let counts = lightrag_engine::llm::wait(identity::reembed(
        &*storage,
        &*embedder,
        engine_settings::embedding_batching(&settings),
        &embedding,
    ))
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "re-embedded workspace {workspace:?} with {embedding}: {} chunks, {} entities, {} relations",
        counts.chunks, counts.entities, counts.relationships
    ))
}
