"""Indexed stores kept between benchmark runs, so a large corpus (100 000 chunks take
about 20 minutes to index with the builtin model on the embedded store, longer on
PostgreSQL) is indexed once.

Entries live under BENCH_CORPUS_CACHE (default `<target dir>/bench-corpus`; `off`
disables it). An embedded-store entry, `<chunks>-<key>`, is the `rag_storage` directory
of a server that indexed a generated corpus. A PostgreSQL entry, `<chunks>-postgres-<key>`,
holds the data directory of the stopped throwaway cluster (`pgdata`: copying it back
is a file copy, where a dump would rebuild every HNSW index on restore) and the
server's `rag_storage` when the roles left embedded wrote one. The key hashes what
decides the contents and whether a binary can read them: the generator's source and
parameters, the server settings (for PostgreSQL also its version, roles and options),
and the storage formats of the source tree (the SQLite schema text, the vector index
files' `VERSION` constants and, for PostgreSQL, the DDL sources `schema.rs` and
`vector_tables.rs`), plus BENCH_CORPUS_KEY if set. It does not hash the extraction
code: delete the entry (or set BENCH_CORPUS_KEY) after changing what indexing writes.
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
PGDATA = "pgdata"
POSTGRES_DDL = ("engine/src/storage/postgres/schema.rs",
                "engine/src/storage/postgres/vector_tables.rs")


def storage_formats(postgres=False):
    """The on-disk formats as the source tree defines them (with `postgres`, also the
    text of the PostgreSQL DDL)."""
    parts = []
    for path in POSTGRES_DDL if postgres else ():
        with open(os.path.join(ROOT, path)) as f:
            parts.append(f.read())
    with open(os.path.join(ROOT, "engine/src/storage/sqlite.rs")) as f:
        schema = re.search(r'const SCHEMA: &str = "(.*?)";', f.read(), re.S)
        parts.append(schema.group(1) if schema else "")
    for path in sorted(glob.glob(os.path.join(ROOT, "engine/src/storage/ann/*.rs"))):
        with open(path) as f:
            parts += [os.path.basename(path)] + re.findall(r"const VERSION: u32 = \d+;", f.read())
    return "\n".join(parts)


def key(generator, settings, postgres=False):
    """The cache key of a corpus made by `generator` (text) for a server with `settings`
    (on PostgreSQL: `postgres`, its settings among them)."""
    h = hashlib.sha256()
    for part in (generator, repr(sorted(settings.items())), storage_formats(postgres),
                 os.environ.get("BENCH_CORPUS_KEY", "")):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def entry(chunks, cache_key, postgres=None):
    name = f"{chunks}-postgres-{cache_key}" if postgres else f"{chunks}-{cache_key}"
    return os.path.join(CACHE, name)


def cached(chunks, cache_key, postgres=None):
    return ENABLED and os.path.isdir(entry(chunks, cache_key, postgres))


def restore(chunks, cache_key, workdir, postgres=None):
    """Copies the cached storage into `workdir` (and the cached cluster into the
    `postgres` server, which restarts on it); whether there was one."""
    if not cached(chunks, cache_key, postgres):
        return False
    source = entry(chunks, cache_key, postgres)
    if postgres is None:
        shutil.copytree(source, os.path.join(workdir, STORAGE))
        return True
    if os.path.isdir(os.path.join(source, STORAGE)):
        shutil.copytree(os.path.join(source, STORAGE), os.path.join(workdir, STORAGE))
    postgres.restore_data(os.path.join(source, PGDATA))
    return True


def save(chunks, cache_key, workdir, postgres=None):
    """Stores `workdir`'s storage (its server stopped) as the entry, atomically; on
    PostgreSQL with the `postgres` cluster's data directory (stopped while copied)."""
    if not ENABLED:
        return
    os.makedirs(CACHE, exist_ok=True)
    target = entry(chunks, cache_key, postgres)
    temporary = f"{target}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    storage = os.path.join(workdir, STORAGE)
    if postgres is None:
        shutil.copytree(storage, temporary)
    else:
        os.makedirs(temporary)
        if os.path.isdir(storage):
            shutil.copytree(storage, os.path.join(temporary, STORAGE))
        postgres.save_data(os.path.join(temporary, PGDATA))
    shutil.rmtree(target, ignore_errors=True)
    os.rename(temporary, target)


def wait_index_idle(workdir, timeout=600, quiet=1.0):
    """Waits until no process has held a vector index builder lock in `workdir` for
    `quiet` seconds (a build publishes after the write that started it has returned,
    and a builder lets the lock go between two publishes); seconds waited."""
    started = time.monotonic()
    idle_since = None
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
        now = time.monotonic()
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= quiet:
            return idle_since - started
        time.sleep(0.25)
    raise RuntimeError(f"a vector index build still running after {timeout} s")
