"""The policy set of a run: the `--policies` preset (or file) with the scenario's overrides."""

from __future__ import annotations

from policies.errors import PolicyConfigError
from policies.presets import PolicySet, load_policy_set
from scenario.schema import Scenario, ScenarioError


def policy_set(preset: str, scenario: Scenario) -> PolicySet:
    """Load `preset` and apply the scenario's overrides; bad input is one sentence."""
    try:
        return load_policy_set(preset, scenario.policies.for_preset(preset) or None)
    except (PolicyConfigError, ValueError, OSError) as exc:
        raise ScenarioError(f"scenario {scenario.name}: policies {preset!r}: {exc}") from None
