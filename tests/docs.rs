//! The documentation cannot drift from the binary: the pages under `docs/` are checked
//! against what the real binary prints (`--help`), serves (its routes) and handles (its
//! signals and hooks), and the README against `.ci/run` and the files it links to.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::Server;
use common::help::help_options;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The inline code spans of a Markdown text.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The cells of every table row of `text`, header and separator rows left out.
fn table_rows(text: &str) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            let header = lines
                .get(i + 1)
                .is_some_and(|next| next.starts_with("|---"));
            l.starts_with('|') && !l.starts_with("|---") && !header
        })
        .map(|(_, l)| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

/// The part of `text` under the heading `heading`, up to the next heading of its level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let level = heading.split(' ').next().unwrap();
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?}"))
        + heading.len()
        + 2;
    let rest = &text[start..];
    let end = rest.find(&format!("\n{level} ")).unwrap_or(rest.len());
    &rest[..end]
}

/// What an environment variable looks like in the pages: `MAX_ASYNC`, `LISTEN_PID`.
/// Values such as `INFO` or `HS256` have no underscore.
fn looks_like_variable(span: &str) -> Option<&str> {
    let name = span.split(['=', ' ']).next().unwrap();
    let shaped = name.len() > 2
        && name.contains('_')
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    shaped.then_some(name)
}

/// Every Rust source file of the workspace's crates.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    for krate in [
        "src",
        "config/src",
        "supervisor/src",
        "worker/src",
        "engine/src",
    ] {
        walk(&repo().join(krate), &mut out);
    }
    out
}

#[test]
fn settings_page_documents_every_option_of_help_with_its_variable_and_default() {
    let page = read("docs/settings.md");
    let rows: BTreeMap<&str, (&str, &str)> = table_rows(&page)
        .into_iter()
        .filter_map(|cells| {
            let flag = cells[0].strip_prefix("`--")?.strip_suffix('`')?;
            Some((flag, (cells[1].trim_matches('`'), cells[2])))
        })
        .collect();
    for option in help_options() {
        let Some((env, default)) = &option.setting else {
            assert!(
                page.contains(&format!("`--{}`", option.flag)),
                "docs/settings.md does not mention --{}",
                option.flag
            );
            continue;
        };
        let (documented_env, documented_default) = rows
            .get(option.flag.as_str())
            .unwrap_or_else(|| panic!("docs/settings.md has no row for --{}", option.flag));
        assert_eq!(documented_env, env, "variable of --{}", option.flag);
        let documented_default = match documented_default.trim_matches('`') {
            "empty" => "",
            other => other,
        };
        assert_eq!(documented_default, default, "default of --{}", option.flag);
    }
}

#[test]
fn settings_page_names_no_flag_or_variable_the_binary_does_not_know() {
    let page = read("docs/settings.md");
    let options = help_options();
    let flags: BTreeSet<&str> = options.iter().map(|o| o.flag.as_str()).collect();
    let settings: BTreeMap<&str, &str> = options
        .iter()
        .filter_map(|o| Some((o.flag.as_str(), o.setting.as_ref()?.0.as_str())))
        .collect();
    for cells in table_rows(&page) {
        if let Some(flag) = cells[0].strip_prefix("`--") {
            let flag = flag.trim_end_matches('`');
            assert_eq!(
                settings.get(flag).copied(),
                Some(cells[1].trim_matches('`')),
                "docs/settings.md has a row --{flag} / {} that --help lacks",
                cells[1]
            );
        }
    }
    // Variables the master reads that are not settings: each must be read somewhere in
    // the code.
    let outside = section(&page, "## Environment read outside the settings");
    let sources = sources();
    let mut known: BTreeSet<&str> = settings.values().copied().collect();
    for cells in table_rows(outside) {
        for name in code_spans(cells[0]) {
            let literal = format!("\"{name}\"");
            assert!(
                sources.iter().any(|(_, text)| text.contains(&literal)),
                "docs/settings.md lists {name}, which no source reads"
            );
            known.insert(name);
        }
    }
    for span in code_spans(&page) {
        if let Some(flag) = span.strip_prefix("--") {
            let flag = flag.split([' ', '=']).next().unwrap();
            assert!(
                flags.contains(flag),
                "docs/settings.md names --{flag}, unknown to --help"
            );
        } else if let Some(name) = looks_like_variable(span) {
            assert!(
                known.contains(name),
                "docs/settings.md names {name}, unknown to --help"
            );
        }
    }
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Every route the server serves, as (method, path): the OpenAPI document's operations,
/// the Swagger UI's two routes, and every route the worker's routers register in the code
/// (`.route("/path", get(handler))`, so test-only routes too).
fn served_routes() -> BTreeSet<(String, String)> {
    let server = Server::builder("docs-routes").start();
    let openapi = server.get("/openapi.json").json();
    let mut served = BTreeSet::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            served.insert((method.to_uppercase(), path.clone()));
        }
    }
    assert!(served.len() > 40, "{openapi}");
    for path in ["/openapi.json", "/docs"] {
        assert_ne!(server.get(path).status, 404, "{path} is not served");
        served.insert(("GET".to_owned(), path.to_owned()));
    }
    for (file, text) in sources() {
        if !file.starts_with(repo().join("worker/src")) {
            continue;
        }
        for after in text.split(".route(").skip(1) {
            let unreadable = || panic!("{}: unreadable route: {after:.80}", file.display());
            let Some((path, rest)) = after
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
            else {
                unreadable()
            };
            // The method router: `get(`, `post(`, `axum::routing::delete(` ...
            let handler = rest.trim_start().trim_start_matches(',').trim_start();
            let name = handler
                .split('(')
                .next()
                .unwrap()
                .rsplit("::")
                .next()
                .unwrap();
            let method = name.to_uppercase();
            if !METHODS.contains(&method.as_str()) {
                unreadable()
            }
            served.insert((method, path.to_owned()));
        }
    }
    served
}

