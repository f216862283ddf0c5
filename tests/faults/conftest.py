"""Fixtures of the faults tests: the Toxiproxy-compatible server of faults.testing."""

from faults.testing import toxiproxy, toxiproxy_kind, toxiproxy_url

__all__ = ["toxiproxy", "toxiproxy_kind", "toxiproxy_url"]
