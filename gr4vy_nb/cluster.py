"""The same flatten on a Dask cluster (``dask.distributed``): parts by file and byte range, one dataset per table.

::

    >>> flatten_to_parquet("archive-2026-11/", "flat/")                          # this process
    >>> flatten_to_parquet("archive-2026-11/", "flat/", cluster="local:4")       # a local cluster of 4 workers
    >>> flatten_to_parquet("/mnt/shared/2026-11/", "/mnt/shared/flat/",
    ...                    cluster="tcp://scheduler:8786")                        # an existing cluster
    >>> flatten_to_parquet(sources, out, cluster=client)                          # a Client you already hold

The sources are cut into parts (each file, and each uncompressed file into byte ranges of
``part_bytes``: a part owns the lines that start in it), and the workers run exactly what one
process runs, :func:`gr4vy_nb.tables.archive.flatten_part` then, once every part's metadata keys
are known and unified, :func:`~gr4vy_nb.tables.archive.finish_part`. Each part writes its own file
of each table's dataset, so nothing is gathered on the client but counts, keys and bad lines.
On a real cluster the sources and ``out`` must be on storage every worker sees under the same
path (a shared file system), and the workers need ``gr4vy-nb`` installed (the README shows how).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .tables.archive import (
    DEFAULT_MEMORY_LIMIT,
    ArchiveResult,
    Mapper,
    parse_memory,
    thread_mapper,
    write_archive,
)

__all__ = ["DEFAULT_PART_BYTES", "dask_mapper", "flatten_to_parquet", "open_cluster"]

DEFAULT_PART_BYTES = 256 << 20
"""Byte range of an uncompressed file that one task flattens (about 90,000 sessions)."""
LOCAL_THREADS = 2
"""Parts flattened at once in this process when no cluster is given (two keep both cores of a laptop busy)."""
LOCAL_PART_BYTES = 128 << 20
"""Byte range a thread flattens at a time in this process."""


def flatten_to_parquet(sources: Any, out: str | os.PathLike[str], *, memory_limit: int | str = DEFAULT_MEMORY_LIMIT,
                       cluster: Any = None, format: str = "parquet",
                       progress: Callable[[int, int], None] | None = None,
                       part_bytes: int | None = None) -> ArchiveResult:
    """Flatten JSON Lines archives of any size into the four tables (Parquet datasets, or CSV) in ``out``.

    Args:
        sources: JSON Lines files (``.gz`` too), folders (their ``*.jsonl``/``*.ndjson``/``*.json``
            files and ``.gz`` of them, recursively) and globs; one or a list.
        out: the folder written: ``out/sessions/``, ``out/cart_items/``, ``out/legs/``,
            ``out/passengers/`` (``out/sessions.csv`` ... with ``format="csv"``), then ``_flatten.json``.
        memory_limit: bytes or text (``"1GB"``): this process's budget, or for ``local:N`` the
            whole local cluster's; workers of an existing cluster each get it.
        cluster: ``None`` (this process), ``"local:N"`` (a local cluster of N worker processes),
            a scheduler address (``"tcp://host:8786"``), or a ``distributed.Client`` or cluster object.
        progress: ``progress(done_bytes, total_bytes)``, called as the input is read (on a
            cluster, as parts finish).
        part_bytes: byte range per task on a cluster (default :data:`DEFAULT_PART_BYTES`).

    Returns an :class:`~gr4vy_nb.tables.archive.ArchiveResult` (rows per table, metadata keys,
    bad lines with file and line). Raises :class:`FileNotFoundError` for a source with no file.
    """
    if cluster is None:  # parts of LOCAL_PART_BYTES, LOCAL_THREADS at a time, sharing the memory limit
        return write_archive(sources, out, memory_limit=memory_limit, format=format, progress=progress,
                             mapper=thread_mapper(LOCAL_THREADS), part_bytes=part_bytes or LOCAL_PART_BYTES,
                             workers=LOCAL_THREADS)
    with open_cluster(cluster, memory_limit) as (client, workers):
        return write_archive(sources, out, memory_limit=memory_limit, format=format, progress=progress,
                             mapper=dask_mapper(client), part_bytes=part_bytes or DEFAULT_PART_BYTES,
                             workers=workers)


@contextmanager
def open_cluster(cluster: Any, memory_limit: int | str = DEFAULT_MEMORY_LIMIT) -> Iterator[tuple[Any, int]]:
    """A ``distributed.Client`` for ``cluster`` (see :func:`flatten_to_parquet`), and how many workers
    share ``memory_limit`` (N for ``local:N``, else 1: each worker of a cluster has its own budget).

    What this opens it closes; a Client or cluster passed in is left open.
    """
    import dask
    from distributed import Client, LocalCluster

    if isinstance(cluster, Client):
        yield cluster, 1
        return
    if isinstance(cluster, str) and cluster.startswith("local:"):
        count = cluster.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster {cluster}: expected local:N with N a number of workers (e.g. local:2)")
        n = int(count)
        per_worker = parse_memory(memory_limit) // n
        # The tasks keep nothing in Dask's memory: spilling cannot help and pausing a worker would stall it on
        # memory its own flatten holds; only the nanny's terminate threshold (95% of the limit) stays.
        quiet = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
                 "distributed.worker.memory.pause": False}
        with dask.config.set(quiet), LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                  memory_limit=per_worker, dashboard_address=None) as local, \
                Client(local) as client:
            yield client, n
        return
    if isinstance(cluster, str):
        with Client(cluster) as client:
            yield client, 1
        return
    if hasattr(cluster, "scheduler_address"):  # a cluster object (LocalCluster, KubeCluster, YarnCluster, ...)
        with Client(cluster) as client:
            yield client, 1
        return
    raise TypeError(f"cluster must be None, 'local:N', a scheduler address or a distributed Client, not {cluster!r}")


def dask_mapper(client: Any) -> Mapper:
    """A mapper for :func:`~gr4vy_nb.tables.archive.write_archive` running each part as a task on ``client``.

    Results come back in the parts' order; progress counts a part's bytes when it finishes; the
    first failing part cancels the others and raises its error.
    """
    from distributed import as_completed

    def run(fn: Callable[..., Any], items: list[Any], step: Callable[[int], None]) -> list[Any]:
        if not items:
            return []
        futures = client.map(fn, items, pure=False)
        sizes = {f.key: getattr(item, "size", 0) for f, item in zip(futures, items, strict=True)}
        try:
            for future in as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the part's own exception
                step(sizes[future.key])
            return client.gather(futures)
        finally:
            client.cancel(futures)

    return run
