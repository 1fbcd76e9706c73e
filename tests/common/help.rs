//! The options `lightrag-master --help` prints, parsed: what the docs and the deployment
//! files are checked against, so neither can name a setting the binary does not have.

use std::process::Command;

use super::BIN;

/// One option of `--help`: its long flag, and its variable and default when it is a
/// setting (`--help` and `--version` are not).
#[derive(Debug)]
pub struct HelpOption {
    pub flag: String,
    pub setting: Option<(String, String)>,
}

/// `--help` prints each option on one line (`  -h, --help`, `      --port <PORT>`) and
/// its description on the next, ending in `[env: PORT] [default: 9621]`.
pub fn help_options() -> Vec<HelpOption> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success(), "--help failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut options = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') {
            continue;
        }
        let Some(flag) = trimmed
            .split([' ', ','])
            .find_map(|word| word.strip_prefix("--"))
        else {
            continue;
        };
        let description = lines.get(i + 1).copied().unwrap_or_default();
        let setting = description.split_once("[env: ").map(|(_, rest)| {
            let (env, rest) = rest.split_once(']').unwrap();
            let default = rest
                .trim()
                .strip_prefix("[default: ")
                .and_then(|d| d.strip_suffix(']'))
                .unwrap_or_else(|| panic!("no default for --{flag}: {description}"));
            (env.to_owned(), default.to_owned())
        });
        options.push(HelpOption {
            flag: flag.to_owned(),
            setting,
        });
    }
    assert!(options.len() > 50, "--help not parsed: {text}");
    options
}
