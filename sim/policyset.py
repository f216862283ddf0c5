"""The policy set of a run: the `--policies` preset (or file) with the scenario's overrides.

Resolved by `policies.resolve.resolve_policies`, the one resolver `chaoslab sim`, `chaoslab
lab run` and the pytest plugin share; this module adds the checks that need the scenario."""

from __future__ import annotations

from policies.errors import PolicyConfigError
from policies.presets import PRESETS, PolicySet
from policies.resolve import resolve_policies
from scenario.schema import Scenario, ScenarioError


def policy_set(preset: str, scenario: Scenario) -> PolicySet:
    """Load `preset` and apply the scenario's overrides; bad input is one sentence.

    A policy for an upstream the scenario does not declare is refused: a typo there would
    leave the real upstream on the default client policy without a word."""
    try:
        policies = resolve_policies(preset, scenario.policies.for_preset(preset) or None)
    except (PolicyConfigError, ValueError, OSError) as exc:
        where = "" if str(exc).startswith(preset) else f"policies {preset!r}: "
        raise ScenarioError(f"scenario {scenario.name}: {where}{exc}") from None
    preset_upstreams = {name for p in PRESETS.values() for name in p.upstreams}
    unknown = sorted(set(policies.upstreams) - set(scenario.topology.upstreams)
                     - preset_upstreams)  # the presets' own serve scenarios with and without
    if unknown:
        raise ScenarioError(f"scenario {scenario.name}: {preset}: policies.upstreams."
                            f"{unknown[0]} names no upstream of the scenario; expected one "
                            f"of {sorted(scenario.topology.upstreams)}")
    return policies
