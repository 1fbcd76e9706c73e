//! PGVectorStorage and PGTableGraphStorage against a real PostgreSQL with pgvector
//! (tests/common/postgres.rs; skipped without the wheel unless LRM_REQUIRE_POSTGRES=1):
//! the stores through the engine's storage factory (LightRAG's tables, rows and index,
//! search in the database, top_k not cut short by a filtered HNSW scan), then the
//! server: documents indexed through the API are retrieved and browsable, and a
//! database without pgvector stops the start with exit 4 (a database LightRAG 1.5.7
//! wrote is served in tests/postgres_compat.rs).

mod common;

use std::time::Duration;

use common::postgres::{Postgres, query_data, server};
use lightrag_engine::storage::bundle::{Indexes, Stores};
use lightrag_engine::storage::postgres::{VectorIndexType, VectorSuffix};
use lightrag_engine::storage::{
    Backend, DocStatus, DocStatusRecord, Entity, KvNamespace, LocalGenerations, PostgresConfig,
    Relation, Storage, StorageConfig, StorageError, VectorNamespace, VectorRecord,
};
use serde_json::{Value, json};

/// The engine's settings for `pg` with an HNSW index, `server_settings` sent at connect.
fn config(pg: &Postgres, server_settings: &[(&str, &str)]) -> PostgresConfig {
    let mut config = pg.engine_config();
    config.server_settings = server_settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config.vector_index.index_type = Some(VectorIndexType::Hnsw);
    config
}

/// Vectors and graph in `postgres`, the rest embedded under a fresh directory.
fn open(
    postgres: PostgresConfig,
    model: Option<&str>,
    dim: usize,
    workspace: &str,
) -> Box<dyn Storage> {
    let mut config = StorageConfig::embedded(common::temp_dir("pgv-store"));
    config.vectors = Backend::Postgres;
    config.graph = Backend::Postgres;
    config.postgres = Some(postgres);
    config.vector_suffix = Some(VectorSuffix {
        model: model.map(str::to_owned),
        dim,
    });
    lightrag_engine::storage::open(&config, workspace).unwrap()
}

