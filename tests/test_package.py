"""The package as a council's IT team installs it: a wheel in a fresh virtual environment, served from a
folder that is not the checkout."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from assistant import __version__

from .helpers import ROOT, SEED_CORPUS, free_port, wait_until_healthy

pytestmark = pytest.mark.slow  # builds a wheel and serves with the real model


def test_wheel_installs_in_a_fresh_venv_and_serves_from_any_folder(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    [wheel] = wheels.glob("assistant-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies (torch, faiss...) come from the project's environment: nothing is downloaded
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --target: straight into the new environment, leaving the project's own installation alone
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    home = tmp_path / "home"  # a folder of its own, like /srv/assistant
    shutil.copytree(SEED_CORPUS, home / "corpus")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}
    port = free_port()
    env.update({"ASSISTANT_HOME": str(home), "ASSISTANT_PORT": str(port)})
    where = subprocess.run([str(python), "-c", "import assistant; print(assistant.__file__)"], cwd=home, env=env,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(site)), where
    server = subprocess.Popen([str(python), "-m", "assistant", "serve"], cwd=home, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server, seconds=300)
        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200 and f"Case review assistant {__version__}" in page.text
        stylesheet = page.text.split('href="/static/style.css')[1].split('"')[0]
        assert httpx.get(base + "/static/style.css" + stylesheet, timeout=10).status_code == 200
        assert httpx.get(base + "/api/health", timeout=10).json()["app_version"] == __version__
        answer = httpx.post(base + "/api/ask", json={"question": "what should I do if a family won't engage with "
                                                                 "early help"}, timeout=60).json()
        assert answer["found"] and answer["citations"]
        assert (home / "index" / "CURRENT").exists()  # the index was built where the home folder says
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
