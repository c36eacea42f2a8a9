"""Load test of the HTTP decision service: sustained decisions/s and latency percentiles.

    python bench/load_test.py [--policy PATH] [--requests 300] [--clients 1,8,32]
                              [--max-seconds 60] [--log-sync full|normal]

Starts `smrules serve` on a free loopback port in a subprocess (its decision log in a temporary
directory, so every decision is committed to disk before it is answered, as in production), then
for each concurrency level runs that many client threads, each with its own keep-alive
connection, each sending `--requests` single-activity `POST /v1/decisions`. A level stops early
after `--max-seconds`. Reports decisions/s (answered 200s over the wall time of the level) and
p50/p99 latency per request, then checks that the log holds exactly the answered decisions.
Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"

DRAFTS = [
    "Excited to share that our team shipped the new release today!",
    "Maybe the rumour is true: big news coming soon.",
    "Here is the secret roadmap for next year, do not share.",
    "Join us at the conference in Berlin next week #employee",
    "Why does this fail? client = S3(key='AKIAIOSFODNN7EXAMPLE')",
    "Our Q3 revenue beat expectations, more at https://bit.ly/x",
]


def activity(i: int) -> bytes:
    return json.dumps(
        {
            "id": f"load-{i}",
            "kind": "post",
            "platform": "linkedin",
            "audience": "public",
            "actor": {"id": f"e{i % 50}", "department": "marketing", "roles": ["employee"]},
            "account": {"type": "personal"},
            "content": {"text": DRAFTS[i % len(DRAFTS)]},
        }
    ).encode("utf-8")


@dataclass(frozen=True)
class Level:
    clients: int
    answered: int
    failed: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def start_server(policy: Path, log: Path, sync: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    errors = log.with_suffix(".stderr")
    command = [sys.executable, "-m", "smrules", "serve", "--policy", str(policy)]
    command += ["--host", HOST, "--port", "0", "--log", str(log), "--log-sync", sync]
    with errors.open("wb") as stream:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stream)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{errors.read_text()}")
        for line in errors.read_text(errors="replace").splitlines():
            if f" on http://{HOST}:" in line:
                port = int(line.split(f"http://{HOST}:", 1)[1].split(";")[0])
                if _healthy(port):
                    return proc, port, errors
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start within 30 s")


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def run_level(port: int, clients: int, requests: int, max_seconds: float) -> Level:
    start = threading.Barrier(clients + 1)
    deadline = [0.0]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        headers = {"Content-Type": "application/json"}
        bodies = [activity(n * requests + i) for i in range(requests)]
        mine = latencies[n]
        start.wait()
        for body in bodies:
            if time.perf_counter() > deadline[0]:
                break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/decisions", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                failures[n] += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            if response.status == 200:
                mine.append(time.perf_counter() - t0)
            else:
                failures[n] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + max_seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    flat = tuple(x for per_client in latencies for x in per_client)
    return Level(clients, len(flat), sum(failures), seconds, flat)


def logged_rows(log: Path) -> int:
    with sqlite3.connect(log) as conn:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_policy = REPO / "policies"
    if not default_policy.is_dir():
        default_policy = REPO / "tests" / "fixtures" / "server" / "policy"
    parser.add_argument("--policy", type=Path, default=default_policy)
    parser.add_argument("--requests", type=int, default=300, help="per client (default 300)")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels (default 1,8,32)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="bound per level")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--log-sync", choices=["full", "normal"], default="full")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    if args.requests < 1 or args.warmup < 0 or min(levels) < 1 or args.max_seconds <= 0:
        parser.error("--requests, --clients and --max-seconds must be positive")

    with tempfile.TemporaryDirectory(prefix="smrules-load-") as tmp:
        log = Path(tmp) / "decisions.db"
        proc, port, _ = start_server(args.policy, log, args.log_sync)
        try:
            if args.warmup:
                run_level(port, 1, args.warmup, args.max_seconds)
            results = [run_level(port, c, args.requests, args.max_seconds) for c in levels]
            answered = sum(r.answered for r in results) + args.warmup
            rows = logged_rows(log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(
        f"smrules serve, POST /v1/decisions, policy {args.policy.name}, "
        f"decision log on disk (WAL, --log-sync {args.log_sync})"
    )
    print(
        f"python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; clients and server on the same machine"
    )
    print()
    print(
        f"{'clients':>7}  {'requests':>8}  {'errors':>6}  {'decisions/s':>11}  "
        f"{'p50 ms':>7}  {'p99 ms':>7}"
    )
    for r in results:
        print(
            f"{r.clients:>7}  {r.answered:>8}  {r.failed:>6}  {r.rate:>11.0f}  "
            f"{r.percentile(0.50):>7.2f}  {r.percentile(0.99):>7.2f}"
        )
    print()
    status = "ok" if rows == answered else "MISMATCH"
    print(f"decision log: {rows} rows for {answered} answered decisions ({status})")
    if rows != answered or any(r.failed for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
