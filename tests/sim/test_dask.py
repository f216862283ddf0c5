"""`--executor dask://HOST:PORT` against a real (small, in-process) Dask cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslab.cli import main

distributed = pytest.importorskip("distributed")
# Each cluster's HTTP server on a port of its own: by default it binds 8787, and when a
# parallel test worker's cluster holds that, distributed warns and leaks the socket it tried.

DATA = Path(__file__).resolve().parents[1] / "chaoslab" / "data"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(120)
def test_replications_on_a_dask_cluster_match_the_local_ones(small_scenario: Path,
                                                              tmp_path: Path) -> None:
    # in-process workers, but a real TCP scheduler on loopback that the CLI connects to
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        assert main(["sim", str(small_scenario), "--seeds", "2", "--executor",
                     f"dask://{address}", "--out", str(tmp_path / "dask")]) == 0
    assert main(["sim", str(small_scenario), "--seeds", "2", "--workers", "1",
                 "--out", str(tmp_path / "local")]) == 0
    reports = [json.loads((tmp_path / d / "report.json").read_text(encoding="utf-8"))
               for d in ("dask", "local")]
    for r in reports:
        r.pop("wall_s")
    assert reports[0] == reports[1]


def test_an_unreachable_scheduler_is_one_sentence_and_exit_2(small_scenario: Path,
                                                            tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import socket

    monkeypatch.setattr("sim.runner.DASK_CONNECT_S", 1.0)  # the message, not the wait

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["sim", str(small_scenario), "--executor", f"dask://127.0.0.1:{port}",
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    """A real TCP scheduler on loopback with two worker processes (jobs are pickled across)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        yield "dask://" + cluster.scheduler_address.removeprefix("tcp://")


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(240)
def test_explore_on_a_dask_cluster_finds_what_it_finds_locally(cluster_address: str) -> None:
    from chaoslab.explore import Options, explore, load

    base = load(str(DATA / "explore_small.toml"), SCENARIOS)[1]
    options = Options(policies="baseline", budget=12, max_faults=3, confirm=3, seed=1)
    here = explore(base, options, workers=1)
    there = explore(base, options, executor=cluster_address)
    assert [(o.invariant, o.finding, o.runs, o.note) for o in there] == \
        [(o.invariant, o.finding, o.runs, o.note) for o in here]
    assert any(o.finding is not None for o in here)  # a search that found something


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(240)
def test_tune_on_a_dask_cluster_runs_the_same_trials(cluster_address: str) -> None:
    from chaoslab.explore import load
    from chaoslab.tune import Options, Param, Space, local_mapper, tune

    bases = [load(str(DATA / "erlang_loss.toml"), SCENARIOS)[1]]
    space = Space((), (Param("workers", 1, 16, integer=True),))
    options = Options("baseline", budget=6, seeds=2, seed=3)
    here = tune(bases, space, options, local_mapper(1, "local"))
    there = tune(bases, space, options, local_mapper(1, cluster_address))
    assert [(t.params, t.values, t.user_attrs) for t in there.trials] == \
        [(t.params, t.values, t.user_attrs) for t in here.trials]
