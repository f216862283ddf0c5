"""The scenario's policy set: a preset name plus overrides, common and per preset."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from policies.presets import DEFAULT_PRESET, PRESETS
from scenario.schema.fields import STRICT
from scenario.schema.problems import Problem, invalid, nonfinite


class Policies(BaseModel):
    """The policy set: a preset (what `lab run` uses when not told) plus overrides.

    `overrides` apply to whichever preset runs (`--policies`); `baseline` and `resilient`
    apply only to that preset, e.g. to give the baseline a scenario's retry habit.
    """

    preset: str = DEFAULT_PRESET
    """the preset a run uses when not told: "baseline" or "resilient\""""

    model_config = STRICT
    overrides: dict[str, Any] = {}
    """policy values for whichever preset runs (policies/presets.py's keys)"""
    baseline: dict[str, Any] = {}
    """policy values for the baseline preset only"""
    resilient: dict[str, Any] = {}
    """policy values for the resilient preset only"""

    @model_validator(mode="after")
    def _known(self) -> Policies:
        found: list[Problem] = []
        if self.preset not in PRESETS:
            found.append(Problem("preset", f"one of {sorted(PRESETS)}", repr(self.preset)))
        for key in ("overrides", "baseline", "resilient"):
            found += nonfinite(getattr(self, key), key)
        if found:
            raise invalid(*found)
        return self

    def for_preset(self, preset: str) -> dict[str, Any]:
        """The overrides for `preset`: the common ones, then the preset's own."""
        own = {"baseline": self.baseline, "resilient": self.resilient}.get(preset, {})
        return deep_merge(self.overrides, own)


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """`a` updated with `b`, tables merged key by key."""
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(
            out.get(k), dict) else v
    return out
