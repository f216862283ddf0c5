"""The toxics, one per module, and the registry keyed by their wire names."""

from __future__ import annotations

from faults.toxiserver.toxics.bandwidth import BandwidthToxic
from faults.toxiserver.toxics.base import Toxic, ToxicStub
from faults.toxiserver.toxics.latency import LatencyToxic
from faults.toxiserver.toxics.limit_data import LimitDataToxic
from faults.toxiserver.toxics.noop import NoopToxic
from faults.toxiserver.toxics.reset_peer import ResetToxic
from faults.toxiserver.toxics.slicer import SlicerToxic
from faults.toxiserver.toxics.slow_close import SlowCloseToxic
from faults.toxiserver.toxics.timeout import TimeoutToxic

REGISTRY: dict[str, type[Toxic]] = {
    cls.wire_name: cls
    for cls in (
        NoopToxic,
        LatencyToxic,
        BandwidthToxic,
        SlowCloseToxic,
        TimeoutToxic,
        ResetToxic,
        SlicerToxic,
        LimitDataToxic,
    )
}

__all__ = ["REGISTRY", "NoopToxic", "Toxic", "ToxicStub"]
