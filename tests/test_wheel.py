"""The wheel works wherever it is installed: built from the repository, installed (not editable) in a fresh virtual
environment, its ``gr4vy-nb sandbox`` and ``gr4vy-nb export`` run from a folder outside the repository.

Fast and offline: the wheel is built with this environment's setuptools (``--no-build-isolation``, ``--no-index``)
from a copy of the sources, so that the build leaves nothing in the repository; the fresh environment gets no pip
and no dependencies.  A ``.pth`` file in it lists this environment's site-packages, so the dependencies import from
there.  A directory line in a ``.pth`` file does not run the ``.pth`` files of that directory, so this environment's
editable install of ``gr4vy_nb`` stays out; the test checks that the package is the fresh environment's own.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import REPO

_TIMEOUT = 120
# What a build reads besides the package: the project file and the files it names (readme, and any of the rest).
_PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "LICENSE.txt", "setup.py", "setup.cfg", "MANIFEST.in")
# Variables that would let the fresh environment see this checkout or this configuration.
_DROPPED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "GR4VY_ID", "GR4VY_ENVIRONMENT", "GR4VY_PRIVATE_KEY_FILE",
            "GR4VY_PRIVATE_KEY", "GR4VY_MERCHANT_ACCOUNT_ID", "GR4VY_BASE_URL")

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fresh environment's layout (bin/) is POSIX's")


@dataclass(frozen=True)
class Installed:
    """A fresh virtual environment with the wheel installed in it."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "gr4vy-nb"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    return {**env, "PYTHONNOUSERSITE": "1", **extra}


def _run(cmd: list[str | Path], *, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=_TIMEOUT, env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _copy_sources(dest: Path) -> None:
    # A build in the checkout itself would write build/ and *.egg-info there, and pick up stale files of an
    # earlier build; a copy of what the build reads gives the wheel a user would build from a clean clone.
    shutil.copytree(REPO / "gr4vy_nb", dest / "gr4vy_nb", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in _PROJECT_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)


def _build_wheel(work: Path) -> Path:
    sources, wheels = work / "sources", work / "wheels"
    _copy_sources(sources)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
          "--disable-pip-version-check", "-q", "-w", wheels, sources], env=_env(), cwd=work)
    (wheel,) = wheels.glob("gr4vy_nb-*.whl")
    return wheel


def _make_venv(venv: Path, wheel: Path) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=_env())
    python = venv / "bin" / "python"
    # This environment's pip installs into the fresh one (it has none): the wheel alone, from the file.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--no-cache-dir",
          "--disable-pip-version-check", "-q", wheel], env=_env())
    fresh_site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                      env=_env()).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    Path(fresh_site, "_gr4vy_nb_test_dependencies.pth").write_text("".join(f"{p}\n" for p in ours), encoding="utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(work)
    venv = work / "venv"
    _make_venv(venv, wheel)
    return Installed(wheel=wheel, venv=venv)


@pytest.fixture
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder outside the repository (no ``.env``, no ``gr4vy_nb`` beside it) to run the commands in."""
    folder = tmp_path_factory.mktemp("anywhere")
    assert REPO not in folder.resolve().parents
    return folder


@pytest.fixture
def sandbox_process(installed: Installed, elsewhere: Path) -> Iterator[tuple[str, Path]]:
    """``gr4vy-nb sandbox`` of the fresh environment, on a free port: ``(base_url, key_file)``; stopped after."""
    ready, key_file, log_path = elsewhere / "ready.json", elsewhere / "sandbox-key.pem", elsewhere / "sandbox.log"
    cmd = [str(installed.command), "sandbox", "--port", "0", "--db", str(elsewhere / "sandbox.db"),
           "--private-key-file", str(key_file), "--ready-file", str(ready), "--parent-pid", str(os.getpid())]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=elsewhere, env=_env(), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                assert proc.poll() is None, f"the sandbox exited {proc.returncode}:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"the sandbox did not start:\n{log_path.read_text()}"
                time.sleep(0.05)
            yield json.loads(ready.read_text(encoding="utf-8"))["base_url"], key_file
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log_path.read_text()  # a clean stop
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def test_the_wheel_carries_the_package_data(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "gr4vy_nb/_data/sample_sessions.jsonl" in names
    assert any(n.startswith("gr4vy_nb/_data/examples/") and n.endswith(".csv") for n in names)
    assert "gr4vy_nb/py.typed" in names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def test_the_fresh_environment_imports_its_own_copy(installed: Installed, elsewhere: Path) -> None:
    probe = ("import json, gr4vy_nb, gr4vy_nb._data as d; "
             "print(json.dumps([gr4vy_nb.__file__, str(d.sample_sessions_path()), len(d.sample_session_ids())]))")
    package, sample, count = json.loads(_run([installed.python, "-c", probe], cwd=elsewhere, env=_env()).stdout)
    venv = installed.venv.resolve()
    assert venv in Path(package).resolve().parents, f"{package} is not the installed copy"
    assert venv in Path(sample).resolve().parents and count > 0


def test_sandbox_and_export_run_from_any_folder(installed: Installed, elsewhere: Path,
                                                sandbox_process: tuple[str, Path]) -> None:
    base_url, key_file = sandbox_process
    probe = "from gr4vy_nb._data import sample_session_ids; print(sample_session_ids(1)[0])"
    session_id = _run([installed.python, "-c", probe], cwd=elsewhere, env=_env()).stdout.strip()
    (elsewhere / "ids.txt").write_text(session_id + "\n", encoding="utf-8")
    _run([installed.command, "export", "ids.txt", "--out", "out/"], cwd=elsewhere,
         env=_env(GR4VY_BASE_URL=base_url, GR4VY_PRIVATE_KEY_FILE=str(key_file)))
    with open(elsewhere / "out" / "sessions.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["checkout_session_id"] for row in rows] == [session_id]
