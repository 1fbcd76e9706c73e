#!/usr/bin/env python3
"""Ingestion benchmark with the builtin model and embedding.

Generates a deterministic corpus (>= 5 MB of English-like text full of names, places
and organisations), posts it to `lightrag-master --workers 2` through
/documents/texts, waits until every document is processed, and prints chunks/s, MB/s
and the peak RSS (VmHWM) of each worker, for each store of BENCH_STORES (default the
embedded store and a throwaway PostgreSQL with every role in it, see backends.py),
alternating over BENCH_ROUNDS rounds (default 1) on a fresh store each, with the
PostgreSQL/embedded ratio. Loopback only; nothing here passes or fails.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backends import Backends, Server, median, ratios  # noqa: E402
from run import api, build_release, children, index  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "50"))
DOC_BYTES = int(os.environ.get("BENCH_DOC_BYTES", str(105 * 1024)))
STORES = os.environ.get("BENCH_STORES", "embedded,postgres").split(",")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))

PEOPLE = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Claude Shannon", "Marie Curie",
          "Niels Bohr", "Emmy Noether", "John von Neumann", "Barbara Liskov", "Donald Knuth"]
PLACES = ["London", "Princeton", "Paris", "Copenhagen", "Cambridge", "Zurich", "Boston"]
ORGS = ["Bell Labs", "IBM", "NASA", "CERN", "MIT", "Harvard University", "Xerox PARC"]
VERBS = ["worked with", "met", "wrote to", "collaborated with", "debated", "visited"]
TOPICS = ["computing", "information theory", "radioactivity", "compilers", "algebra",
          "quantum mechanics", "algorithms", "programming languages"]


def corpus(count=DOCS, doc_bytes=DOC_BYTES, seed=42):
    """`count` deterministic documents of at least `doc_bytes` bytes each."""
    rng = random.Random(seed)
    docs = []
    for d in range(count):
        parts, size = [], 0
        while size < doc_bytes:
            s = (f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} {rng.choice(PEOPLE)} at "
                 f"{rng.choice(ORGS)} in {rng.choice(PLACES)} about {rng.choice(TOPICS)}. ")
            parts.append(s)
            size += len(s)
        docs.append("".join(parts))
    return docs


def chunk_total(port):
    """Chunks of every document, summed from /documents/paginated."""
    chunks, page = 0, 1
    while True:
        body = api(port, "POST", "/documents/paginated", {"page": page, "page_size": 200}, 60)
        chunks += sum(d["chunks_count"] or 0 for d in body["documents"])
        if not body["pagination"]["has_next"]:
            return chunks
        page += 1


def ingest(port, docs, batch=10):
    """Posts `docs` and waits until each is processed or failed; (seconds, counts, chunks)."""
    started = time.monotonic()
    counts = index(port, docs, batch=batch, poll=0.2, timeout=60)
    elapsed = time.monotonic() - started
    return elapsed, counts, chunk_total(port)


def peak_rss_mib(master):
    peaks = []
    for pid in children(master.pid):
        with open(f"/proc/{pid}/status") as f:
            hwm = next(line for line in f if line.startswith("VmHWM:"))
        peaks.append(int(hwm.split()[1]) / 1024)
    return peaks


def main():
    build_release()
    docs = corpus()
    mb = sum(len(d.encode()) for d in docs) / 1e6
    backends = Backends(STORES)
    runs = {store: [] for store in STORES}
    try:
        print(f"machine: {os.cpu_count()} cores; {backends.describe()}", flush=True)
        for _ in range(ROUNDS):
            for store in STORES:
                server = Server(backends[store])
                try:
                    elapsed, counts, chunks = ingest(server.port, docs)
                    peaks = peak_rss_mib(server.master)
                finally:
                    server.stop()
                if counts.get("failed", 0):
                    raise RuntimeError(f"{store}: {counts['failed']} documents failed")
                runs[store].append((mb / elapsed, chunks / elapsed))
                print(f"{store}: {counts.get('processed', 0)} processed in {elapsed:.1f} s, "
                      f"{mb / elapsed:.2f} MB/s, {chunks / elapsed:.1f} chunks/s, worker peak "
                      "RSS (VmHWM) " + ", ".join(f"{p:.1f}" for p in peaks) + " MiB", flush=True)
    finally:
        backends.stop()
    print(f"corpus: {len(docs)} documents, {mb:.2f} MB, {chunks} chunks "
          f"(CHUNK_SIZE 1200, overlap 100); median of {ROUNDS} alternating round(s)")
    for i, unit in enumerate(["MB/s", "chunks/s"]):
        ratios("ingestion", {store: median([r[i] for r in runs[store]]) for store in STORES},
               unit)


if __name__ == "__main__":
    sys.exit(main())
