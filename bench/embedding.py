#!/usr/bin/env python3
"""Local embedding benchmark: throughput and retrieval quality of EMBEDDING_BINDING=local
(all-MiniLM-L6-v2 run in process) beside the builtin hashed n-grams.

The corpus is the licence texts of /usr/share/common-licenses (Apache-2.0, GPL-3,
LGPL-2.1, MPL-2.0, GFDL-1.3, Artistic, CC0-1.0, BSD), cut by the server into chunks of
BENCH_CHUNK_SIZE (default 200) tokens. The labelled set is QUESTIONS below: each asks,
in other words than the licence's, for something one passage says, and names a phrase
of that passage; a question is answered when one of the five chunks naive /query/data
returns (chunk_top_k 5) contains the phrase. For each embedding, `lightrag-master
--workers 2` (release build, builtin LLM) indexes the corpus and answers every
question; printed: chunks indexed per second (ingestion with extraction, the
user-facing rate), vectors re-embedded per second by `lightrag-master reembed` (the
embedding alone, chunks, entities and relations), and recall@5.

The model is taken from BENCH_MODELS_DIR (default target/models) and fetched there with
`lightrag-master fetch-model` when missing. BENCH_SKIP_BUILD=1 uses the binary already
in target/release. Nothing here passes or fails.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BIN, ROOT, api, build_release, free_port, start_master, wait_ok  # noqa: E402

LICENCES = ["Apache-2.0", "GPL-3", "LGPL-2.1", "MPL-2.0", "GFDL-1.3", "Artistic",
            "CC0-1.0", "BSD"]
CHUNK_SIZE = os.environ.get("BENCH_CHUNK_SIZE", "200")
MODELS_DIR = os.environ.get("BENCH_MODELS_DIR", os.path.join(ROOT, "target", "models"))

# (question, a phrase of the passage that answers it)
QUESTIONS = [
    ("What happens to my patent permission if I sue someone claiming the software infringes?",
     "institute patent litigation against any entity"),
    ("Am I allowed to use the project's brand names and logos?",
     "This License does not grant permission to use the trade"),
    ("Is the software provided with any guarantee that it works?",
     "7. Disclaimer of Warranty."),
    ("Can I be held responsible for damages caused by the program?",
     "8. Limitation of Liability."),
    ("Which files must I hand over along with the compiled binary so people can rebuild it?",
     'The "Corresponding Source" for a work in object code form means all'),
    ("How long do I have to fix a violation before my rights are lost for good?",
     "you cure the violation prior to 30 days after"),
    ("Do I need to give owners of consumer devices the keys to install modified versions?",
     '"Installation Information" for a User Product means'),
    ("Does the licence let lawmakers' anti-hacking statutes stop users from breaking DRM?",
     "Protecting Users' Legal Rights From Anti-Circumvention Law"),
    ("May I combine this code with my own proprietary program into a bigger product?",
     '"Larger Work"'),
    ("What must I tell recipients when I ship only the compiled version?",
     "3.2. Distribution of Executable Form"),
    ("Which other licences can this code be relicensed under?",
     '"Secondary License"'),
    ("How should a program that merely links to the library be treated?",
     'is called a "work that uses the Library"'),
    ("Must users be able to replace the library with a newer version and relink?",
     "relink"),
    ("What are the sections of a manual that nobody is allowed to change?",
     'The "Invariant Sections" are certain Secondary Sections'),
    ("What are the short texts printed on the front and back of a book?",
     'The "Cover Texts" are certain short passages of text'),
    ("Can the original author still object to distortions of the work after giving it away?",
     "moral rights retained by the original author"),
    ("What happens if giving up all rights is not legally possible in some country?",
     "Public License Fallback"),
    ("What counts as the unmodified original distribution of the package?",
     '"Standard Version" refers to such a Package'),
    ("Can I charge money for copying the package for someone?",
     "reasonable copying fee"),
    ("Can I use the names of the contributors to advertise my product?",
     "endorse or promote products"),
    ("What may I do when I translate the manual into another language?",
     "Translation is considered a kind of modification"),
    ("What happens to my rights if I breach the terms of the Mozilla licence?",
     "5. Termination"),
]


def normal(text):
    return re.sub(r"\s+", " ", text).strip()


def corpus():
    texts = {}
    for name in LICENCES:
        with open(os.path.join("/usr/share/common-licenses", name), encoding="utf-8") as f:
            texts[f"{name}.txt"] = f.read()
    every = normal(" ".join(texts.values()))
    missing = [phrase for _, phrase in QUESTIONS if normal(phrase) not in every]
    if missing:
        raise SystemExit(f"phrases not in the corpus: {missing}")
    return texts


def ensure_built_and_model():
    build_release()
    if not os.path.isfile(os.path.join(MODELS_DIR, "all-MiniLM-L6-v2", "model.safetensors")):
        subprocess.run([BIN, "fetch-model", "--models-dir", MODELS_DIR], check=True)


def settings(binding):
    env = {"CHUNK_SIZE": CHUNK_SIZE, "CHUNK_OVERLAP_SIZE": "20", "MODELS_DIR": MODELS_DIR,
           "EMBEDDING_BINDING": binding}
    if binding == "builtin":
        env["EMBEDDING_DIM"] = "1024"
    return env


def measure(binding, texts):
    workdir = tempfile.mkdtemp(prefix=f"lrm-bench-embedding-{binding}-")
    port = free_port()
    env = settings(binding)
    master = start_master(port, 2, workdir, env)
    try:
        wait_ok(port, timeout=60)
        started = time.monotonic()
        api(port, "POST", "/documents/texts",
            {"texts": list(texts.values()), "file_sources": list(texts.keys())})
        while True:
            counts = api(port, "GET", "/documents/status_counts")["status_counts"]
            if counts.get("processed", 0) + counts.get("failed", 0) >= len(texts):
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        chunks = 0
        for doc in api(port, "POST", "/documents/paginated",
                       {"page": 1, "page_size": 100})["documents"]:
            chunks += doc.get("chunks_count") or 0
        hits = 0
        for question, phrase in QUESTIONS:
            answer = api(port, "POST", "/query/data",
                         {"query": question, "mode": "naive", "chunk_top_k": 5})
            found = [normal(c["content"]) for c in answer["data"]["chunks"]]
            hits += any(normal(phrase) in c for c in found)
    finally:
        master.terminate()
        master.wait(timeout=30)
    full_env = dict(os.environ, **env)
    started = time.monotonic()
    out = subprocess.run([BIN, "reembed"], cwd=workdir, env=full_env, check=True,
                         capture_output=True, text=True).stdout
    reembed_s = time.monotonic() - started
    vectors = sum(int(n) for n in re.findall(r"(\d+) (?:chunks|entities|relations)", out))
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "chunks": chunks, "ingest_s": elapsed, "recall": hits / len(QUESTIONS),
        "hits": hits, "vectors": vectors, "reembed_s": reembed_s,
    }


def main():
    texts = corpus()
    ensure_built_and_model()
    print(f"corpus: {len(texts)} licence texts, {sum(len(t) for t in texts.values())} bytes, "
          f"CHUNK_SIZE {CHUNK_SIZE}; {len(QUESTIONS)} labelled questions")
    results = {binding: measure(binding, texts) for binding in ("builtin", "local")}
    for binding, r in results.items():
        print(f"{binding:8} chunks: {r['chunks']}, ingestion {r['chunks'] / r['ingest_s']:.1f} "
              f"chunks/s; reembed {r['vectors']} vectors in {r['reembed_s']:.1f} s = "
              f"{r['vectors'] / r['reembed_s']:.1f} vectors/s; recall@5 naive "
              f"{r['recall']:.2f} ({r['hits']}/{len(QUESTIONS)})")


if __name__ == "__main__":
    main()
