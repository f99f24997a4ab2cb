"""Load: N concurrent clients asking the real server questions for a while; errors, latency, throughput.

    python benchmarks/load.py [--clients 8] [--seconds 30] [--workers 1] [--route ask|health] [--close]

Starts `assistant serve` as its own process over a fresh index of corpus/, then runs the clients from
this process (one thread each, one keep-alive connection each; with --close, a new connection per request).
`--route health` measures the cost around the work (a light route), where connection handling shows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import ROOT, free_port, load_questions, wait_until_healthy


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else 0.0


@contextlib.contextmanager
def running_server(workers: int, extra_env: dict[str, str] | None = None,
                   corpus: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`assistant serve` over a fresh index in a temporary folder; yields its base URL and process."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(Path(folder) / "index"), "ASSISTANT_PORT": str(port),
               "ASSISTANT_WORKERS": str(workers), **(extra_env or {})}
        if corpus is not None:
            env["ASSISTANT_CORPUS_DIR"] = str(corpus)
        server = subprocess.Popen([str(Path(sys.executable).parent / "assistant"), "serve"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_healthy(base, server, seconds=300)
            except RuntimeError:
                raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}") from None
            yield base, server
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    def report(self, clients: int) -> str:
        rate = len(self.latencies) / self.wall if self.wall else 0.0
        p50, p95, p99 = (percentile(self.latencies, fraction) * 1000 for fraction in (0.5, 0.95, 0.99))
        server_errors = sum(error.startswith("5") for error in self.errors)
        return (f"{clients} clients for {self.wall:.0f} s: {len(self.latencies)} requests, {len(self.errors)} failed "
                f"({server_errors} with a 5xx, the rest lost connections), {rate:.1f} requests/s; "
                f"latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms")


def run_clients(base: str, *, clients: int, seconds: float, route: str = "ask", close: bool = False) -> Stats:
    """Each client asks (or checks health) in a loop on its own connection until time is up."""
    data = load_questions()
    questions = [q["question"] for q in data["questions"]] + [q["question"] for q in data["unanswerable"]]
    stats = Stats()
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(number: int) -> None:
        headers = {"connection": "close"} if close else {}
        with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
            i = number
            while time.perf_counter() < stop_at:
                question = questions[i % len(questions)]
                i += clients
                started = time.perf_counter()
                try:
                    if route == "ask":
                        response = http.post("/api/ask", json={"question": question})
                    else:
                        response = http.get("/api/health")
                    problem = None if response.status_code == 200 else f"{response.status_code}: {response.text[:100]}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)
                with lock:
                    stats.latencies.append(time.perf_counter() - started)
                    if problem:
                        stats.errors.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.wall = time.perf_counter() - started
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--route", choices=("ask", "health"), default="ask")
    parser.add_argument("--close", action="store_true", help="Connection: close on every request")
    options = parser.parse_args()
    with running_server(options.workers) as (base, _):
        stats = run_clients(base, clients=options.clients, seconds=options.seconds, route=options.route,
                            close=options.close)
    connection = "Connection: close" if options.close else "keep-alive"
    print(f"{options.workers} worker(s), /api/{options.route}, {connection}")
    print(stats.report(options.clients))
    for problem in stats.errors[:5]:
        print(f"  error: {problem}")


if __name__ == "__main__":
    main()
