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
Every figure is printed with its Redis/embedded ratio. With BENCH_BEFORE_BIN naming an
older build, that build runs too, as "redis-before" on a redis-server of its own, and
every Redis figure is also printed as a ratio to it (after/before). BENCH_BIN picks the
binary measured (default: target/release, built first); BENCH_PARTS (default
"ingestion,pagination") the parts run. Loopback only, bounded counts and durations;
nothing here passes or fails.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest import corpus, ingest  # noqa: E402
from run import ROOT, api, free_port, index, start_master, wait_ok, wrk_posts  # noqa: E402

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
BEFORE_BIN = os.environ.get("BENCH_BEFORE_BIN")
STORES = ["embedded", "redis-before", "redis"] if BEFORE_BIN else ["embedded", "redis"]
REDIS_STORES = [s for s in STORES if s != "embedded"]
PARTS = os.environ.get("BENCH_PARTS", "ingestion,pagination").split(",")


def median(xs):
    return sorted(xs)[len(xs) // 2]


class Redis:
    """A redis-server of our own on a free loopback port, its data in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lrm-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "everysec",
             "--maxmemory-policy", "noeviction", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self.cli("ping") != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server never answered PING")
            time.sleep(0.05)

    @property
    def uri(self):
        return f"redis://127.0.0.1:{self.port}"

    def cli(self, *args):
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                              capture_output=True, text=True)
        return done.stdout.strip()

    def info(self, section):
        fields = {}
        for line in self.cli("info", section).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key] = value
        return fields

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def ratios(store, figure, figures):
    """` ratio redis/embedded`, and after/before when both builds ran."""
    out = f"  ratio {figure / figures['embedded']:.2f}x"
    if store == "redis" and "redis-before" in figures:
        out += f"  after/before {figure / figures['redis-before']:.2f}x"
    return out


def store_env(store, redis):
    if store == "embedded":
        return {}
    return {"LIGHTRAG_KV_STORAGE": "RedisKVStorage",
            "LIGHTRAG_DOC_STATUS_STORAGE": "RedisDocStatusStorage", "REDIS_URI": redis.uri}


class Server:
    """lightrag-master --workers 2 on one store, in a fresh working directory; each Redis
    store has a redis-server of its own (`redis[store]`)."""

    def __init__(self, store, redis):
        if store != "embedded":
            redis[store].cli("flushall")
        self.workdir = tempfile.mkdtemp(prefix=f"lrm-storage-{store}-")
        self.port = free_port()
        binary = BEFORE_BIN if store == "redis-before" else None
        self.master = start_master(self.port, 2, self.workdir,
                                   store_env(store, redis.get(store)), binary=binary)
        wait_ok(self.port, timeout=30)

    def stop(self):
        self.master.send_signal(signal.SIGTERM)
        self.master.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ingestion(redis):
    docs = corpus(INGEST_DOCS, INGEST_DOC_BYTES)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    runs = {store: [] for store in STORES}
    for _ in range(ROUNDS):
        for store in STORES:
            server = Server(store, redis)
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
        figures = {store: median([r[i] for r in runs[store]]) for store in STORES}
        line = "  ".join(f"{store} {figures[store]:8.2f}" for store in STORES)
        print(f"  {unit:>8}: {line}{ratios('redis', figures['redis'], figures)}")


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
    """Commands/s and CPU the idle servers' poll costs each Redis, per command."""
    cpu = {}
    for store in REDIS_STORES:
        redis[store].cli("config", "resetstat")
        cpu[store] = redis[store].cpu_seconds()
    time.sleep(seconds)
    calls, busy = {}, {}
    for store in REDIS_STORES:
        r = redis[store]
        cpu[store] = (r.cpu_seconds() - cpu[store]) / seconds
        calls[store] = 0.0
        busy[store] = 0.0
        print(f"idle {store} Redis over {seconds:.0f} s ({PAGE_DOCS} documents, "
              f"{r.cli('dbsize')} keys, 2 workers polling every 500 ms): "
              f"redis-server CPU {cpu[store] * 100:.1f} %")
        for key, value in sorted(r.info("commandstats").items()):
            if key.startswith("cmdstat_config"):
                continue
            fields = dict(kv.split("=") for kv in value.split(","))
            calls[store] += int(fields["calls"]) / seconds
            busy[store] += int(fields["calls"]) * float(fields["usec_per_call"]) / seconds
            print(f"  {key.removeprefix('cmdstat_'):>12}: {int(fields['calls']) / seconds:8.1f} "
                  f"calls/s, {float(fields['usec_per_call']):8.1f} us/call")
    if "redis-before" in redis:
        print(f"idle poll after/before: redis-server CPU "
              f"{cpu['redis'] / max(cpu['redis-before'], 1e-9):.2f}x, commands/s "
              f"{calls['redis'] / max(calls['redis-before'], 1e-9):.2f}x, time in commands "
              f"{busy['redis']:.0f} vs {busy['redis-before']:.0f} us/s = "
              f"{busy['redis'] / max(busy['redis-before'], 1e-9):.4f}x", flush=True)


def pagination(redis):
    docs = page_corpus()
    servers, counts = {}, {}
    try:
        for store in STORES:
            servers[store] = Server(store, redis)
            started = time.monotonic()
            counts[store] = index(servers[store].port, docs, batch=100, poll=0.5, timeout=120)
            print(f"pagination workspace, {store}: {len(docs)} documents indexed in "
                  f"{time.monotonic() - started:.1f} s ({counts[store]})", flush=True)
        if any(counts[store] != counts["embedded"] for store in STORES):
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
            for store in STORES:
                p50, p99, rps = figures[store]
                print(f"    {store:>12}: p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:8.1f} req/s  "
                      f"non-2xx {errors[store]}")
            for store in REDIS_STORES:
                p50s = {s: figures[s][0] for s in STORES}
                print(f"    {store:>12} p50 ratio:{ratios(store, p50s[store], p50s)}", flush=True)
    finally:
        for server in servers.values():
            server.stop()


def main():
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    if not os.environ.get("BENCH_BIN"):
        subprocess.run(["cargo", "build", "--release", "-p", "lightrag-master"], cwd=ROOT,
                       check=True)
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    print(f"machine: {os.cpu_count()} cores; {version.stdout.split()[2]}", flush=True)
    redis = {store: Redis() for store in REDIS_STORES}
    try:
        if "ingestion" in PARTS:
            ingestion(redis)
        if "pagination" in PARTS:
            pagination(redis)
    finally:
        for r in redis.values():
            r.stop()


if __name__ == "__main__":
    sys.exit(main())