/// A fixed pseudo-random sequence (xorshift) of floats in [0, 1) from `seed`.
fn unit_floats(seed: u64) -> impl Fn() -> f32 {
    let state = std::cell::Cell::new(seed);
    move || {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn record(id: &str, vector: Vec<f32>, meta: Value) -> VectorRecord {
    VectorRecord {
        id: id.into(),
        vector,
        meta,
    }
}

#[test]
fn vectors_live_in_lightrags_tables_and_are_searched_there() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let storage = open(config(&pg, &[]), Some("BAAI/bge-m3"), 3, "");
    let (generations, indexes) = (LocalGenerations::default(), Indexes::default());
    let stores = Stores::new(&*storage, &generations, &indexes);
    stores
        .vectors_upsert(
            VectorNamespace::Chunks,
            &[
                record("chunk-1", vec![1.0, 0.0, 0.0], json!({"full_doc_id": "doc-1", "file_path": "a.txt", "content": "alpha", "tokens": 3, "chunk_order_index": 0})),
                record("chunk-2", vec![0.6, 0.8, 0.0], json!({"full_doc_id": "doc-1", "file_path": "a.txt", "content": "beta", "tokens": 4, "chunk_order_index": 1})),
            ],
        )
        .unwrap();
    stores
        .vectors_upsert(
            VectorNamespace::Entities,
            &[record("ent-x", vec![0.0, 1.0, 0.0], json!({"entity_name": "Alice", "content": "Alice\nA person.", "source_id": "chunk-1<SEP>chunk-2", "file_path": "a.txt"}))],
        )
        .unwrap();
    stores
        .vectors_upsert(
            VectorNamespace::Relationships,
            &[record("rel-y", vec![0.0, 0.0, 1.0], json!({"src_id": "Bob", "tgt_id": "Alice", "content": "knows\tBob\nAlice\nFriends.", "source_id": "chunk-2", "file_path": "a.txt"}))],
        )
        .unwrap();
    // LightRAG's rows: the default workspace, the sorted pair, chunk ids as an array.
    assert_eq!(
        pg.psql("SELECT workspace, id, full_doc_id, chunk_order_index, tokens, content, file_path, vector_dims(content_vector) FROM lightrag_vdb_chunks_baai_bge_m3_3d ORDER BY id"),
        "default|chunk-1|doc-1|0|3|alpha|a.txt|3\ndefault|chunk-2|doc-1|1|4|beta|a.txt|3"
    );
    assert_eq!(
        pg.psql("SELECT entity_name, content, chunk_ids FROM lightrag_vdb_entity_baai_bge_m3_3d"),
        "Alice|Alice\nA person.|{chunk-1,chunk-2}"
    );
    assert_eq!(
        pg.psql("SELECT source_id, target_id, chunk_ids FROM lightrag_vdb_relation_baai_bge_m3_3d"),
        "Alice|Bob|{chunk-2}"
    );
    assert_eq!(
        pg.psql("SELECT indexname FROM pg_indexes WHERE tablename = 'lightrag_vdb_entity_baai_bge_m3_3d' ORDER BY 1"),
        "idx_lightrag_vdb_entity_baai_bge_m3_3d_hnsw_cosine\nidx_lightrag_vdb_entity_baai_bge_m3_3d_id\n\
         idx_lightrag_vdb_entity_baai_bge_m3_3d_workspace_id\nlightrag_vdb_entity_baai_bge_m3_3d_pk"
    );
    // Searched in the database: nearest first, the threshold as LightRAG applies it.
    let search = stores.search();
    let hits = search
        .query(VectorNamespace::Chunks, &[1.0, 0.1, 0.0], 5, 0.2)
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["chunk-1", "chunk-2"]
    );
    assert!(
        hits[0].score > 0.99 && hits[0].meta["content"] == "alpha",
        "{hits:?}"
    );
    assert_eq!(
        search
            .query(VectorNamespace::Chunks, &[0.0, 0.0, 1.0], 5, 0.2)
            .unwrap(),
        []
    );
    let entity = search
        .query(VectorNamespace::Entities, &[0.1, 1.0, 0.0], 5, 0.2)
        .unwrap();
    assert_eq!(entity[0].meta["entity_name"], "Alice");
    let relation = search
        .query(VectorNamespace::Relationships, &[0.0, 0.1, 1.0], 5, 0.2)
        .unwrap();
    assert_eq!(
        (
            relation[0].meta["src_id"].as_str(),
            relation[0].meta["tgt_id"].as_str()
        ),
        (Some("Alice"), Some("Bob"))
    );
    let scores = search
        .similarities(
            VectorNamespace::Chunks,
            &[1.0, 0.0, 0.0],
            &["chunk-2".into(), "nope".into(), "chunk-1".into()],
        )
        .unwrap();
    assert!(
        (scores[0].unwrap() - 0.6).abs() < 1e-4 && scores[1].is_none() && scores[2].unwrap() > 0.99,
        "{scores:?}"
    );
    assert!(matches!(
        search.query(VectorNamespace::Chunks, &[1.0, 0.0], 5, 0.0),
        Err(StorageError::DimensionMismatch {
            stored: 3,
            given: 2,
            ..
        })
    ));
    // What the identity check and re-embedding read.
    assert_eq!(
        storage.vectors_dim(VectorNamespace::Entities).unwrap(),
        Some(3)
    );
    let all = storage.vectors_all(VectorNamespace::Entities).unwrap();
    assert_eq!(all[0].meta["source_id"], "chunk-1<SEP>chunk-2");
    assert_eq!(all[0].vector, [0.0, 1.0, 0.0]);
    storage
        .vectors_replace(
            VectorNamespace::Entities,
            &[record(
                "ent-z",
                vec![1.0, 1.0, 0.0],
                json!({"entity_name": "Zed", "content": "Zed\n"}),
            )],
        )
        .unwrap();
    assert_eq!(
        pg.psql("SELECT id FROM lightrag_vdb_entity_baai_bge_m3_3d"),
        "ent-z"
    );
    assert!(matches!(
        storage.vectors_upsert(
            VectorNamespace::Entities,
            &[record("w", vec![1.0; 4], json!({}))]
        ),
        Err(StorageError::DimensionMismatch { .. })
    ));
    stores
        .vectors_delete(VectorNamespace::Chunks, &["chunk-1".into()])
        .unwrap();
    assert_eq!(
        pg.psql("SELECT id FROM lightrag_vdb_chunks_baai_bge_m3_3d"),
        "chunk-2"
    );
    storage.vectors_drop(VectorNamespace::Chunks).unwrap();
    assert_eq!(storage.vectors_dim(VectorNamespace::Chunks).unwrap(), None);
    // Another dimension is another table set, as in LightRAG; the old one stays.
    let wider = open(config(&pg, &[]), Some("BAAI/bge-m3"), 4, "");
    assert_eq!(wider.vectors_dim(VectorNamespace::Entities).unwrap(), None);
    assert_eq!(
        pg.psql("SELECT count(*) FROM lightrag_vdb_entity_baai_bge_m3_3d"),
        "1"
    );
}

