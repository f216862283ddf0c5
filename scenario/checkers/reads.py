"""The stale-if-error checker: during an upstream outage reads are still served, and those
served from the cache (value "stale:<age_s>", `scenario.names.stale_value`) are no older than
the allowed staleness.
"""

from __future__ import annotations

from scenario.checkers.index import index
from scenario.checkers.params import Params, Seconds, Share
from scenario.checkers.windows import during, select_faults
from scenario.history import READ_FS, History
from scenario.names import is_stale, stale_age_s
from scenario.verdict import Checker, Verdict


class StaleReadsParams(Params):
    """The oldest answer allowed, the share of reads during faults that must be served."""

    max_staleness_s: Seconds = 300.0
    min_served_share: Share = 0.95
    fault_kinds: tuple[str, ...] = ()
    fs: tuple[str, ...] = tuple(sorted(READ_FS))


def stale_reads(params: StaleReadsParams, name: str = "stale_reads") -> Checker:
    """Reads invoked during faults are served (>= min_served_share ok), and every stale
    answer is at most `max_staleness_s` old.
    """
    fs = frozenset(params.fs)

    def check(history: History) -> Verdict:
        ix = index(history)
        in_fault = during(select_faults(ix, params.fault_kinds))
        reads = [c for c in ix.calls if c.f in fs and c.outcome is not None]
        faulted = [c for c in reads if in_fault(c.start_s)]
        if not faulted:
            return Verdict(name, "unknown", "no completed read during a fault")
        served = sum(c.ok for c in faulted)
        share = served / len(faulted)
        text = f"{served} of {len(faulted)} reads during faults served ({share:.3f})"
        if share < params.min_served_share:
            return Verdict(name, False, f"{text} < {params.min_served_share}")
        stale = [c for c in reads if c.ok and is_stale(c.value)]
        ages = [stale_age_s(c.value) for c in stale]
        known = [a for a in ages if a is not None]
        too_old = [a for a in known if a > params.max_staleness_s]
        if too_old:
            return Verdict(name, False, f"{text}; {len(too_old)} of {len(stale)} stale reads "
                                        f"older than {params.max_staleness_s:g}s (oldest "
                                        f"{max(too_old):g}s)")
        if len(known) < len(stale):
            return Verdict(name, "unknown", f"{text}; {len(stale) - len(known)} stale reads "
                                            "carry no age (value 'stale:<age_s>')")
        return Verdict(name, True, f"{text}; {len(stale)} stale reads all within "
                                   f"{params.max_staleness_s:g}s")

    return check
