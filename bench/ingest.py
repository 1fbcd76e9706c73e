#!/usr/bin/env python3
"""Ingestion benchmark: `lightrag-master --workers 2` indexing through /documents/texts
until every document is processed. Two rows (BENCH_INGEST_ROWS, default both):

builtin   a deterministic corpus (>= 5 MB of English-like text full of names, places
          and organisations) with the builtin model and embedding, for each store of
          BENCH_STORES (default the embedded store and a throwaway PostgreSQL with every
          role in it, see backends.py), alternating over BENCH_ROUNDS rounds (default 1)
          on a fresh store each: chunks/s, MB/s, the cores the workers kept busy (CPU
          seconds / wall seconds), each worker's peak RSS (VmHWM), and the
          PostgreSQL/embedded ratio. Here the machine is the limit.

scripted  the licence texts of /usr/share/common-licenses (the 14 distinct ones, each
          cut in two at the paragraph nearest its middle: 28 documents) on the embedded
          store with the scripted OpenAI-compatible provider of bench/scripted_provider.py,
          which answers after a fixed latency per call (BENCH_CHAT_LATENCY_MS, default
          100; BENCH_EMBED_LATENCY_MS, default 20) and counts the calls. Here the model
          is the limit: with MAX_ASYNC chat calls and EMBEDDING_FUNC_MAX_ASYNC embedding
          calls in flight at once, no schedule finishes sooner than

              bound = chat calls x chat latency / MAX_ASYNC
                    + embedding calls x embedding latency / EMBEDDING_FUNC_MAX_ASYNC

          (the two kinds could overlap, so a schedule that overlaps them perfectly
          could beat it by the smaller term). Printed: the calls, the bound, the
          measured time and bound / measured (1.0 is the model's pace).

BENCH_SKIP_BUILD=1 skips `cargo build --release`; BENCH_BIN names the binary to run.
Loopback only; nothing here passes or fails.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backends import Backends, Server, median, ratios  # noqa: E402
from run import api, build_release, children, cpu_seconds, index  # noqa: E402
from scripted_provider import ScriptedProvider  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "50"))
DOC_BYTES = int(os.environ.get("BENCH_DOC_BYTES", str(105 * 1024)))
STORES = os.environ.get("BENCH_STORES", "embedded,postgres").split(",")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
ROWS = os.environ.get("BENCH_INGEST_ROWS", "builtin,scripted").split(",")
CHAT_LATENCY = float(os.environ.get("BENCH_CHAT_LATENCY_MS", "100")) / 1000
EMBED_LATENCY = float(os.environ.get("BENCH_EMBED_LATENCY_MS", "20")) / 1000
MAX_ASYNC = int(os.environ.get("BENCH_MAX_ASYNC", "4"))
EMBED_MAX_ASYNC = int(os.environ.get("BENCH_EMBED_MAX_ASYNC", "8"))
LICENCES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.2", "GFDL-1.3", "GPL-1",
            "GPL-2", "GPL-3", "LGPL-2", "LGPL-2.1", "LGPL-3", "MPL-1.1", "MPL-2.0"]

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


def licence_halves():
    """(file name, text): each licence cut at the paragraph break nearest its middle."""
    docs = []
    for name in LICENCES:
        with open(os.path.join("/usr/share/common-licenses", name), encoding="utf-8") as f:
            text = f.read()
        breaks = [i for i in range(len(text)) if text.startswith("\n\n", i)] or [len(text) // 2]
        cut = min(breaks, key=lambda i: abs(i - len(text) // 2))
        docs += [(f"{name}-1.txt", text[:cut]), (f"{name}-2.txt", text[cut:])]
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


def builtin_row(backends):
    docs = corpus()
    mb = sum(len(d.encode()) for d in docs) / 1e6
    runs = {store: [] for store in STORES}
    for _ in range(ROUNDS):
        for store in STORES:
            server = Server(backends[store])
            try:
                workers = children(server.master.pid)
                cpu = cpu_seconds(workers)
                elapsed, counts, chunks = ingest(server.port, docs)
                busy = (cpu_seconds(workers) - cpu) / elapsed
                peaks = peak_rss_mib(server.master)
            finally:
                server.stop()
            if counts.get("failed", 0):
                raise RuntimeError(f"{store}: {counts['failed']} documents failed")
            runs[store].append((mb / elapsed, chunks / elapsed))
            print(f"{store}: {counts.get('processed', 0)} processed in {elapsed:.1f} s, "
                  f"{mb / elapsed:.2f} MB/s, {chunks / elapsed:.1f} chunks/s, {busy:.2f} cores "
                  "busy (workers' CPU s / wall s), worker peak RSS (VmHWM) "
                  + ", ".join(f"{p:.1f}" for p in peaks) + " MiB", flush=True)
    print(f"corpus: {len(docs)} documents, {mb:.2f} MB, {chunks} chunks "
          f"(CHUNK_SIZE 1200, overlap 100); median of {ROUNDS} alternating round(s)")
    for i, unit in enumerate(["MB/s", "chunks/s"]):
        ratios("ingestion", {store: median([r[i] for r in runs[store]]) for store in STORES},
               unit)


def scripted_row(backends):
    docs = licence_halves()
    dim = 64
    provider = ScriptedProvider(CHAT_LATENCY, EMBED_LATENCY, dim)
    env = {
        **provider.server_env(),
        "MAX_ASYNC": str(MAX_ASYNC), "EMBEDDING_FUNC_MAX_ASYNC": str(EMBED_MAX_ASYNC),
    }

    def run(port, workers):
        cpu = cpu_seconds(workers)
        started = time.monotonic()
        api(port, "POST", "/documents/texts",
            {"texts": [t for _, t in docs], "file_sources": [n for n, _ in docs]})
        while True:
            counts = api(port, "GET", "/documents/status_counts")["status_counts"]
            if counts.get("processed", 0) + counts.get("failed", 0) >= len(docs):
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        busy = (cpu_seconds(workers) - cpu) / elapsed
        return elapsed, counts, chunk_total(port), busy

    try:
        server = Server(backends["embedded"], env)
        try:
            provider.reset()
            elapsed, counts, chunks, busy = run(server.port, children(server.master.pid))
        finally:
            server.stop()
    finally:
        provider.stop()
    chat, embed = provider.calls["chat"], provider.calls["embed"]
    bound = chat * CHAT_LATENCY / MAX_ASYNC + embed * EMBED_LATENCY / EMBED_MAX_ASYNC
    total_bytes = sum(len(t.encode()) for _, t in docs)
    print(f"scripted: {len(docs)} licence texts, {total_bytes / 1e3:.0f} KB, {chunks} chunks; "
          f"chat {CHAT_LATENCY * 1000:.0f} ms/call, embedding {EMBED_LATENCY * 1000:.0f} ms/call, "
          f"MAX_ASYNC {MAX_ASYNC}, EMBEDDING_FUNC_MAX_ASYNC {EMBED_MAX_ASYNC}")
    print(f"  processed: {counts.get('processed', 0)}, failed: {counts.get('failed', 0)}")
    print(f"  calls: {chat} chat, {embed} embedding ({provider.texts['embed']} texts); "
          f"most in flight: {provider.peak['chat']} chat, {provider.peak['embed']} embedding")
    print(f"  bound: {chat} x {CHAT_LATENCY:.3f} s / {MAX_ASYNC} + {embed} x {EMBED_LATENCY:.3f} s "
          f"/ {EMBED_MAX_ASYNC} = {bound:.2f} s")
    print(f"  measured: {elapsed:.2f} s, bound / measured = {bound / elapsed:.2f}; "
          f"{busy:.2f} cores busy")


def main():
    build_release()
    backends = Backends(STORES if "builtin" in ROWS else ["embedded"])
    try:
        print(f"machine: {os.cpu_count()} cores; {backends.describe()}", flush=True)
        for row in ROWS:
            {"builtin": builtin_row, "scripted": scripted_row}[row.strip()](backends)
    finally:
        backends.stop()


if __name__ == "__main__":
    sys.exit(main())
