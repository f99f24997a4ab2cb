"""Soak: N clients ask for T seconds while an administrator adds and removes reviews through the admin API,
and one worker is killed half way; failed requests, latency and the workers' memory at start and end.

    python benchmarks/soak.py [--clients 16] [--seconds 120] [--workers 2] [--every 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, child_pids
from load import run_clients, running_server

TOKEN = "soak-admin-token"
REVIEW = ("# Learning review: Baby S (soak test, fictional)\n\n## Finding 1: Safer sleep\n\nThe health visitor "
          "gave safer sleep advice but did not see where the baby slept. Practitioners should ask to see the "
          "sleeping arrangements at every visit, including where the baby sleeps when routines change.\n")


def worker_pids(server_pid: int) -> list[int]:
    """The server's worker processes: its children, without multiprocessing's resource tracker."""
    return [pid for pid in child_pids(server_pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def churn(base: str, every: float, stop: threading.Event, log: list[str]) -> None:
    """Add a review, then remove it, again and again, through the admin API."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, timeout=120, headers=auth) as http:
        n = 0
        while not stop.wait(every):
            n += 1
            name = f"soak-review-{n}.md"
            added = http.post("/api/admin/documents", files={"file": (name, REVIEW.replace("Baby S", f"Baby S{n}"))})
            log.append(f"add {name}: {added.status_code}")
            if stop.wait(every / 2):
                break
            removed = http.delete(f"/api/admin/documents/soak-review-{n}")
            log.append(f"remove soak-review-{n}: {removed.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=float, default=10, help="seconds between admin changes")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        with running_server(options.workers, {"ASSISTANT_ADMIN_TOKEN": TOKEN}, corpus) as (base, server):
            time.sleep(2)
            start_memory = {pid: resident_mb(pid) for pid in worker_pids(server.pid)}
            stop = threading.Event()
            changes: list[str] = []
            admin = threading.Thread(target=churn, args=(base, options.every, stop, changes))
            admin.start()

            def kill_one_worker() -> None:
                time.sleep(options.seconds / 2)
                pids = worker_pids(server.pid)
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    changes.append(f"killed worker {pids[0]}")

            killer = threading.Thread(target=kill_one_worker)
            killer.start()
            stats = run_clients(base, clients=options.clients, seconds=options.seconds)
            stop.set()
            admin.join()
            killer.join()
            end_memory = {pid: resident_mb(pid) for pid in worker_pids(server.pid)}
    print(f"{options.workers} workers, admin change every {options.every:.0f} s, one worker killed half way")
    print(stats.report(options.clients))
    print(f"admin changes: {len(changes)} ({sum(' 200' in c for c in changes)} answered 200)")
    print("workers at start (pid: MB): " + ", ".join(f"{p}: {mb:.0f}" for p, mb in start_memory.items()))
    print("workers at end (pid: MB):   " + ", ".join(f"{p}: {mb:.0f}" for p, mb in end_memory.items()))
    for problem in stats.errors[:5]:
        print(f"  failed: {problem}")
    for change in changes:
        if " 200" not in change:
            print(f"  {change}")


if __name__ == "__main__":
    main()
