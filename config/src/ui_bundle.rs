//! UI_TEMPLATES_DIR: LightRAG's web UI customisation bundle (a `manifest.json` naming,
//! per locale, Markdown for the welcome page, the empty query page and the optional
//! login blurb and agreement, plus brand logos). The whole bundle is read and checked
//! here, with the rest of the configuration, so a broken one stops the master with one
//! line; requests are then answered from memory. As in LightRAG: unset means no
//! bundle; a directory without `manifest.json` is an unpopulated mount (no bundle);
//! anything else must validate completely.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::resolver::Resolver;
use crate::spec;

const MANIFEST: &str = "manifest.json";
const MAX_TEMPLATE_BYTES: u64 = 64 * 1024;
const MAX_LOGO_BYTES: u64 = 2 * 1024 * 1024;
const BRAND_LOGO_ID: &str = "brand-logo";
const MAX_LOCALE_CHARS: usize = 35;
/// Right-to-left scripts (ISO 15924) and languages whose default script is one.
const RTL_SCRIPTS: &[&str] = &[
    "adlm", "arab", "armi", "avst", "hebr", "mand", "mani", "nkoo", "phnx", "rohg", "samr", "syrc",
    "thaa", "yezi",
];
const RTL_LANGUAGES: &[&str] = &[
    "ar", "arc", "azb", "bal", "ckb", "dv", "fa", "glk", "he", "iw", "ji", "khw", "ks", "lrc",
    "mzn", "nqo", "pnb", "ps", "sd", "skr", "syr", "ug", "ur", "yi",
];

/// One image of the bundle, addressed by the SHA-256 of its bytes and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiAsset {
    pub id: String,
    pub sha256: String,
    pub mime: &'static str,
    pub content: Vec<u8>,
}

/// What one locale shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocaleContent {
    pub welcome: String,
    pub query_empty: String,
    pub logo_alt: String,
    /// The id of the locale's logo; `None` shows none.
    pub logo: Option<String>,
    pub login: Option<String>,
    pub agreements: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiBundle {
    pub default_locale: String,
    pub locales: BTreeMap<String, LocaleContent>,
    /// Requested locale → declared locales to try, in order.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    pub assets: Vec<UiAsset>,
}

impl UiBundle {
    /// The locale to show for `requested` (normalised), and whether it is a fallback.
    pub fn resolve(&self, requested: &str) -> (&str, bool) {
        if let Some((key, _)) = self.locales.get_key_value(requested) {
            return (key, false);
        }
        let target = self
            .fallbacks
            .get(requested)
            .into_iter()
            .flatten()
            .find(|t| self.locales.contains_key(*t));
        (target.unwrap_or(&self.default_locale), true)
    }

    pub fn asset(&self, sha256: &str, id: &str) -> Option<&UiAsset> {
        self.assets
            .iter()
            .find(|a| a.sha256 == sha256 && a.id == id)
    }

    pub fn asset_by_id(&self, id: &str) -> Option<&UiAsset> {
        self.assets.iter().find(|a| a.id == id)
    }
}

/// BCP 47 case normalisation (`zh-hant-tw` → `zh-Hant-TW`); the underscore form is
/// refused, never converted.
pub fn normalize_locale(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("locale must be a non-empty string".to_owned());
    }
    if value.contains('_') {
        return Err(format!(
            "locale {value:?} uses the underscore form; the API accepts only the BCP 47 \
             hyphen form (e.g. zh-TW)"
        ));
    }
    if value.chars().count() > MAX_LOCALE_CHARS {
        return Err(format!("locale {value:?} is too long"));
    }
    let mut out = Vec::new();
    for (i, tag) in value.split('-').enumerate() {
        if tag.is_empty() || tag.len() > 8 || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("locale {value:?} has an invalid subtag {tag:?}"));
        }
        let alpha = tag.chars().all(|c| c.is_ascii_alphabetic());
        out.push(if i == 0 {
            if !alpha || tag.len() < 2 {
                return Err(format!("locale {value:?} has an invalid language subtag"));
            }
            tag.to_ascii_lowercase()
        } else if tag.len() == 4 && alpha {
            let (first, rest) = tag.split_at(1);
            first.to_ascii_uppercase() + &rest.to_ascii_lowercase()
        } else if (tag.len() == 2 && alpha)
            || (tag.len() == 3 && tag.chars().all(|c| c.is_ascii_digit()))
        {
            tag.to_ascii_uppercase()
        } else {
            tag.to_ascii_lowercase()
        });
    }
    Ok(out.join("-"))
}

/// `rtl` or `ltr`: a script subtag (after up to three extlangs) decides, else the
/// language's default script.
pub fn direction(locale: &str) -> &'static str {
    let tags: Vec<&str> = locale.split('-').collect();
    let mut i = 1;
    while i < tags.len()
        && i <= 3
        && tags[i].len() == 3
        && tags[i].chars().all(|c| c.is_ascii_alphabetic())
    {
        i += 1;
    }
    let rtl = match tags.get(i) {
        Some(s) if s.len() == 4 && s.chars().all(|c| c.is_ascii_alphabetic()) => {
            RTL_SCRIPTS.contains(&s.to_ascii_lowercase().as_str())
        }
        _ => RTL_LANGUAGES.contains(&tags[0].to_ascii_lowercase().as_str()),
    };
    if rtl { "rtl" } else { "ltr" }
}

