#!/usr/bin/env python3
"""Query benchmark with the builtin model and embedding.

For each corpus size (BENCH_QUERY_CHUNKS, default "1000,10000,100000" chunks of about
64 tokens, generated here), indexes the corpus into `lightrag-master --workers 2`, then
drives POST /query/data in the naive, local and mix modes with wrk (questions rotate)
and prints p50, p99 and requests/s, each beside the smallest corpus's figure measured in
the same run, so the growth of the cost with corpus size is visible. Loopback only;
nothing here passes or fails.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, api, free_port, index, start_master, wait_ok, wrk_posts  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_QUERY_CHUNKS", "1000,10000,100000").split(",")]
DURATION = os.environ.get("BENCH_DURATION", "5s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "8")
MODES = ["naive", "local", "mix"]
CHUNK_TOKENS = 64
# Text per document, so one document is about 16 chunks.
DOC_SENTENCES = 48

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


def drive(port, mode, rng):
    questions = [
        f"What did {person(rng)} discuss about {rng.choice(TOPICS)} in {rng.choice(PLACES)}?"
        for _ in range(64)
    ]
    bodies = [{"query": q, "mode": mode} for q in questions]
    return wrk_posts(port, "/query/data", bodies, CONNECTIONS, DURATION)


def main():
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "lightrag-master"], cwd=ROOT, check=True)
    results = {}
    for size in SIZES:
        rng = random.Random(size)
        docs = corpus(size, rng)
        workdir = tempfile.mkdtemp(prefix="lrm-query-")
        port = free_port()
        master = start_master(port, 2, workdir, {
            "CHUNK_SIZE": str(CHUNK_TOKENS), "CHUNK_OVERLAP_SIZE": "8",
            "MAX_PARALLEL_INSERT": "4", "ENABLE_LLM_CACHE": "false",
        })
        try:
            wait_ok(port)
            started = time.monotonic()
            status = index(port, docs, batch=50, poll=0.5)
            took = time.monotonic() - started
            # The first search of each kind loads that namespace's vectors into each
            # worker's cache; keep that out of the measurements.
            for mode in MODES:
                for _ in range(8):
                    api(port, "POST", "/query/data", {"query": "warm up the caches", "mode": mode})
            print(f"corpus {size}: {len(docs)} documents indexed in {took:.0f} s "
                  f"({status.get('processed', 0)} processed, {status.get('failed', 0)} failed)",
                  flush=True)
            for mode in MODES:
                results[(size, mode)] = drive(port, mode, rng)
                p50, p99, rps, errors = results[(size, mode)]
                base = results[(SIZES[0], mode)]
                print(f"  {mode:>5}: p50 {p50:7.2f} ms ({p50 / base[0]:5.1f}x)  "
                      f"p99 {p99:7.2f} ms ({p99 / base[1]:5.1f}x)  "
                      f"{rps:8.1f} req/s ({rps / base[2]:5.2f}x)  non-2xx {errors}", flush=True)
        finally:
            master.send_signal(signal.SIGTERM)
            master.wait()
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"(wrk -t2 -c{CONNECTIONS} -d{DURATION}; ratios against the {SIZES[0]}-chunk corpus "
          "of this run)")


if __name__ == "__main__":
    sys.exit(main())
