"""The lab's own cost: CPU seconds of the lab's processes and the load driver over a live run.

A live run is a measurement of the modelled system only while the machine running it is not
the bottleneck. `CpuMeter` polls the lab's processes (by the lab's pid files, so a process
restarted after a power loss is counted under its new pid) and the driver's own process,
and sums their CPU time. `CpuUse.comparable` is False when, on average over the run, the lab
used more than `BUSY_SHARE` of the machine's cores, or when it, or the machine as a whole
(other work included), saturated the cores (`PEAK_SHARE`) over a stretch of `PEAK_MIN_S`: its
latencies then measure the scheduler as much as the model, and `--check` says so.

psutil reads the CPU times (portable; /proc parsing by hand would be Linux-only).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

BUSY_SHARE = 0.5  # of the machine's cores: above it the lab competes with itself for the CPU
PEAK_SHARE = 0.9  # a stretch that saturates the machine is queueing in the OS, not the model
POLL_S = 0.5  # how often the processes are read: a restarted process loses at most this much
PEAK_MIN_S = 2.0  # the busiest stretch judged is at least this long (one poll is too noisy)
DRIVER = "load-driver"


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) since boot."""
    t = psutil.cpu_times()
    return float(sum(getattr(t, name, 0.0) for name in BUSY_FIELDS))


BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of process `pid`, None when it is gone."""
    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return float(t.user + t.system)


@dataclass(frozen=True, slots=True)
class CpuUse:
    """What the lab and the driver cost over one run."""

    wall_s: float
    cores: int
    cpu_s_by_process: dict[str, float]
    busy_cores: float  # mean over the run
    peak_busy_cores: float  # the busiest PEAK_MIN_S stretch
    machine_busy_cores: float = 0.0  # the whole machine, the lab included, mean over the run
    machine_peak_busy_cores: float = 0.0  # ... its busiest PEAK_MIN_S stretch

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process together."""
        return sum(self.cpu_s_by_process.values())

    @property
    def comparable(self) -> bool:
        """False when the lab itself was the bottleneck (see the module docstring)."""
        return (self.busy_cores <= BUSY_SHARE * self.cores
                and self.peak_busy_cores <= PEAK_SHARE * self.cores
                and self.machine_peak_busy_cores <= PEAK_SHARE * self.cores)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, rounded."""
        return {"wall_s": round(self.wall_s, 3), "cores": self.cores,
                "cpu_s": round(self.cpu_s, 3), "busy_cores": round(self.busy_cores, 3),
                "peak_busy_cores": round(self.peak_busy_cores, 3),
                "machine_busy_cores": round(self.machine_busy_cores, 3),
                "machine_peak_busy_cores": round(self.machine_peak_busy_cores, 3),
                "busy_share_limit": BUSY_SHARE, "peak_share_limit": PEAK_SHARE,
                "comparable": self.comparable,
                "cpu_s_by_process": {k: round(v, 3)
                                     for k, v in sorted(self.cpu_s_by_process.items())}}


@dataclass(slots=True)
class CpuMeter:
    """Sums the CPU time of the processes `pids()` names, plus this process, while running.

    Use as a context manager around the run; `use` is filled when it exits."""

    pids: Callable[[], Mapping[str, int]]
    clock: Callable[[], float] = time.monotonic
    read: Callable[[int], float | None] = cpu_seconds
    machine: Callable[[], float] = machine_busy_seconds
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    poll_s: float = POLL_S
    use: CpuUse | None = None
    _last: dict[tuple[str, int], float] = field(default_factory=dict)
    _total: dict[str, float] = field(default_factory=dict)
    _samples: list[tuple[float, float]] = field(default_factory=list)  # (time, cumulative)
    _machine: list[tuple[float, float]] = field(default_factory=list)  # (time, machine busy)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _t0: float = 0.0

    def poll(self) -> None:
        """Read every process once and add what each used since its last reading."""
        named = {**self.pids(), DRIVER: os.getpid()}
        for name, pid in named.items():
            now_s = self.read(pid)
            if now_s is None:
                continue
            key = (name, pid)
            before = self._last.get(key)
            # a process first seen mid-run (restarted) counts from its first reading
            if before is not None:
                self._total[name] = self._total.get(name, 0.0) + max(0.0, now_s - before)
            else:
                self._total.setdefault(name, 0.0)
            self._last[key] = now_s
        now = self.clock()
        self._samples.append((now, sum(self._total.values())))
        self._machine.append((now, self.machine()))

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def __enter__(self) -> CpuMeter:
        self._t0 = self.clock()
        self.poll()
        self._thread = threading.Thread(target=self._loop, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()
        self.use = self.result()

    def result(self) -> CpuUse:
        """The use so far."""
        wall = max(self.clock() - self._t0, 1e-9)
        total = sum(self._total.values())
        m = self._machine
        machine = (m[-1][1] - m[0][1]) / wall if len(m) >= 2 else 0.0
        return CpuUse(wall, self.cores, dict(self._total), total / wall, _peak(self._samples),
                      max(0.0, machine), _peak(m))


def _peak(samples: list[tuple[float, float]]) -> float:
    """The highest mean busy cores over any stretch of at least PEAK_MIN_S between samples."""
    best = 0.0
    j = 0
    for i in range(len(samples)):
        while j < i and samples[i][0] - samples[j + 1][0] >= PEAK_MIN_S:
            j += 1
        span = samples[i][0] - samples[j][0]
        if span >= PEAK_MIN_S:
            best = max(best, (samples[i][1] - samples[j][1]) / span)
    return best
