"""gr4vy-nb plan/apply with destructive changes (issue 13, items 1-3): --allow-destructive and --lists patch."""

from __future__ import annotations

import json
from pathlib import Path

from gr4vy_nb.cli import main
from gr4vy_nb.sandbox.seeding import default_seed_path

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
S0 = SEED[0]["id"]




def one_passenger(folder: Path, first_name: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passengers.csv").write_text(f"checkout_session_id,passenger_index,first_name\n{S0},1,{first_name}\n")
    return folder


def puts(sandbox) -> int:
    return sum((sandbox.stats()["requests"].get("PUT") or {}).values())


def passengers(sandbox, http, auth_headers) -> int:
    got = http.get(f"{sandbox.base_url}/checkout/sessions/{S0}", headers=auth_headers(), timeout=10).json()
    return len(got["airline"]["passengers"])


def test_plan_lists_the_destructive_changes(env, tmp_path, capsys):
    assert main(["plan", str(one_passenger(tmp_path / "up"))]) == 0
    out = capsys.readouterr().out
    assert "destructive" in out  # the problems table: the warning at file, line, column
    assert "DESTRUCTIVE: would remove 3 passengers in 1 session" in out
    assert f"{S0}  removes passengers #0, #2, #3 of 4" in out
    assert "keeps passengers #1 (now at position 0)" in out


def test_apply_refuses_a_one_row_replace_without_consent_and_accepts_it_with(env, tmp_path, capsys, http,
                                                                            auth_headers):
    folder = one_passenger(tmp_path / "up")
    assert main(["apply", str(folder)]) == 2
    out = capsys.readouterr().out
    assert "Nothing was sent: the plan would remove 3 passengers in 1 session" in out
    assert "--allow-destructive" in out and f"{S0}  removes passengers #0, #2, #3 of 4" in out
    assert "[destructive_needs_consent]" in out  # the workflow's reason code, as the bulk app's
    # the advice names the command being run, with the flag where that command takes it
    assert f"run `gr4vy-nb apply {folder} --allow-destructive`" in out
    assert f"or run `gr4vy-nb apply {folder} --lists patch` to keep" in out and "plan with --lists" not in out
    assert puts(env) == 0 and not (tmp_path / "runs").exists()
    assert passengers(env, http, auth_headers) == 4
    assert main(["apply", str(folder), "--allow-destructive"]) == 0
    assert puts(env) == 1
    assert passengers(env, http, auth_headers) == 1


def test_patch_mode_keeps_the_other_passengers_and_needs_no_consent(env, tmp_path, capsys, http, auth_headers):
    folder = one_passenger(tmp_path / "up", "Hanna")
    assert main(["plan", str(folder), "--lists", "patch"]) == 0
    out = capsys.readouterr().out
    assert "DESTRUCTIVE" not in out and "airline.passengers[1].first_name" in out
    assert main(["apply", str(folder), "--lists", "patch"]) == 0
    assert passengers(env, http, auth_headers) == 4 and puts(env) == 1
    assert main(["apply", str(folder), "--lists", "patch"]) == 0  # the second is a no-op
    assert puts(env) == 1
    assert main(["plan", str(folder), "--lists", "merge"]) == 2  # a usage error


def test_a_saved_destructive_plan_is_refused_too(env, tmp_path, capsys):
    folder = one_passenger(tmp_path / "up")
    assert main(["plan", str(folder), "--save", str(tmp_path / "plan.json")]) == 0
    capsys.readouterr()
    assert main(["apply", str(tmp_path / "plan.json")]) == 2
    assert puts(env) == 0
    out = capsys.readouterr().out  # a saved plan's lists are made: the advice is to plan again, in patch mode
    assert f"`gr4vy-nb plan DIR --lists patch --save {tmp_path / 'plan.json'}`" in out
