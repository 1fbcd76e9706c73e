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
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("BENCH_BIN", os.path.join(TARGET, "release", "lightrag-master"))
HELLO = os.environ.get("BENCH_HELLO", os.path.join(TARGET, "release", "hello-hyper"))
DURATION = os.environ.get("BENCH_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")


def ensure_tools():
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    subprocess.run(
        ["cargo", "build", "--release", "-p", "lightrag-master", "-p", "hello-hyper"],
        cwd=ROOT,
        check=True,
    )


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


def start_master(port, workers, workdir, extra_env=None, log_level="WARNING"):
    env = dict(os.environ)
    for var in ("WORKERS", "PORT", "HOST", "WORKER_THREADS"):
        env.pop(var, None)
    env.update(extra_env or {})
    return subprocess.Popen(
        [BIN, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", log_level],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def main():
    ensure_tools()
    workdir = tempfile.mkdtemp(prefix="lrm-bench-")
    print(f"machine: {os.cpu_count()} cores; wrk -t2 -c{CONNECTIONS} -d{DURATION}, "
          f"median of {ROUNDS} alternating rounds")

    # Launch to first 200, idle memory.
    port = free_port()
    launched = time.monotonic()
    master = start_master(port, 2, workdir)
    first_200 = wait_ok(port) - launched
    time.sleep(1.0)
    master_mem = memory_kib(master.pid)
    worker_mem = [memory_kib(w) for w in children(master.pid)]

    # Throughput: alternate baseline and lightrag-master rounds so that drift in the
    # machine's load hits both alike; report medians.
    # The baseline serves the very bytes our /health answers, so only the server differs.
    body_file = os.path.join(workdir, "health.json")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as r, open(body_file, "wb") as f:
        f.write(r.read())
    hello_port = free_port()
    hello = subprocess.Popen([HELLO, f"127.0.0.1:{hello_port}", body_file], stdout=subprocess.DEVNULL)
    wait_ok(hello_port)
    base, ours = [], []
    for _ in range(ROUNDS):
        base.append(wrk(hello_port))
        ours.append(wrk(port))
    hello.terminate()
    hello.wait()
    master.send_signal(signal.SIGTERM)
    master.wait()
    median = lambda xs: sorted(xs)[len(xs) // 2]
    base_rps, base_p99 = median([b[0] for b in base]), median([b[1] for b in base])
    rps, p99 = median([o[0] for o in ours]), median([o[1] for o in ours])
    non2xx = sum(o[2] for o in ours)

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
    routes = {
        "/health": ("/health", ()),
        "/auth-status": ("/auth-status", ()),
        "/auth/verify + Bearer JWT": ("/auth/verify", (f"Authorization: Bearer {token}",)),
    }
    auth_rounds = {name: [] for name in routes}
    for _ in range(ROUNDS):
        for name, (path, headers) in routes.items():
            auth_rounds[name].append(wrk(port, path, headers))
    master.send_signal(signal.SIGTERM)
    master.wait()
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"GET /health  hello-hyper (1 process, same body): {base_rps:7.0f} req/s  p99 {base_p99:6.2f} ms")
    print(f"GET /health  lightrag-master --workers 2  : {rps:10.0f} req/s  p99 {p99:6.2f} ms"
          f"  non-2xx {non2xx}")
    print(f"throughput ratio (lightrag-master / hello-hyper): {rps / base_rps:.2f}x  (target >= 0.8x)")
    print(f"p99 ratio (lightrag-master / hello-hyper): {p99 / base_p99:.2f}x")
    print(f"idle master: RSS {master_mem[0] / 1024:.1f} MiB, PSS {master_mem[1] / 1024:.1f} MiB")
    for i, (rss, pss) in enumerate(worker_mem):
        print(f"idle worker {i}: RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB  (target PSS < 10 MiB)")
    print(f"launch to first 200: {first_200 * 1000:.1f} ms  (target < 200 ms)")
    print(f"SIGKILL to replacement answering: median {sorted(samples)[2]:.1f} ms, "
          f"max {max(samples):.1f} ms  (target < 50 ms)")
    health_rps = median([r[0] for r in auth_rounds["/health"]])
    for name, results in auth_rounds.items():
        route_rps = median([r[0] for r in results])
        print(f"accounts mode, {name:28}: {route_rps:10.0f} req/s  "
              f"p99 {median([r[1] for r in results]):6.2f} ms  "
              f"ratio to /health {route_rps / health_rps:.2f}x  non-2xx {sum(r[2] for r in results)}")
    print("target: the JWT-checked route at >= 0.7x of /health")


if __name__ == "__main__":
    sys.exit(main())