#[test]
fn top_k_rows_come_back_when_another_workspace_crowds_the_hnsw_index() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    // A small candidate list and no sort: the planner walks the HNSW index, as it does
    // on large tables.
    let settings = [("hnsw.ef_search", "10"), ("enable_sort", "off")];
    // A fixed pseudo-random sequence, so that every run builds the same index.
    let next = unit_floats(0x9E37_79B9_7F4A_7C15);
    let vector = |_| (0..8).map(|_| next()).collect::<Vec<f32>>();
    let rows = |prefix: &str, n: usize| -> Vec<VectorRecord> {
        (0..n)
            .map(|i| {
                record(
                    &format!("{prefix}-{i}"),
                    vector(i),
                    json!({"entity_name": format!("{prefix}{i}"), "content": "x"}),
                )
            })
            .collect()
    };
    let crowd = open(config(&pg, &settings), Some("m"), 8, "crowd");
    crowd
        .vectors_upsert(VectorNamespace::Entities, &rows("other", 3000))
        .unwrap();
    let mine = open(config(&pg, &settings), Some("m"), 8, "mine");
    mine.vectors_upsert(VectorNamespace::Entities, &rows("mine", 40))
        .unwrap();
    pg.psql("ANALYZE lightrag_vdb_entity_m_8d");
    // LightRAG's query loses rows under these settings ...
    let query = "[1,1,1,1,1,1,1,1]";
    let lightrag = pg.psql(&format!(
        "SET hnsw.ef_search = 10; SET enable_sort = off; SELECT count(*) FROM (SELECT entity_name FROM lightrag_vdb_entity_m_8d \
         WHERE workspace = 'mine' AND content_vector <=> '{query}'::vector < 0.8 \
         ORDER BY content_vector <=> '{query}'::vector LIMIT 40) found"
    ));
    assert!(
        lightrag.parse::<usize>().unwrap() < 40,
        "the setup no longer shows the loss: {lightrag}"
    );
    // ... ours gets every one.
    let (generations, indexes) = (LocalGenerations::default(), Indexes::default());
    let stores = Stores::new(&*mine, &generations, &indexes);
    let hits = stores
        .search()
        .query(VectorNamespace::Entities, &[1.0; 8], 40, 0.2)
        .unwrap();
    assert_eq!(hits.len(), 40);
    assert!(hits.iter().all(|h| h.id.starts_with("mine-")));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn a_search_returns_the_nearest_top_k_within_the_threshold_as_an_exact_scan_does() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    // A wide candidate list: the index then finds what the exact scan finds.
    let store = open(
        config(&pg, &[("hnsw.ef_search", "400")]),
        Some("m"),
        8,
        "near",
    );
    let unit = unit_floats(0x2545_F491_4F6C_DD1D);
    let next = || unit() - 0.5;
    // More rows than one write statement takes, an id repeated across its parts.
    let mut rows: Vec<VectorRecord> = (0..300)
        .map(|i| {
            let vector = (0..8).map(|_| next()).collect();
            record(
                &format!("e-{i}"),
                vector,
                json!({"entity_name": format!("n{i}"), "content": "x"}),
            )
        })
        .collect();
    rows.push(record(
        "e-7",
        vec![1.0; 8],
        json!({"entity_name": "n7", "content": "last"}),
    ));
    store
        .vectors_upsert(VectorNamespace::Entities, &rows)
        .unwrap();
    assert_eq!(
        pg.psql("SELECT count(*), count(*) FILTER (WHERE content = 'last') FROM lightrag_vdb_entity_m_8d"),
        "300|1"
    );
    pg.psql("ANALYZE lightrag_vdb_entity_m_8d");
    let (generations, indexes) = (LocalGenerations::default(), Indexes::default());
    let stores = Stores::new(&*store, &generations, &indexes);
    let query = [0.3, -0.2, 0.1, 0.4, -0.1, 0.2, 0.3, -0.4];
    let literal = format!("{query:?}").replace(' ', "");
    for (top_k, threshold) in [(20, 0.0), (20, 0.3), (20, 0.6), (40, 0.9), (500, 0.0)] {
        let hits = stores
            .search()
            .query(VectorNamespace::Entities, &query, top_k, threshold)
            .unwrap();
        let ours: Vec<&str> = hits
            .iter()
            .map(|h| h.meta["entity_name"].as_str().unwrap())
            .collect();
        let exact = pg.psql(&format!(
            "SET enable_indexscan = off; SELECT COALESCE(string_agg(entity_name, ',' ORDER BY d), '') FROM \
             (SELECT entity_name, content_vector <=> '{literal}' AS d FROM lightrag_vdb_entity_m_8d \
              WHERE workspace = 'near' AND content_vector <=> '{literal}' < {} ORDER BY 2 LIMIT {top_k}) x",
            1.0 - f64::from(threshold)
        ));
        assert_eq!(
            ours.join(","),
            exact,
            "top_k {top_k}, threshold {threshold}"
        );
        assert!(hits.iter().all(|h| h.score >= threshold));
    }
}

