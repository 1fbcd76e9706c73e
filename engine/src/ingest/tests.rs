use super::merge::{merge_fragments, merge_newest};
use super::*;
use crate::embedding::builtin::HashedNgrams;
use crate::llm::builtin::{self, BuiltinModel};
use crate::storage::bundle::Indexes;
use crate::storage::graph::GRAPH_FIELD_SEP;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{GraphStorage, KvStorage, LocalGenerations};

struct Fixture {
    storage: SqliteStorage,
    generations: LocalGenerations,
    indexes: Indexes,
    tokenizer: Tokenizer,
    embedder: HashedNgrams,
    extraction: ExtractionSettings,
    summary: SummaryPolicy,
    chunking: ChunkingOptions,
    scheduling: Scheduling,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "lrm-ingest-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        Fixture {
            storage: SqliteStorage::open(&dir, "").unwrap(),
            generations: LocalGenerations::default(),
            indexes: Indexes::default(),
            tokenizer: Tokenizer::o200k(),
            embedder: HashedNgrams::new(256),
            extraction: ExtractionSettings {
                entity_types: builtin::DEFAULT_ENTITY_TYPES
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
                language: "English".to_owned(),
                max_gleaning: 1,
            },
            summary: SummaryPolicy {
                force_on_merge: 8,
                max_tokens: 1200,
                length: 600,
            },
            chunking: ChunkingOptions {
                chunk_token_size: 16,
                overlap_token_size: 2,
                ..Default::default()
            },
            scheduling: Scheduling::new(4),
        }
    }

    fn ingest(&self, id: &str, content: &str, file: &str) -> IngestReport {
        self.indexer()
            .run(&Document {
                id,
                content,
                file_path: file,
                chunking: None,
                has_headings: false,
            })
            .unwrap()
    }

    fn stores(&self) -> Stores<'_> {
        Stores::new(&self.storage, &self.generations, &self.indexes)
    }

    fn indexer(&self) -> Ingest<'_> {
        Ingest {
            stores: self.stores(),
            tokenizer: &self.tokenizer,
            embedder: &self.embedder,
            batching: Batching {
                batch_size: 10,
                concurrency: 2,
            },
            model: &BuiltinModel,
            extraction: &self.extraction,
            summary: &self.summary,
            limits: SourceLimits {
                entity_sources: 300,
                relation_sources: 300,
                file_paths: 75,
            },
            llm_concurrency: 4,
            scheduling: &self.scheduling,
            chunking: &self.chunking,
            use_cache: true,
            now: 1_795_674_000,
        }
    }
}

const TEXT: &str = "Elon Musk founded SpaceX in Hawthorne. NASA awarded SpaceX a launch contract. \
                    Gwynne Shotwell runs SpaceX operations with Elon Musk.";

