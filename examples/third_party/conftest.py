"""Load chaoslab's fixtures (chaos_lab, fault, injector, run_scenario, ...) into this suite."""

pytest_plugins = ["chaoslab.testing"]