#[test]
fn a_legacy_unsuffixed_table_is_adopted_when_a_model_names_the_tables() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    // Without EMBEDDING_MODEL, LightRAG's legacy names.
    let legacy = open(config(&pg, &[]), None, 3, "ws");
    legacy
        .vectors_upsert(
            VectorNamespace::Entities,
            &[record(
                "ent-a",
                vec![1.0, 0.0, 0.0],
                json!({"entity_name": "A", "content": "A\n"}),
            )],
        )
        .unwrap();
    assert_eq!(pg.psql("SELECT id FROM lightrag_vdb_entity"), "ent-a");
    // Another dimension than the legacy rows' is refused, not silently emptied.
    let mut wider = StorageConfig::embedded(common::temp_dir("pgv-legacy"));
    wider.vectors = Backend::Postgres;
    wider.postgres = Some(config(&pg, &[]));
    wider.vector_suffix = Some(VectorSuffix {
        model: Some("m".into()),
        dim: 4,
    });
    let refused = lightrag_engine::storage::open(&wider, "ws")
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("3 dimensions") && refused.contains("lightrag_vdb_entity"),
        "{refused}"
    );
    // The same dimension: this workspace's rows are copied into the suffixed table.
    let named = open(config(&pg, &[]), Some("m"), 3, "ws");
    assert_eq!(
        named.vectors_all(VectorNamespace::Entities).unwrap()[0].id,
        "ent-a"
    );
    assert_eq!(
        pg.psql("SELECT workspace, entity_name FROM lightrag_vdb_entity_m_3d"),
        "ws|A"
    );
    // Empty legacy tables go.
    assert_eq!(
        pg.psql("SELECT to_regclass('lightrag_vdb_chunks') IS NULL"),
        "t"
    );
    // Clearing the workspace clears its legacy rows too, so they are not adopted again.
    named.vectors_drop(VectorNamespace::Entities).unwrap();
    assert_eq!(pg.psql("SELECT count(*) FROM lightrag_vdb_entity"), "0");
}

