//! The Redis document status's indexes against a real `redis-server` (skipped when it
//! is not installed): every paginated order matches the embedded store's, pages come
//! from the sorted sets without reading other records, sets missing or out of step are
//! rebuilt, the idle poll's listing does not scan, and legacy LLM cache values are
//! flattened once.

use serde_json::{Value, json};

use super::server_tests::{TestRedis, doc};
use super::tests::config;
use super::{RedisDocStatus, RedisKv};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, DocStatusStorage, WorkspaceListing,
};

/// Documents with ties in every field but the id, over three statuses.
fn corpus() -> Vec<DocStatusRecord> {
    let statuses = [DocStatus::Processed, DocStatus::Failed, DocStatus::Pending];
    let paths = ["b.txt", "unknown_source", "a.txt", "", "a.txt\u{0}x"];
    (0..41)
        .map(|i| {
            let mut d = doc(
                &format!("doc-{:02}", (i * 17) % 41),
                statuses[i % 3],
                &format!("2026-11-{:02}T00:00:00+00:00", 1 + i % 9),
            );
            d.file_path = paths[i % 5].to_owned();
            d.updated_at = format!("2026-12-0{}T00:00:00+00:00", 1 + i % 4);
            d
        })
        .collect()
}

fn ids(page: (Vec<DocStatusRecord>, usize)) -> (Vec<String>, usize) {
    (page.0.into_iter().map(|d| d.id).collect(), page.1)
}

