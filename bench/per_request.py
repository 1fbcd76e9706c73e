#!/usr/bin/env python3
"""What one request costs the server: CPU time, system calls and context switches per
request under wrk, for bench/hello-hyper and for lightrag-master --workers 2 on the
routes bench/run.py compares, the access-logged route also on a server at LOG_LEVEL
WARNING, which writes no access line (the difference is what an access line costs). Throughput on this shared 2-core machine moves with the
load of the neighbours; the CPU a request takes moves much less, so this is where a
change to the request path shows first.

    BENCH_SKIP_BUILD=1 BENCH_BIN=... BENCH_HELLO=... python3 bench/per_request.py

CPU is the servers' utime + stime (/proc/PID/stat) over the run, summed over the master
(which forwards the workers' log lines to the file) and its workers; system calls and context switches come from `perf stat` when it is installed.
Numbers go to stdout; nothing here passes or fails. Loopback only, bounded durations.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (  # noqa: E402
    CONNECTIONS, children, cpu_seconds, ensure_tools, free_port, start_baseline, start_master,
    wait_ok,
)

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))


def measure(label, port, pids, path, headers=()):
    """Warms up, then one wrk run of SECONDS with perf stat on `pids` beside it."""
    header_args = [arg for h in headers for arg in ("-H", h)]
    url = f"http://127.0.0.1:{port}{path}"
    wrk = ["wrk", "-t2", f"-c{CONNECTIONS}", *header_args, url]
    subprocess.run([*wrk, "-d1s"], capture_output=True, check=True)
    perf = None
    if shutil.which("perf"):
        perf = subprocess.Popen(
            ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter,context-switches",
             "-p", ",".join(map(str, pids)), "--", "sleep", str(SECONDS)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    before = cpu_seconds(pids)
    out = subprocess.run([*wrk, f"-d{SECONDS}s"], capture_output=True, text=True,
                         check=True).stdout
    cpu = cpu_seconds(pids) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    line = (f"{label:52} {requests / SECONDS:9.0f} req/s  "
            f"CPU {cpu / requests * 1e6:6.2f} us/request")
    if perf is not None:
        counts = {}
        for row in perf.communicate()[1].splitlines():
            parts = row.split(",")
            if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                counts[parts[2]] = float(parts[0])
        line += (f"  syscalls {counts.get('raw_syscalls:sys_enter', 0) / requests:5.2f}"
                 f"  context switches {counts.get('context-switches', 0) / requests:5.3f}")
    print(line)


def main():
    ensure_tools()
    workdir = tempfile.mkdtemp(prefix="lrm-bench-")
    print(f"per request, wrk -t2 -c{CONNECTIONS} -d{SECONDS}s; CPU summed over the "
          "server's processes")
    port = free_port()
    master = start_master(port, 2, workdir, {"LIGHTRAG_API_KEY": "bench-key"}, "INFO")
    wait_ok(port)
    workers = [master.pid, *children(master.pid)]
    hello, hello_port = start_baseline(port, "/health", (), workdir, "health.json")
    measure("hello-hyper, GET /health body", hello_port, [hello.pid], "/health")
    measure("lightrag-master GET /health", port, workers, "/health")
    measure("lightrag-master GET /graph/label/list + X-API-Key, logged", port, workers,
            "/graph/label/list", ("X-API-Key: bench-key",))
    master.send_signal(signal.SIGTERM)
    master.wait()
    quiet_dir = tempfile.mkdtemp(prefix="lrm-bench-", dir=workdir)
    port = free_port()
    master = start_master(port, 2, quiet_dir, {"LIGHTRAG_API_KEY": "bench-key"}, "WARNING")
    wait_ok(port)
    measure("  the same at LOG_LEVEL WARNING (no access line)", port, [master.pid, *children(master.pid)],
            "/graph/label/list", ("X-API-Key: bench-key",))
    hello.terminate()
    hello.wait()
    master.send_signal(signal.SIGTERM)
    master.wait()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
