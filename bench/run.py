#!/usr/bin/env python3
"""Process-model benchmark: lightrag-master --workers 2 beside a minimal hyper server.

Measures, in one run on this machine:
  * GET /health requests/s and p99 latency (wrk) for both servers, and the ratio;
  * idle RSS and PSS of the master and of each worker;
  * time from launch to the first 200;
  * time from SIGKILL of a worker to its replacement answering (with --workers 1, so
    any 200 after the kill comes from the replacement);
  * with accounts configured: GET /auth/verify with a Bearer JWT (verified on every
    request) and GET /auth-status beside GET /health, and each one's ratio to /health.
Numbers go to stdout; nothing here passes or fails. Loopback only, bounded durations.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
# BENCH_BIN: a copy of the release binary that no other build overwrites mid-run.
BIN = os.environ.get("BENCH_BIN") or os.path.join(TARGET, "release", "lightrag-master")
HELLO = os.environ.get("BENCH_HELLO") or os.path.join(TARGET, "release", "hello-hyper")
DURATION = os.environ.get("BENCH_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")


def cpu_seconds(pids):
    """User + system CPU seconds of `pids` so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def build_release(*packages):
    """`cargo build --release` of `packages`, unless BENCH_SKIP_BUILD=1 (built already)."""
    if os.environ.get("BENCH_SKIP_BUILD") == "1":
        return
    args = [arg for p in packages or ("lightrag-master",) for arg in ("-p", p)]
    subprocess.run(["cargo", "build", "--release", *args], cwd=ROOT, check=True)


def ensure_wrk():
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)


