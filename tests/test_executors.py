"""The parse stage gives byte-identical feeds in-process, on a local
process pool and on a Dask cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import Project, article

from aggregator import build, load_config
from aggregator.executor import PoolExecutor, SerialExecutor

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _corpus(project: Project, n: int = 600) -> None:
    for i in range(n):
        topics = (f"Topic {i % 7}", "Every" if i % 3 else "Café")
        body = f"Body **{i}** with a [link](/p/{i})." if i % 4 == 0 else ""
        project.add(f"d{i // 100}/a{i}.md", article(f"Article {i}", f"https://example.org/a/{i}",
                                                    date=f"2022-07-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
                                                    topics=topics, quality=i % 90, body=body))


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _build_with(project: Project, executor: object, name: str) -> dict[str, bytes]:
    config = load_config(project.config)
    import dataclasses

    config = dataclasses.replace(config, output=name, state=f"state-{name}/state.db")
    report = build(config, now=NOW, executor=executor)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.problems
    return _snapshot(config.output_dir)


def test_pool_is_byte_identical_to_serial(project: Project) -> None:
    _corpus(project)
    serial = _build_with(project, SerialExecutor(), "serial")
    pool = PoolExecutor(2)
    try:
        parallel = _build_with(project, pool, "pool")
    finally:
        pool.close()
    assert serial == parallel and len(serial) > 20


@pytest.mark.slow
def test_dask_is_byte_identical_to_local(project: Project) -> None:
    distributed = pytest.importorskip("dask.distributed")
    from aggregator.executor import DaskExecutor

    _corpus(project, 300)
    local = _build_with(project, SerialExecutor(), "local")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        executor = DaskExecutor(cluster.scheduler_address)
        try:
            on_dask = _build_with(project, executor, "dask")
        finally:
            executor.close()
    assert on_dask == local
