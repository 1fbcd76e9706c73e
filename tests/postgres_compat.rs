//! LightRAG 1.5.7's PostgreSQL schema, both ways, against a real PostgreSQL
//! (tests/common/postgres.rs; skipped without the wheel unless LRM_REQUIRE_POSTGRES=1):
//!
//! - a database LightRAG wrote (its DDL and rows as `check_tables()`, `PGVectorStorage`
//!   and `PGTableGraphStorage` make them, §3–§5 of the storage reference), before our
//!   server ever touched it, is served with no re-ingestion: documents listed, graph
//!   browsable, chunks and entities retrieved, a document deleted;
//! - what our server writes has LightRAG's tables and columns (compared with the
//!   catalog LightRAG's own DDL makes) and the rows LightRAG reads.

mod common;

use std::time::Duration;

use common::postgres::{Postgres, query_data, server};
use lightrag_engine::embedding::builtin::HashedNgrams;
use lightrag_engine::ids;
use serde_json::json;

/// The vector tables of EMBEDDING_MODEL=BAAI/bge-m3 at 64 dimensions (what
/// [`server`] configures).
const SUFFIX: &str = "baai_bge_m3_64d";

/// LightRAG 1.5.7's DDL (`check_tables()`, `PGVectorStorage.setup_table`,
/// `PGTableGraphStorage.initialize`), verbatim but for the vector tables' suffix.
fn lightrag_ddl() -> String {
    let tables = r#"
CREATE TABLE LIGHTRAG_DOC_FULL (
  id VARCHAR(255), workspace VARCHAR(255), doc_name VARCHAR(1024), content TEXT, meta JSONB,
  sidecar_location TEXT NULL, parse_format VARCHAR(32) NULL DEFAULT 'raw', content_hash TEXT NULL,
  process_options TEXT NULL, chunk_options JSONB NULL DEFAULT '{}'::jsonb, parse_engine TEXT NULL,
  create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_DOC_FULL_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_DOC_CHUNKS (
  id VARCHAR(255), workspace VARCHAR(255), full_doc_id VARCHAR(256), chunk_order_index INTEGER,
  tokens INTEGER, content TEXT, file_path TEXT NULL, llm_cache_list JSONB NULL DEFAULT '[]'::jsonb,
  heading JSONB NULL DEFAULT '{}'::jsonb, sidecar JSONB NULL DEFAULT '{}'::jsonb,
  create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_DOC_CHUNKS_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_LLM_CACHE (
  workspace varchar(255) NOT NULL, id varchar(255) NOT NULL, original_prompt TEXT, return_value TEXT,
  chunk_id VARCHAR(255) NULL, cache_type VARCHAR(32), queryparam JSONB NULL,
  create_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP, update_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_LLM_CACHE_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_DOC_STATUS (
  workspace varchar(255) NOT NULL, id varchar(255) NOT NULL, content_summary varchar(255) NULL,
  content_length int4 NULL, chunks_count int4 NULL, status varchar(64) NULL, file_path TEXT NULL,
  chunks_list JSONB NULL DEFAULT '[]'::jsonb, track_id varchar(255) NULL,
  metadata JSONB NULL DEFAULT '{}'::jsonb, error_msg TEXT NULL, content_hash TEXT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_DOC_STATUS_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_FULL_ENTITIES (id VARCHAR(255), workspace VARCHAR(255), entity_names JSONB,
  count INTEGER, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_FULL_ENTITIES_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_FULL_RELATIONS (id VARCHAR(255), workspace VARCHAR(255), relation_pairs JSONB,
  count INTEGER, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_FULL_RELATIONS_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_ENTITY_CHUNKS (id VARCHAR(512), workspace VARCHAR(255), chunk_ids JSONB,
  count INTEGER, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_ENTITY_CHUNKS_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_RELATION_CHUNKS (id VARCHAR(512), workspace VARCHAR(255), chunk_ids JSONB,
  count INTEGER, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_RELATION_CHUNKS_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_VDB_CHUNKS_S (id VARCHAR(255), workspace VARCHAR(255), full_doc_id VARCHAR(256),
  chunk_order_index INTEGER, tokens INTEGER, content TEXT, content_vector VECTOR(64),
  file_path TEXT NULL, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT LIGHTRAG_VDB_CHUNKS_S_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_VDB_ENTITY_S (id VARCHAR(255), workspace VARCHAR(255), entity_name VARCHAR(512),
  content TEXT, content_vector VECTOR(64), create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL,
  CONSTRAINT LIGHTRAG_VDB_ENTITY_S_PK PRIMARY KEY (workspace, id));
CREATE TABLE LIGHTRAG_VDB_RELATION_S (id VARCHAR(255), workspace VARCHAR(255), source_id VARCHAR(512),
  target_id VARCHAR(512), content TEXT, content_vector VECTOR(64),
  create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
  chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL,
  CONSTRAINT LIGHTRAG_VDB_RELATION_S_PK PRIMARY KEY (workspace, id));
SELECT pg_advisory_xact_lock(hashtext('lightrag_pgtable_schema'));
CREATE TABLE IF NOT EXISTS lightrag_graph_nodes (
  workspace TEXT NOT NULL, namespace TEXT NOT NULL DEFAULT 'chunk_entity_relation', id TEXT NOT NULL,
  properties JSONB NOT NULL DEFAULT '{}', updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace, namespace, id));
CREATE TABLE IF NOT EXISTS lightrag_graph_edges (
  workspace TEXT NOT NULL, namespace TEXT NOT NULL DEFAULT 'chunk_entity_relation',
  src_id TEXT NOT NULL, tgt_id TEXT NOT NULL, properties JSONB NOT NULL DEFAULT '{}',
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (workspace, namespace, src_id, tgt_id));
CREATE INDEX IF NOT EXISTS idx_lightrag_graph_edges_namespace_tgt
  ON lightrag_graph_edges (workspace, namespace, tgt_id);
CREATE INDEX IF NOT EXISTS idx_lightrag_graph_edges_noncanonical
  ON lightrag_graph_edges (workspace, namespace) WHERE src_id COLLATE "C" > tgt_id COLLATE "C";
ALTER TABLE lightrag_graph_edges ADD CONSTRAINT fk_lightrag_graph_edges_src
  FOREIGN KEY (workspace, namespace, src_id)
  REFERENCES lightrag_graph_nodes (workspace, namespace, id) ON DELETE CASCADE;
ALTER TABLE lightrag_graph_edges ADD CONSTRAINT fk_lightrag_graph_edges_tgt
  FOREIGN KEY (workspace, namespace, tgt_id)
  REFERENCES lightrag_graph_nodes (workspace, namespace, id) ON DELETE CASCADE;
"#
    .replace("_S ", &format!("_{} ", SUFFIX.to_uppercase()))
    .replace("_S_PK", &format!("_{}_PK", SUFFIX.to_uppercase()));
    let mut ddl = format!("BEGIN;{tables}");
    for table in [
        "lightrag_doc_full",
        "lightrag_doc_chunks",
        "lightrag_llm_cache",
        "lightrag_doc_status",
        "lightrag_full_entities",
        "lightrag_full_relations",
        "lightrag_entity_chunks",
        "lightrag_relation_chunks",
    ] {
        ddl += &format!(
            "CREATE INDEX idx_{table}_id ON {table} (id); \
             CREATE INDEX idx_{table}_workspace_id ON {table} (workspace, id);\n"
        );
    }
    for ns in ["chunks", "entity", "relation"] {
        let table = format!("lightrag_vdb_{ns}_{SUFFIX}");
        ddl += &format!(
            "CREATE INDEX idx_{table}_id ON {table} (id); \
             CREATE INDEX idx_{table}_workspace_id ON {table} (workspace, id); \
             CREATE INDEX idx_{table}_hnsw_cosine ON {table} USING hnsw (content_vector vector_cosine_ops) \
             WITH (m = 16, ef_construction = 64);\n"
        );
    }
    ddl + "COMMIT;"
}

/// A SQL string literal.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A pgvector literal of the builtin embedding of `text` (what the server embeds
/// queries with).
fn vector(text: &str) -> String {
    let v = HashedNgrams::new(64).embed(text);
    let parts: Vec<String> = v.iter().map(f32::to_string).collect();
    q(&format!("[{}]", parts.join(",")))
}

struct Doc {
    file: &'static str,
    chunks: &'static [&'static str],
    track_id: &'static str,
}

impl Doc {
    fn id(&self) -> String {
        ids::doc_id_for_source(self.file)
    }
    /// LightRAG 1.5.7's text-pipeline chunk ids: `{doc_id}-chunk-{order:03d}`.
    fn chunk_id(&self, order: usize) -> String {
        format!("{}-chunk-{order:03}", self.id())
    }
}

const ADA: Doc = Doc {
    file: "ada.txt",
    chunks: &[
        "Ada Lovelace wrote the first published algorithm for the Analytical Engine.",
        "Ada Lovelace saw that the machine could compose music.",
    ],
    track_id: "insert_20261129_080709_1a2b3c4d",
};
const BABBAGE: Doc = Doc {
    file: "babbage.txt",
    chunks: &["Charles Babbage designed the Analytical Engine in London."],
    track_id: "insert_20261129_080712_5e6f7a8b",
};

struct Node {
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    /// (document, chunk order) of each source chunk.
    sources: &'static [(&'static Doc, usize)],
}

const NODES: [Node; 3] = [
    Node {
        name: "Ada Lovelace",
        kind: "person",
        description: "Ada Lovelace wrote the first published algorithm.",
        sources: &[(&ADA, 0), (&ADA, 1)],
    },
    Node {
        name: "Analytical Engine",
        kind: "artifact",
        description: "A mechanical general-purpose computer.",
        sources: &[(&ADA, 0), (&BABBAGE, 0)],
    },
    Node {
        name: "Charles Babbage",
        kind: "person",
        description: "Charles Babbage designed the Analytical Engine.",
        sources: &[(&BABBAGE, 0)],
    },
];

/// (src, tgt sorted, keywords, description, source doc).
const EDGES: [(&str, &str, &str, &str, &Doc); 2] = [
    (
        "Ada Lovelace",
        "Analytical Engine",
        "algorithm,programming",
        "Ada Lovelace wrote an algorithm for the Analytical Engine.",
        &ADA,
    ),
    (
        "Analytical Engine",
        "Charles Babbage",
        "design,invention",
        "Charles Babbage designed the Analytical Engine.",
        &BABBAGE,
    ),
];

fn joined(parts: impl IntoIterator<Item = String>) -> String {
    parts.into_iter().collect::<Vec<_>>().join("<SEP>")
}

/// The rows LightRAG 1.5.7 writes for ADA and BABBAGE in the unnamed workspace
/// (`workspace = 'default'`), with the encodings of §3.4–§5.1 of the reference.
fn lightrag_rows() -> String {
    let mut sql = String::from("BEGIN;\n");
    let created = 1_795_680_429_i64; // 2026-11-29T08:07:09Z
    for doc in [&ADA, &BABBAGE] {
        let id = doc.id();
        let content = doc.chunks.join("\n\n");
        let hash = ids::md5_hex(content.as_bytes());
        // full_docs: doc_name = file_path, meta never written, parse_format NULL.
        sql += &format!(
            "INSERT INTO LIGHTRAG_DOC_FULL (id, workspace, doc_name, content, content_hash) \
             VALUES ({}, 'default', {}, {}, {});\n",
            q(&id),
            q(doc.file),
            q(&content),
            q(&hash)
        );
        let chunk_ids: Vec<String> = (0..doc.chunks.len()).map(|i| doc.chunk_id(i)).collect();
        for (i, chunk) in doc.chunks.iter().enumerate() {
            let cache = format!("default:extract:{}", ids::md5_hex(chunk.as_bytes()));
            sql += &format!(
                "INSERT INTO LIGHTRAG_DOC_CHUNKS (id, workspace, full_doc_id, chunk_order_index, tokens, \
                 content, file_path, llm_cache_list, heading, sidecar, create_time, update_time) VALUES \
                 ({cid}, 'default', {id}, {i}, {tokens}, {content}, {file}, {list}, '{{}}', '{{}}', \
                 '2026-11-29 08:07:10', '2026-11-29 08:07:10');\n\
                 INSERT INTO lightrag_vdb_chunks_{SUFFIX} (id, workspace, full_doc_id, chunk_order_index, \
                 tokens, content, content_vector, file_path, create_time, update_time) VALUES \
                 ({cid}, 'default', {id}, {i}, {tokens}, {content}, {vector}, {file}, \
                 '2026-11-29 08:07:10', '2026-11-29 08:07:10');\n\
                 INSERT INTO LIGHTRAG_LLM_CACHE (workspace, id, original_prompt, return_value, chunk_id, \
                 cache_type, queryparam) VALUES ('default', {key}, {content}, 'entity<|#|>x', {cid}, \
                 'extract', NULL);\n",
                cid = q(&doc.chunk_id(i)),
                id = q(&id),
                tokens = chunk.split_whitespace().count() + 2,
                content = q(chunk),
                file = q(doc.file),
                list = q(&json!([cache]).to_string()),
                vector = vector(chunk),
                key = q(&cache),
            );
        }
        sql += &format!(
            "INSERT INTO LIGHTRAG_DOC_STATUS (workspace, id, content_summary, content_length, chunks_count, \
             status, file_path, chunks_list, track_id, metadata, error_msg, content_hash, created_at, \
             updated_at) VALUES ('default', {id}, {summary}, {len}, {count}, 'processed', {file}, {list}, \
             {track}, {meta}, NULL, {hash}, '2026-11-29 08:07:09.208062', '2026-11-29 08:07:11');\n",
            id = q(&id),
            summary = q(&content.chars().take(100).collect::<String>()),
            len = content.chars().count(),
            count = doc.chunks.len(),
            file = q(doc.file),
            list = q(&json!(chunk_ids).to_string()),
            track = q(doc.track_id),
            meta = q(
                &json!({"process_start_time": created, "process_end_time": created + 2,
                "chunk_method": "fixed_token", "kg_write_state": "complete"})
                .to_string()
            ),
            hash = q(&hash),
        );
        let names: Vec<&str> = NODES
            .iter()
            .filter(|n| n.sources.iter().any(|(d, _)| d.file == doc.file))
            .map(|n| n.name)
            .collect();
        let pairs: Vec<[&str; 2]> = EDGES
            .iter()
            .filter(|e| e.4.file == doc.file)
            .map(|e| [e.0, e.1])
            .collect();
        sql += &format!(
            "INSERT INTO LIGHTRAG_FULL_ENTITIES (id, workspace, entity_names, count, create_time, update_time) \
             VALUES ({id}, 'default', {names}, {n}, '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n\
             INSERT INTO LIGHTRAG_FULL_RELATIONS (id, workspace, relation_pairs, count, create_time, update_time) \
             VALUES ({id}, 'default', {pairs}, {m}, '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n",
            id = q(&id),
            names = q(&json!(names).to_string()),
            n = names.len(),
            pairs = q(&json!(pairs).to_string()),
            m = pairs.len(),
        );
    }
    for node in &NODES {
        let chunks: Vec<String> = node.sources.iter().map(|(d, i)| d.chunk_id(*i)).collect();
        let mut files_unique: Vec<String> = node
            .sources
            .iter()
            .map(|(d, _)| d.file.to_owned())
            .collect();
        files_unique.dedup();
        let properties = json!({"entity_id": node.name, "entity_type": node.kind,
            "description": node.description, "source_id": joined(chunks.clone()),
            "file_path": joined(files_unique.clone()), "created_at": created, "truncate": ""});
        let content = format!("{}\n{}", node.name, node.description);
        sql += &format!(
            "INSERT INTO lightrag_graph_nodes (workspace, namespace, id, properties) VALUES \
             ('default', 'chunk_entity_relation', {name}, {props});\n\
             INSERT INTO lightrag_vdb_entity_{SUFFIX} (id, workspace, entity_name, content, content_vector, \
             chunk_ids, file_path, create_time, update_time) VALUES ({eid}, 'default', {name}, {content}, \
             {vector}, ARRAY[{chunk_array}]::varchar(255)[], {file}, '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n\
             INSERT INTO LIGHTRAG_ENTITY_CHUNKS (id, workspace, chunk_ids, count, create_time, update_time) \
             VALUES ({name}, 'default', {chunk_json}, {n}, '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n",
            name = q(node.name),
            props = q(&properties.to_string()),
            eid = q(&ids::entity_id(node.name)),
            content = q(&content),
            vector = vector(&content),
            chunk_array = chunks.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "),
            file = q(&joined(files_unique)),
            chunk_json = q(&json!(chunks).to_string()),
            n = chunks.len(),
        );
    }
    for (src, tgt, keywords, description, doc) in EDGES {
        let chunk = doc.chunk_id(0);
        let properties = json!({"weight": 1.0, "description": description, "keywords": keywords,
            "source_id": chunk, "file_path": doc.file, "created_at": created, "truncate": ""});
        let content = format!("{keywords}\t{src}\n{tgt}\n{description}");
        sql += &format!(
            "INSERT INTO lightrag_graph_edges (workspace, namespace, src_id, tgt_id, properties) VALUES \
             ('default', 'chunk_entity_relation', {src}, {tgt}, {props});\n\
             INSERT INTO lightrag_vdb_relation_{SUFFIX} (id, workspace, source_id, target_id, content, \
             content_vector, chunk_ids, file_path, create_time, update_time) VALUES ({rid}, 'default', \
             {src}, {tgt}, {content}, {vector}, ARRAY[{chunk}]::varchar(255)[], {file}, \
             '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n\
             INSERT INTO LIGHTRAG_RELATION_CHUNKS (id, workspace, chunk_ids, count, create_time, update_time) \
             VALUES ({pair}, 'default', {chunks}, 1, '2026-11-29 08:07:11', '2026-11-29 08:07:11');\n",
            src = q(src),
            tgt = q(tgt),
            props = q(&properties.to_string()),
            rid = q(&ids::relation_id(src, tgt)),
            content = q(&content),
            vector = vector(&content),
            chunk = q(&chunk),
            file = q(doc.file),
            pair = q(&format!("{src}<SEP>{tgt}")),
            chunks = q(&json!([chunk]).to_string()),
        );
    }
    sql + "COMMIT;"
}

#[test]
fn a_database_lightrag_wrote_is_served_with_no_reingestion() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    pg.psql(&lightrag_ddl());
    pg.psql(&lightrag_rows());
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'lightrag_master_%'"),
        "0",
        "our server has not touched the database yet"
    );
    let server = server(&pg, "pgc-lightrag").start();

    // The documents, with LightRAG's fields and times (1.5.7 lists them by page).
    let r = common::call(
        &server,
        "POST",
        "/documents/paginated",
        &json!({"page_size": 10, "sort_field": "id", "sort_direction": "asc"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = r.json();
    let docs = page["documents"].as_array().unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ADA.id(), BABBAGE.id()], "{page}");
    assert_eq!(page["pagination"]["total_count"], 2);
    assert_eq!(page["status_counts"]["processed"], 2, "{page}");
    let ada = &docs[0];
    assert_eq!(ada["file_path"], "ada.txt");
    assert_eq!(ada["chunks_count"], 2);
    assert_eq!(ada["track_id"], ADA.track_id);
    assert_eq!(ada["status"], "processed");
    assert_eq!(ada["created_at"], "2026-11-29T08:07:09.208062+00:00");
    assert_eq!(ada["updated_at"], "2026-11-29T08:07:11+00:00");
    assert_eq!(ada["metadata"]["chunk_method"], "fixed_token");
    assert_eq!(
        ada["content_length"],
        ADA.chunks.join("\n\n").chars().count()
    );
    let track = server
        .get(&format!("/documents/track_status/{}", ADA.track_id))
        .json();
    assert_eq!(track["total_count"], 1, "{track}");

    // The graph.
    assert_eq!(
        server.get("/graph/label/list").json(),
        json!(["Ada Lovelace", "Analytical Engine", "Charles Babbage"])
    );
    let graph = server
        .get("/graphs?label=Analytical%20Engine&max_depth=2")
        .json();
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 3, "{graph}");
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2, "{graph}");
    let ada_node = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "Ada Lovelace")
        .unwrap();
    assert_eq!(ada_node["properties"]["entity_type"], "person", "{graph}");

    // Retrieval: naive from the chunk vectors, local from the entity vectors and the
    // chunks their source ids name.
    let naive = query_data(
        &server,
        json!({"query": "Ada Lovelace wrote the first published algorithm", "mode": "naive"}),
    );
    let chunks = naive["data"]["chunks"].as_array().unwrap();
    assert!(
        chunks
            .iter()
            .any(|c| c["content"] == ADA.chunks[0] && c["file_path"] == "ada.txt"),
        "{naive}"
    );
    let local = query_data(
        &server,
        json!({"query": "Who is Ada Lovelace?", "mode": "local", "ll_keywords": ["Ada Lovelace"], "hl_keywords": []}),
    );
    let entities = local["data"]["entities"].as_array().unwrap();
    assert_eq!(entities[0]["entity_name"], "Ada Lovelace", "{local}");
    assert_eq!(entities[0]["description"], NODES[0].description);
    let chunks = local["data"]["chunks"].as_array().unwrap();
    assert!(
        chunks.iter().any(|c| c["content"] == ADA.chunks[1]),
        "{local}"
    );

    // Deleting a document LightRAG indexed: its chunks (found through LightRAG's
    // doc-status chunk list), vectors and own entity go, the shared entity stays.
    let r = common::send(
        server.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        json!({"doc_ids": [ADA.id()]}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    common::two_nodes::wait_until("the deletion ends", Duration::from_secs(30), || {
        server.get("/documents/status_counts").json()["status_counts"]["all"] == 1
    });
    common::pipeline_idle(&server, None, Duration::from_secs(20));
    let ada_id = q(&ADA.id());
    for table in ["lightrag_doc_full", "lightrag_doc_status"] {
        assert_eq!(
            pg.psql(&format!("SELECT count(*) FROM {table} WHERE id = {ada_id}")),
            "0",
            "{table}"
        );
    }
    for table in [
        "lightrag_doc_chunks".to_owned(),
        format!("lightrag_vdb_chunks_{SUFFIX}"),
    ] {
        assert_eq!(
            pg.psql(&format!("SELECT id FROM {table} ORDER BY id")),
            BABBAGE.chunk_id(0),
            "{table}"
        );
    }
    assert_eq!(
        pg.psql(&format!(
            "SELECT entity_name FROM lightrag_vdb_entity_{SUFFIX} ORDER BY 1"
        )),
        "Analytical Engine\nCharles Babbage"
    );
    assert_eq!(
        pg.psql("SELECT id FROM lightrag_graph_nodes ORDER BY id"),
        "Analytical Engine\nCharles Babbage"
    );
    assert_eq!(
        pg.psql(
            "SELECT properties->>'source_id' FROM lightrag_graph_nodes WHERE id = 'Analytical Engine'"
        ),
        BABBAGE.chunk_id(0)
    );
    assert_eq!(
        pg.psql("SELECT src_id || '|' || tgt_id FROM lightrag_graph_edges"),
        "Analytical Engine|Charles Babbage"
    );
    assert_eq!(pg.psql("SELECT count(*) FROM lightrag_full_entities"), "1");
    assert!(!common::entity_exists(&server, "Ada Lovelace"));
}

/// The columns of LightRAG's tables in `schema`: name, type, nullability and default.
fn catalog(pg: &Postgres, schema: &str) -> String {
    pg.psql(&format!(
        "SELECT table_name || '.' || column_name || ' ' || format_type(a.atttypid, a.atttypmod) \
         || ' ' || is_nullable || ' ' || COALESCE(column_default, '-') \
         FROM information_schema.columns c \
         JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass \
           AND a.attname = c.column_name \
         WHERE table_schema = '{schema}' AND table_name LIKE 'lightrag_%' \
           AND table_name NOT LIKE 'lightrag_master_%' \
         ORDER BY table_name, column_name"
    ))
}

/// LightRAG's indexes in `schema`: table, name and definition without the schema.
fn indexes(pg: &Postgres, schema: &str) -> String {
    pg.psql(&format!(
        "SELECT tablename || ' ' || indexname || ' ' || replace(indexdef, '{schema}.', '') \
         FROM pg_indexes WHERE schemaname = '{schema}' AND tablename LIKE 'lightrag_%' \
           AND tablename NOT LIKE 'lightrag_master_%' ORDER BY tablename, indexname"
    ))
}

#[test]
fn what_our_server_writes_is_what_lightrag_reads() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let server = server(&pg, "pgc-ours").start();
    common::index_texts(
        &server,
        &[
            (
                "turing.txt",
                "Alan Turing broke the Enigma cipher at Bletchley Park. Alan Turing proposed the Turing Test.",
            ),
            ("hopper.txt", "Grace Hopper wrote the first compiler."),
        ],
    );
    drop(server);

    // Our tables are LightRAG's, column for column and index for index: compared with
    // those LightRAG's own DDL makes in another schema.
    pg.psql(&format!(
        "CREATE SCHEMA lightrag_ref; SET search_path = lightrag_ref, public; {}",
        lightrag_ddl().replace("BEGIN;", "").replace("COMMIT;", "")
    ));
    assert_eq!(catalog(&pg, "public"), catalog(&pg, "lightrag_ref"));
    let ours = indexes(&pg, "public");
    let theirs = indexes(&pg, "lightrag_ref");
    for line in theirs.lines() {
        assert!(ours.lines().any(|l| l == line), "missing: {line}\n{ours}");
    }

    // Workspace keying: the unnamed workspace is LightRAG's `default` in every table.
    for table in [
        "lightrag_doc_full",
        "lightrag_doc_chunks",
        "lightrag_doc_status",
        "lightrag_full_entities",
        "lightrag_full_relations",
        "lightrag_graph_nodes",
        "lightrag_graph_edges",
        &format!("lightrag_vdb_chunks_{SUFFIX}"),
        &format!("lightrag_vdb_entity_{SUFFIX}"),
        &format!("lightrag_vdb_relation_{SUFFIX}"),
    ] {
        assert_eq!(
            pg.psql(&format!(
                "SELECT string_agg(DISTINCT workspace, ',') FROM {table}"
            )),
            "default",
            "{table}"
        );
    }
    // Documents: `doc-<md5(basename)>`, doc_name = file path, status row with
    // LightRAG's encodings, its chunk list the chunks' ids.
    let turing = ids::doc_id_for_source("turing.txt");
    assert_eq!(
        pg.psql(&format!(
            "SELECT doc_name FROM lightrag_doc_full WHERE id = {}",
            q(&turing)
        )),
        "turing.txt"
    );
    assert_eq!(
        pg.psql(&format!(
            "SELECT status, file_path, track_id LIKE 'insert\\_%', jsonb_typeof(metadata), \
             chunks_count = jsonb_array_length(chunks_list), created_at IS NOT NULL, \
             updated_at >= created_at, error_msg IS NULL, content_summary <> '' \
             FROM lightrag_doc_status WHERE id = {}",
            q(&turing)
        )),
        "processed|turing.txt|t|object|t|t|t|t|t"
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM lightrag_doc_status s WHERE NOT EXISTS (SELECT 1 FROM \
             jsonb_array_elements_text(s.chunks_list) c(id) WHERE c.id NOT IN \
             (SELECT id FROM lightrag_doc_chunks k WHERE k.full_doc_id = s.id)) \
             AND jsonb_array_length(s.chunks_list) = \
             (SELECT count(*) FROM lightrag_doc_chunks k WHERE k.full_doc_id = s.id)"
        ),
        "2",
        "each status lists exactly its document's chunks"
    );
    // Chunks: `chunk-<md5(content)>`, in the chunk vector table under the same ids.
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM lightrag_doc_chunks WHERE id <> 'chunk-' || md5(content) \
             OR jsonb_typeof(llm_cache_list) <> 'array' OR tokens <= 0 OR create_time IS NULL"
        ),
        "0"
    );
    assert_eq!(
        pg.psql(&format!(
            "SELECT count(*) FROM lightrag_doc_chunks k FULL JOIN lightrag_vdb_chunks_{SUFFIX} v \
             USING (workspace, id) WHERE v.id IS NULL OR k.id IS NULL OR k.content <> v.content \
             OR k.full_doc_id <> v.full_doc_id OR vector_dims(v.content_vector) <> 64"
        )),
        "0"
    );
    // Entities: `ent-<md5(name)>`, content `name\ndescription`, a graph node each.
    assert_eq!(
        pg.psql(&format!(
            "SELECT count(*) FROM lightrag_vdb_entity_{SUFFIX} e LEFT JOIN lightrag_graph_nodes n \
             ON n.workspace = e.workspace AND n.id = e.entity_name \
             WHERE e.id <> 'ent-' || md5(e.entity_name) OR e.content NOT LIKE e.entity_name || E'\\n%' \
             OR n.id IS NULL OR cardinality(e.chunk_ids) = 0"
        )),
        "0"
    );
    assert_eq!(
        pg.psql(&format!(
            "SELECT entity_name FROM lightrag_vdb_entity_{SUFFIX} WHERE entity_name = 'Alan Turing'"
        )),
        "Alan Turing"
    );
    // Relations: `rel-<md5(src+tgt)>` of the sorted pair, one canonical graph edge each.
    assert_eq!(
        pg.psql(&format!(
            "SELECT count(*) FROM lightrag_vdb_relation_{SUFFIX} r LEFT JOIN lightrag_graph_edges g \
             ON g.workspace = r.workspace AND g.src_id = r.source_id AND g.tgt_id = r.target_id \
             WHERE r.id <> 'rel-' || md5(r.source_id || r.target_id) \
             OR r.source_id > r.target_id OR g.src_id IS NULL"
        )),
        "0"
    );
    assert_ne!(
        pg.psql(&format!(
            "SELECT count(*) FROM lightrag_vdb_relation_{SUFFIX}"
        )),
        "0"
    );
    // Graph rows: LightRAG's properties, entity_id the node's id.
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM lightrag_graph_nodes WHERE namespace <> 'chunk_entity_relation' \
             OR properties->>'entity_id' <> id OR NOT properties ?& \
             ARRAY['entity_type', 'description', 'source_id', 'file_path'] \
             OR jsonb_typeof(properties->'created_at') <> 'number'"
        ),
        "0"
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM lightrag_graph_edges WHERE src_id COLLATE \"C\" >= tgt_id COLLATE \"C\" \
             OR jsonb_typeof(properties->'weight') <> 'number' OR NOT properties ?& \
             ARRAY['keywords', 'description', 'source_id', 'file_path']"
        ),
        "0"
    );
    // Tracking tables: the document's entities and relation pairs, counted.
    assert_eq!(
        pg.psql(&format!(
            "SELECT count = jsonb_array_length(entity_names), entity_names ? 'Alan Turing' \
             FROM lightrag_full_entities WHERE id = {}",
            q(&turing)
        )),
        "t|t"
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM lightrag_full_relations WHERE count <> jsonb_array_length(relation_pairs) \
             OR jsonb_typeof(relation_pairs->0) <> 'array'"
        ),
        "0"
    );
}
