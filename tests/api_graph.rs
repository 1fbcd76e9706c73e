//! Knowledge-graph routes: the explorer's reads and every edit, with the stores kept
//! consistent (vector search follows renames and merges) and visible from every worker.

#![cfg(feature = "testing")]

mod common;

use std::time::{Duration, Instant};

use common::{Response, Server};
use serde_json::{Value, json};

fn request(server: &Server, method: &str, path: &str, body: &Value) -> Response {
    common::call(server, method, path, body)
}

/// Entity names local retrieval finds for `keyword`.
fn found(server: &Server, keyword: &str) -> Vec<String> {
    let data = request(
        server,
        "POST",
        "/query/data",
        &json!({"query": "anything about it", "mode": "local", "ll_keywords": [keyword], "top_k": 5}),
    )
    .json();
    data["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_name"].as_str().unwrap().to_owned())
        .collect()
}

const CORPUS: [(&str, &str); 3] = [
    (
        "spacex.txt",
        "Elon Musk founded SpaceX in Hawthorne. SpaceX launched Falcon Heavy from Cape Canaveral.",
    ),
    (
        "tesla.txt",
        "Elon Msk led Tesla in Austin. Tesla builds the Model Y.",
    ),
    (
        "neuralink.txt",
        "Ellon Musk started Neuralink in Fremont. Neuralink designs brain implants with Tesla engineers.",
    ),
];

