//! Serving a built web UI from `WEBUI_DIR`, and `/webui` without one.

mod common;

use common::{Server, send};

const INDEX: &str = "<!doctype html><html><head><title>LightRAG</title><!-- __LIGHTRAG_RUNTIME_CONFIG__ --></head><body><div id=root></div><script src=\"/webui/assets/app.js\"></script></body></html>";

fn ui_dir(server_dir: &std::path::Path) -> std::path::PathBuf {
    let dir = server_dir.join("ui");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(
        dir.join("workspace.html"),
        INDEX.replace("root", "workspace"),
    )
    .unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('ui')").unwrap();
    std::fs::write(server_dir.join("secret.txt"), "do not serve").unwrap();
    dir
}

#[test]
fn a_built_ui_is_served_with_its_runtime_configuration_and_cache_rules() {
    let builder = Server::builder("webui-served");
    let dir = ui_dir(builder.dir());
    let server = builder
        .args(&["--webui-dir", dir.to_str().unwrap(), "--api-prefix", "/rag"])
        .env("WEBUI_TITLE", "Team </script> KB")
        .start();
    let root = server.get("/");
    assert_eq!(
        (root.status, root.header("location")),
        (307, Some("/rag/webui/"))
    );
    let bare = server.get("/webui");
    assert_eq!(
        (bare.status, bare.header("location")),
        (307, Some("/rag/webui/"))
    );

    let page = server.get("/webui/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("cache-control"),
        Some("no-cache, no-store, must-revalidate")
    );
    assert_eq!(page.header("pragma"), Some("no-cache"));
    assert_eq!(page.header("expires"), Some("0"));
    assert!(!page.body.contains("__LIGHTRAG_RUNTIME_CONFIG__"));
    assert!(
        page.body.contains(r#"window.__LIGHTRAG_CONFIG__ = {"apiPrefix":"/rag","webuiPrefix":"/rag/webui/","webuiTitle":"Team <\/script> KB"};"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"document.title = "Team <\/script> KB";"#)
    );
    assert_eq!(server.get("/webui/index.html").status, 200);

    let asset = server.get("/webui/assets/app.js");
    assert_eq!(asset.status, 200);
    assert_eq!(asset.body, "console.log('ui')");
    assert_eq!(
        asset.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(asset.header("content-type"), Some("text/javascript"));

    assert_eq!(server.get("/webui/workspace.html").status, 404);
    assert_eq!(server.get("/webui/missing.js").status, 404);
    assert_eq!(server.get("/webui/assets/..%2f..%2fsecret.txt").status, 404);
    let raw = send(server.port, "GET", "/webui/../secret.txt", &[], b"");
    assert_ne!(raw.body, "do not serve");

    let workspace = server.get("/workspace/");
    assert_eq!(workspace.status, 200);
    assert!(
        workspace.body.contains("id=workspace") && workspace.body.contains("__LIGHTRAG_CONFIG__")
    );
    assert_eq!(server.get("/workspace/index.html").status, 404);
    assert_eq!(server.get("/workspace/assets/app.js").status, 200);

    let health = server.get("/health").json();
    assert_eq!(
        (
            health["webui_available"].clone(),
            health["workspace_available"].clone()
        ),
        (true.into(), true.into())
    );
}

#[test]
fn the_workspace_ui_can_be_the_default_and_a_missing_ui_falls_back() {
    let builder = Server::builder("webui-default");
    let dir = ui_dir(builder.dir());
    let server = builder
        .args(&["--webui-dir", dir.to_str().unwrap()])
        .env("LIGHTRAG_DEFAULT_UI", "workspace")
        .start();
    assert_eq!(server.get("/").header("location"), Some("/workspace/"));
    drop(server);

    let none = Server::builder("webui-none").start();
    let r = none.get("/webui");
    assert_eq!((r.status, r.header("location")), (307, Some("/docs")));
    assert_eq!(none.get("/webui/").header("location"), Some("/docs"));
    let w = none.get("/workspace/");
    assert_eq!(w.status, 200);
    assert_eq!(w.json()["service"], "LightRAG Server");
    assert_eq!(none.get("/health").json()["webui_available"], false);
    drop(none);

    let no_docs = Server::builder("webui-nodocs")
        .env("ENABLE_API_DOCS", "false")
        .start();
    let r = no_docs.get("/webui");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "healthy");

    let bad = Server::builder("webui-bad")
        .args(&["--webui-dir", "/nonexistent/ui"])
        .no_wait()
        .start();
    let mut bad = bad;
    assert!(
        bad.wait_exit(std::time::Duration::from_secs(10))
            .is_some_and(|s| !s.success())
    );
    assert!(bad.output().contains("WEBUI_DIR"), "{}", bad.output());
}