def ensure_tools():
    ensure_wrk()
    if "BENCH_BIN" in os.environ or "BENCH_HELLO" in os.environ:
        return
    build_release("lightrag-master", "hello-hyper")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def wait_ok(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok(port):
            return time.monotonic()
        time.sleep(0.001)
    raise RuntimeError(f"port {port} never answered 200")


def start_master(port, workers, workdir, extra_env=None, log_level="WARNING", binary=None,
                 stderr=subprocess.DEVNULL):
    env = dict(os.environ)
    for var in ("WORKERS", "PORT", "HOST", "WORKER_THREADS"):
        env.pop(var, None)
    env.update(extra_env or {})
    return subprocess.Popen(
        [binary or BIN, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", log_level],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
    )


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(Rss|Pss):\s+(\d+) kB", line)
            if m:
                fields[m.group(1)] = int(m.group(2))
    return fields["Rss"], fields["Pss"]


def api(port, method, path, body=None, timeout=120):
    """One JSON request to the server; the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def index(port, docs, batch, poll, timeout=120):
    """Posts `docs` through /documents/texts, `batch` at a time, and waits (looking every
    `poll` seconds) until each is processed or failed; returns the status counts."""
    for i in range(0, len(docs), batch):
        part = docs[i:i + batch]
        api(port, "POST", "/documents/texts",
            {"texts": part, "file_sources": [f"doc{i + j}.txt" for j in range(len(part))]},
            timeout)
    while True:
        counts = api(port, "GET", "/documents/status_counts", timeout=timeout)["status_counts"]
        if counts.get("processed", 0) + counts.get("failed", 0) >= len(docs):
            return counts
        time.sleep(poll)


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_figures(out):
    """p50 and p99 (ms), requests/s and non-2xx count from wrk --latency output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(*re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups())
    p99 = to_ms(*re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups())
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return p50, p99, rps, int(errors.group(1)) if errors else 0


def wrk(port, path="/health", headers=()):
    header_args = [arg for h in headers for arg in ("-H", h)]
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", *header_args,
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    _, p99, rps, errors = wrk_figures(out)
    return rps, p99, errors


def wrk_posts(port, path, bodies, connections, duration):
    """Drives POST `path` with wrk, rotating the JSON `bodies`; (p50, p99, req/s, non-2xx)."""
    lua = "local bodies = {" + ",".join(json.dumps(json.dumps(b)) for b in bodies) + "}\n"
    lua += ("local i = 0\nrequest = function()\n  i = i + 1\n"
            f"  return wrk.format('POST', '{path}', {{['Content-Type'] = 'application/json'}},"
            " bodies[i % #bodies + 1])\nend\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}", "--latency", "-s", f.name,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    return wrk_figures(out)


def idle_memory(workdir, extra_env=None):
    """(master (RSS, PSS), [each worker's (RSS, PSS)]) in KiB, a second after the first
    200, and the launch-to-first-200 time in seconds."""
    port = free_port()
    launched = time.monotonic()
    master = start_master(port, 2, workdir, extra_env)
    first_200 = wait_ok(port) - launched
    time.sleep(1.0)
    figures = memory_kib(master.pid), [memory_kib(w) for w in children(master.pid)]
    master.send_signal(signal.SIGTERM)
    master.wait()
    return figures, first_200


def start_baseline(port, path, headers, workdir, name):
    """hello-hyper answering the bytes lightrag-master's `path` answers; (process, port)."""
    body_file = os.path.join(workdir, name)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=dict(
        h.split(": ", 1) for h in headers))
    with urllib.request.urlopen(req) as r, open(body_file, "wb") as f:
        f.write(r.read())
    hello_port = free_port()
    hello = subprocess.Popen([HELLO, f"127.0.0.1:{hello_port}", body_file],
                             stdout=subprocess.DEVNULL)
    wait_ok(hello_port)
    return hello, hello_port


def alternate(targets):
    """Runs wrk on every (port, path, headers) of `targets` in turn, ROUNDS times, so that
    drift in the machine's load hits all alike; per name the medians of (req/s, p99) and
    the sum of non-2xx answers."""
    rounds = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (port, path, headers) in targets.items():
            rounds[name].append(wrk(port, path, headers))
    median = lambda xs: sorted(xs)[len(xs) // 2]
    return {name: (median([r[0] for r in rs]), median([r[1] for r in rs]), sum(r[2] for r in rs))
            for name, rs in rounds.items()}


def row(label, figures, name, baseline=None, target=None):
    rps, p99, errors = figures[name]
    line = f"{label:58} {rps:9.0f} req/s  p99 {p99:6.2f} ms  non-2xx {errors}"
    if baseline is not None:
        ratio = rps / figures[baseline][0]
        line += f"  ratio {ratio:.2f}x"
        if target is not None:
            line += f" (target >= {target:.2f}x)"
    print(line)


def print_memory(label, figures):
    (master_rss, master_pss), workers = figures
    print(f"idle master{label}: RSS {master_rss / 1024:.1f} MiB, PSS {master_pss / 1024:.1f} MiB"
          "  (target PSS <= 3 MiB)")
    for i, (rss, pss) in enumerate(workers):
        print(f"idle worker {i}{label}: RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB"
              "  (target PSS <= 5 MiB)")


def main():
    ensure_tools()
    workdir = tempfile.mkdtemp(prefix="lrm-bench-")
    print(f"machine: {os.cpu_count()} cores; wrk -t2 -c{CONNECTIONS} -d{DURATION}, "
          f"median of {ROUNDS} alternating rounds; ratios against baselines of the same run")

    # Idle memory with no model in MODELS_DIR (then nothing is loaded before the fork),
    # and with BENCH_MODELS_DIR's local embedding model if given.
    empty_models = os.path.join(workdir, "no-models")
    os.mkdir(empty_models)
    memory, first_200 = idle_memory(workdir, {"MODELS_DIR": empty_models})
    models_dir = os.environ.get("BENCH_MODELS_DIR")
    model_memory = idle_memory(workdir, {"MODELS_DIR": models_dir})[0] if models_dir else None

    # Throughput, open mode. The baseline serves the very bytes our /health answers, so
    # only the server differs.
    port = free_port()
    master = start_master(port, 2, workdir)
    wait_ok(port)
    hello, hello_port = start_baseline(port, "/health", (), workdir, "health.json")
    open_mode = alternate({
        "hello": (hello_port, "/health", ()),
        "health": (port, "/health", ()),
    })
    hello.terminate()
    hello.wait()
    master.send_signal(signal.SIGTERM)
    master.wait()

    # SIGKILL of the only worker to its replacement answering.
    port = free_port()
    master = start_master(port, 1, workdir)
    wait_ok(port)
    time.sleep(0.5)
    samples = []
    for _ in range(5):
        [worker] = children(master.pid)
        killed = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        samples.append((wait_ok(port) - killed) * 1000)
        time.sleep(1.5)  # past the crash-loop window: measure plain respawn, not back-off
    master.send_signal(signal.SIGTERM)
    master.wait()

    # Auth overhead: accounts mode, a real login, then alternating rounds per route.
    port = free_port()
    master = start_master(port, 2, workdir, {
        "AUTH_ACCOUNTS": "bench:bench-pw", "TOKEN_SECRET": "bench-secret"})
    wait_ok(port)
    form = urllib.parse.urlencode({"username": "bench", "password": "bench-pw"}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", data=form) as r:
        token = json.load(r)["access_token"]
    hello, hello_port = start_baseline(port, "/health", (), workdir, "health-accounts.json")
    accounts = alternate({
        "hello": (hello_port, "/health", ()),
        "health": (port, "/health", ()),
        "auth-status": (port, "/auth-status", ()),
        "verify": (port, "/auth/verify", (f"Authorization: Bearer {token}",)),
    })
    hello.terminate()
    hello.wait()
    master.send_signal(signal.SIGTERM)
    master.wait()

    # The access log: an API key, one server logging access lines (INFO), one not
    # (WARNING), each with its own working directory.
    key = ("X-API-Key: bench-key",)
    servers = []
    for level in ("INFO", "WARNING"):
        level_dir = os.path.join(workdir, level)
        os.mkdir(level_dir)
        level_port = free_port()
        servers.append((level_port, start_master(
            level_port, 2, level_dir, {"LIGHTRAG_API_KEY": "bench-key"}, level)))
    (logged_port, _), (quiet_port, _) = servers
    for level_port, _ in servers:
        wait_ok(level_port)
    logged = alternate({
        "health": (logged_port, "/health", ()),
        "labels": (logged_port, "/graph/label/list", key),
        "labels-quiet": (quiet_port, "/graph/label/list", key),
    })
    for _, server in servers:
        server.send_signal(signal.SIGTERM)
        server.wait()
    logs = [os.path.join(workdir, "INFO", name) for name in os.listdir(os.path.join(workdir, "INFO"))
            if name.startswith("lightrag.log")]
    access_lines = sum(1 for log in logs for line in open(log, errors="replace")
                       if "/graph/label/list" in line)
    shutil.rmtree(workdir, ignore_errors=True)

    print("GET /health, lightrag-master --workers 2 beside hello-hyper (1 process, same body):")
    row("  hello-hyper", open_mode, "hello")
    row("  lightrag-master", open_mode, "health", "hello", 0.9)
    print(f"  p99 ratio (lightrag-master / hello-hyper): "
          f"{open_mode['health'][1] / open_mode['hello'][1]:.2f}x")
    print_memory("", memory)
    if model_memory:
        print_memory(" (local model loaded)", model_memory)
    print(f"launch to first 200: {first_200 * 1000:.1f} ms  (target < 200 ms)")
    print(f"SIGKILL to replacement answering: median {sorted(samples)[2]:.1f} ms, "
          f"max {max(samples):.1f} ms  (target < 50 ms)")
    print("accounts mode (AUTH_ACCOUNTS, TOKEN_SECRET):")
    row("  hello-hyper, this mode's /health body", accounts, "hello")
    row("  GET /health vs hello-hyper", accounts, "health", "hello", 0.9)
    row("  GET /auth-status vs /health", accounts, "auth-status", "health")
    row("  GET /auth/verify + Bearer JWT vs /health", accounts, "verify", "health", 0.9)
    print("API key (LIGHTRAG_API_KEY), access log on (LOG_LEVEL INFO):")
    row("  GET /health (200s not access-logged)", logged, "health")
    row("  GET /graph/label/list + X-API-Key vs /health", logged, "labels", "health", 0.8)
    row("  the same at LOG_LEVEL WARNING (no access line)", logged, "labels-quiet")
    row("  access-logged vs not", logged, "labels", "labels-quiet", 0.9)
    requests = logged["labels"][0] * ROUNDS * float(DURATION.rstrip("s"))
    print(f"  access lines written for /graph/label/list: {access_lines} "
          f"(about {requests:.0f} requests)")


if __name__ == "__main__":
    sys.exit(main())
