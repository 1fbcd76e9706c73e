//! LightRAG's per-strategy chunking defaults (`CHUNK_F_*`, `CHUNK_R_*`, `CHUNK_V_*`,
//! `CHUNK_P_*`): what a strategy uses for a parameter that neither the document's
//! request nor its file name's hint gives. A strategy's own size and overlap outrank
//! CHUNK_SIZE and CHUNK_OVERLAP_SIZE; unset, they inherit them (P's size excepted: it
//! falls back to 2000, not CHUNK_SIZE). Values are checked here, so a bad one stops
//! start-up instead of failing every document later.

use crate::error::ConfigError;
use crate::resolver::{Resolver, number};
use crate::spec::{self, Spec};

/// Largest chunk size or overlap a setting may give (the engine's bound as well).
const MAX_TOKENS: usize = 1_000_000;
/// LightRAG's bounds on a separator cascade.
const MAX_SEPARATORS: usize = 64;
const MAX_SEPARATOR_CHARS: usize = 256;
/// LightRAG's DEFAULT_CHUNK_P_SIZE: what P's size falls back to.
const DEFAULT_P_SIZE: usize = 2000;
/// The request's bound on `buffer_size`.
const MAX_BUFFER_SIZE: usize = 20;

/// The breakpoint threshold types of `semantic_vector`.
pub const THRESHOLD_TYPES: [&str; 4] = [
    "percentile",
    "standard_deviation",
    "interquartile",
    "gradient",
];

/// Each strategy's configured defaults; `None` inherits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkerSettings {
    pub f_size: Option<usize>,
    pub f_overlap: Option<usize>,
    pub f_split_by_character: Option<String>,
    pub f_split_by_character_only: bool,
    pub r_size: Option<usize>,
    pub r_overlap: Option<usize>,
    pub r_separators: Option<Vec<String>>,
    pub v_size: Option<usize>,
    pub v_threshold_type: Option<String>,
    pub v_threshold_amount: Option<f64>,
    pub v_buffer_size: Option<usize>,
    pub p_size: Option<usize>,
    pub p_overlap: Option<usize>,
}

pub(crate) fn resolve(r: &Resolver<'_>) -> Result<ChunkerSettings, ConfigError> {
    let size = number::<usize>(1, MAX_TOKENS);
    let overlap = number::<usize>(0, MAX_TOKENS);
    let chunk_size = r.get(&spec::CHUNK_SIZE, &size)?;
    let chunk_overlap = r.get(&spec::CHUNK_OVERLAP_SIZE, &overlap)?;
    let v_threshold_type = r.optional(&spec::CHUNK_V_BREAKPOINT_THRESHOLD_TYPE, threshold_type)?;
    let percentile = v_threshold_type
        .as_deref()
        .is_none_or(|t| t == "percentile" || t == "gradient");
    let settings = ChunkerSettings {
        f_size: r.optional(&spec::CHUNK_F_SIZE, &size)?,
        f_overlap: r.optional(&spec::CHUNK_F_OVERLAP_SIZE, &overlap)?,
        f_split_by_character: r
            .raw(&spec::CHUNK_F_SPLIT_BY_CHARACTER)
            .map(|(v, _)| v)
            .filter(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("none")),
        f_split_by_character_only: r
            .optional(&spec::CHUNK_F_SPLIT_BY_CHARACTER_ONLY, crate::api::boolean)?
            .unwrap_or(false),
        r_size: r.optional(&spec::CHUNK_R_SIZE, &size)?,
        r_overlap: r.optional(&spec::CHUNK_R_OVERLAP_SIZE, &overlap)?,
        r_separators: r.optional(&spec::CHUNK_R_SEPARATORS, separators)?,
        v_size: r.optional(&spec::CHUNK_V_SIZE, &size)?,
        v_threshold_amount: r.optional(&spec::CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT, |s| {
            threshold_amount(s, percentile)
        })?,
        v_threshold_type,
        v_buffer_size: r.optional(
            &spec::CHUNK_V_BUFFER_SIZE,
            number::<usize>(0, MAX_BUFFER_SIZE),
        )?,
        p_size: r.optional(&spec::CHUNK_P_SIZE, &size)?,
        p_overlap: r.optional(&spec::CHUNK_P_OVERLAP_SIZE, &overlap)?,
    };
    let fixed = settings.f_size.unwrap_or(chunk_size);
    let recursive = settings.r_size.unwrap_or(chunk_size);
    let paragraph = settings.p_size.unwrap_or(DEFAULT_P_SIZE);
    for (spec, overlap, size, size_name) in [
        (
            &spec::CHUNK_F_OVERLAP_SIZE,
            settings.f_overlap,
            fixed,
            "CHUNK_F_SIZE",
        ),
        (
            &spec::CHUNK_R_OVERLAP_SIZE,
            settings.r_overlap,
            recursive,
            "CHUNK_R_SIZE",
        ),
        (
            &spec::CHUNK_P_OVERLAP_SIZE,
            settings.p_overlap,
            paragraph,
            "CHUNK_P_SIZE",
        ),
    ] {
        check_overlap(r, spec, overlap, size, size_name)?;
    }
    // An inherited CHUNK_OVERLAP_SIZE must fit a strategy's own, smaller size too.
    for (spec, own, size) in [
        (&spec::CHUNK_F_SIZE, settings.f_overlap, fixed),
        (&spec::CHUNK_R_SIZE, settings.r_overlap, recursive),
    ] {
        if own.is_none() && chunk_overlap >= size {
            return Err(invalid(
                r,
                spec,
                format!("must be larger than CHUNK_OVERLAP_SIZE ({chunk_overlap})"),
            ));
        }
    }
    Ok(settings)
}