#[test]
fn every_order_pages_as_the_embedded_store_does_from_the_sets() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let dir = crate::storage::tests::temp("redis-sorts");
    let embedded = SqliteStorage::open(&dir, "ws").unwrap();
    let redis = RedisDocStatus::open(&config(&server.uri()), "ws").unwrap();
    let docs = corpus();
    embedded.doc_upsert(&docs).unwrap();
    redis.doc_upsert(&docs).unwrap();
    // A record off every page below could not be read whole: pages read only theirs.
    let mut c = server.conn();
    let mut outsider = doc(
        "zz-outsider",
        DocStatus::Processed,
        "2026-10-01T00:00:00+00:00",
    );
    outsider.file_path = "zzz".into();
    outsider.updated_at = "2026-10-01T00:00:00+00:00".into();
    redis.doc_upsert(&[outsider.clone()]).unwrap();
    embedded.doc_upsert(&[outsider]).unwrap();
    redis::cmd("SET")
        .arg("ws_doc_status:zz-outsider")
        .arg("{not json")
        .query::<()>(&mut c)
        .unwrap();
    let filters: [&[DocStatus]; 3] = [&[], &[DocStatus::Processed], &[DocStatus::Failed]];
    let windows = [(0, 7), (5, 7), (13, 10), (30, 10), (41, 5)];
    for sort in [
        DocSort::CreatedAt,
        DocSort::UpdatedAt,
        DocSort::Id,
        DocSort::FilePath,
    ] {
        for descending in [false, true] {
            for statuses in filters {
                for (offset, limit) in windows {
                    let query = DocPageQuery {
                        statuses: statuses.to_vec(),
                        sort,
                        descending,
                        offset,
                        limit,
                    };
                    let want = ids(embedded.docs_page(&query).unwrap());
                    // The outsider is first or last in every order: keep it off the page.
                    if want.0.iter().any(|id| id == "zz-outsider") {
                        continue;
                    }
                    assert_eq!(ids(redis.docs_page(&query).unwrap()), want, "{query:?}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sets_missing_or_out_of_step_are_rebuilt() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let mut c = server.conn();
    // What LightRAG writes: a record and its creation-order member, none of our sets.
    let mut lightrag = |id: &str, status: &str, updated: &str| {
        let created = "2026-01-01T00:00:00+00:00";
        let record = json!({"status": status, "content_summary": "s", "content_length": 1,
            "file_path": format!("{id}.txt"), "created_at": created, "updated_at": updated,
            "chunks_list": [], "metadata": {}});
        redis::pipe()
            .set(format!("doc_status:{id}"), record.to_string())
            .zadd(
                format!("doc_status__sched:status:{status}"),
                format!("{created}|{id}"),
                0,
            )
            .query::<()>(&mut c)
            .unwrap();
    };
    lightrag("doc-a", "processed", "2026-02-01T00:00:00+00:00");
    lightrag("doc-b", "processed", "2026-03-01T00:00:00+00:00");
    let by_update = DocPageQuery {
        statuses: vec![],
        sort: DocSort::UpdatedAt,
        descending: true,
        offset: 0,
        limit: 10,
    };
    let s = RedisDocStatus::open(&config(&server.uri()), "").unwrap();
    assert_eq!(
        ids(s.docs_page(&by_update).unwrap()),
        (vec!["doc-b".into(), "doc-a".into()], 2)
    );
    assert_eq!(
        server.get("doc_status__lrm_sort:built").as_deref(),
        Some("1")
    );
    // LightRAG adds one while we are away: the counts differ at the next open.
    lightrag("doc-c", "processed", "2026-04-01T00:00:00+00:00");
    let s = RedisDocStatus::open(&config(&server.uri()), "").unwrap();
    assert_eq!(
        ids(s.docs_page(&by_update).unwrap()).0,
        ["doc-c", "doc-b", "doc-a"]
    );
    // A record deleted behind our back: the page sees it, serves from the records and
    // rebuilds the sets.
    redis::cmd("DEL")
        .arg("doc_status:doc-b")
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("ZREM")
        .arg("doc_status__sched:status:processed")
        .arg("2026-01-01T00:00:00+00:00|doc-b")
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(
        ids(s.docs_page(&by_update).unwrap()),
        (vec!["doc-c".into(), "doc-a".into()], 2)
    );
    let members: usize = redis::cmd("ZCARD")
        .arg("doc_status__lrm_sort:updated_at:all")
        .query(&mut c)
        .unwrap();
    assert_eq!(members, 2);
    // Dropping the workspace takes our keys too.
    s.docs_drop().unwrap();
    assert!(server.get("doc_status__lrm_sort:built").is_none());
}

fn scans(server: &TestRedis) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn the_idle_listing_reads_the_registry_not_the_keyspace() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let mut c = server.conn();
    // A workspace only LightRAG wrote is found by the listing's one scan.
    redis::pipe()
        .set(
            "lr_doc_status:doc-l",
            r#"{"status": "pending", "created_at": "x"}"#,
        )
        .zadd("lr_doc_status__sched:status:pending", "x|doc-l", 0)
        .query::<()>(&mut c)
        .unwrap();
    // Opening a workspace scans (LightRAG's index check); the listing must not.
    let s = RedisDocStatus::open(&config(&server.uri()), "").unwrap();
    let ws1 = RedisDocStatus::open(&config(&server.uri()), "ws1").unwrap();
    let ws2 = RedisDocStatus::open(&config(&server.uri()), "ws2").unwrap();
    ws1.doc_upsert(&[doc("doc-1", DocStatus::Pending, "2026-01-01")])
        .unwrap();
    let pending = [DocStatus::Pending];
    assert_eq!(s.workspaces_with_status(&pending).unwrap(), ["lr", "ws1"]);
    let before = scans(&server);
    for _ in 0..5 {
        assert_eq!(s.workspaces_with_status(&pending).unwrap(), ["lr", "ws1"]);
    }
    // Registered by its write, a new workspace needs no scan either.
    ws2.doc_upsert(&[doc("doc-2", DocStatus::Pending, "2026-01-01")])
        .unwrap();
    ws1.doc_delete(&["doc-1".into()]).unwrap();
    assert_eq!(s.workspaces_with_status(&pending).unwrap(), ["lr", "ws2"]);
    assert_eq!(
        scans(&server),
        before,
        "the idle listing scanned the keyspace"
    );
}

#[test]
fn legacy_nested_cache_values_are_flattened_once() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let mut c = server.conn();
    let nested = json!({"h1": {"return": "a", "cache_type": "query"}, "h2": {"return": "b"}});
    redis::pipe()
        .set("old_llm_response_cache:default", nested.to_string())
        .set("old_llm_response_cache:other", r#"{"content": "kept"}"#)
        .set("new_llm_response_cache:mix", nested.to_string())
        .set("new_llm_response_cache:mix:query:h0", r#"{"return": "z"}"#)
        .query::<()>(&mut c)
        .unwrap();
    RedisKv::open(&config(&server.uri()), "old").unwrap();
    assert!(server.get("old_llm_response_cache:default").is_none());
    let entry = |key: &str| serde_json::from_str::<Value>(&server.get(key).unwrap()).unwrap();
    assert_eq!(
        entry("old_llm_response_cache:default:query:h1"),
        json!({"return": "a", "cache_type": "query"})
    );
    assert_eq!(
        entry("old_llm_response_cache:default:extract:h2"),
        json!({"return": "b"})
    );
    assert_eq!(
        entry("old_llm_response_cache:other"),
        json!({"content": "kept"})
    );
    // A keyspace already flattened (one three-part key) is left as it is.
    RedisKv::open(&config(&server.uri()), "new").unwrap();
    assert_eq!(entry("new_llm_response_cache:mix"), nested);
    assert!(server.get("new_llm_response_cache:mix:query:h1").is_none());
}
