"""Load: N concurrent clients asking the real server questions for a while; errors, latency, throughput.

    python benchmarks/load.py [--clients 8] [--seconds 30] [--workers 1] [--route ask|health] [--close]

Starts `assistant serve` as its own process over a fresh index of corpus/, then runs the clients from
this process (one thread each, one keep-alive connection each; with --close, a new connection per request).
`--route health` measures the cost around the work (a light route), where connection handling shows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, free_port, load_questions, wait_until_healthy


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--route", choices=("ask", "health"), default="ask")
    parser.add_argument("--close", action="store_true", help="Connection: close on every request")
    options = parser.parse_args()
    data = load_questions()
    questions = [q["question"] for q in data["questions"]] + [q["question"] for q in data["unanswerable"]]
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(Path(folder) / "index"), "ASSISTANT_PORT": str(port),
               "ASSISTANT_WORKERS": str(options.workers)}
        server = subprocess.Popen([str(Path(sys.executable).parent / "assistant"), "serve"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_until_healthy(base, server, seconds=180)
            except RuntimeError:
                raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}") from None
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            stop_at = time.perf_counter() + options.seconds

            def client(number: int) -> None:
                headers = {"connection": "close"} if options.close else {}
                with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
                    i = number
                    while time.perf_counter() < stop_at:
                        question = questions[i % len(questions)]
                        i += options.clients
                        started = time.perf_counter()
                        try:
                            if options.route == "ask":
                                response = http.post("/api/ask", json={"question": question})
                            else:
                                response = http.get("/api/health")
                            ok = response.status_code == 200 and response.json()
                            problem = None if ok else f"{response.status_code}: {response.text[:100]}"
                        except httpx.HTTPError as exc:
                            problem = repr(exc)
                        elapsed = time.perf_counter() - started
                        with lock:
                            latencies.append(elapsed)
                            if problem:
                                errors.append(problem)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(options.clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    connection = "Connection: close" if options.close else "keep-alive"
    print(f"{options.workers} worker(s), /api/{options.route}, {connection}")
    print(f"{options.clients} clients for {wall:.0f} s: {len(latencies)} requests, {len(errors)} errors, "
          f"{len(latencies) / wall:.1f} requests/s")
    print(f"latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms")
    for problem in errors[:5]:
        print(f"  error: {problem}")


if __name__ == "__main__":
    main()
