#!/usr/bin/env python3
"""Query benchmark with the builtin model and embedding.

For each corpus size (BENCH_QUERY_CHUNKS, default "1000,10000,100000" chunks of about
64 tokens, generated here) and each store of BENCH_STORES (default the embedded store
and a throwaway PostgreSQL with every role in it, see backends.py), indexes the corpus
into `lightrag-master --workers 2`, then drives POST /query/data in the naive, local,
global, hybrid and mix modes (BENCH_QUERY_MODES) with wrk (questions rotate) and prints
p50, p99 and requests/s, each beside the smallest corpus's figure on the same store in
the same run (the growth of the cost with corpus size), each worker's peak RSS, then the
PostgreSQL/embedded ratios.

The indexed store is kept between runs (corpus_cache.py: the embedded working directory,
or PostgreSQL's data directory; BENCH_CORPUS_CACHE, default <target>/bench-corpus, `off`
to index every time), and the server is restarted on it before the queries (so the peak
RSS is the queries', and the store is the one persisted). BENCH_QUERY_PHASE=index only
fills the cache, =measure only measures what it holds (default `all`: both), so the
long indexing can run apart from the measurement. On the embedded store
`lightrag-master vector-recall` prints the recall of the HNSW index against exact search
at top-k 40 for the same questions.

Then (unless BENCH_QUERY_SCRIPTED=0) the repeated-question row: a small corpus
(BENCH_SCRIPTED_CHUNKS, default 320 chunks) indexed on the embedded store with the
scripted provider (scripted_provider.py: 100 ms per chat call, 20 ms per embedding call)
and ENABLE_LLM_CACHE on, then one question asked over and over by BENCH_CONNECTIONS
clients in the naive, local and mix modes. Each mode's p50 is printed beside the model
time such a query truly needs (one embedding call: the keywords of a repeated question
come from the LLM cache, as in LightRAG) and the model calls it was measured to make.
BENCH_QUERY_ONLY_SCRIPTED=1 runs that row alone. Loopback only; nothing here passes or fails.
"""

import inspect
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backends import Backends, Server, latency_ratios  # noqa: E402
from run import BIN, api, build_release, children, ensure_wrk, index, memory_kib, wrk_posts  # noqa: E402
import corpus_cache  # noqa: E402
from ingest import peak_rss_mib  # noqa: E402
from scripted_provider import ScriptedProvider  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_QUERY_CHUNKS", "1000,10000,100000").split(",")]
STORES = os.environ.get("BENCH_STORES", "embedded,postgres").split(",")
CHUNK_TOKENS = 64
SERVER_ENV = {"CHUNK_SIZE": str(CHUNK_TOKENS), "CHUNK_OVERLAP_SIZE": "8",
              "MAX_PARALLEL_INSERT": "4", "ENABLE_LLM_CACHE": "false"}