/// The MIME type of a logo from its bytes (PNG, JPEG, WebP or an `<svg>` root).
fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if content.starts_with(b"\xff\xd8\xff") {
        return Some("image/jpeg");
    }
    if content.len() >= 12 && &content[..4] == b"RIFF" && &content[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    has_svg_root(content).then_some("image/svg+xml")
}

/// Whether the first element after the prologue (XML declaration, processing
/// instructions, comments, doctype) is `<svg`.
fn has_svg_root(content: &[u8]) -> bool {
    let mut rest = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    loop {
        rest = &rest[rest.iter().take_while(|b| b" \t\r\n".contains(b)).count()..];
        let skip = |open: &[u8], close: &[u8], rest: &[u8]| -> Option<usize> {
            rest.strip_prefix(open)?
                .windows(close.len())
                .position(|w| w == close)
                .map(|p| open.len() + p + close.len())
        };
        if let Some(tail) = rest.strip_prefix(b"<svg") {
            return tail.first().is_some_and(|b| b" \t\r\n>/".contains(b));
        }
        let skipped = if rest.starts_with(b"<!--") {
            skip(b"<!--", b"-->", rest)
        } else if rest.starts_with(b"<?") {
            skip(b"<?", b"?>", rest)
        } else if rest.starts_with(b"<!") {
            skip(b"<!", b">", rest)
        } else {
            None
        };
        match skipped {
            Some(n) => rest = &rest[n..],
            None => return false,
        }
    }
}

/// Reads the bundle's files, each checked to stay inside the bundle root.
struct Reader {
    root: PathBuf,
}

impl Reader {
    fn file(&self, relative: &Value, context: &str, limit: u64) -> Result<Vec<u8>, String> {
        let Some(relative) = relative.as_str().filter(|s| !s.trim().is_empty()) else {
            return Err(format!("{context}: path must be a non-empty string"));
        };
        let path = Path::new(relative);
        if !path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "{context}: {relative:?} must be a relative path inside the bundle"
            ));
        }
        let resolved = self
            .root
            .join(path)
            .canonicalize()
            .map_err(|_| format!("{context}: {relative:?} does not exist or is not a file"))?;
        if !resolved.starts_with(&self.root) || !resolved.is_file() {
            return Err(format!(
                "{context}: {relative:?} escapes the bundle or is not a file"
            ));
        }
        let size = resolved
            .metadata()
            .map_err(|e| format!("{context}: {e}"))?
            .len();
        if size > limit {
            return Err(format!(
                "{context}: file exceeds the {limit} byte limit ({size} bytes)"
            ));
        }
        std::fs::read(&resolved).map_err(|e| format!("{context}: {e}"))
    }

    fn text(&self, relative: &Value, context: &str) -> Result<String, String> {
        String::from_utf8(self.file(relative, context, MAX_TEMPLATE_BYTES)?)
            .map_err(|_| format!("{context}: file is not valid UTF-8"))
    }

    fn logo(&self, relative: &Value, id: String, context: &str) -> Result<UiAsset, String> {
        let content = self.file(relative, context, MAX_LOGO_BYTES)?;
        let mime = sniff(&content)
            .ok_or_else(|| format!("{context}: content is not PNG, JPEG, WebP or SVG"))?;
        let sha256 = Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(UiAsset {
            id,
            sha256,
            mime,
            content,
        })
    }
}

fn fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    required: &[&str],
    context: &str,
) -> Result<(), String> {
    if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("{context}: unknown field {unknown:?}"));
    }
    if let Some(missing) = required.iter().find(|k| !object.contains_key(**k)) {
        return Err(format!("{context}: missing required field {missing:?}"));
    }
    Ok(())
}

fn object<'a>(value: &'a Value, context: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{context} must be an object"))
}

fn locale_content(
    reader: &Reader,
    key: &str,
    entry: &Value,
    brand_logo: Option<&str>,
    assets: &mut Vec<UiAsset>,
) -> Result<LocaleContent, String> {
    let context = format!("locales.{key}");
    let entry = object(entry, &context)?;
    fields(
        entry,
        &[
            "welcome",
            "query_empty",
            "logo_alt",
            "logo",
            "login",
            "agreements",
        ],
        &["welcome", "query_empty", "logo_alt"],
        &context,
    )?;
    let logo_alt = entry["logo_alt"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("{context}.logo_alt must be a non-empty string"))?
        .to_owned();
    let optional = |field: &str| -> Result<Option<String>, String> {
        match entry.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(path) => {
                let text = reader.text(path, &format!("{context}.{field}"))?;
                if text.trim().is_empty() {
                    return Err(format!("{context}.{field}: template file is empty"));
                }
                Ok(Some(text))
            }
        }
    };
    let logo = match entry.get("logo") {
        None => brand_logo.map(str::to_owned),
        Some(Value::Null) => None,
        Some(path) => {
            let asset = reader.logo(path, format!("logo-{key}"), &format!("{context}.logo"))?;
            let id = asset.id.clone();
            assets.push(asset);
            Some(id)
        }
    };
    Ok(LocaleContent {
        welcome: reader.text(&entry["welcome"], &format!("{context}.welcome"))?,
        query_empty: reader.text(&entry["query_empty"], &format!("{context}.query_empty"))?,
        logo_alt,
        logo,
        login: optional("login")?,
        agreements: optional("agreements")?,
    })
}