#[test]
fn the_index_family_is_made_as_lightrag_makes_it() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let with = |kind: Option<VectorIndexType>| {
        let mut c = config(&pg, &[]);
        c.vector_index.index_type = kind;
        c.vector_index.ivfflat_lists = 4;
        c
    };
    let indexes = || {
        pg.psql("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%cosine' AND tablename = 'lightrag_vdb_chunks_m_3d'")
    };
    let half = open(with(Some(VectorIndexType::HnswHalfvec)), Some("m"), 3, "");
    assert_eq!(
        indexes(),
        "idx_lightrag_vdb_chunks_m_3d_hnsw_halfvec_cosine"
    );
    assert_eq!(pg.psql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'lightrag_vdb_chunks_m_3d'::regclass AND attname = 'content_vector'"), "halfvec(3)");
    half.vectors_upsert(
        VectorNamespace::Chunks,
        &[record("c", vec![0.5, 0.5, 0.0], json!({"content": "c"}))],
    )
    .unwrap();
    let (generations, cache) = (LocalGenerations::default(), Indexes::default());
    let hits = Stores::new(&*half, &generations, &cache)
        .search()
        .query(VectorNamespace::Chunks, &[1.0, 1.0, 0.0], 5, 0.2)
        .unwrap();
    assert_eq!(hits[0].id, "c");
    assert_eq!(
        half.vectors_all(VectorNamespace::Chunks).unwrap()[0].vector,
        [0.5, 0.5, 0.0]
    );
    // Another type replaces it (and converts the column back); none leaves it as it is.
    drop(open(with(Some(VectorIndexType::Ivfflat)), Some("m"), 3, ""));
    assert_eq!(indexes(), "idx_lightrag_vdb_chunks_m_3d_ivfflat_cosine");
    drop(open(with(None), Some("m"), 3, ""));
    assert_eq!(indexes(), "idx_lightrag_vdb_chunks_m_3d_ivfflat_cosine");
    // An index the server cannot build (no vchord extension) is logged; the one there
    // stays, and the table is still written and searched.
    let vchord = open(with(Some(VectorIndexType::Vchordrq)), Some("m"), 3, "");
    assert_eq!(indexes(), "idx_lightrag_vdb_chunks_m_3d_ivfflat_cosine");
    vchord
        .vectors_upsert(
            VectorNamespace::Chunks,
            &[record("c", vec![0.5, 0.5, 0.0], json!({"content": "c"}))],
        )
        .unwrap();
}

#[test]
fn the_graph_lives_in_lightrags_tables_with_canonical_edges() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let graph = open(config(&pg, &[]), None, 3, "ws1");
    let node = |name: &str, kind: &str| Entity {
        entity_type: kind.into(),
        ..Entity::new(name)
    };
    graph
        .nodes_upsert(&[node("Alice", "person"), node("Bob", "person")])
        .unwrap();
    graph
        .edges_upsert(&[Relation {
            weight: 2.5,
            keywords: "knows".into(),
            ..Relation::new("Bob", "Alice")
        }])
        .unwrap();
    // Stored once per pair, smaller name first; an endpoint not yet a node is made one.
    graph
        .edges_upsert(&[Relation::new("Carol", "Alice")])
        .unwrap();
    assert_eq!(
        pg.psql("SELECT workspace, namespace, src_id, tgt_id, properties->>'weight' FROM lightrag_graph_edges ORDER BY 3, 4"),
        "ws1|chunk_entity_relation|Alice|Bob|2.5\nws1|chunk_entity_relation|Alice|Carol|1.0"
    );
    assert_eq!(
        pg.psql("SELECT properties FROM lightrag_graph_nodes WHERE id = 'Carol'"),
        r#"{"entity_id": "Carol"}"#
    );
    assert_eq!(
        pg.psql("SELECT properties->>'entity_id', properties->>'entity_type' FROM lightrag_graph_nodes WHERE id = 'Alice'"),
        "Alice|person"
    );
    // A node upsert merges into the stored properties, as LightRAG's does: a key the
    // new record lacks survives; an edge upsert replaces them.
    pg.psql("UPDATE lightrag_graph_nodes SET properties = properties || '{\"truncate\": \"KEEP Old\"}' WHERE id = 'Alice'");
    graph.nodes_upsert(&[node("Alice", "person")]).unwrap();
    assert_eq!(
        pg.psql("SELECT properties->>'truncate' FROM lightrag_graph_nodes WHERE id = 'Alice'"),
        "KEEP Old"
    );
    pg.psql(
        "UPDATE lightrag_graph_nodes SET properties = properties - 'truncate' WHERE id = 'Alice'",
    );
    let edge = graph.edge_get("Bob", "Alice").unwrap().unwrap();
    assert_eq!(
        (edge.source.as_str(), edge.target.as_str(), edge.weight),
        ("Alice", "Bob", 2.5)
    );
    assert_eq!(
        graph.node_get("Alice").unwrap(),
        Some(node("Alice", "person"))
    );
    assert_eq!(graph.node_names().unwrap(), ["Alice", "Bob", "Carol"]);
    assert_eq!(graph.most_connected(2).unwrap(), ["Alice", "Bob"]);
    let degrees = graph
        .node_degrees(&["Alice".into(), "Bob".into(), "Nobody".into()])
        .unwrap();
    assert_eq!(
        (degrees["Alice"], degrees["Bob"], degrees["Nobody"]),
        (2, 1, 0)
    );
    assert_eq!(graph.edges_of("Alice").unwrap().len(), 2);
    let mut weights = graph.edge_weights_of("Alice").unwrap();
    weights.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        weights,
        [
            ("Alice".into(), "Bob".into(), 2.5),
            ("Alice".into(), "Carol".into(), 1.0)
        ]
    );
    // A node takes its edges with it; another workspace sees none of it.
    graph.node_delete("Carol").unwrap();
    assert_eq!(graph.edges_of("Alice").unwrap().len(), 1);
    let other = open(config(&pg, &[]), None, 3, "ws2");
    assert!(other.node_names().unwrap().is_empty());
    graph.edge_delete("Bob", "Alice").unwrap();
    assert!(graph.edge_get("Alice", "Bob").unwrap().is_none());
    graph.graph_drop().unwrap();
    assert_eq!(pg.psql("SELECT count(*) FROM lightrag_graph_nodes"), "0");
    // A row written the other way round by another server is made canonical at start.
    pg.psql(
        "INSERT INTO lightrag_graph_nodes (workspace, id, properties) VALUES ('ws1', 'X', '{}'), ('ws1', 'Y', '{}'); \
         INSERT INTO lightrag_graph_edges (workspace, src_id, tgt_id, properties) VALUES ('ws1', 'Y', 'X', '{\"weight\": 3}')",
    );
    drop(open(
        PostgresConfig {
            max_connections: 3,
            ..config(&pg, &[])
        },
        None,
        3,
        "ws1",
    ));
    assert_eq!(
        pg.psql("SELECT src_id, tgt_id FROM lightrag_graph_edges"),
        "X|Y"
    );
}