fn check_overlap(
    r: &Resolver<'_>,
    spec: &Spec,
    overlap: Option<usize>,
    size: usize,
    size_name: &str,
) -> Result<(), ConfigError> {
    match overlap {
        Some(o) if o >= size => Err(invalid(
            r,
            spec,
            format!("must be smaller than {size_name} ({size})"),
        )),
        _ => Ok(()),
    }
}

fn invalid(r: &Resolver<'_>, spec: &Spec, reason: String) -> ConfigError {
    let (value, origin) = r
        .raw(spec)
        .unwrap_or_else(|| (String::new(), crate::layers::Source::Default));
    ConfigError::Invalid {
        setting: spec.env,
        origin,
        value,
        reason,
    }
}

/// A JSON array of strings, within LightRAG's bounds.
fn separators(s: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = serde_json::from_str(s).map_err(|_| {
        "expected a JSON array of strings, e.g. [\"\\n\\n\",\"\\n\",\" \",\"\"]".to_owned()
    })?;
    if list.is_empty() {
        return Err("needs at least one separator".to_owned());
    }
    if list.len() > MAX_SEPARATORS {
        return Err(format!("at most {MAX_SEPARATORS} separators"));
    }
    if list
        .iter()
        .any(|sep| sep.chars().count() > MAX_SEPARATOR_CHARS)
    {
        return Err(format!(
            "a separator has at most {MAX_SEPARATOR_CHARS} characters"
        ));
    }
    Ok(list)
}

fn threshold_type(s: &str) -> Result<String, String> {
    THRESHOLD_TYPES
        .iter()
        .find(|t| **t == s)
        .map(|t| (*t).to_owned())
        .ok_or_else(|| format!("expected one of {}", THRESHOLD_TYPES.join(", ")))
}

/// Above 0; at most 100 for the percentile types. `None` (LightRAG's "unset") is too.
fn threshold_amount(s: &str, percentile: bool) -> Result<f64, String> {
    let amount: f64 = s.parse().map_err(|_| "expected a number".to_owned())?;
    if !amount.is_finite() || amount <= 0.0 {
        return Err("must be above 0".to_owned());
    }
    if percentile && amount > 100.0 {
        return Err("must be at most 100 for percentile and gradient".to_owned());
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_a_bounded_json_array() {
        assert_eq!(
            separators(r#"["\n\n","。",""]"#).unwrap(),
            vec!["\n\n", "。", ""]
        );
        assert!(separators("\\n\\n").is_err());
        assert!(separators("[]").is_err());
        assert!(separators(&serde_json::to_string(&vec![" "; 65]).unwrap()).is_err());
        assert!(separators(&serde_json::to_string(&vec!["x".repeat(257)]).unwrap()).is_err());
    }

    #[test]
    fn threshold_amount_follows_its_type() {
        assert_eq!(threshold_amount("2.5", false), Ok(2.5));
        assert!(threshold_amount("150", true).is_err());
        assert_eq!(threshold_amount("150", false), Ok(150.0));
        assert!(threshold_amount("0", false).is_err());
        assert!(threshold_type("median").is_err());
    }
}
