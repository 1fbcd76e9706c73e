//! How to reach PostgreSQL when a storage role is there: LightRAG 1.5.7's `POSTGRES_*`
//! settings with its defaults and limits. As in LightRAG, POSTGRES_USER,
//! POSTGRES_PASSWORD and POSTGRES_DATABASE must be given (an empty password counts)
//! whenever a PG storage is chosen; nothing here is read otherwise.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::layers::Source;
use crate::resolver::{Resolver, non_empty, number, path};
use crate::spec::{self, Spec};
use crate::storage::fractional_seconds;

/// LightRAG's `POSTGRES_SSL_MODE` values (libpq's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(
                    "expected disable, allow, prefer, require, verify-ca or verify-full".into(),
                );
            }
        })
    }
}

/// The `POSTGRES_SSL_*` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSsl {
    pub mode: SslMode,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub root_cert: Option<PathBuf>,
    pub crl: Option<PathBuf>,
}

/// `POSTGRES_VECTOR_INDEX_TYPE` (empty: no index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorIndexType {
    Hnsw,
    HnswHalfvec,
    Ivfflat,
    Vchordrq,
}

/// The vector index family of PGVectorStorage.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorIndexSettings {
    pub index_type: Option<VectorIndexType>,
    pub hnsw_m: u32,
    /// `POSTGRES_HNSW_EF`: ef_construction.
    pub hnsw_ef: u32,
    pub ivfflat_lists: u32,
    pub vchordrq_build_options: Option<String>,
    pub vchordrq_probes: Option<String>,
    pub vchordrq_epsilon: f64,
}

/// How to reach PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    /// POSTGRES_WORKSPACE: the workspace of every PG row, whatever WORKSPACE says.
    pub workspace: Option<String>,
    /// For the whole node; the engine divides it among the workers.
    pub max_connections: usize,
    pub ssl: PostgresSsl,
    /// POSTGRES_SERVER_SETTINGS as (name, value) pairs.
    pub server_settings: Vec<(String, String)>,
    pub statement_cache_size: usize,
    /// Attempts in all while PostgreSQL is unreachable.
    pub connection_retries: u32,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub vector_index: VectorIndexSettings,
}

pub(crate) fn settings(r: &Resolver<'_>) -> Result<PostgresSettings, ConfigError> {
    for required in [
        &spec::POSTGRES_USER,
        &spec::POSTGRES_PASSWORD,
        &spec::POSTGRES_DATABASE,
    ] {
        if r.raw_keeping_empty(required).is_none() {
            return Err(ConfigError::Invalid {
                setting: required.env,
                origin: Source::Default,
                value: String::new(),
                reason: "must be set when a LIGHTRAG_*_STORAGE is a PostgreSQL storage".into(),
            });
        }
    }
    let retry_backoff = r.get(
        &spec::POSTGRES_CONNECTION_RETRY_BACKOFF,
        fractional_seconds(300.0),
    )?;
    let retry_backoff_max = r.get(
        &spec::POSTGRES_CONNECTION_RETRY_BACKOFF_MAX,
        fractional_seconds(600.0),
    )?;
    if retry_backoff_max < retry_backoff {
        return Err(invalid(
            r,
            &spec::POSTGRES_CONNECTION_RETRY_BACKOFF_MAX,
            "must be at least POSTGRES_CONNECTION_RETRY_BACKOFF",
        ));
    }
    Ok(PostgresSettings {
        host: r.get(&spec::POSTGRES_HOST, non_empty)?,
        port: r.get(&spec::POSTGRES_PORT, number::<u16>(1, u16::MAX))?,
        user: r.get(&spec::POSTGRES_USER, non_empty)?,
        password: r
            .raw_keeping_empty(&spec::POSTGRES_PASSWORD)
            .map(|(v, _)| v)
            .unwrap_or_default(),
        database: r.get(&spec::POSTGRES_DATABASE, non_empty)?,
        workspace: r
            .optional(&spec::POSTGRES_WORKSPACE, |s| Ok(s.to_owned()))?
            .filter(|w| !w.is_empty()),
        max_connections: r.get(&spec::POSTGRES_MAX_CONNECTIONS, number::<usize>(1, 10_000))?,
        ssl: ssl(r)?,
        server_settings: r
            .optional(&spec::POSTGRES_SERVER_SETTINGS, server_settings)?
            .unwrap_or_default(),
        statement_cache_size: r.get(
            &spec::POSTGRES_STATEMENT_CACHE_SIZE,
            number::<usize>(0, 10_000),
        )?,
        connection_retries: r.get(&spec::POSTGRES_CONNECTION_RETRIES, number::<u32>(1, 100))?,
        retry_backoff,
        retry_backoff_max,
        vector_index: vector_index(r)?,
    })
}

fn invalid(r: &Resolver<'_>, spec: &Spec, reason: &str) -> ConfigError {
    let (value, origin) = r.raw(spec).unwrap_or((String::new(), Source::Default));
    ConfigError::Invalid {
        setting: spec.env,
        origin,
        value,
        reason: reason.to_owned(),
    }
}

fn ssl(r: &Resolver<'_>) -> Result<PostgresSsl, ConfigError> {
    Ok(PostgresSsl {
        mode: r
            .optional(&spec::POSTGRES_SSL_MODE, SslMode::parse)?
            .unwrap_or(SslMode::Prefer),
        cert: r.optional(&spec::POSTGRES_SSL_CERT, path)?,
        key: r.optional(&spec::POSTGRES_SSL_KEY, path)?,
        root_cert: r.optional(&spec::POSTGRES_SSL_ROOT_CERT, path)?,
        crl: r.optional(&spec::POSTGRES_SSL_CRL, path)?,
    })
}

