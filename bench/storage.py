#!/usr/bin/env python3
"""Storage benchmark: the embedded store beside Redis KV and document status.

Starts a throwaway redis-server (loopback, a temp dir, append-only with `noeviction` as
in docker-compose.yml, no RDB snapshots), then, on the same generated corpora, measures
`lightrag-master --workers 2` with the embedded store and with
`RedisKVStorage` + `RedisDocStatusStorage` (vectors and graph embedded in both):
  * ingestion through /documents/texts with the builtin model until every document is
    processed (MB/s, chunks/s), in alternating rounds on a fresh store each, medians;
  * POST /documents/paginated (page_size 50, pages rotating) with wrk on a workspace of
    many small documents, for a few sort orders and status filters, alternating rounds,
    medians of p50, p99 and requests/s;
  * what the idle pipeline poll costs Redis on that workspace (commands/s, CPU).
Every figure is printed with its Redis/embedded ratio. Loopback only, bounded counts and
durations; nothing here passes or fails.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backends import Backends, Server, latencies, median, ratios  # noqa: E402
from ingest import corpus, ingest  # noqa: E402
from run import api, build_release, ensure_wrk, index, wrk_posts  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DURATION = os.environ.get("BENCH_DURATION", "5s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "8")
INGEST_DOCS = int(os.environ.get("BENCH_INGEST_DOCS", "20"))
INGEST_DOC_BYTES = int(os.environ.get("BENCH_DOC_BYTES", str(105 * 1024)))
PAGE_DOCS = int(os.environ.get("BENCH_PAGE_DOCS", "2000"))
# Every tenth document of the pagination workspace repeats an earlier text, so it fails
# as a duplicate and a status filter has two populations to page through.
DUPLICATE_EVERY = 10
PAGE_SIZE = 50
PAGE_QUERIES = [
    ("all, updated_at desc", {"sort_field": "updated_at", "sort_direction": "desc"}, None),
    ("all, created_at asc", {"sort_field": "created_at", "sort_direction": "asc"}, None),
    ("all, file_path asc", {"sort_field": "file_path", "sort_direction": "asc"}, None),
    ("processed, id desc", {"sort_field": "id", "sort_direction": "desc"}, "processed"),
    ("failed, created_at desc", {"sort_field": "created_at", "sort_direction": "desc"}, "failed"),
]
STORES = ["embedded", "redis"]


def ingestion(backends):
    docs = corpus(INGEST_DOCS, INGEST_DOC_BYTES)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    runs = {store: [] for store in STORES}
    for _ in range(ROUNDS):
        for store in STORES:
            server = Server(backends[store])
            try:
                elapsed, counts, chunks = ingest(server.port, docs)
            finally:
                server.stop()
            if counts.get("failed", 0):
                raise RuntimeError(f"{store}: {counts['failed']} documents failed")
            runs[store].append((mb / elapsed, chunks / elapsed))
    print(f"ingestion: {len(docs)} documents, {mb:.2f} MB, {chunks} chunks, "
          f"median of {ROUNDS} alternating rounds")
    for i, unit in enumerate(["MB/s", "chunks/s"]):
        ratios("throughput", {store: median([r[i] for r in runs[store]]) for store in STORES},
               unit)


def page_corpus():
    unique = corpus(PAGE_DOCS - PAGE_DOCS // DUPLICATE_EVERY, 300, seed=7)
    docs, u = [], iter(unique)
    for i in range(PAGE_DOCS):
        docs.append(unique[i // DUPLICATE_EVERY] if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1
                    else next(u))
    return docs


def page_bodies(query, status, counts):
    total = counts.get(status or "all", 0)
    pages = max(1, -(-total // PAGE_SIZE))
    extra = {"status_filter": status} if status else {}
    return [{"page": p, "page_size": PAGE_SIZE, **query, **extra} for p in range(1, pages + 1)]


def idle_poll_cost(redis, seconds=5.0):
    """Commands/s and CPU the idle servers' poll costs Redis, per command."""
    redis.cli("config", "resetstat")
    cpu = redis.cpu_seconds()
    time.sleep(seconds)
    cpu = redis.cpu_seconds() - cpu
    stats = redis.info("commandstats")
    print(f"idle Redis over {seconds:.0f} s ({PAGE_DOCS} documents, {redis.cli('dbsize')} keys, "
          f"2 workers polling every 500 ms): redis-server CPU {cpu / seconds * 100:.1f} %")
    for key, value in sorted(stats.items()):
        if key.startswith("cmdstat_config"):
            continue
        fields = dict(kv.split("=") for kv in value.split(","))
        print(f"  {key.removeprefix('cmdstat_'):>12}: {int(fields['calls']) / seconds:8.1f} calls/s, "
              f"{float(fields['usec_per_call']):8.1f} us/call")


def pagination(backends):
    redis = backends["redis"]
    docs = page_corpus()
    servers, counts = {}, {}
    try:
        for store in STORES:
            # The Redis server flushes first, so it starts after the embedded one is built.
            servers[store] = Server(backends[store])
            started = time.monotonic()
            counts[store] = index(servers[store].port, docs, batch=100, poll=0.5, timeout=120)
            print(f"pagination workspace, {store}: {len(docs)} documents indexed in "
                  f"{time.monotonic() - started:.1f} s ({counts[store]})", flush=True)
        if counts["embedded"] != counts["redis"]:
            raise RuntimeError(f"the stores disagree: {counts}")
        idle_poll_cost(redis)
        print(f"POST /documents/paginated, page_size {PAGE_SIZE}, pages rotating; wrk -t2 "
              f"-c{CONNECTIONS} -d{DURATION}, median of {ROUNDS} alternating rounds")
        for name, query, status in PAGE_QUERIES:
            bodies = page_bodies(query, status, counts["embedded"])
            for store in STORES:
                first = api(servers[store].port, "POST", "/documents/paginated", bodies[0])
                if len(first["documents"]) != min(PAGE_SIZE, first["pagination"]["total_count"]):
                    raise RuntimeError(f"{store}: short first page for {name}")
            runs = {store: [] for store in STORES}
            for _ in range(ROUNDS):
                for store in STORES:
                    runs[store].append(wrk_posts(servers[store].port, "/documents/paginated",
                                                 bodies, CONNECTIONS, DURATION))
            figures = {store: [median([r[i] for r in runs[store]]) for i in range(3)]
                       for store in STORES}
            errors = {store: sum(r[3] for r in runs[store]) for store in STORES}
            print(f"  {name} ({len(bodies)} pages):", flush=True)
            latencies(figures, errors)
    finally:
        for server in servers.values():
            server.stop()


def main():
    ensure_wrk()
    build_release()
    backends = Backends(STORES)
    try:
        print(f"machine: {os.cpu_count()} cores; {backends.describe()}", flush=True)
        ingestion(backends)
        pagination(backends)
    finally:
        backends.stop()


if __name__ == "__main__":
    sys.exit(main())