DURATION = os.environ.get("BENCH_DURATION", "5s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "8")
MODES = ["naive", "local", "mix"]
# The modes measured at each corpus size.
SIZE_MODES = os.environ.get("BENCH_QUERY_MODES", "naive,local,global,hybrid,mix").split(",")
RECALL_TOP_K = 40
# Text per document, so one document is about 16 chunks.
DOC_SENTENCES = 48
SCRIPTED = os.environ.get("BENCH_QUERY_SCRIPTED", "1") != "0"
# all: index what the corpus cache lacks, then measure; index: only fill the cache;
# measure: only measure corpora the cache holds.
PHASE = os.environ.get("BENCH_QUERY_PHASE", "all")
SCRIPTED_CHUNKS = int(os.environ.get("BENCH_SCRIPTED_CHUNKS", "320"))
CHAT_LATENCY = 0.100
EMBED_LATENCY = 0.020
QUESTION = "What did Ada Lovelace discuss about computing in London?"

FIRST = ["Ada", "Alan", "Grace", "Claude", "Marie", "Niels", "Emmy", "John", "Barbara",
         "Donald", "Edsger", "Frances", "Tim", "Linus", "Margaret", "Dennis"]
LAST = ["Lovelace", "Turing", "Hopper", "Shannon", "Curie", "Bohr", "Noether", "Neumann",
        "Liskov", "Knuth", "Dijkstra", "Allen", "Lee", "Torvalds", "Hamilton", "Ritchie"]
PLACES = ["London", "Princeton", "Paris", "Copenhagen", "Cambridge", "Zurich", "Boston",
          "Berlin", "Vienna", "Geneva", "Helsinki", "Tokyo"]
TOPICS = ["computing", "information theory", "radioactivity", "compilers", "algebra",
          "quantum mechanics", "algorithms", "programming languages", "operating systems",
          "cryptography", "networks", "databases"]
VERBS = ["worked with", "met", "wrote to", "collaborated with", "debated", "visited"]


def person(rng):
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def corpus(chunks, rng):
    docs = max(1, chunks // 16)
    out = []
    for d in range(docs):
        sentences = [
            f"{person(rng)} {rng.choice(VERBS)} {person(rng)} in {rng.choice(PLACES)} "
            f"about {rng.choice(TOPICS)} (note {d}-{s})."
            for s in range(DOC_SENTENCES)
        ]
        out.append(" ".join(sentences))
    return out


def questions(rng):
    return [
        f"What did {person(rng)} discuss about {rng.choice(TOPICS)} in {rng.choice(PLACES)}?"
        for _ in range(64)
    ]


def drive(port, mode, asked):
    bodies = [{"query": q, "mode": mode} for q in asked]
    return wrk_posts(port, "/query/data", bodies, CONNECTIONS, DURATION)


def warm_up(port):
    """The first search of each kind loads what it needs (the embedded store's index
    and delta into each worker, PostgreSQL's pages into its buffers); keep that out of
    the measurements."""
    for mode in SIZE_MODES:
        for _ in range(8):
            api(port, "POST", "/query/data", {"query": "warm up the caches", "mode": mode})


def generator_source():
    """What decides the generated corpus, for the cache key."""
    return "".join(inspect.getsource(f) for f in (person, corpus)) + repr(
        (FIRST, LAST, PLACES, TOPICS, VERBS, DOC_SENTENCES, CHUNK_TOKENS))


def cache_key(backend):
    settings = dict(SERVER_ENV)
    if backend is not None:
        settings.update(backend.settings())
    return corpus_cache.key(generator_source(), settings, postgres=backend is not None)


def indexed_server(backend, size, docs):
    """A server holding `docs` indexed on `backend` (None: the embedded store): from the
    corpus cache, or indexed now (then cached) and restarted on the persisted store.
    None in the `index` phase (nothing is measured) and for a corpus left uncached."""
    key = cache_key(backend)
    if PHASE == "index" and corpus_cache.cached(size, key, backend):
        print(f"    cached already: {corpus_cache.entry(size, key, backend)}", flush=True)
        return None
    workdir = tempfile.mkdtemp(prefix="lrm-bench-server-")
    started = time.monotonic()
    if PHASE != "index" and corpus_cache.restore(size, key, workdir, backend):
        print(f"    indexed corpus reused from {corpus_cache.entry(size, key, backend)} "
              f"(copied in {time.monotonic() - started:.0f} s)", flush=True)
        return Server(backend, SERVER_ENV, workdir=workdir, reset=False)
    if PHASE == "measure":
        os.rmdir(workdir)
        print(f"    not cached ({corpus_cache.entry(size, key, backend)}): run "
              "BENCH_QUERY_PHASE=index first", flush=True)
        return None
    server = Server(backend, SERVER_ENV, workdir=workdir)
    try:
        started = time.monotonic()
        status = index(server.port, docs, batch=50, poll=0.5)
        took = time.monotonic() - started
        settled = ""
        if backend is None:
            # A process's first searches also resume a build left unfinished; wait for it.
            warm_up(server.port)
            settled = f", index settled {corpus_cache.wait_index_idle(workdir):.1f} s later"
        print(f"    indexed in {took:.0f} s ({status.get('processed', 0)} processed, "
              f"{status.get('failed', 0)} failed){settled}", flush=True)
    finally:
        server.stop(keep=True)
    corpus_cache.save(size, key, workdir, backend)
    if PHASE == "index":
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    return Server(backend, SERVER_ENV, workdir=workdir, reset=False)


def recall(workdir, asked):
    """`lightrag-master vector-recall` on the server's store for the questions asked."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(asked))
    env = dict(os.environ)
    env.update(SERVER_ENV)
    try:
        done = subprocess.run([BIN, "vector-recall", "--top-k", str(RECALL_TOP_K),
                               "--questions", f.name], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        print(f"    recall: not measured ({done.stderr.strip()[-200:]})", flush=True)
        return
    for line in done.stdout.splitlines():
        print(f"    {line}", flush=True)


def measure(backend, size, docs, rng):
    """`docs` indexed on `backend` (see indexed_server); {mode: (p50, p99, req/s,
    non-2xx)}, or None when nothing was measured."""
    asked = questions(rng)
    server = indexed_server(backend, size, docs)
    if server is None:
        return None
    try:
        warm_up(server.port)
        if backend is None:
            # A build the cached store was left with resumes at the first searches:
            # it finishes now, not during the measurement.
            corpus_cache.wait_index_idle(server.workdir)
        figures = {mode: drive(server.port, mode, asked) for mode in SIZE_MODES}
        workers = children(server.master.pid)
        print("    worker peak RSS (VmHWM) "
              + ", ".join(f"{p:.1f}" for p in peak_rss_mib(server.master)) + " MiB; PSS now "
              + ", ".join(f"{memory_kib(w)[1] / 1024:.1f}" for w in workers) + " MiB", flush=True)
        if backend is None:
            recall(server.workdir, asked)
        return figures
    finally:
        server.stop()


def wrk_seconds():
    return float(DURATION.rstrip("s"))


def scripted_rows():
    """The same question repeated, with a provider that takes a fixed time per call."""
    dim = 64
    provider = ScriptedProvider(CHAT_LATENCY, EMBED_LATENCY, dim)
    env = {
        **provider.server_env(),
        "CHUNK_SIZE": str(CHUNK_TOKENS), "CHUNK_OVERLAP_SIZE": "8", "MAX_ASYNC": "16",
        "MAX_PARALLEL_INSERT": "4", "ENABLE_LLM_CACHE": "true",
    }
    docs = corpus(SCRIPTED_CHUNKS, random.Random(SCRIPTED_CHUNKS))
    try:
        server = Server(None, env)
        try:
            status = index(server.port, docs, batch=50, poll=0.5, timeout=300)
            print(f"scripted provider ({CHAT_LATENCY * 1000:.0f} ms per chat call, "
                  f"{EMBED_LATENCY * 1000:.0f} ms per embedding call), {len(docs)} documents "
                  f"({status.get('processed', 0)} processed), the same question from "
                  f"{CONNECTIONS} clients:", flush=True)
            for mode in MODES:
                body = {"query": QUESTION, "mode": mode}
                # The first time: keywords from the model, then from the cache.
                api(server.port, "POST", "/query/data", body)
                provider.reset()
                p50, p99, rps, errors = wrk_posts(server.port, "/query/data", [body],
                                                  CONNECTIONS, DURATION)
                requests = max(1.0, rps * wrk_seconds())
                chat = provider.calls["chat"] / requests
                embed = provider.calls["embed"] / requests
                needed = EMBED_LATENCY * 1000
                print(f"    {mode:>5}: p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:7.1f} req/s  "
                      f"non-2xx {errors}; needs {needed:.0f} ms (one embedding), "
                      f"p50 - needed = {p50 - needed:6.2f} ms; calls per query: "
                      f"{chat:.2f} chat, {embed:.2f} embedding", flush=True)
        finally:
            server.stop()
    finally:
        provider.stop()


def main():
    if PHASE not in ("all", "index", "measure"):
        raise SystemExit(f"BENCH_QUERY_PHASE is all, index or measure, not {PHASE!r}")
    if PHASE != "all" and not corpus_cache.ENABLED:
        raise SystemExit("BENCH_QUERY_PHASE=index or measure needs the corpus cache")
    ensure_wrk()
    build_release()
    if os.environ.get("BENCH_QUERY_ONLY_SCRIPTED") == "1":
        scripted_rows()
        return
    backends = Backends(STORES)
    results = {}
    try:
        print(f"machine: {os.cpu_count()} cores; {backends.describe()}", flush=True)
        for size in SIZES:
            docs = corpus(size, random.Random(size))
            print(f"corpus {size}: {len(docs)} documents", flush=True)
            for store in STORES:
                print(f"  {store}:", flush=True)
                # The same questions on every store.
                figures = measure(backends[store], size, docs, random.Random(-size))
                if figures is None:
                    continue
                results[(size, store)] = figures
                for mode, (p50, p99, rps, errors) in figures.items():
                    base = results.get((SIZES[0], store), figures)[mode]
                    print(f"    {mode:>5}: p50 {p50:7.2f} ms ({p50 / base[0]:5.1f}x)  "
                          f"p99 {p99:7.2f} ms ({p99 / base[1]:5.1f}x)  "
                          f"{rps:8.1f} req/s ({rps / base[2]:5.2f}x)  non-2xx {errors}", flush=True)
            measured = [store for store in STORES if (size, store) in results]
            for mode in SIZE_MODES if len(measured) > 1 else []:
                print(f"  {mode:>5}:", end="")
                latency_ratios({store: results[(size, store)][mode][:3] for store in measured},
                               indent=" ")
    finally:
        backends.stop()
    if PHASE == "index":
        return
    print(f"(wrk -t2 -c{CONNECTIONS} -d{DURATION}; growth against the {SIZES[0]}-chunk corpus "
          "on the same store, in this run)")
    if SCRIPTED:
        scripted_rows()


if __name__ == "__main__":
    sys.exit(main())
