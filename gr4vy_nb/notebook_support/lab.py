"""``make lab`` and ``make demo``'s notebooks: JupyterLab behind a shared sandbox; headless renderings.

    python -m gr4vy_nb.notebook_support lab [NOTEBOOK_DIR] [JUPYTER LAB ARGS...]
    python -m gr4vy_nb.notebook_support render [NOTEBOOK_DIR] [OUT_DIR]
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..config import Settings

__all__ = ["NOTEBOOKS", "lab_command", "main", "render_notebooks", "run_lab"]

NOTEBOOKS = ("01_explore_sessions.ipynb", "02_bulk_update_from_csv.ipynb", "03_review_and_report.ipynb",
             "04_edit_in_the_notebook.ipynb")
"""The notebooks, in the order an analyst uses them."""


def lab_command(directory: str | os.PathLike[str] = "notebooks", extra_args: list[str] | None = None) -> list[str]:
    """The ``jupyter lab`` command line for ``directory`` (``--allow-root`` when run as root)."""
    cmd = [str(Path(sys.executable).with_name("jupyter")), "lab", str(directory)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root; Jupyter refuses it otherwise
    return cmd + list(extra_args or [])


def run_lab(directory: str | os.PathLike[str] = "notebooks", extra_args: list[str] | None = None) -> int:
    """Run JupyterLab on ``directory``; with nothing configured, behind one shared sandbox emulator.

    Every notebook's kernel started by this JupyterLab then talks to the same sandbox (seeded
    with the sample data, alive as long as JupyterLab), so a run applied in one notebook can
    be reviewed and rolled back in another. With ``GR4VY_*`` configured, JupyterLab simply
    inherits that configuration. Returns JupyterLab's exit code.
    """
    import subprocess

    env = dict(os.environ)
    sandbox = None
    if not Settings.from_env().configured:
        from ..sandbox import start_sandbox

        sandbox = start_sandbox(port=0, mode="process")
        env["GR4VY_BASE_URL"] = sandbox.base_url
        env["GR4VY_PRIVATE_KEY_FILE"] = str(sandbox.private_key_file)
        print(f"Nothing is configured: the notebooks will use a local sandbox emulator at {sandbox.base_url} "
              "(seeded with the sample sessions; it stops with JupyterLab). Nothing reaches Gr4vy.", flush=True)
    try:
        return subprocess.call(lab_command(directory, extra_args), env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        if sandbox is not None:
            sandbox.stop()


def render_notebooks(
    source: str | os.PathLike[str] = "notebooks",
    out: str | os.PathLike[str] = "build/notebooks",
    names: tuple[str, ...] = NOTEBOOKS,
    *,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    apply: bool = False,
) -> dict[str, tuple[Any, Path]]:
    """Execute the notebooks headless, each on its own embedded sandbox, and write their HTML renderings.

    The notebooks run in ``out/run`` (their ``runs/`` journals land there, not next to the
    sources) with every ``GR4VY_*`` variable removed, so a configured real target is never
    written to; ``env`` adds variables after that (a test points the kernels at its own sandbox).
    As committed, the notebooks write nothing; ``apply`` turns their ``APPLY`` flags on in the
    executed copies (the code cells then apply and roll back their examples).
    Returns ``{name: (executed notebook, html path)}``.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (the message shows the cell and error).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    src, dest = Path(source), Path(out)
    work = dest / "run"
    work.mkdir(parents=True, exist_ok=True)
    kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("GR4VY_")}
    kernel_env.update(env or {})
    kernel_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), kernel_env.get("PATH", "")])
    exporter = HTMLExporter()
    done: dict[str, tuple[Any, Path]] = {}
    for name in names:
        shutil.copy(src / name, work / name)
        nb = nbformat.read(work / name, as_version=4)
        if apply:
            for cell in nb.cells:
                if cell.cell_type == "code" and cell.source.startswith("APPLY = False"):
                    cell.source = "APPLY = True" + cell.source[len("APPLY = False"):]
        started = time.monotonic()
        # The kernel's own log (its "running over TCP" notice on a loopback port) is not the user's news.
        NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=ERROR"],
                       resources={"metadata": {"path": str(work)}}).execute(env=kernel_env, cwd=str(work))
        html_text, _ = exporter.from_notebook_node(nb)
        page = dest / (Path(name).stem + ".html")
        page.write_text(html_text, encoding="utf-8")
        print(f"{name}: ran in {time.monotonic() - started:.1f} s -> {page}", flush=True)
        done[name] = (nb, page)
    return done


_USAGE = """usage: python -m gr4vy_nb.notebook_support lab [NOTEBOOK_DIR] [JUPYTER LAB ARGS...]
       python -m gr4vy_nb.notebook_support render [NOTEBOOK_DIR] [OUT_DIR]"""


def main(argv: list[str] | None = None) -> int:
    """The ``lab`` (``make lab``) and ``render`` (``make demo``'s notebooks) commands; see the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("lab", "render"):
        print(_USAGE, file=sys.stderr)
        return 2
    command, rest = args[0], args[1:]
    if command == "render":
        if len(rest) > 2:
            print(_USAGE, file=sys.stderr)
            return 2
        render_notebooks(*rest)
        return 0
    directory = rest.pop(0) if rest and not rest[0].startswith("-") else "notebooks"
    return run_lab(directory, rest)
