//! Resolving one setting: its raw value from the command line, the process environment,
//! `.env` or its default (in that order, with the source remembered for error
//! messages), and the value parsers the settings share.

use std::path::PathBuf;
use std::str::FromStr;

use clap::ArgMatches;

use crate::error::ConfigError;
use crate::layers::{Environment, Source};
use crate::spec::{Fallback, Spec};

pub(crate) struct Resolver<'a> {
    pub(crate) matches: &'a ArgMatches,
    pub(crate) env: &'a Environment,
}

impl Resolver<'_> {
    pub(crate) fn raw(&self, spec: &Spec) -> Option<(String, Source)> {
        if let Some(v) = self.matches.get_one::<String>(spec.flag) {
            return Some((v.clone(), Source::CommandLine(spec.flag)));
        }
        let keep_empty = matches!(spec.fallback, Fallback::ValueOrEmpty(_));
        let found = if keep_empty {
            self.env.get_keeping_empty(spec.env)
        } else {
            self.env.get(spec.env)
        };
        if let Some((v, source)) = found {
            return Some((v.to_owned(), source));
        }
        match spec.fallback {
            Fallback::Value(v) | Fallback::ValueOrEmpty(v) => Some((v.to_owned(), Source::Default)),
            Fallback::Unset | Fallback::Derived(_) => None,
        }
    }

    /// Whether a layer other than the default sets `spec`.
    pub(crate) fn is_set(&self, spec: &Spec) -> bool {
        self.raw(spec)
            .is_some_and(|(_, source)| source != Source::Default)
    }

    /// The value of `spec` from the command line or the environment, an explicitly
    /// empty one included (for settings where empty is an error, not "unset").
    pub(crate) fn raw_keeping_empty(&self, spec: &Spec) -> Option<(String, Source)> {
        if let Some(v) = self.matches.get_one::<String>(spec.flag) {
            return Some((v.clone(), Source::CommandLine(spec.flag)));
        }
        self.env
            .get_keeping_empty(spec.env)
            .map(|(v, source)| (v.to_owned(), source))
    }

    pub(crate) fn optional<T>(
        &self,
        spec: &Spec,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((value, source)) = self.raw(spec) else {
            return Ok(None);
        };
        parse(value.trim())
            .map(Some)
            .map_err(|reason| ConfigError::Invalid {
                setting: spec.env,
                origin: source,
                value,
                reason,
            })
    }

    pub(crate) fn get<T>(
        &self,
        spec: &Spec,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        // Every spec read through `get` has a literal fallback, so `raw` always answers.
        let parsed = self.optional(spec, parse)?;
        Ok(parsed.unwrap_or_else(|| unreachable!("{} has no default", spec.env)))
    }
}

pub(crate) fn number<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    move |s| {
        let n: T = s
            .parse()
            .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
        if n < min || n > max {
            return Err(format!("must be from {min} to {max}"));
        }
        Ok(n)
    }
}

pub(crate) fn seconds(min: u64) -> impl Fn(&str) -> Result<u64, String> {
    number::<u64>(min, 365 * 24 * 3600)
}

/// `a,b,c` or a JSON list `["a","b"]`, lowercased.
pub(crate) fn entity_types(s: &str) -> Result<Vec<String>, String> {
    let types: Vec<String> = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|t| t.trim().trim_matches(['"', '\'']).trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if types.is_empty() {
        return Err("at least one entity type is needed".to_owned());
    }
    Ok(types)
}

/// A storage selector must name a backend this build has.
pub(crate) fn implemented(
    available: &'static [&'static str],
) -> impl Fn(&str) -> Result<String, String> {
    move |s| {
        available
            .iter()
            .find(|a| **a == s)
            .map(|a| (*a).to_owned())
            .ok_or_else(|| format!("not implemented yet; available: {}", available.join(", ")))
    }
}

/// Most calls in flight one provider role may be allowed (the size of the arena's
/// permit table).
pub const MAX_PERMITS: usize = 64;

/// An http(s) base URL, kept without its trailing slash.
pub(crate) fn url(s: &str) -> Result<String, String> {
    if !(s.starts_with("http://") || s.starts_with("https://")) || s.len() < 10 {
        return Err("expected an http:// or https:// URL".to_owned());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

pub(crate) fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(s.to_owned())
}

pub(crate) fn path(s: &str) -> Result<PathBuf, String> {
    non_empty(s).map(PathBuf::from)
}
