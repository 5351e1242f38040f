"""The packaging files agree: environment.yml lists exactly pyproject.toml's dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.paths import REPO

ROOT = REPO
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$")


def _parse(spec: str) -> tuple[str, str]:
    match = _REQ.match(spec)
    assert match, f"unparseable requirement {spec!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    return dict(_parse(s) for s in specs)


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        # conda-forge packages, then the pip section (packages only PyPI has, such as the official SDK)
        for spec in [dep] if isinstance(dep, str) else [s for s in dep.get("pip", []) if s != "-e ."]:
            name, version = _parse(spec)
            if name not in {"python", "pip"}:
                out[name] = version
    return out


def test_environment_yml_matches_pyproject() -> None:
    py, conda = _pyproject(), _environment()
    missing = sorted(set(py) - set(conda))
    extra = sorted(set(conda) - set(py))
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    differing = {n: (py[n], conda[n]) for n in py if py[n] != conda[n]}
    assert not differing, f"version bounds differ (pyproject, environment.yml): {differing}"


def test_environment_installs_the_package_itself() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections and "-e ." in pip_sections[0]
    python = [d for d in env["dependencies"] if isinstance(d, str) and _parse(d)[0] == "python"]
    assert python == ["python>=3.11"]


def test_console_script_and_python_floor() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gr4vy-nb"] == "gr4vy_nb.cli:main"
    assert project["requires-python"] == ">=3.11"


def test_makefile_offers_the_readme_commands() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo:", "test:", "lab:", "bench:"):
        assert f"\n{target}" in makefile
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "make demo" in first_screen and "make test" in first_screen


def test_readme_and_make_help_give_the_reliability_tier_its_recorded_duration() -> None:
    recorded = re.search(r"([\d.]+) min on \d+ CPU", (ROOT / "RELIABILITY.md").read_text())
    assert recorded, "RELIABILITY.md records how long make reliability took"
    minutes = round(float(recorded.group(1)))
    readme = " ".join((ROOT / "README.md").read_text().split())
    said = re.search(r"`make reliability` runs the full tier \(about (\d+) minutes", readme)
    helped = re.search(r"make reliability - .*\(~(\d+) min", (ROOT / "Makefile").read_text())
    assert said and helped
    assert int(said.group(1)) == int(helped.group(1)) == minutes


def test_readme_says_the_exported_files_hold_raw_values() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    claims = [m.start() for m in re.finditer(r"[Pp]ersonal data is masked\*{0,2} in every table", readme)]
    assert claims
    for at in claims:  # each claim says, in its next sentences, that the exported files are not masked
        context = readme[at:at + 300]
        assert "export" in context and "raw values" in context, context
