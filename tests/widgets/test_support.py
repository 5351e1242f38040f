"""gr4vy_nb.notebook_support: what the notebooks and the apps rely on besides the engine."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.auth import generate_private_key_pem
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ConfigError, InputError, RunError
from gr4vy_nb.notebook_support import (
    InlineHTML,
    confirm_writes,
    connect,
    example_run,
    latest_run,
    main,
    needs_confirmation,
    parse_session_ids,
    read_sessions_jsonl,
    run_lab,
    runs_for_target,
    sample_session_ids,
    target_style,
)
from gr4vy_nb.notebook_support._lab import lab_command
from gr4vy_nb.sandbox import Sandbox
from tests.paths import REPO

A = "4d645fa6-d13c-413a-82f8-eda197b1165f"
B = "8eef1a45-8a85-4b07-bd61-c8fe736d73ab"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(generate_private_key_pem())
    return path


def _remote(key_file: Path, environment: str = "sandbox") -> Any:
    return connect(Settings(gr4vy_id="acme", environment=environment, private_key_file=key_file), announce=False)


@pytest.mark.parametrize(("text", "ids", "rejected"), [
    (f"{A}\n{B}\n", [A, B], []),
    (f"{A}, {B}; {A}", [A, B], []),
    (f"checkout_session_id\n{A.upper()}\n", [A], []),
    (f"'{A}' {{{B}}}\nnope", [A, B], ["nope"]),
    (f"\ufeffnote,checkout_session_id\nx,{A}\ny,{B}\n", [A, B], []),
    (f"checkout_session_id;amount\n{A};1\n", [A], []),
    ("", [], []),
])
def test_parse_session_ids(text: str, ids: list[str], rejected: list[str]) -> None:
    assert parse_session_ids(text) == (ids, rejected)


def test_read_sessions_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    assert read_sessions_jsonl(b'{"id": "x"}\n\n{"id": "y"}\n') == [{"id": "x"}, {"id": "y"}]
    with pytest.raises(InputError, match="line 2 is not a JSON object"):
        read_sessions_jsonl(b'{"id": "x"}\n[1, 2]\n')
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{oops\n")
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        read_sessions_jsonl(path)
    assert len(sample_session_ids()) == 200 and sample_session_ids(3) == sample_session_ids()[:3]


def test_target_styles(sandbox: Sandbox, key_file: Path) -> None:
    local = Settings.for_sandbox(sandbox)
    assert target_style(local)[:2] == ("emulator", "local sandbox emulator")
    remote = Settings(gr4vy_id="acme", environment="sandbox", private_key_file=key_file)
    assert target_style(remote)[:2] == ("sandbox", "Gr4vy sandbox (acme)") and not needs_confirmation(remote)
    prod = Settings(gr4vy_id="acme", environment="production", private_key_file=key_file)
    assert target_style(prod) == ("production", "GR4VY PRODUCTION (ACME)", "#b91c1c") and needs_confirmation(prod)
    assert target_style(Settings())[0] == "none"


def test_confirm_writes_guards_production_only(sandbox: Sandbox, key_file: Path) -> None:
    confirm_writes(connect(Settings.for_sandbox(sandbox), announce=False), None)
    prod = _remote(key_file, "production")
    with pytest.raises(ConfigError, match=r"PRODUCTION.*nothing was sent"):
        confirm_writes(prod, "")
    with pytest.raises(ConfigError):
        confirm_writes(prod, "someone-else")
    confirm_writes(prod, " default ")


def test_examples_never_touch_a_real_instance(key_file: Path, tmp_path: Path) -> None:
    remote = _remote(key_file)
    with pytest.raises(ConfigError, match="local sandbox only"):
        example_run(remote, runs_dir=tmp_path)
    with pytest.raises(RunError, match="no apply run against Gr4vy sandbox"):
        latest_run(remote, runs_dir=tmp_path)


def test_latest_run_is_per_target_and_makes_an_example_on_the_sandbox(sandbox_clean: Sandbox, key_file: Path,
                                                                       tmp_path: Path) -> None:
    conn = connect(Settings.for_sandbox(sandbox_clean), announce=False)
    run = latest_run(conn, runs_dir=tmp_path)
    assert run.counts["succeeded"] == 20 and run.kind == "apply"
    assert len(sandbox_clean.stats()["writes"]) == 20
    again = latest_run(conn, runs_dir=tmp_path)
    assert again.run_id == run.run_id and len(sandbox_clean.stats()["writes"]) == 20
    assert len(runs_for_target(conn, tmp_path)) == 1
    assert len(runs_for_target(_remote(key_file), tmp_path)) == 0


def test_inline_html_is_a_sandboxed_frame() -> None:
    frame = InlineHTML('<html><head><meta http-equiv="Content-Security-Policy" content="x"></head>"&</html>',
                       height=300)._repr_html_()
    assert frame.startswith('<iframe sandbox="" srcdoc="&lt;html&gt;')
    assert "&quot;&amp;" in frame and "height:300px" in frame


def test_lab_command_and_usage() -> None:
    cmd = lab_command("notebooks", ["--port=9999"])
    assert cmd[1:3] == ["lab", "notebooks"] and cmd[-1] == "--port=9999" and Path(cmd[0]).name == "jupyter"
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)
    assert main(["nope"]) == 2


def test_run_lab_runs_jupyter_behind_a_sandbox(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in [k for k in os.environ if k.startswith("GR4VY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    assert run_lab("notebooks", ["--version"]) == 0
    out = capsys.readouterr().out
    assert "local sandbox emulator at http://127.0.0.1:" in out


def test_only_the_widgets_import_ipywidgets() -> None:
    package = REPO / "gr4vy_nb"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if "widgets" not in p.relative_to(package).parts
                 and re.search(r"^\s*(import|from)\s+ipywidgets\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def test_widget_exports_are_documented() -> None:
    import inspect

    import gr4vy_nb.widgets as widgets

    for name in widgets.__all__:
        doc = inspect.getdoc(getattr(widgets, name))
        assert doc and len(doc) > 20, name