/// The routes a page names, as `` `METHOD /path` `` code spans (a query string after
/// the path is allowed: `` `GET /graphs?label=` ``).
fn documented_routes(page: &str) -> BTreeSet<(String, String)> {
    code_spans(page)
        .into_iter()
        .filter_map(|span| {
            let (method, path) = span.split_once(' ')?;
            (METHODS.contains(&method) && path.starts_with('/')).then(|| {
                let path = path.split('?').next().unwrap();
                (method.to_owned(), path.to_owned())
            })
        })
        .collect()
}

#[test]
fn http_api_page_documents_every_route_the_server_serves() {
    let documented = documented_routes(&read("docs/http-api.md"));
    for (method, path) in served_routes() {
        assert!(
            documented.contains(&(method.clone(), path.clone())),
            "docs/http-api.md does not document `{method} {path}`"
        );
    }
}

#[test]
fn http_api_page_documents_no_route_the_server_lacks() {
    let served = served_routes();
    for route in documented_routes(&read("docs/http-api.md")) {
        assert!(
            served.contains(&route),
            "docs/http-api.md documents `{} {}`, which is not served",
            route.0,
            route.1
        );
    }
}

/// The signal names of the first column of a table (`INT, QUIT` names two).
/// `/openapi.json` states what the server validates (the fuzzer in tests/contract.rs
/// checks that it holds): a schema for every body a route reads, ranges on integer
/// parameters, credentials and the error answers on every guarded operation.
#[test]
fn openapi_states_the_constraints_and_the_answers() {
    let server = Server::builder("docs-openapi")
        .env("LIGHTRAG_API_KEY", "k")
        .start();
    let openapi = server.get("/openapi.json").json();
    let schemas = &openapi["components"]["schemas"];
    assert!(schemas["HTTPValidationError"].is_object(), "{schemas}");
    let without_body = [
        "DELETE /documents",
        "POST /documents/cancel_pipeline",
        "POST /documents/reprocess_failed",
        "POST /documents/scan",
    ];
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = &operation["responses"];
            for code in ["400", "500"] {
                assert!(responses[code].is_object(), "{name} lacks {code}");
            }
            if method != "get" && !without_body.contains(&name.as_str()) {
                let body = &operation["requestBody"];
                assert_eq!(body["required"], true, "{name}: {body}");
                assert!(responses["422"].is_object(), "{name} lacks 422");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let schema = &parameter["schema"];
                if schema["type"] == "integer" || schema["type"][0] == "integer" {
                    assert!(
                        schema["minimum"].as_u64() >= Some(1),
                        "{name} {}: {schema}",
                        parameter["name"]
                    );
                }
            }
            let public = [
                "/",
                "/login",
                "/auth-status",
                "/ui/customization",
                "/ui/customization/assets/{asset_hash}/{asset_id}",
                "/health",
            ];
            let guarded = !public.contains(&path.as_str()) && !path.starts_with("/api/");
            assert_eq!(
                operation["security"].is_array(),
                guarded,
                "{name}: {}",
                operation["security"]
            );
            if guarded {
                assert!(
                    responses["401"].is_object() && responses["403"].is_object(),
                    "{name}"
                );
            }
        }
    }
    let query =
        &openapi["paths"]["/query"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(query["properties"]["query"]["maxLength"], 65_536, "{query}");
    assert_eq!(query["properties"]["top_k"]["maximum"], 1000, "{query}");
    let open = Server::builder("docs-openapi-open").start();
    let open = open.get("/openapi.json").json();
    assert!(
        open["paths"]["/query"]["post"]["security"].is_null(),
        "an open server asks for no credentials"
    );
}

