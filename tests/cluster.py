"""Several servers on loopback for tests and benchmarks: a throwaway PostgreSQL cluster, assistant servers in
their roles, and nginx in front rendered from deploy/nginx.conf.template (Debian's postgresql and nginx)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .helpers import ROOT, free_port, wait_until_healthy

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"


def missing() -> str | None:
    """What the cluster needs and this machine lacks (`make cluster` installs it), or None."""
    if not (PG_BIN / "initdb").exists():
        return "Debian's postgresql"
    if not Path(NGINX).exists():
        return "Debian's nginx"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser (util-linux)"
    return None


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a loopback port (run as the `postgres` user when we are root: it
    refuses to run as root); its URL, trusting loopback connections."""
    folder = Path(tempfile.mkdtemp(prefix="assistant-pg-", dir="/tmp"))
    folder.chmod(0o755)
    data, sockets, log = folder / "data", folder / "sockets", folder / "postgres.log"
    sockets.mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    # run from the cluster's own folder: the postgres user may not enter the folder the tests run from
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-instructions"], check=True, capture_output=True, cwd=folder)
    subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1", "start"], check=True,
                   capture_output=True, cwd=folder)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Server:
    role: str
    port: int
    environment: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, folder: Path) -> None:
        self.log = folder / f"{self.role}-{self.port}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.environment, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, seconds: float = 240) -> None:
        assert self.process is not None
        wait_until_healthy(self.url, self.process, seconds, path="/api/ready")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Cluster:
    folder: Path
    writer: Server
    readers: list[Server]
    nginx_port: int
    nginx: subprocess.Popen[bytes] | None = None
    database_url: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def start_nginx(self) -> None:
        prefix = self.folder / "nginx"
        prefix.mkdir(exist_ok=True)
        readers = "\n".join(f"        server 127.0.0.1:{reader.port} max_fails=1 fail_timeout=5s;"
                            for reader in self.readers)
        conf = TEMPLATE.read_text(encoding="utf-8")
        for key, value in {"@@PREFIX@@": str(prefix), "@@READERS@@": readers,
                           "@@WRITER@@": f"127.0.0.1:{self.writer.port}", "@@LISTEN@@": f"127.0.0.1:{self.nginx_port}"
                           }.items():
            conf = conf.replace(key, value)
        (prefix / "nginx.conf").write_text(conf, encoding="utf-8")
        directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        self.nginx = subprocess.Popen([NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-g", directives],
                                      stdout=subprocess.DEVNULL, stderr=(prefix / "stderr.log").open("wb"))
        deadline = time.time() + 20
        while True:
            try:
                httpx.get(self.url + "/api/health", timeout=2)
                return
            except httpx.TransportError:
                if self.nginx.poll() is not None or time.time() > deadline:
                    raise RuntimeError("nginx did not start: " + (prefix / "stderr.log").read_text()) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)
        for server in [self.writer, *self.readers]:
            server.kill()


@contextmanager
def cluster(folder: Path, *, corpus: Path, database_url: str, readers: int = 2, admin_token: str,
            extra: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """A writer (which builds the index from `corpus` if there is none), `readers` readers sharing its index
    folder, all on one PostgreSQL database, and nginx in front; started, ready, and stopped afterwards."""
    index = folder / "index"
    base = {**os.environ, "ASSISTANT_INDEX_DIR": str(index), "ASSISTANT_CORPUS_DIR": str(corpus),
            "ASSISTANT_DATABASE_URL": database_url, "ASSISTANT_ADMIN_TOKEN": admin_token, **(extra or {})}

    def own(role: str, port: int) -> dict[str, str]:  # each its own data folder: what they share is the database
        return {**base, "ASSISTANT_ROLE": role, "ASSISTANT_DATA_DIR": str(folder / f"appdata-{role}-{port}")}

    writer_port = free_port()
    writer = Server("writer", writer_port, own("writer", writer_port))
    group = Cluster(folder, writer, [], free_port())
    for port in (free_port() for _ in range(readers)):
        group.readers.append(Server("reader", port, {**own("reader", port), "ASSISTANT_WRITER_URL": writer.url}))
    try:
        writer.start(folder)
        for reader in group.readers:  # they wait for the writer's first version
            reader.start(folder)
        for server in [writer, *group.readers]:
            server.wait_ready()
        group.start_nginx()
        yield group
    finally:
        group.stop()
