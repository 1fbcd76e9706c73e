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

On the embedded store the indexed working directory is kept between runs
(corpus_cache.py: BENCH_CORPUS_CACHE, default <target>/bench-corpus, `off` to index
every time), the server is restarted on it before the queries (so the peak RSS is the
queries', and the index is the one persisted), and `lightrag-master vector-recall`
prints the recall of the HNSW index against exact search at top-k 40 for the same
questions.

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


def embedded_server(size, docs):
    """A server on the embedded store holding `docs` indexed: from the corpus cache, or
    indexed now (then cached) and restarted on its persisted index."""
    cache_key = corpus_cache.key(generator_source(), SERVER_ENV)
    workdir = tempfile.mkdtemp(prefix="lrm-bench-server-")
    if corpus_cache.restore(size, cache_key, workdir):
        print(f"    indexed corpus reused from {corpus_cache.entry(size, cache_key)}", flush=True)
        return Server(None, SERVER_ENV, workdir=workdir)
    server = Server(None, SERVER_ENV, workdir=workdir)
    try:
        started = time.monotonic()
        status = index(server.port, docs, batch=50, poll=0.5)
        took = time.monotonic() - started
        # Queries also start a build the last writes left pending; then wait for it.
        warm_up(server.port)
        settled = corpus_cache.wait_index_idle(workdir)
        print(f"    indexed in {took:.0f} s ({status.get('processed', 0)} processed, "
              f"{status.get('failed', 0)} failed), index settled {settled:.1f} s later",
              flush=True)
    finally:
        server.stop(keep=True)
    corpus_cache.save(size, cache_key, workdir)
    return Server(None, SERVER_ENV, workdir=workdir)


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
    """Indexes `docs` on a fresh server on `backend`; {mode: (p50, p99, req/s, non-2xx)}."""
    asked = questions(rng)
    if backend is None:
        server = embedded_server(size, docs)
    else:
        server = Server(backend, SERVER_ENV)
        started = time.monotonic()
        status = index(server.port, docs, batch=50, poll=0.5)
        print(f"    indexed in {time.monotonic() - started:.0f} s ({status.get('processed', 0)} "
              f"processed, {status.get('failed', 0)} failed)", flush=True)
    try:
        warm_up(server.port)
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
                results[(size, store)] = measure(backends[store], size, docs, random.Random(-size))
                for mode, (p50, p99, rps, errors) in results[(size, store)].items():
                    base = results[(SIZES[0], store)][mode]
                    print(f"    {mode:>5}: p50 {p50:7.2f} ms ({p50 / base[0]:5.1f}x)  "
                          f"p99 {p99:7.2f} ms ({p99 / base[1]:5.1f}x)  "
                          f"{rps:8.1f} req/s ({rps / base[2]:5.2f}x)  non-2xx {errors}", flush=True)
            for mode in SIZE_MODES if len(STORES) > 1 else []:
                print(f"  {mode:>5}:", end="")
                latency_ratios({store: results[(size, store)][mode][:3] for store in STORES},
                               indent=" ")
    finally:
        backends.stop()
    print(f"(wrk -t2 -c{CONNECTIONS} -d{DURATION}; growth against the {SIZES[0]}-chunk corpus "
          "on the same store, in this run)")
    if SCRIPTED:
        scripted_rows()


if __name__ == "__main__":
    sys.exit(main())