fn vector_index(r: &Resolver<'_>) -> Result<VectorIndexSettings, ConfigError> {
    Ok(VectorIndexSettings {
        index_type: r.get(&spec::POSTGRES_VECTOR_INDEX_TYPE, index_type)?,
        hnsw_m: r.get(&spec::POSTGRES_HNSW_M, number::<u32>(2, 100))?,
        hnsw_ef: r.get(&spec::POSTGRES_HNSW_EF, number::<u32>(4, 1000))?,
        ivfflat_lists: r.get(&spec::POSTGRES_IVFFLAT_LISTS, number::<u32>(1, 32_768))?,
        vchordrq_build_options: r
            .optional(&spec::POSTGRES_VCHORDRQ_BUILD_OPTIONS, |s| Ok(s.to_owned()))?
            .filter(|s| !s.is_empty()),
        vchordrq_probes: r
            .optional(&spec::POSTGRES_VCHORDRQ_PROBES, |s| Ok(s.to_owned()))?
            .filter(|s| !s.is_empty()),
        vchordrq_epsilon: r.get(&spec::POSTGRES_VCHORDRQ_EPSILON, epsilon)?,
    })
}

fn index_type(s: &str) -> Result<Option<VectorIndexType>, String> {
    Ok(Some(match s.to_ascii_uppercase().as_str() {
        "" => return Ok(None),
        "HNSW" => VectorIndexType::Hnsw,
        "HNSW_HALFVEC" => VectorIndexType::HnswHalfvec,
        "IVFFLAT" => VectorIndexType::Ivfflat,
        "VCHORDRQ" => VectorIndexType::Vchordrq,
        _ => return Err("expected HNSW, HNSW_HALFVEC, IVFFLAT, VCHORDRQ or empty".into()),
    }))
}

fn epsilon(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| "expected a number".to_owned())?;
    if !(0.0..=4.0).contains(&x) {
        return Err("must be from 0.0 to 4.0".into());
    }
    Ok(x)
}

/// `k1=v1&k2=v2`, LightRAG's POSTGRES_SERVER_SETTINGS.
fn server_settings(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split('&')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not name=value"))?;
            let k = k.trim();
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c))
            {
                return Err(format!("{k:?} is not a server setting name"));
            }
            Ok((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{Environment, Settings};

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Option<PostgresSettings>, String> {
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = Environment::from_maps(env, HashMap::new());
        Settings::load(std::iter::once("x").chain(args.iter().copied()), &env)
            .map(|s| s.storage.postgres)
            .map_err(|e| e.to_string())
    }

    const CREDENTIALS: &[(&str, &str)] = &[
        ("POSTGRES_USER", "u"),
        ("POSTGRES_PASSWORD", ""),
        ("POSTGRES_DATABASE", "d"),
    ];

    #[test]
    fn lightrag_defaults_apply_once_a_pg_storage_is_chosen() {
        assert_eq!(load(&[], CREDENTIALS).unwrap(), None);
        let pg = load(&["--kv-storage", "PGKVStorage"], CREDENTIALS)
            .unwrap()
            .unwrap();
        assert_eq!((pg.host.as_str(), pg.port), ("localhost", 5432));
        assert_eq!((pg.user.as_str(), pg.password.as_str()), ("u", ""));
        assert_eq!(pg.max_connections, 50);
        assert_eq!(pg.ssl.mode, SslMode::Prefer);
        assert_eq!(pg.connection_retries, 10);
        assert_eq!(pg.retry_backoff, Duration::from_secs(3));
        assert_eq!(pg.retry_backoff_max, Duration::from_secs(30));
        assert_eq!(pg.statement_cache_size, 100);
        let v = &pg.vector_index;
        assert_eq!(v.index_type, Some(VectorIndexType::Hnsw));
        assert_eq!((v.hnsw_m, v.hnsw_ef, v.ivfflat_lists), (16, 64, 100));
    }

    #[test]
    fn credentials_are_required_and_values_checked() {
        let missing = load(&["--doc-status-storage", "PGDocStatusStorage"], &[]).unwrap_err();
        assert!(missing.contains("POSTGRES_USER"), "{missing}");
        let pg = |extra: &[(&str, &str)]| {
            let env: Vec<_> = CREDENTIALS.iter().chain(extra).copied().collect();
            load(&["--kv-storage", "PGKVStorage"], &env)
        };
        assert!(
            pg(&[("POSTGRES_SSL_MODE", "sometimes")])
                .unwrap_err()
                .contains("verify-full")
        );
        let backoff = pg(&[
            ("POSTGRES_CONNECTION_RETRY_BACKOFF", "10"),
            ("POSTGRES_CONNECTION_RETRY_BACKOFF_MAX", "5"),
        ])
        .unwrap_err();
        assert!(backoff.contains("at least"), "{backoff}");
        assert!(
            pg(&[("POSTGRES_CONNECTION_RETRIES", "101")])
                .unwrap_err()
                .contains("POSTGRES_CONNECTION_RETRIES")
        );
        let none = pg(&[("POSTGRES_VECTOR_INDEX_TYPE", "")]).unwrap().unwrap();
        assert_eq!(none.vector_index.index_type, None);
    }

    #[test]
    fn server_settings_are_pairs() {
        assert_eq!(
            server_settings("search_path=rag&application_name=lrm").unwrap(),
            [
                ("search_path".to_owned(), "rag".to_owned()),
                ("application_name".to_owned(), "lrm".to_owned())
            ]
        );
        assert!(server_settings("oops").is_err());
        assert!(server_settings("a b=1").is_err());
    }
}
