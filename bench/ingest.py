#!/usr/bin/env python3
"""Ingestion benchmark with the builtin model and embedding.

Generates a deterministic corpus (>= 5 MB of English-like text full of names, places
and organisations), posts it to `lightrag-master --workers 2` through
/documents/texts, waits until every document is processed, and prints chunks/s, MB/s
and the peak RSS (VmHWM) of each worker. Loopback only; nothing here passes or fails.
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
from run import ROOT, api, children, free_port, index, start_master, wait_ok  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "50"))
DOC_BYTES = int(os.environ.get("BENCH_DOC_BYTES", str(105 * 1024)))

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


def main():
    subprocess.run(["cargo", "build", "--release", "-p", "lightrag-master"], cwd=ROOT, check=True)
    docs = corpus()
    total_bytes = sum(len(d.encode()) for d in docs)
    workdir = tempfile.mkdtemp(prefix="lrm-ingest-")
    port = free_port()
    master = start_master(port, 2, workdir)
    try:
        wait_ok(port)
        elapsed, counts, chunks = ingest(port, docs)
        peaks = []
        for pid in children(master.pid):
            with open(f"/proc/{pid}/status") as f:
                hwm = next(line for line in f if line.startswith("VmHWM:"))
            peaks.append(int(hwm.split()[1]) / 1024)
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"corpus: {len(docs)} documents, {total_bytes / 1e6:.2f} MB, {chunks} chunks "
          f"(CHUNK_SIZE 1200, overlap 100)")
    print(f"processed: {counts.get('processed', 0)}, failed: {counts.get('failed', 0)} in {elapsed:.1f} s")
    print(f"throughput: {chunks / elapsed:.1f} chunks/s, {total_bytes / 1e6 / elapsed:.2f} MB/s")
    for i, peak in enumerate(peaks):
        print(f"worker {i} peak RSS (VmHWM): {peak:.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
