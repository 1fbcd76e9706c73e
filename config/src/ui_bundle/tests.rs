use super::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nrest-of-image";

fn bundle(name: &str, manifest: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lrm-ui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(MANIFEST), manifest).unwrap();
    for (path, bytes) in files {
        std::fs::write(dir.join(path), bytes).unwrap();
    }
    dir
}

#[test]
fn locales_normalise_case_and_refuse_underscores() {
    assert_eq!(normalize_locale("zh-hant-tw").unwrap(), "zh-Hant-TW");
    assert_eq!(normalize_locale("EN").unwrap(), "en");
    assert_eq!(normalize_locale("es-419").unwrap(), "es-419");
    assert!(
        normalize_locale("zh_TW")
            .unwrap_err()
            .contains("underscore")
    );
    for bad in ["", "e", "1a", "en--us", "en-toolongsubtag"] {
        assert!(normalize_locale(bad).is_err(), "{bad}");
    }
    assert_eq!(direction("ar"), "rtl");
    assert_eq!(direction("ku-Arab"), "rtl");
    assert_eq!(direction("ar-Latn"), "ltr");
    assert_eq!(direction("en-US"), "ltr");
}

#[test]
fn logos_are_typed_by_their_bytes() {
    assert_eq!(sniff(PNG), Some("image/png"));
    assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
    assert_eq!(
        sniff(b"<?xml version=\"1.0\"?>\n<!-- a > b --><!DOCTYPE svg><svg xmlns=\"x\"/>"),
        Some("image/svg+xml")
    );
    assert_eq!(sniff(b"<svgx/>"), None);
    assert_eq!(sniff(b"<html><svg/></html>"), None);
}

#[test]
fn a_bundle_loads_with_its_logos_locales_and_fallbacks() {
    let dir = bundle(
        "good",
        r#"{"schema_version": 1, "default_locale": "en", "fallbacks": {"de-AT": ["de"]},
            "brand": {"logo": "logo.png"},
            "locales": {
              "en": {"welcome": "w.md", "query_empty": "q.md", "logo_alt": "Acme"},
              "de": {"welcome": "w.md", "query_empty": "q.md", "logo_alt": "Acme DE",
                     "logo": null, "login": "login.md", "agreements": "agree.md"}}}"#,
        &[
            ("logo.png", PNG),
            ("w.md", b"# Welcome"),
            ("q.md", b"Ask away"),
            ("login.md", b"Sign in"),
            ("agree.md", b"Terms"),
        ],
    );
    let b = read_bundle(&dir).unwrap().unwrap();
    assert_eq!(b.resolve("en"), ("en", false));
    assert_eq!(b.resolve("de-AT"), ("de", true));
    assert_eq!(b.resolve("fr"), ("en", true));
    assert_eq!(b.locales["en"].logo.as_deref(), Some(BRAND_LOGO_ID));
    assert_eq!(b.locales["de"].logo, None);
    assert_eq!(b.locales["de"].agreements.as_deref(), Some("Terms"));
    let logo = b.asset_by_id(BRAND_LOGO_ID).unwrap();
    assert_eq!(logo.mime, "image/png");
    assert_eq!(logo.sha256.len(), 64);
    assert!(b.asset(&logo.sha256, BRAND_LOGO_ID).is_some());
    assert!(b.asset("0000", BRAND_LOGO_ID).is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_bundle_says_what_is_wrong() {
    let locales =
        r#""locales": {"en": {"welcome": "w.md", "query_empty": "q.md", "logo_alt": "A"}}"#;
    for (manifest, files, complaint) in [
        (
            format!(
                r#"{{"schema_version": 2, "default_locale": "en", "brand": {{"logo": null}}, {locales}}}"#
            ),
            &[][..],
            "schema_version",
        ),
        (
            format!(r#"{{"schema_version": 1, "default_locale": "en", "brand": {{}}, {locales}}}"#),
            &[][..],
            "missing required field \"logo\"",
        ),
        (
            format!(
                r#"{{"schema_version": 1, "default_locale": "en", "brand": {{"logo": "../x.png"}}, {locales}}}"#
            ),
            &[][..],
            "relative path inside the bundle",
        ),
        (
            format!(
                r#"{{"schema_version": 1, "default_locale": "en", "brand": {{"logo": "w.md"}}, {locales}}}"#
            ),
            &[("w.md", &b"text"[..]), ("q.md", b"q")][..],
            "not PNG, JPEG, WebP or SVG",
        ),
        (
            format!(
                r#"{{"schema_version": 1, "default_locale": "fr", "brand": {{"logo": null}}, {locales}}}"#
            ),
            &[("w.md", &b"w"[..]), ("q.md", b"q")][..],
            "not a declared locale",
        ),
        (
            format!(
                r#"{{"schema_version": 1, "default_locale": "en", "brand": {{"logo": null}}, "extra": 1, {locales}}}"#
            ),
            &[][..],
            "unknown field \"extra\"",
        ),
    ] {
        let dir = bundle("bad", &manifest, files);
        let err = read_bundle(&dir).unwrap_err();
        assert!(err.contains(complaint), "{err} (wanted {complaint})");
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let empty = std::env::temp_dir().join(format!("lrm-ui-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(read_bundle(&empty), Ok(None));
    assert!(read_bundle(&empty.join("absent")).is_err());
    std::fs::remove_dir_all(&empty).unwrap();
}