#[test]
fn documents_indexed_through_the_api_are_retrieved_and_browsable() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let server = server(&pg, "pgv-api").args(&["--workers", "2"]).start();
    common::index_texts(
        &server,
        &[(
            "turing.txt",
            "Alan Turing broke the Enigma cipher at Bletchley Park. Alan Turing proposed the Turing Test.",
        )],
    );
    let rows: usize = pg
        .psql(
            "SELECT count(*) FROM lightrag_vdb_chunks_baai_bge_m3_64d WHERE workspace = 'default'",
        )
        .parse()
        .unwrap();
    assert!(rows >= 1);
    let data = query_data(
        &server,
        json!({"query": "Where did Alan Turing break the Enigma cipher?", "mode": "mix", "ll_keywords": ["Alan Turing"], "hl_keywords": ["Enigma cipher"]}),
    );
    let chunks = data["data"]["chunks"].as_array().unwrap();
    assert!(
        chunks.iter().any(|c| c["file_path"] == "turing.txt"),
        "{data}"
    );
    let entities = data["data"]["entities"].as_array().unwrap();
    assert!(
        entities.iter().any(|e| e["entity_name"] == "Alan Turing"),
        "{data}"
    );
    let labels = server.get("/graph/label/list").json();
    assert!(
        labels
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "Alan Turing"),
        "{labels}"
    );
    let graph = server.get("/graphs?label=Alan%20Turing&max_depth=2").json();
    assert!(
        !graph["nodes"].as_array().unwrap().is_empty()
            && !graph["edges"].as_array().unwrap().is_empty(),
        "{graph}"
    );
}

#[test]
fn a_database_without_pgvector_stops_the_start_with_exit_4() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    // pgvector is on the server but not in the database, and the role may not create it
    // (it may create tables).
    pg.psql("DROP EXTENSION vector");
    pg.psql("CREATE ROLE plain LOGIN");
    pg.psql("GRANT CREATE ON SCHEMA public TO plain");
    let mut server = server(&pg, "pgv-missing")
        .env("POSTGRES_USER", "plain")
        .no_wait()
        .start();
    let status = server
        .wait_exit(Duration::from_secs(60))
        .expect("the master exits");
    assert_eq!(status.code(), Some(4), "{}", server.output());
    assert!(
        server.output().contains("pgvector is missing"),
        "{}",
        server.output()
    );
}

