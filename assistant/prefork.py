"""Several worker processes that share one copy of the model: loaded once, then forked.

uvicorn's own workers are started fresh ("spawn"), so each loads its own model and runtime (about 240 MB
each). Here the parent loads the ONNX encoder (single-threaded per worker when workers share the cores,
so no runtime thread pool has to survive the fork), binds the socket, and forks the workers; each opens
the index itself and serves with uvicorn on the shared socket. Their model pages stay shared
(copy-on-write), as the index files already are (memory-mapped). A worker that dies is replaced.
Used for ONNX only: PyTorch's thread pools must not be forked.

A national collection's ANN index cannot be memory-mapped (see vectors.py), so the parent reads it before
forking and the workers inherit it, shared. When a change publishes a version with an ANN index, the parent
opens it as a worker would and, if it opens, forks a new set of workers sharing its ANN index and tells the
old ones to stop: they stop taking connections, finish the requests they hold and exit. A version that does
not open is left to the workers, which keep serving the one before. (Each worker also picks up a new version
by itself within a second, so none is ever served stale; until it is replaced it holds its own copy of the
new ANN index.)
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
from .service import Assistant
from .vectors import keep_for_workers

RESTART_PAUSE = 1.0  # seconds between replacing workers that keep dying
POLL_SECONDS = 0.5  # how often the parent looks for dead workers and a newly published version


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def share_published(assistant: Assistant) -> bool:
    """Open the published version here, as a worker would, and do what a worker does first with it (read
    its ANN index, gather its reviews' names), so that the workers forked next share all that (see
    vectors.py). False when it cannot be opened (it is reported) or has no ANN index."""
    try:
        index = assistant.store.open(model=assistant.model_name, vectors=assistant.settings.vectors,
                                     connections=1)
        try:
            assistant.prepare(index)
        finally:
            index.close()  # no SQLite connection may cross a fork
    except AssistantError as error:
        print(f"the published index cannot be opened: {error.message}", file=sys.stderr)
        return False
    if index.ann is None:
        return False
    keep_for_workers(index.directory / index.manifest.ann, index.ann)
    return True


def serve_forked(settings: Settings, embedder: Embedder) -> None:
    """Serve with `settings.workers` forked workers until SIGTERM or SIGINT; replaces workers that die, and
    all of them when a version with a new ANN index is published (so that they share it)."""
    import uvicorn

    from .api import create_app
    from .http import SERVER_OPTIONS

    sock = bind(settings.host, settings.port)
    # built here, so that the workers share it: nothing in it is opened or started before a worker's
    # lifespan runs (the index is opened, and watched, by each worker; the app database per operation)
    assistant = Assistant(settings, embedder=embedder)
    app = create_app(settings, assistant=assistant)
    store = assistant.store
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

    def start_all() -> None:
        gc.freeze()  # what is loaded so far is never scanned by the collector, so its pages stay shared
        for _ in range(settings.workers):
            start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    forked_for = store.current_version()  # the version the workers were forked to serve
    share_published(assistant)
    start_all()
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
        elif stopping or store.current_version() == forked_for:
            time.sleep(POLL_SECONDS)
        else:  # a new version: with a new ANN index that opens, new workers share it and the old ones go
            forked_for = store.current_version()
            if share_published(assistant):
                old = set(workers)
                start_all()
                retire(old)
    sock.close()
