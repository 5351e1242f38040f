"""The archive flatten on a Dask cluster: a LocalCluster of 2 workers gives what one process gives."""

from __future__ import annotations

import orjson
import pytest
from distributed import Client, LocalCluster

from gr4vy_nb.cluster import flatten_to_parquet, open_cluster
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import SAMPLE


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    sample = [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    out = [dict(s, id=f"{r:08d}-0000-4000-8000-{i:012d}") for r in range(3) for i, s in enumerate(sample)]
    out[-1] = dict(out[-1], metadata={"late_key": "only here"}, future_field=[1, 2])
    out[250] = dict(out[250], metadata={"early_key": "x"})
    return out


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def test_two_workers_give_the_single_process_result(tmp_path, sessions, client) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions[:400]))
    b.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions[400:]) + b"[not a session]\n")
    single = flatten_to_parquet([a, b], tmp_path / "single")
    seen = []
    # Byte ranges of ~100 KB: a.jsonl alone is cut into ~11 parts, lines cut in the middle.
    dask = flatten_to_parquet([a, b], tmp_path / "dask", cluster=client, part_bytes=100_000,
                              progress=lambda done, total: seen.append((done, total)))
    assert len(list((tmp_path / "dask" / "sessions").iterdir())) > 5
    assert dask.rows == single.rows and dask.metadata_keys == single.metadata_keys
    assert [(x.file, x.line) for x in dask.bad_lines] == [(x.file, x.line) for x in single.bad_lines] == \
        [(str(b), 201)]
    expected = flatten_sessions(sessions)
    assert {"metadata.late_key", "metadata.early_key"} <= set(expected.sessions.columns)
    back = SessionFrames.read_parquet(tmp_path / "dask")
    assert back.equals(SessionFrames.read_parquet(tmp_path / "single"))
    assert back.equals(expected)
    assert seen[0] == (0, dask.bytes_read) and seen[-1] == (dask.bytes_read, dask.bytes_read)


def test_a_failing_part_fails_the_run_and_publishes_nothing(tmp_path, client) -> None:
    good = tmp_path / "a.jsonl"
    good.write_bytes(SAMPLE.read_bytes())
    broken = tmp_path / "b.jsonl.gz"
    broken.write_bytes(b"this is not gzip data\n" * 100)
    with pytest.raises(OSError, match="gzip"):
        flatten_to_parquet([good, broken], tmp_path / "out", cluster=client, part_bytes=100_000)
    assert list((tmp_path / "out").iterdir()) == []  # no table, no manifest, no temporary folder left


def test_open_cluster_refuses_a_bad_local_spec() -> None:
    with pytest.raises(ValueError, match="local:N"), open_cluster("local:zero"):
        pass
    with pytest.raises(TypeError, match="cluster must be"), open_cluster(42):
        pass
