//! Files in the workspace's input directory: the uploads and scanned files the pipeline
//! parses, and the `__parsed__/` archive they move to once their text is stored.

use std::path::{Path, PathBuf};

use crate::parsing;

/// Where parsed files go, inside the input directory.
pub const PARSED_DIR: &str = "__parsed__";

/// The text of `file_name` in `dir`, or why it cannot be read.
pub fn parse(dir: &Path, file_name: &str, canonical: &str) -> Result<String, String> {
    let path = dir.join(file_name);
    let bytes = std::fs::read(&path).map_err(|e| format!("Cannot read {file_name}: {e}"))?;
    parsing::extract_text(canonical, &bytes).map_err(|e| e.to_string())
}

/// Moves a parsed file into `__parsed__/`, with a numbered suffix when the name is
/// taken (`a.txt` → `a_001.txt`).
pub fn archive(dir: &Path, file_name: &str) -> std::io::Result<PathBuf> {
    let parsed = dir.join(PARSED_DIR);
    std::fs::create_dir_all(&parsed)?;
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (file_name, String::new()),
    };
    let mut target = parsed.join(file_name);
    let mut n = 0;
    while target.symlink_metadata().is_ok() {
        n += 1;
        target = parsed.join(format!("{stem}_{n:03}{ext}"));
    }
    std::fs::rename(dir.join(file_name), &target)?;
    Ok(target)
}

/// Names of the regular files directly in `dir` (symlinks and directories skipped),
/// sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_numbers_clashing_names() {
        let dir = std::env::temp_dir().join(format!("lrm-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..3 {
            std::fs::write(dir.join("a.txt"), "x").unwrap();
            archive(&dir, "a.txt").unwrap();
        }
        let mut parsed = list(&dir.join(PARSED_DIR));
        parsed.sort();
        assert_eq!(parsed, ["a.txt", "a_001.txt", "a_002.txt"]);
        assert!(list(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
