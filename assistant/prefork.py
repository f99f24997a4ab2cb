"""Several worker processes that share one copy of the model: loaded once, then forked.

uvicorn's own workers are started fresh ("spawn"), so each loads its own model and runtime (about 240 MB
each). Here the parent loads the ONNX encoder (single-threaded per worker when workers share the cores,
so no runtime thread pool has to survive the fork), binds the socket, and forks the workers; each opens
the index itself and serves with uvicorn on the shared socket. Their model pages stay shared
(copy-on-write), as the index files already are (memory-mapped). A worker that dies is replaced.
Used for ONNX only: PyTorch's thread pools must not be forked.

A national collection's ANN index cannot be memory-mapped (see vectors.py), so the parent reads it before
forking and the workers inherit it, shared. When a change publishes a version with a new ANN index, the
parent reads that one, forks a new set of workers and tells the old ones to stop: they stop taking
connections, finish the requests they hold and exit. (Each worker also picks up a new version by itself
within a second, so none is ever served stale; it then holds its own copy of the new ANN index until it is
replaced.)
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import time
from types import FrameType

from .config import Settings
from .embedding import Embedder
from .errors import AssistantError
from .store import IndexStore
from .vectors import read_for_workers

RESTART_PAUSE = 1.0  # seconds between replacing workers that keep dying
POLL_SECONDS = 0.5  # how often the parent looks for dead workers and a newly published ANN index


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def shared_ann(store: IndexStore) -> str | None:
    """Read the published version's ANN index here, so that the workers forked next share it (see
    vectors.py); returns that ANN file's name (None when the version has none, or it cannot be read)."""
    try:
        manifest = store.read_manifest()
        if not manifest.ann:
            return None
        read_for_workers(store.versions_dir / manifest.version / manifest.ann)
        return manifest.ann
    except AssistantError as error:  # each worker reads its own, and reports what is wrong
        print(f"the ANN index is not shared: {error.message}", file=sys.stderr)
        return None


def published_ann(store: IndexStore) -> str | None:
    """The ANN file of the published version (None without one)."""
    try:
        return store.read_manifest().ann or None
    except AssistantError:
        return None


def serve_forked(settings: Settings, embedder: Embedder) -> None:
    """Serve with `settings.workers` forked workers until SIGTERM or SIGINT; replaces workers that die, and
    all of them when a version with a new ANN index is published (so that they share it)."""
    import uvicorn

    from .api import create_app  # imported before forking, so the workers share it
    from .http import SERVER_OPTIONS
    from .service import Assistant

    sock = bind(settings.host, settings.port)
    store = IndexStore(settings.index_dir, chunking=settings.chunking)
    workers: set[int] = set()
    retiring: set[int] = set()  # told to stop: they finish the requests they hold, then exit
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid:
            workers.add(pid)
            return
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            app = create_app(settings, assistant=Assistant(settings, embedder=embedder))
            uvicorn.Server(uvicorn.Config(app, **SERVER_OPTIONS)).run(sockets=[sock])
        except BaseException:  # noqa: BLE001 - a worker reports and exits; the parent replaces it
            code = 1
        finally:
            os._exit(code)

    def retire(pids: set[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            retiring.add(pid)
        workers.difference_update(pids)

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        retire(set(workers))

    def start_all() -> str | None:
        shared = shared_ann(store)
        gc.freeze()  # what is loaded so far is never scanned by the collector, so its pages stay shared
        for _ in range(settings.workers):
            start()
        return shared

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shared = start_all()
    while workers or retiring:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid in retiring:
            retiring.discard(pid)
        elif pid:
            workers.discard(pid)
            if not stopping:
                print(f"worker {pid} stopped; starting another", file=sys.stderr)
                time.sleep(RESTART_PAUSE)
                start()
        else:
            time.sleep(POLL_SECONDS)
            published = None if stopping else published_ann(store)
            if published is not None and published != shared:  # new workers share the new index
                old = set(workers)
                shared = start_all()
                retire(old)
    sock.close()