fn doc(id: &str, status: DocStatus, summary: &str) -> DocStatusRecord {
    DocStatusRecord {
        id: id.into(),
        status,
        file_path: format!("{id}.txt"),
        track_id: None,
        content_summary: summary.into(),
        content_length: summary.len(),
        chunks_count: None,
        error_msg: None,
        metadata: json!({}),
        created_at: "2026-12-02T10:00:00+00:00".into(),
        updated_at: "2026-12-02T10:00:00+00:00".into(),
    }
}

/// Every write goes to PostgreSQL as one multi-row statement per batch, where an
/// `ON CONFLICT DO UPDATE` cannot touch a row twice: a batch naming an id twice keeps
/// its last item (as writing the items one by one did), a reservation naming one twice
/// is refused whole, and the batched reads answer as the single ones.
#[test]
fn a_batch_repeating_an_id_keeps_its_last_item_and_batched_reads_match_single_ones() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let mut config = StorageConfig::embedded(common::temp_dir("pgv-batches"));
    config.kv = Backend::Postgres;
    config.doc_status = Backend::Postgres;
    config.vectors = Backend::Postgres;
    config.graph = Backend::Postgres;
    config.postgres = Some(config_for_batches(&pg));
    config.vector_suffix = Some(VectorSuffix {
        model: None,
        dim: 2,
    });
    let storage = lightrag_engine::storage::open(&config, "batches").unwrap();

    // KV: LightRAG's table and ours, one namespace and several in one transaction.
    let chunk = |content: &str| json!({"content": content, "full_doc_id": "doc-1", "tokens": 2});
    storage
        .kv_upsert(
            KvNamespace::TextChunks,
            &[
                ("c1".into(), chunk("first")),
                ("c2".into(), chunk("other")),
                ("c1".into(), chunk("last")),
            ],
        )
        .unwrap();
    storage
        .kv_upsert_many(&[
            (
                KvNamespace::FullEntities,
                &[
                    ("doc-1".into(), json!({"entity_names": ["A"]})),
                    ("doc-1".into(), json!({"entity_names": ["A", "B"]})),
                ],
            ),
            (
                KvNamespace::ContentHashes,
                &[("h".into(), json!("doc-0")), ("h".into(), json!("doc-1"))],
            ),
        ])
        .unwrap();
    assert_eq!(
        pg.psql(
            "SELECT id, content FROM lightrag_doc_chunks WHERE workspace = 'batches' ORDER BY id"
        ),
        "c1|last\nc2|other"
    );
    assert_eq!(
        pg.psql("SELECT count FROM lightrag_full_entities WHERE id = 'doc-1'"),
        "2"
    );
    let keys = ["c2", "missing", "c1", "c2"].map(String::from);
    let many = storage.kv_get_many(KvNamespace::TextChunks, &keys).unwrap();
    for key in &keys {
        assert_eq!(
            many.get(key),
            storage
                .kv_get(KvNamespace::TextChunks, key)
                .unwrap()
                .as_ref()
        );
    }
    assert_eq!(many.len(), 2);
    assert_eq!(many["c1"]["content"], "last");
    assert_eq!(
        storage
            .kv_get_many(KvNamespace::ContentHashes, &["h".into()])
            .unwrap()["h"],
        json!("doc-1")
    );
    // A reservation repeating a key is refused at the repeat, and writes nothing.
    let refused = storage
        .kv_insert_new(
            KvNamespace::Deletions,
            &[
                ("r1".into(), json!(1)),
                ("r2".into(), json!(2)),
                ("r1".into(), json!(3)),
            ],
        )
        .unwrap();
    assert_eq!(refused.as_deref(), Some("r1"));
    assert!(storage.kv_keys(KvNamespace::Deletions).unwrap().is_empty());
    assert_eq!(
        storage
            .kv_insert_new(
                KvNamespace::TextChunks,
                &[("c3".into(), chunk("new")), ("c2".into(), chunk("x"))]
            )
            .unwrap()
            .as_deref(),
        Some("c2")
    );
    assert_eq!(
        storage.kv_keys(KvNamespace::TextChunks).unwrap(),
        ["c1", "c2"]
    );

    // Document status.
    storage
        .doc_upsert(&[
            doc("d1", DocStatus::Pending, "one"),
            doc("d2", DocStatus::Pending, "two"),
            doc("d1", DocStatus::Processed, "one, done"),
        ])
        .unwrap();
    let d1 = storage.doc_get("d1").unwrap().unwrap();
    assert_eq!(
        (d1.status, d1.content_summary.as_str()),
        (DocStatus::Processed, "one, done")
    );
    let held = storage
        .doc_insert_new(&[
            doc("d3", DocStatus::Pending, "three"),
            doc("d3", DocStatus::Pending, "again"),
        ])
        .unwrap()
        .expect("the repeat is refused");
    assert_eq!(held.id, "d3");
    assert!(storage.doc_get("d3").unwrap().is_none());

    // Vectors: the last record of an id, its chunk ids as LightRAG's array.
    let entity = |source_id: &str| json!({"entity_name": "A", "content": "A", "source_id": source_id, "file_path": "a.txt"});
    storage
        .vectors_upsert_many(&[(
            VectorNamespace::Entities,
            &[
                record("ent-a", vec![1.0, 0.0], entity("c1")),
                record("ent-a", vec![0.0, 1.0], entity("c1<SEP>c2")),
            ],
        )])
        .unwrap();
    assert_eq!(
        pg.psql("SELECT id, chunk_ids, content_vector FROM lightrag_vdb_entity WHERE workspace = 'batches'"),
        "ent-a|{c1,c2}|[0,1]"
    );

    // Graph: nodes, endpoints and edges in one statement; a pair given both ways is one
    // edge, the last one given.
    let node = |name: &str, kind: &str| Entity {
        entity_type: kind.into(),
        ..Entity::new(name)
    };
    let edge = |a: &str, b: &str, weight: f64| Relation {
        weight,
        ..Relation::new(a, b)
    };
    storage
        .elements_upsert(
            &[node("A", "first"), node("B", "person"), node("A", "last")],
            &[
                edge("A", "B", 1.0),
                edge("C", "A", 2.0),
                edge("B", "A", 3.0),
            ],
        )
        .unwrap();
    assert_eq!(
        pg.psql("SELECT id, properties->>'entity_type' FROM lightrag_graph_nodes WHERE workspace = 'batches' ORDER BY id"),
        "A|last\nB|person\nC|"
    );
    assert_eq!(
        pg.psql("SELECT src_id, tgt_id, properties->>'weight' FROM lightrag_graph_edges WHERE workspace = 'batches' ORDER BY 1, 2"),
        "A|B|3.0\nA|C|2.0"
    );
    let names = ["C", "nobody", "A"].map(String::from);
    let nodes = storage.nodes_get(&names).unwrap();
    assert_eq!(nodes.len(), 2);
    for name in &names {
        assert_eq!(nodes.get(name), storage.node_get(name).unwrap().as_ref());
    }
    let pairs = [("B", "A"), ("A", "C"), ("B", "C")].map(|(a, b)| (a.to_owned(), b.to_owned()));
    let edges = storage.edges_get(&pairs).unwrap();
    assert_eq!(edges.len(), 2);
    for (a, b) in &pairs {
        assert_eq!(
            edges.get(&lightrag_engine::ids::endpoints(a.clone(), b.clone())),
            storage.edge_get(a, b).unwrap().as_ref()
        );
    }
    let nodes = ["A", "nobody", "B"].map(String::from);
    let mut weights = storage.edge_weights_of_many(&nodes).unwrap();
    assert_eq!(weights.len(), 3);
    for (found, name) in weights.iter_mut().zip(&nodes) {
        let mut single = storage.edge_weights_of(name).unwrap();
        single.sort_by(|a, b| a.1.cmp(&b.1));
        found.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(*found, single);
    }
    assert_eq!(weights[0].len(), 2);
}

/// The engine's settings for `pg`, a small statement cache (kept statements are evicted
/// and prepared again within this test).
fn config_for_batches(pg: &Postgres) -> PostgresConfig {
    PostgresConfig {
        statement_cache_size: 4,
        ..config(pg, &[])
    }
}
