//! `lightrag-master vector-recall [--top-k N] [--queries N] [--questions FILE] [FLAGS]`:
//! a diagnostic that prints, per vector namespace of workspace WORKSPACE on the
//! embedded store, the recall of the approximate (HNSW) index against an exact scan
//! of every stored vector, and the time per query of each. The queries are the lines
//! of FILE embedded with the configured embedding (as a query's words would be), or
//! `--queries` stored vectors. It only reads the store and the published index, so it
//! may run beside a serving server.

use std::ffi::OsString;
use std::process::ExitCode;

use lightrag_config::{Environment, Settings};
use lightrag_engine::embedding::{self, Purpose};
use lightrag_engine::storage::VectorNamespace;
use lightrag_engine::storage::ann::recall;

use crate::{engine_settings, models};

const DEFAULT_TOP_K: usize = 40;
const DEFAULT_QUERIES: usize = 200;

pub fn vector_recall_command(args: &[OsString]) -> ExitCode {
    match run(args) {
        Ok(lines) => {
            println!("{lines}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// This command's own flags, taken out of `args`; the rest are the server's.
struct Flags {
    top_k: usize,
    queries: usize,
    questions: Option<OsString>,
    rest: Vec<OsString>,
}

fn flags(args: &[OsString]) -> Result<Flags, String> {
    let mut flags = Flags {
        top_k: DEFAULT_TOP_K,
        queries: DEFAULT_QUERIES,
        questions: None,
        rest: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |name: &str, v: OsString| {
            v.to_str()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name} takes a positive number"))
        };
        match arg.to_str() {
            Some("--top-k") => flags.top_k = number("--top-k", value("--top-k")?)?,
            Some("--queries") => flags.queries = number("--queries", value("--queries")?)?,
            Some("--questions") => flags.questions = Some(value("--questions")?),
            _ => flags.rest.push(arg.clone()),
        }
    }
    Ok(flags)
}

fn run(args: &[OsString]) -> Result<String, String> {
    let flags = flags(args)?;
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let env = Environment::capture(&cwd).map_err(|e| e.to_string())?;
    let program = std::iter::once(OsString::from("lightrag-master vector-recall"));
    let settings = Settings::load(program.chain(flags.rest), &env).map_err(|e| e.to_string())?;
    let config = engine_settings::storage(&settings);
    let storage = lightrag_engine::storage::open(&config, &settings.api.workspace)
        .map_err(|e| e.to_string())?;
    let queries = match &flags.questions {
        None => Vec::new(),
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file:?}: {e}"))?;
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            let embedder =
                models::unlimited_embedder(&settings.models, settings.indexing.embedding_dim, 1)
                    .map_err(|e| e.to_string())?;
            lightrag_engine::llm::wait(embedding::embed_all_for(
                &*embedder,
                &lines,
                engine_settings::embedding_batching(&settings),
                Purpose::Query,
            ))
            .map_err(|e| e.to_string())?
        }
    };
    let mut out = Vec::new();
    for ns in VectorNamespace::ALL {
        let r = recall::measure(
            &*storage,
            &config.vector_index,
            ns,
            &queries,
            flags.queries,
            flags.top_k,
        )
        .map_err(|e| e.to_string())?;
        out.push(format!(
            "{}: recall@{} {:.4} over {} queries; {} vectors, {} in {} segments, {} exact; \
             {:.3} ms per query exact, {:.3} ms indexed",
            ns.as_str(),
            r.top_k,
            r.recall,
            r.queries,
            r.vectors,
            r.shape.indexed,
            r.shape.segments,
            r.shape.delta,
            r.exact_ms,
            r.index_ms
        ));
    }
    Ok(out.join("\n"))
}