fn signals_in(table: &str) -> BTreeSet<String> {
    table_rows(table)
        .into_iter()
        .flat_map(|cells| {
            cells[0]
                .split(',')
                .map(|s| format!("SIG{}", s.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn signals_page_names_exactly_the_signals_master_and_workers_handle() {
    use lightrag_supervisor::signals::{MASTER_SIGNALS, WORKER_SIGNALS};
    let page = read("docs/signals.md");
    for (heading, handled) in [
        ("## Master", MASTER_SIGNALS),
        ("## Workers", WORKER_SIGNALS),
    ] {
        let handled: BTreeSet<String> = handled.iter().map(|s| s.as_str().to_owned()).collect();
        assert_eq!(
            signals_in(section(&page, heading)),
            handled,
            "docs/signals.md, {heading}"
        );
    }
    let exit_codes = section(&page, "## Exit codes");
    for code in [
        lightrag_supervisor::WORKER_BOOT_ERROR,
        lightrag_supervisor::APP_LOAD_ERROR,
    ] {
        assert!(
            table_rows(exit_codes)
                .iter()
                .any(|cells| cells[0] == code.to_string()),
            "docs/signals.md lacks exit code {code}"
        );
    }
}

#[test]
fn hooks_page_names_exactly_the_hooks_help_offers() {
    // A hook's command is the setting `LIGHTRAG_HOOK_<NAME>` (`--hook-<name>`).
    let offered: BTreeSet<String> = help_options()
        .into_iter()
        .filter_map(|o| {
            let (env, _) = o.setting?;
            Some(env.strip_prefix("LIGHTRAG_HOOK_")?.to_lowercase())
        })
        .collect();
    assert!(offered.contains("on_starting"), "{offered:?}");
    let documented: BTreeSet<String> = table_rows(&read("docs/hooks.md"))
        .into_iter()
        .map(|cells| cells[0].trim_matches('`').to_owned())
        .collect();
    assert_eq!(documented, offered, "docs/hooks.md");
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn readme_and_pages_link_to_existing_files_and_headings() {
    let mut pages = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    let mut links = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for after in text.split("](").skip(1) {
            let target = after.split(')').next().unwrap();
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            links += 1;
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            assert!(
                linked.exists(),
                "{} links to {target}, which does not exist",
                page.display()
            );
            if !fragment.is_empty() {
                let headings = anchors(&std::fs::read_to_string(&linked).unwrap());
                assert!(
                    headings.contains(fragment),
                    "{} links to {target}: no such heading in {headings:?}",
                    page.display()
                );
            }
        }
    }
    assert!(links > 10, "links not found");
}

#[test]
fn readme_gives_the_run_command_and_the_test_command_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let test_command = ci
        .lines()
        .find(|l| l.starts_with("cargo nextest run"))
        .expect(".ci/run runs no nextest command");
    for command in ["cargo run --release", test_command] {
        assert!(
            readme.contains(&format!("\n    {command}\n")),
            "README.md lacks the command `{command}`"
        );
    }
}

#[test]
fn layout_page_names_only_paths_that_exist() {
    let page = read("docs/layout.md");
    let top_level: BTreeSet<String> = std::fs::read_dir(repo())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut checked = 0;
    for span in code_spans(&page) {
        let Some((first, _)) = span.split_once('/') else {
            continue;
        };
        if span.contains(' ') || !top_level.contains(first) {
            continue;
        }
        checked += 1;
        assert!(
            repo().join(span).exists(),
            "docs/layout.md names {span}, which does not exist"
        );
    }
    assert!(checked > 20, "paths not found in docs/layout.md");
}
