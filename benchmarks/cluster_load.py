"""Several servers on this machine: throughput and latency through nginx with one reader, then two, in one run.

    python benchmarks/cluster_load.py [--clients 8] [--seconds 20]

Each run starts a throwaway PostgreSQL, a writer, the readers and nginx (tests/cluster.py, the same as the
several-servers test), then asks from N clients through nginx. On a 2-core machine the readers share the
cores with each other and with nginx and the clients, so the figure to read is the ratio of the two lines.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import ROOT
from load import run_clients

from tests.cluster import cluster, missing, postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    options = parser.parse_args()
    if lacking := missing():
        raise SystemExit(f"{lacking} is needed: `make cluster` installs it")
    for readers in (1, 2):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            shutil.copytree(ROOT / "corpus", folder / "corpus")
            with postgres() as url, cluster(folder, corpus=folder / "corpus", database_url=url, readers=readers,
                                            admin_token="load") as group:
                run_clients(group.url, clients=options.clients, seconds=2)  # warm up every reader
                stats = run_clients(group.url, clients=options.clients, seconds=options.seconds)
        print(f"{readers} reader(s) behind nginx: {stats.report(options.clients)}", flush=True)
        for problem in stats.errors[:3]:
            print(f"  error: {problem}")


if __name__ == "__main__":
    main()
