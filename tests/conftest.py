"""Test-suite configuration: Hypothesis profiles chosen by HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

pytest_plugins = ["chaoslab.pytest_plugin"]  # the chaos fixtures (tests/chaos)

# ci: bounded so `make test` fits its budget; dev: quick local runs; thorough: overnight;
# mutate (`make mutate`): ci's examples without shrinking — a mutant is caught by the first
# failing example, and shrinking it would only spend the run's time.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("mutate", settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
                          database=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
