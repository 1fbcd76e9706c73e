"""Indexed working directories kept between benchmark runs, so a large corpus (100 000
chunks take about 20 minutes to index with the builtin model) is indexed once.

A cache entry is the `rag_storage` directory of an embedded-store server that indexed
a generated corpus, under BENCH_CORPUS_CACHE (default `<target dir>/bench-corpus`;
`off` disables it) in `<chunks>-<key>`. The key hashes what decides the directory's
contents and whether a binary can read it: the generator's source and parameters, the
server settings, and the storage formats of the source tree (the SQLite schema text
and the vector index files' `VERSION` constants), plus BENCH_CORPUS_KEY if set. It does
not hash the extraction code: delete the entry (or set BENCH_CORPUS_KEY) after changing
what indexing writes.
"""

import fcntl
import glob
import hashlib
import os
import re
import shutil
import time

from run import ROOT, TARGET

CACHE = os.environ.get("BENCH_CORPUS_CACHE") or os.path.join(TARGET, "bench-corpus")
ENABLED = CACHE != "off"
STORAGE = "rag_storage"


def storage_formats():
    """The on-disk formats as the source tree defines them."""
    parts = []
    with open(os.path.join(ROOT, "engine/src/storage/sqlite.rs")) as f:
        schema = re.search(r'const SCHEMA: &str = "(.*?)";', f.read(), re.S)
        parts.append(schema.group(1) if schema else "")
    for path in sorted(glob.glob(os.path.join(ROOT, "engine/src/storage/ann/*.rs"))):
        with open(path) as f:
            parts += [os.path.basename(path)] + re.findall(r"const VERSION: u32 = \d+;", f.read())
    return "\n".join(parts)


def key(generator, settings):
    """The cache key of a corpus made by `generator` (text) for a server with `settings`."""
    h = hashlib.sha256()
    for part in (generator, repr(sorted(settings.items())), storage_formats(),
                 os.environ.get("BENCH_CORPUS_KEY", "")):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def entry(chunks, cache_key):
    return os.path.join(CACHE, f"{chunks}-{cache_key}")


def restore(chunks, cache_key, workdir):
    """Copies the cached storage into `workdir`; whether there was one."""
    source = entry(chunks, cache_key)
    if not ENABLED or not os.path.isdir(source):
        return False
    shutil.copytree(source, os.path.join(workdir, STORAGE))
    return True


def save(chunks, cache_key, workdir):
    """Stores `workdir`'s storage (its server stopped) as the entry, atomically."""
    if not ENABLED:
        return
    os.makedirs(CACHE, exist_ok=True)
    target = entry(chunks, cache_key)
    temporary = f"{target}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    shutil.copytree(os.path.join(workdir, STORAGE), temporary)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(temporary, target)


def wait_index_idle(workdir, timeout=600):
    """Waits until no process holds a vector index builder lock in `workdir` (a
    build publishes after the write that started it has returned); seconds waited."""
    started = time.monotonic()
    locks = os.path.join(workdir, STORAGE, "vector_index", "**", "*.lock")
    while time.monotonic() - started < timeout:
        busy = False
        for path in glob.glob(locks, recursive=True):
            with open(path, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(f, fcntl.LOCK_UN)
                except BlockingIOError:
                    busy = True
        if not busy:
            return time.monotonic() - started
        time.sleep(0.25)
    raise RuntimeError(f"a vector index build still running after {timeout} s")
