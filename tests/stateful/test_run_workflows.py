"""Run workflows as a state machine (issue 15): apply, re-apply, errors.csv, resume, cancel, kill -9, rollback.

Two profiles, chosen by ``GR4VY_NB_RELIABILITY`` (as the reliability tier is):

* ``fast`` (the default, inside ``make test``): a handful of short sequences, derandomized, so CI
  is reproducible and the module stays well under two minutes on two cores;
* ``full`` (``make reliability``): more and longer sequences (15 x 20 steps), randomized; the figures
  (sequences, steps, distinct rule pairs reached, failures) are recorded for ``RELIABILITY.md``.

``GR4VY_NB_STATEFUL_EXAMPLES`` and ``GR4VY_NB_STATEFUL_STEPS`` override the sizes of either profile.

The machine itself is :class:`tests.stateful.machine.RunWorkflows`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.probe import probe_target
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox import start_sandbox
from tests.reliability._support import FULL, record
from tests.stateful.machine import Figures, RunWorkflows

PROFILE = settings(
    max_examples=int(os.environ.get("GR4VY_NB_STATEFUL_EXAMPLES", 15 if FULL else 8)),
    stateful_step_count=int(os.environ.get("GR4VY_NB_STATEFUL_STEPS", 20 if FULL else 10)),
    deadline=None,
    derandomize=not FULL,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

ENV_VARS = ("GR4VY_ID", "GR4VY_ENVIRONMENT", "GR4VY_PRIVATE_KEY_FILE", "GR4VY_PRIVATE_KEY",
            "GR4VY_MERCHANT_ACCOUNT_ID", "GR4VY_BASE_URL")


@pytest.fixture
def machine_sandbox(monkeypatch, tmp_path):
    """A sandbox of the machine's own (no seed: every sequence seeds its sessions) and the CLI pointed at it.

    The target is probed first (it merges), so bodies carry only the changed fields, as the model
    assumes. (Unprobed targets get full-state bodies, in which another writer's change to any field
    of a session makes the next write to it a conflict: ``tests/test_probe_modes.py`` covers them.)
    """
    with start_sandbox(mode="thread", seed=None) as sb:
        for name in ENV_VARS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GR4VY_BASE_URL", sb.base_url)
        monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(sb.private_key_file))
        monkeypatch.chdir(tmp_path)
        with Gr4vyClient(Settings.for_sandbox(sb)) as client:
            assert probe_target(client).merges
        yield sb


def test_run_workflows_state_machine(machine_sandbox):
    Figures.reset()
    RunWorkflows.sandbox = machine_sandbox
    try:
        run_state_machine_as_test(RunWorkflows, settings=PROFILE)
    except BaseException:
        Figures.failures += 1
        raise
    finally:
        record("stateful", sequences=Figures.sequences, steps=Figures.steps, pairs=len(Figures.pairs),
               rules=dict(Figures.rules), failures=Figures.failures,
               max_examples=PROFILE.max_examples, step_count=PROFILE.stateful_step_count)
    assert Figures.steps > 0