#[test]
fn explorer_reads_subgraphs_and_searches_labels() {
    let server = Server::builder("graph-reads").start();
    common::index_texts(&server, &CORPUS);
    let graph = server.get("/graphs?label=SpaceX&max_depth=1").json();
    let names: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"SpaceX") && names.contains(&"Elon Musk") && names.contains(&"Hawthorne"),
        "{names:?}"
    );
    assert!(!names.contains(&"Neuralink"), "one hop only: {names:?}");
    assert_eq!(graph["is_truncated"], false);
    let node = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "SpaceX")
        .unwrap();
    assert_eq!(node["labels"], json!(["SpaceX"]));
    assert_eq!(node["properties"]["entity_id"], "SpaceX");
    assert!(node["properties"]["description"].is_string());
    let edge = &graph["edges"][0];
    assert_eq!(edge["type"], "DIRECTED");
    assert!(edge["properties"]["weight"].is_number() && edge["id"].as_str().unwrap().contains('-'));

    let near: Vec<String> = server.get("/graphs?label=Tesla&max_depth=1").json()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        near.contains(&"Neuralink".to_owned()) && !near.contains(&"Fremont".to_owned()),
        "{near:?}"
    );
    let deep: Vec<String> = server.get("/graphs?label=Tesla&max_depth=2").json()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(deep.contains(&"Fremont".to_owned()), "two hops: {deep:?}");
    let cut = server
        .get("/graphs?label=SpaceX&max_depth=3&max_nodes=2")
        .json();
    assert_eq!(cut["is_truncated"], true);
    let kept: Vec<&str> = cut["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.contains(&"SpaceX"),
        "the start node has the fewest hops: {kept:?}"
    );
    let all = server.get("/graphs?label=*&max_nodes=3").json();
    assert_eq!(all["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(all["is_truncated"], true);
    assert_eq!(
        server.get("/graphs?label=Nobody").json(),
        json!({"nodes": [], "edges": [], "is_truncated": false})
    );
    assert_eq!(server.get("/graphs").status, 422);
    assert_eq!(server.get("/graphs?label=SpaceX&max_depth=0").status, 422);

    let hits: Vec<String> =
        serde_json::from_value(server.get("/graph/label/search?q=musk&limit=5").json()).unwrap();
    assert_eq!(
        hits.first().map(String::as_str),
        Some("Elon Musk"),
        "{hits:?}"
    );
    assert!(hits.contains(&"Ellon Musk".to_owned()));
    let hits: Vec<String> =
        serde_json::from_value(server.get("/graph/label/search?q=tesla").json()).unwrap();
    assert_eq!(hits[0], "Tesla");
    assert_eq!(server.get("/graph/label/search").status, 422);
    assert_eq!(server.get("/graph/label/search?q=x&limit=101").status, 422);
}

#[test]
fn edits_keep_graph_vectors_and_workers_consistent() {
    let server = Server::builder("graph-edits")
        .args(&["--workers", "2"])
        .start();
    common::index_texts(&server, &CORPUS);

    // Create.
    let r = request(
        &server,
        "POST",
        "/graph/entity/create",
        &json!({"entity_name": "Starbase", "entity_data": {"description": "SpaceX launch site in Texas.", "entity_type": "location"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Entity 'Starbase' created successfully"
    );
    assert_eq!(r.json()["data"]["entity_type"], "location");
    let again = request(
        &server,
        "POST",
        "/graph/entity/create",
        &json!({"entity_name": "Starbase", "entity_data": {"description": "x"}}),
    );
    assert_eq!(
        (again.status, again.json()["detail"].clone()),
        (400, json!("Entity 'Starbase' already exists"))
    );
    assert!(found(&server, "Starbase").contains(&"Starbase".to_owned()));
    let r = request(
        &server,
        "POST",
        "/graph/relation/create",
        &json!({"source_entity": "SpaceX", "target_entity": "Starbase", "relation_data": {"description": "SpaceX builds Starship at Starbase.", "keywords": "launch site"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Relation created successfully between 'SpaceX' and 'Starbase'"
    );
    let dup = request(
        &server,
        "POST",
        "/graph/relation/create",
        &json!({"source_entity": "Starbase", "target_entity": "SpaceX", "relation_data": {"description": "again"}}),
    );
    assert_eq!(
        dup.json()["detail"],
        "Relation from 'Starbase' to 'SpaceX' already exists"
    );
    let orphan = request(
        &server,
        "POST",
        "/graph/relation/create",
        &json!({"source_entity": "Nope", "target_entity": "SpaceX", "relation_data": {}}),
    );
    assert_eq!(
        (orphan.status, orphan.json()["detail"].clone()),
        (400, json!("Source entity 'Nope' does not exist"))
    );

    // Edit.
    let r = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Starbase", "updated_data": {"description": "Launch site near Boca Chica."}}),
    );
    assert_eq!(r.json()["message"], "Entity updated successfully");
    assert_eq!(r.json()["operation_summary"]["renamed"], false);
    let bad = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Starbase", "updated_data": {"weight": 3}}),
    );
    assert_eq!(bad.status, 400);
    let missing = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Nobody", "updated_data": {}}),
    );
    assert_eq!(
        (missing.status, missing.json()["detail"].clone()),
        (400, json!("Entity 'Nobody' does not exist"))
    );
    let no_rename = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Starbase", "updated_data": {"entity_name": "Star Base"}}),
    );
    assert_eq!(no_rename.status, 400);
    let taken = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Starbase", "updated_data": {"entity_name": "SpaceX"}, "allow_rename": true}),
    );
    assert_eq!(
        taken.json()["detail"],
        "Entity name 'SpaceX' already exists, cannot rename"
    );

    // Rename: the old name is gone everywhere, relations follow, vectors follow.
    let r = request(
        &server,
        "POST",
        "/graph/entity/edit",
        &json!({"entity_name": "Starbase", "updated_data": {"entity_name": "Starbase Texas"}, "allow_rename": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let summary = &r.json()["operation_summary"];
    assert_eq!(
        (
            summary["renamed"].clone(),
            summary["final_entity"].clone(),
            summary["merged"].clone()
        ),
        (json!(true), json!("Starbase Texas"), json!(false))
    );
    // Every worker sees the rename at once.
    let mut workers = common::connections_to_each_worker(&server, 2);
    for conn in &mut workers {
        assert_eq!(
            common::get_on(conn, "/graph/entity/exists?name=Starbase").json()["exists"],
            false
        );
        assert_eq!(
            common::get_on(conn, "/graph/entity/exists?name=Starbase%20Texas").json()["exists"],
            true
        );
    }
    assert!(found(&server, "Starbase Texas").contains(&"Starbase Texas".to_owned()));
    assert!(!found(&server, "Starbase").contains(&"Starbase".to_owned()));
    let spacex = server
        .get("/graphs?label=Starbase%20Texas&max_depth=1")
        .json();
    assert!(
        spacex["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "SpaceX" || e["target"] == "SpaceX")
    );

    let r = request(
        &server,
        "POST",
        "/graph/relation/edit",
        &json!({"source_id": "SpaceX", "target_id": "Starbase Texas", "updated_data": {"description": "Starship factory.", "weight": 2.0}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"], "Relation updated successfully");
    assert_eq!(r.json()["data"]["description"], "Starship factory.");
    let r = request(
        &server,
        "POST",
        "/graph/relation/edit",
        &json!({"source_id": "SpaceX", "target_id": "Hawthorne", "updated_data": {"weight": 0.0}}),
    );
    assert_eq!(r.status, 400, "weight below the source count: {}", r.body);

    // Merge the misspellings: relations move, duplicates collapse, old names vanish.
    let r = request(
        &server,
        "POST",
        "/graph/entities/merge",
        &json!({"entities_to_change": ["Elon Msk", "Ellon Musk"], "entity_to_change_into": "Elon Musk"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Successfully merged 2 entities into 'Elon Musk'"
    );
    for conn in &mut common::connections_to_each_worker(&server, 2) {
        for name in ["Elon%20Msk", "Ellon%20Musk"] {
            let path = format!("/graph/entity/exists?name={name}");
            assert_eq!(
                common::get_on(conn, &path).json()["exists"],
                false,
                "{name}"
            );
        }
    }
    let around = server.get("/graphs?label=Elon%20Musk&max_depth=1").json();
    let neighbours: Vec<&str> = around["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for n in ["SpaceX", "Tesla", "Neuralink", "Austin", "Fremont"] {
        assert!(neighbours.contains(&n), "{n} in {neighbours:?}");
    }
    let pairs: Vec<(String, String)> = around["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (a, b) = (
                e["source"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            );
            if a <= b { (a, b) } else { (b, a) }
        })
        .collect();
    let unique: std::collections::HashSet<_> = pairs.iter().collect();
    assert_eq!(
        unique.len(),
        pairs.len(),
        "no parallel relations: {pairs:?}"
    );
    let hits: Vec<String> =
        serde_json::from_value(server.get("/graph/label/search?q=msk").json()).unwrap();
    assert!(!hits.contains(&"Elon Msk".to_owned()), "{hits:?}");
    let merged = found(&server, "Elon Musk");
    assert!(
        merged.contains(&"Elon Musk".to_owned()) && !merged.contains(&"Ellon Musk".to_owned()),
        "{merged:?}"
    );

    // Delete.
    let r = request(
        &server,
        "DELETE",
        "/graph/relation/delete",
        &json!({"source_entity": "Starbase Texas", "target_entity": "SpaceX"}),
    );
    assert_eq!(
        r.json(),
        json!({"status": "success", "doc_id": "", "message": "Relation from 'Starbase Texas' to 'SpaceX' deleted successfully", "status_code": 200, "file_path": null})
    );
    let r = request(
        &server,
        "DELETE",
        "/graph/relation/delete",
        &json!({"source_entity": "Starbase Texas", "target_entity": "SpaceX"}),
    );
    assert_eq!(r.status, 404);
    let r = request(
        &server,
        "DELETE",
        "/graph/entity/delete",
        &json!({"entity_name": "Starbase Texas"}),
    );
    assert_eq!(
        r.json()["message"],
        "Entity 'Starbase Texas' deleted successfully"
    );
    assert!(!common::entity_exists(&server, "Starbase Texas"));
    assert!(!found(&server, "Starbase Texas").contains(&"Starbase Texas".to_owned()));
    assert_eq!(
        request(
            &server,
            "DELETE",
            "/graph/entity/delete",
            &json!({"entity_name": "Starbase Texas"})
        )
        .status,
        404
    );
    assert_eq!(
        request(
            &server,
            "DELETE",
            "/graph/entity/delete",
            &json!({"entity_name": "  "})
        )
        .status,
        422
    );
}

/// Each worker keeps its label list between changes; every change shows at once on
/// every worker all the same, whichever worker made it: indexing (in the worker running
/// the pipeline), creating, renaming and deleting entities, clearing the documents.
#[test]
fn every_workers_label_list_follows_every_change() {
    let server = Server::builder("graph-labels")
        .args(&["--workers", "2"])
        .start();
    let labels = |what: &str, expect: &dyn Fn(&[String]) -> bool| {
        for conn in &mut common::connections_to_each_worker(&server, 2) {
            // The second answer is the one kept from the first.
            for _ in 0..2 {
                let r = common::get_on(conn, "/graph/label/list");
                assert_eq!(r.header("content-type"), Some("application/json"));
                let names: Vec<String> = serde_json::from_value(r.json()).unwrap();
                assert!(expect(&names), "{what}: {names:?}");
            }
        }
    };
    let has = |names: &[String], name: &str| names.iter().any(|n| n == name);
    labels("an empty store", &|names| names.is_empty());
    common::index_texts(&server, &CORPUS[..1]);
    labels("after indexing", &|names| {
        has(names, "SpaceX") && has(names, "Elon Musk") && !has(names, "Starbase")
    });
    let create = json!({"entity_name": "Starbase", "entity_data": {"description": "Launch site."}});
    let r = request(&server, "POST", "/graph/entity/create", &create);
    assert_eq!(r.status, 200, "{}", r.body);
    labels("after a create", &|names| has(names, "Starbase"));
    let rename = json!({"entity_name": "Starbase", "updated_data": {"entity_name": "Starbase Texas"}, "allow_rename": true});
    let r = request(&server, "POST", "/graph/entity/edit", &rename);
    assert_eq!(r.status, 200, "{}", r.body);
    labels("after a rename", &|names| {
        has(names, "Starbase Texas") && !has(names, "Starbase")
    });
    let delete = json!({"entity_name": "Starbase Texas"});
    let r = request(&server, "DELETE", "/graph/entity/delete", &delete);
    assert_eq!(r.status, 200, "{}", r.body);
    labels("after a delete", &|names| {
        has(names, "SpaceX") && !has(names, "Starbase Texas")
    });
    let r = common::send(server.port, "DELETE", "/documents", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    labels("after clearing", &|names| names.is_empty());
}

#[test]
fn edits_wait_for_the_pipeline() {
    let server = Server::builder("graph-busy").start();
    common::index_texts(&server, &CORPUS[..1]);
    let texts: Vec<String> = (0..150)
        .map(|i| format!("Document {i}: Ada Lovelace met Charles Babbage in London. ").repeat(40))
        .collect();
    let sources: Vec<String> = (0..150).map(|i| format!("busy{i}.txt")).collect();
    request(
        &server,
        "POST",
        "/documents/texts",
        &json!({"texts": texts, "file_sources": sources}),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/documents/pipeline_status").json()["busy"] != true {
        assert!(Instant::now() < deadline, "pipeline never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = request(
        &server,
        "POST",
        "/graph/entity/create",
        &json!({"entity_name": "Analytical Engine", "entity_data": {"description": "x"}}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Pipeline is busy with another operation. Wait for the running job to finish before editing the knowledge graph."
    );
    assert_eq!(
        server.get("/graphs?label=SpaceX").status,
        200,
        "reads are not blocked"
    );
}