#[test]
fn builds_the_graph_vectors_and_indexes() {
    let f = Fixture::new();
    let report = f.ingest("doc-1", TEXT, "spacex.txt");
    assert!(!report.chunk_ids.is_empty());
    assert!(report.entities >= 5 && report.relations >= 4, "{report:?}");
    let node = f.storage.node_get("SpaceX").unwrap().unwrap();
    assert_eq!(node.file_path, "spacex.txt");
    assert!(node.description.contains(GRAPH_FIELD_SEP), "{node:?}");
    let edge = f.storage.edge_get("SpaceX", "Elon Musk").unwrap().unwrap();
    assert!(edge.weight >= 2.0, "{edge:?}");
    let query = f.embedder.embed("SpaceX launch contract");
    let hits = f
        .stores()
        .search()
        .query(VectorNamespace::Entities, &query, 3, 0.0)
        .unwrap();
    assert!(
        hits.iter().any(|h| h.meta["entity_name"] == "SpaceX"),
        "{hits:?}"
    );
    let full = f
        .storage
        .kv_get(KvNamespace::FullEntities, "doc-1")
        .unwrap()
        .unwrap();
    assert_eq!(full["count"].as_u64().unwrap() as usize, report.entities);
    assert!(
        f.storage
            .kv_get(KvNamespace::TextChunks, &report.chunk_ids[0])
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_second_document_merges_with_source_tracking_and_reuses_cached_extractions() {
    let f = Fixture::new();
    f.ingest("doc-1", TEXT, "a.txt");
    let report = f.ingest("doc-2", TEXT, "b.txt");
    assert_eq!(report.cached_extractions, report.chunk_ids.len());
    let node = f.storage.node_get("NASA").unwrap().unwrap();
    assert_eq!(node.file_path, format!("a.txt{GRAPH_FIELD_SEP}b.txt"));
    // Same chunks, same descriptions: fragments are not duplicated.
    assert!(!node.description.contains(GRAPH_FIELD_SEP));
    // Same chunks again: the relation is not counted twice.
    let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
    assert_eq!(edge.weight, 1.0);
}

#[test]
fn deleting_a_document_removes_its_own_elements_and_rebuilds_shared_ones() {
    let f = Fixture::new();
    let first = f.ingest("doc-1", TEXT, "a.txt");
    f.ingest(
        "doc-2",
        "SpaceX builds Starship rockets. NASA works with SpaceX on lunar landers.",
        "b.txt",
    );
    let report = f
        .indexer()
        .delete_documents(&["doc-1".to_owned()], false)
        .unwrap();
    assert_eq!(report.chunks, first.chunk_ids.len());
    assert!(
        report.entities_removed >= 2 && report.entities_rebuilt >= 2,
        "{report:?}"
    );
    // Only doc-1 named Gwynne Shotwell and Hawthorne.
    assert!(f.storage.node_get("Gwynne Shotwell").unwrap().is_none());
    assert!(f.storage.edges_of("Gwynne Shotwell").unwrap().is_empty());
    // SpaceX and NASA survive, described by doc-2 alone.
    let spacex = f.storage.node_get("SpaceX").unwrap().unwrap();
    assert_eq!(spacex.file_path, "b.txt");
    assert!(!spacex.description.contains("Hawthorne"), "{spacex:?}");
    let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
    assert_eq!((edge.weight, edge.file_path.as_str()), (1.0, "b.txt"));
    for chunk in &first.chunk_ids {
        assert!(
            f.storage
                .kv_get(KvNamespace::TextChunks, chunk)
                .unwrap()
                .is_none()
        );
    }
    assert!(
        f.storage
            .kv_get(KvNamespace::FullEntities, "doc-1")
            .unwrap()
            .is_none()
    );
    // Vector search no longer finds what went.
    let hits = f
        .stores()
        .search()
        .query(
            VectorNamespace::Entities,
            &f.embedder.embed("Gwynne Shotwell"),
            50,
            0.0,
        )
        .unwrap();
    assert!(
        hits.iter()
            .all(|h| h.meta["entity_name"] != "Gwynne Shotwell")
    );
    let chunks = f
        .stores()
        .search()
        .query(VectorNamespace::Chunks, &f.embedder.embed(TEXT), 50, 0.0)
        .unwrap();
    assert!(
        chunks.iter().all(|h| h.meta["full_doc_id"] == "doc-2"),
        "{chunks:?}"
    );
}

#[test]
fn hub_lists_keep_the_newest_sources_while_weights_keep_counting() {
    let f = Fixture::new();
    let mut indexer = f.indexer();
    indexer.limits = SourceLimits {
        entity_sources: 2,
        relation_sources: 2,
        file_paths: 2,
    };
    for i in 0..4 {
        indexer
            .run(&Document {
                id: &format!("doc-{i}"),
                content: &format!("NASA paid SpaceX for mission {i}."),
                file_path: &format!("f{i}.txt"),
                chunking: None,
                has_headings: false,
            })
            .unwrap();
    }
    let node = f.storage.node_get("NASA").unwrap().unwrap();
    assert_eq!(node.source_id.split(GRAPH_FIELD_SEP).count(), 2);
    assert_eq!(node.file_path, format!("f2.txt{GRAPH_FIELD_SEP}f3.txt"));
    let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
    assert_eq!(edge.weight, 4.0);
    assert_eq!(edge.source_id.split(GRAPH_FIELD_SEP).count(), 2);
}

#[test]
fn cached_degrees_follow_new_relations() {
    let f = Fixture::new();
    f.ingest("doc-1", "NASA hired SpaceX.", "a.txt");
    let names = ["NASA".to_owned()];
    let degree = || {
        f.indexes
            .degrees
            .get(&f.storage, &f.generations, &names)
            .unwrap()["NASA"]
    };
    assert_eq!(degree(), 1);
    f.ingest("doc-2", "NASA worked with Boeing.", "b.txt");
    assert_eq!(degree(), 2, "a new relation invalidates the cache");
}

#[test]
fn cached_relation_weights_follow_new_relations() {
    let f = Fixture::new();
    f.ingest("doc-1", "NASA hired SpaceX.", "a.txt");
    let names = ["NASA".to_owned(), "Nobody".to_owned()];
    let weights = || {
        let got = f
            .indexes
            .weights
            .get(&f.storage, &f.generations, &names)
            .unwrap();
        got.iter().map(|w| w.len()).collect::<Vec<_>>()
    };
    assert_eq!(weights(), [1, 0]);
    f.ingest("doc-2", "NASA worked with Boeing.", "b.txt");
    assert_eq!(weights(), [2, 0], "a new relation invalidates the cache");
    assert_eq!(
        f.indexes
            .weights
            .get(&f.storage, &f.generations, &names[..1])
            .unwrap()[0][..],
        f.storage.edge_weights_of("NASA").unwrap()[..]
    );
}

#[test]
fn merge_fragments_keeps_order_and_drops_repeats() {
    assert_eq!(
        merge_fragments(Some("a<SEP>b"), &["b", "c"]),
        "a<SEP>b<SEP>c"
    );
    assert_eq!(merge_fragments(None, &["", "x"]), "x");
    assert_eq!(
        merge_newest(Some("a<SEP>b<SEP>c"), &["d", "b"], 3),
        "b<SEP>c<SEP>d"
    );
}

/// Everything indexing writes about the graph, comparable across stores: nodes, edges,
/// their vectors and chunk lists, and the per-document indexes.
fn graph_snapshot(f: &Fixture) -> Vec<String> {
    use crate::storage::VectorStorage;
    let mut rows = Vec::new();
    for name in f.storage.node_names().unwrap() {
        rows.push(format!("{:?}", f.storage.node_get(&name).unwrap()));
        let mut edges: Vec<String> = f
            .storage
            .edges_of(&name)
            .unwrap()
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        edges.sort();
        rows.extend(edges);
    }
    for ns in [VectorNamespace::Entities, VectorNamespace::Relationships] {
        let mut vectors: Vec<String> = f
            .storage
            .vectors_all(ns)
            .unwrap()
            .iter()
            .map(|v| format!("{} {:?} {}", v.id, v.vector, v.meta))
            .collect();
        vectors.sort();
        rows.extend(vectors);
    }
    for ns in [
        KvNamespace::EntityChunks,
        KvNamespace::RelationChunks,
        KvNamespace::FullEntities,
        KvNamespace::FullRelations,
    ] {
        for key in f.storage.kv_keys(ns).unwrap() {
            rows.push(format!("{key} {:?}", f.storage.kv_get(ns, &key).unwrap()));
        }
    }
    rows
}

/// Documents naming the same few entities, each in sentences of its own.
fn shared_entity_documents() -> Vec<(String, String, String)> {
    (0..4)
        .map(|i| {
            (
                format!("doc-{i}"),
                format!(
                    "Ada Lovelace met Charles Babbage in London in year {i}. Charles Babbage \
                     showed Ada Lovelace the Difference Engine at meeting {i}. NASA studied \
                     Ada Lovelace and Charles Babbage in survey {i}."
                ),
                format!("f{i}.txt"),
            )
        })
        .collect()
}

/// Small limits, so that the fold condenses descriptions and drops old sources.
fn folding_fixture() -> Fixture {
    let mut f = Fixture::new();
    f.summary.force_on_merge = 3;
    f
}

fn document((id, content, file): &(String, String, String)) -> Document<'_> {
    Document {
        id,
        content,
        file_path: file,
        chunking: None,
        has_headings: false,
    }
}

#[test]
fn a_batch_merges_to_the_graph_of_its_documents_merged_one_by_one() {
    let docs = shared_entity_documents();
    let one_by_one = folding_fixture();
    for doc in &docs {
        one_by_one.indexer().run(&document(doc)).unwrap();
    }
    let batched = folding_fixture();
    let indexer = batched.indexer();
    let extracted: Vec<Extracted> = docs
        .iter()
        .map(|doc| indexer.extract(&document(doc)).unwrap())
        .collect();
    // Nothing of the graph is written before the merge.
    assert!(batched.storage.node_names().unwrap().is_empty());
    indexer
        .merge(&extracted.iter().collect::<Vec<_>>())
        .unwrap();
    let expected = graph_snapshot(&one_by_one);
    let lovelace = one_by_one
        .storage
        .node_get("Ada Lovelace")
        .unwrap()
        .unwrap();
    assert!(
        !lovelace.description.contains(GRAPH_FIELD_SEP),
        "the fixture condenses: {lovelace:?}"
    );
    assert_eq!(graph_snapshot(&batched), expected);
}
