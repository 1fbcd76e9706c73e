#!/usr/bin/env python3
"""CPU per `/query/data`: the seconds the server's processes (master and workers, their
utime + stime from /proc) spend per query, per mode, on a corpus of `bench/query.py`
restored from its cache, with sequential queries.

On a machine shared with other work, wrk's latencies swing with the other load; the
CPU a query costs barely does, so this compares two builds where `bench/query.py`
cannot. It also writes every answer's `data` to a JSON file, so two builds' answers
can be compared (they must be the same).

usage: BENCH_BIN=<binary> python3 bench/query_cpu.py <chunks> <answers.json>
(the corpus of <chunks> must be in the cache: run `bench/query.py` with
BENCH_QUERY_CHUNKS=<chunks> once).
"""

import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus_cache  # noqa: E402
import query  # noqa: E402
from backends import Server  # noqa: E402
from run import api, children, cpu_seconds  # noqa: E402

ROUNDS = 3


def main():
    size, out = int(sys.argv[1]), sys.argv[2]
    key = corpus_cache.key(query.generator_source(), query.SERVER_ENV)
    workdir = tempfile.mkdtemp(prefix="lrm-bench-cpu-")
    if not corpus_cache.restore(size, key, workdir):
        sys.exit(f"no cached corpus of {size} chunks: run bench/query.py with it first")
    server = Server(None, query.SERVER_ENV, workdir=workdir)
    try:
        query.warm_up(server.port)
        # A build the cached store was left with resumes at the first searches.
        corpus_cache.wait_index_idle(workdir)
        pids = [server.master.pid] + children(server.master.pid)
        asked = query.questions(random.Random(7))
        answers = {}
        for mode in query.SIZE_MODES:
            for q in asked[:4]:
                api(server.port, "POST", "/query/data", {"query": q, "mode": mode})
            cpu, wall, n = cpu_seconds(pids), time.monotonic(), 0
            for round_ in range(ROUNDS):
                for q in asked:
                    answer = api(server.port, "POST", "/query/data", {"query": q, "mode": mode})
                    if round_ == 0:
                        answers[f"{mode}:{q}"] = answer["data"]
                    n += 1
            cpu = (cpu_seconds(pids) - cpu) / n * 1000
            wall = (time.monotonic() - wall) / n * 1000
            print(f"{mode:7s} cpu {cpu:6.2f} ms/query  wall {wall:6.2f} ms", flush=True)
        with open(out, "w") as f:
            json.dump(answers, f, sort_keys=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
