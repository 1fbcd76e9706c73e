//! The `LIGHTRAG-WORKSPACE` header: documents, graphs, answers, pipeline status and
//! input directories are kept apart per workspace, on every route.

mod common;

use std::time::{Duration, Instant};

use common::{Server, call_in_workspace as call, send};
use serde_json::{Value, json};

fn indexed(server: &Server, workspace: Option<&str>, text: &str, source: &str) {
    let r = call(
        server,
        "POST",
        "/documents/text",
        workspace,
        &json!({"text": text, "file_source": source}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(
        server,
        "GET",
        &format!("/documents/track_status/{track}"),
        workspace,
        &Value::Null,
    )
    .json()["status_summary"]
        != json!({"processed": 1})
    {
        assert!(Instant::now() < deadline, "{workspace:?} {source}");
        std::thread::sleep(Duration::from_millis(100));
    }
    common::pipeline_idle(server, workspace, Duration::from_secs(10));
}

fn labels(server: &Server, workspace: Option<&str>) -> Vec<String> {
    serde_json::from_value(call(server, "GET", "/graph/label/list", workspace, &Value::Null).json())
        .unwrap()
}

#[test]
fn workspaces_hold_disjoint_documents_graphs_and_answers() {
    let server = Server::builder("workspaces")
        .args(&["--workers", "2"])
        .start();
    indexed(
        &server,
        None,
        "Ada Lovelace wrote notes on the Analytical Engine in London.",
        "ada.txt",
    );
    indexed(
        &server,
        Some("team-a"),
        "Grace Hopper built the first compiler at Remington Rand.",
        "hopper.txt",
    );
    indexed(
        &server,
        Some("team_b"),
        "Alan Turing broke Enigma at Bletchley Park.",
        "turing.txt",
    );

    // The same source name may exist in two workspaces.
    indexed(
        &server,
        Some("team_b"),
        "Ada Lovelace is remembered in Bletchley Park too.",
        "ada.txt",
    );

    let default = labels(&server, None);
    let a = labels(&server, Some("team-a"));
    let a_again = labels(&server, Some("team_a"));
    let b = labels(&server, Some("team_b"));
    assert!(
        default.contains(&"Analytical Engine".to_owned())
            && !default.contains(&"Grace Hopper".to_owned())
    );
    assert!(
        a.contains(&"Grace Hopper".to_owned()) && !a.contains(&"Ada Lovelace".to_owned()),
        "{a:?}"
    );
    assert_eq!(a, a_again, "the header is sanitised: team-a is team_a");
    assert!(b.contains(&"Alan Turing".to_owned()) && !b.contains(&"Grace Hopper".to_owned()));

    let counts = |ws| {
        call(&server, "GET", "/documents/status_counts", ws, &Value::Null).json()["status_counts"]["all"].clone()
    };
    assert_eq!(
        (counts(None), counts(Some("team_a")), counts(Some("team_b"))),
        (json!(1), json!(1), json!(2))
    );
    assert_eq!(
        counts(Some("fresh")),
        json!(0),
        "an unknown workspace starts empty"
    );

    let ask = |ws, q: &str| call(&server, "POST", "/query", ws, &json!({"query": q})).json();
    let hopper = ask(Some("team_a"), "Who built the first compiler?");
    assert!(
        hopper["response"]
            .as_str()
            .unwrap()
            .contains("Grace Hopper"),
        "{hopper}"
    );
    assert_eq!(hopper["references"][0]["file_path"], "hopper.txt");
    let elsewhere = ask(None, "Who built the first compiler at Remington Rand?");
    assert!(
        !elsewhere["response"]
            .as_str()
            .unwrap()
            .contains("Grace Hopper"),
        "{elsewhere}"
    );

    let data = call(
        &server,
        "POST",
        "/query/data",
        Some("team_b"),
        &json!({"query": "Alan Turing", "mode": "local"}),
    )
    .json();
    assert!(
        data["data"]["references"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["file_path"] != "hopper.txt")
    );

    // Graph edits stay in their workspace.
    let r = call(
        &server,
        "POST",
        "/graph/entity/create",
        Some("team_a"),
        &json!({"entity_name": "COBOL", "entity_data": {"description": "A language."}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(labels(&server, Some("team_a")).contains(&"COBOL".to_owned()));
    assert!(!labels(&server, None).contains(&"COBOL".to_owned()));

    // Clearing one workspace leaves the others.
    let cleared = call(
        &server,
        "DELETE",
        "/documents",
        Some("team_b"),
        &Value::Null,
    )
    .json();
    assert_eq!(cleared["status"], "success");
    assert_eq!(counts(Some("team_b")), json!(0));
    assert_eq!(counts(None), json!(1));
    assert!(labels(&server, Some("team_b")).is_empty());
    assert!(!labels(&server, Some("team_a")).is_empty());

    let status = call(
        &server,
        "GET",
        "/documents/pipeline_status",
        Some("team_a"),
        &Value::Null,
    )
    .json();
    assert!(
        status["history_messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("hopper.txt"))
    );
    let other = call(
        &server,
        "GET",
        "/documents/pipeline_status",
        None,
        &Value::Null,
    )
    .json();
    assert!(
        !other["history_messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("hopper.txt")),
        "{other}"
    );
}

#[test]
fn uploads_use_the_workspace_input_directory() {
    let server = Server::builder("workspaces-files").start();
    let boundary = "wsboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\r\nKatherine Johnson computed trajectories at NASA.\r\n--{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = send(
        server.port,
        "POST",
        "/documents/upload",
        &[
            ("Content-Type", &content_type),
            ("LIGHTRAG-WORKSPACE", "space"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track_id = r.json()["track_id"].as_str().unwrap().to_owned();
    // The file reaches `__parsed__/` before extraction ends: wait for the document itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let track = call(
            &server,
            "GET",
            &format!("/documents/track_status/{track_id}"),
            Some("space"),
            &Value::Null,
        )
        .json();
        if track["documents"][0]["status"] == "processed" {
            break;
        }
        assert!(Instant::now() < deadline, "{track}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        server
            .dir
            .join("inputs/space/__parsed__/notes.txt")
            .is_file(),
        "parsed into the workspace's input directory"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while call(&server, "GET", "/health", Some("space"), &Value::Null).json()["pipeline_busy"]
        != false
    {
        assert!(Instant::now() < deadline, "the workspace's pipeline ends");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(labels(&server, Some("space")).contains(&"Katherine Johnson".to_owned()));
    assert!(labels(&server, None).is_empty());
}

#[test]
fn a_worker_closes_idle_workspaces_to_open_more_than_its_bound() {
    let server = Server::builder("workspaces-bound")
        .args(&["--workers", "1"])
        .start();
    indexed(
        &server,
        Some("w0"),
        "Katherine Johnson computed orbital trajectories.",
        "johnson.txt",
    );
    let counts = |ws: &str| {
        let r = call(
            &server,
            "GET",
            "/documents/status_counts",
            Some(ws),
            &Value::Null,
        );
        assert_eq!(r.status, 200, "{ws}: {}", r.body);
        r.json()["status_counts"]["all"].clone()
    };
    // The table holds 256: the least recently used idle ones are closed to make room.
    for i in 1..=300 {
        assert_eq!(counts(&format!("w{i}")), json!(0));
    }
    // A closed workspace reopens with its data.
    assert_eq!(counts("w0"), json!(1));
    assert_eq!(server.get("/health").status, 200);
}