/// The bundle in `root`, checked completely.
pub fn read_bundle(root: &Path) -> Result<Option<UiBundle>, String> {
    let root = root
        .canonicalize()
        .ok()
        .filter(|r| r.is_dir())
        .ok_or_else(|| "the directory does not exist or is not a directory".to_owned())?;
    let manifest_path = root.join(MANIFEST);
    if !manifest_path.exists() && manifest_path.symlink_metadata().is_err() {
        return Ok(None);
    }
    let reader = Reader { root };
    let manifest: Value = serde_json::from_slice(&reader.file(
        &Value::from(MANIFEST),
        MANIFEST,
        MAX_TEMPLATE_BYTES,
    )?)
    .map_err(|e| format!("manifest.json is not valid JSON: {e}"))?;
    let manifest = object(&manifest, "manifest.json")?;
    fields(
        manifest,
        &[
            "schema_version",
            "default_locale",
            "fallbacks",
            "brand",
            "locales",
        ],
        &["schema_version", "default_locale", "brand", "locales"],
        "manifest",
    )?;
    if manifest["schema_version"] != 1 {
        return Err(format!(
            "unsupported schema_version {} (expected 1)",
            manifest["schema_version"]
        ));
    }
    let brand = object(&manifest["brand"], "brand")?;
    fields(brand, &["logo"], &["logo"], "brand")?;
    let mut assets = Vec::new();
    if !brand["logo"].is_null() {
        assets.push(reader.logo(&brand["logo"], BRAND_LOGO_ID.to_owned(), "brand.logo")?);
    }
    let brand_logo = (!assets.is_empty()).then_some(BRAND_LOGO_ID);
    let raw = object(&manifest["locales"], "locales")?;
    if raw.is_empty() {
        return Err("locales must be a non-empty object".to_owned());
    }
    let mut locales = BTreeMap::new();
    for (key, entry) in raw {
        let normal = normalize_locale(key).map_err(|e| format!("locales: {e}"))?;
        if &normal != key {
            return Err(format!("locales: key {key:?} must be written {normal:?}"));
        }
        let content = locale_content(&reader, key, entry, brand_logo, &mut assets)?;
        locales.insert(normal, content);
    }
    let default_locale = manifest["default_locale"]
        .as_str()
        .ok_or_else(|| "default_locale must be a string".to_owned())
        .and_then(normalize_locale)
        .map_err(|e| format!("default_locale: {e}"))?;
    if !locales.contains_key(&default_locale) {
        return Err(format!(
            "default_locale {default_locale:?} is not a declared locale"
        ));
    }
    let mut fallbacks = BTreeMap::new();
    let raw = manifest.get("fallbacks").filter(|v| !v.is_null());
    for (source, targets) in raw
        .map(|v| object(v, "fallbacks"))
        .transpose()?
        .into_iter()
        .flatten()
    {
        let source = normalize_locale(source).map_err(|e| format!("fallbacks: {e}"))?;
        let targets = targets
            .as_array()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("fallbacks.{source}: must be a non-empty array"))?;
        let mut list: Vec<String> = Vec::new();
        for target in targets {
            let target = target
                .as_str()
                .ok_or_else(|| "locale must be a non-empty string".to_owned())
                .and_then(normalize_locale)
                .map_err(|e| format!("fallbacks.{source}: {e}"))?;
            if !locales.contains_key(&target) || list.contains(&target) {
                return Err(format!(
                    "fallbacks.{source}: target {target:?} is not a declared locale or is repeated"
                ));
            }
            list.push(target);
        }
        if fallbacks.insert(source.clone(), list).is_some() {
            return Err(format!("fallbacks: duplicate source {source:?}"));
        }
    }
    Ok(Some(UiBundle {
        default_locale,
        locales,
        fallbacks,
        assets,
    }))
}

pub(crate) fn load(r: &Resolver<'_>) -> Result<Option<UiBundle>, ConfigError> {
    let Some((value, origin)) = r
        .raw(&spec::UI_TEMPLATES_DIR)
        .filter(|(v, _)| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    read_bundle(Path::new(value.trim())).map_err(|reason| ConfigError::Invalid {
        setting: spec::UI_TEMPLATES_DIR.env,
        origin,
        value,
        reason: format!("bundle invalid: {reason}"),
    })
}

#[cfg(test)]
#[path = "ui_bundle/tests.rs"]
mod tests;
