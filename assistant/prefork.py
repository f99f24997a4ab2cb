"""Several worker processes that share one copy of the model: loaded once, then forked.

uvicorn's own workers are started fresh ("spawn"), so each loads its own model and runtime (about 240 MB
each). Here the parent loads the ONNX encoder (single-threaded per worker when workers share the cores,
so no runtime thread pool has to survive the fork), binds the socket, and forks the workers; each opens
the index itself and serves with uvicorn on the shared socket. Their model pages stay shared
(copy-on-write), as the index files already are (memory-mapped). A worker that dies is replaced.
Used for ONNX only: PyTorch's thread pools must not be forked.
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

RESTART_PAUSE = 1.0  # seconds between replacing workers that keep dying


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_forked(settings: Settings, embedder: Embedder) -> None:
    """Serve with `settings.workers` forked workers until SIGTERM or SIGINT; replaces workers that die."""
    import uvicorn

    from .api import create_app  # imported before forking, so the workers share it
    from .http import SERVER_OPTIONS
    from .service import Assistant

    sock = bind(settings.host, settings.port)
    workers: set[int] = set()
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

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                workers.discard(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    gc.freeze()  # what is loaded so far is never scanned by the collector, so its pages stay shared
    for _ in range(settings.workers):
        start()
    while workers:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        workers.discard(pid)
        if not stopping:
            print(f"worker {pid} stopped; starting another", file=sys.stderr)
            time.sleep(RESTART_PAUSE)
            start()
    sock.close()
