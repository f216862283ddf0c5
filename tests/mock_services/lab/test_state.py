"""The lab map's id and proxy names: what a lab may create and delete on a shared Toxiproxy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mock_services.lab import state
from mock_services.lab.state import LabState, NoLab, new_lab_id
from mock_services.lab.topology import default_topology

ROOT = Path(__file__).resolve().parents[3]


def _lab(run_dir: Path, lab_id: str) -> LabState:
    return LabState(run_dir, default_topology(), "http://127.0.0.1:9", False, "resilient", 0,
                    lab_id=lab_id)


def test_a_lab_names_every_proxy_with_its_id_and_keeps_it_in_its_map(tmp_path: Path) -> None:
    _lab(tmp_path, "3f9a12c0").save()
    lab = state.load(tmp_path)
    assert lab.lab_id == "3f9a12c0"
    assert lab.proxy_name("client-portal-a") == "3f9a12c0-client-portal-a"
    assert lab.proxy_names() == [f"3f9a12c0-{x.name}" for x in lab.topology.links]
    assert "3f9a12c0-portal-b-shahkar" in lab.describe()
    assert "lab id 3f9a12c0" in lab.describe()


def test_fresh_ids_are_short_hex_and_differ() -> None:
    ids = {new_lab_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)


def test_a_map_without_an_id_names_proxies_by_their_links(tmp_path: Path) -> None:
    """Maps written before lab ids, and the compose lab's, whose Toxiproxy loads fixed names."""
    _lab(tmp_path, "").save()
    assert "lab_id" not in json.loads((tmp_path / state.STATE_FILE).read_text())
    lab = state.load(tmp_path)
    assert lab.proxy_names() == [x.name for x in lab.topology.links]
    compose = state.load(ROOT / "deploy" / "lab.json")
    config = json.loads((ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8"))
    assert compose.proxy_names() == [p["name"] for p in config]


@pytest.mark.parametrize("bad", ["-x", "a b", "x" * 33, "a/b"])
def test_a_bad_id_in_the_map_is_one_sentence(tmp_path: Path, bad: str) -> None:
    _lab(tmp_path, bad).save()
    with pytest.raises(NoLab) as exc:
        state.load(tmp_path)
    message = str(exc.value)
    assert message == (f"{tmp_path / state.STATE_FILE}: lab_id is {bad!r}; expected 1 to 32 "
                       "letters, digits, '_', '.' or '-', starting with a letter or digit")
