"""chaoslab.live.cpu: the lab's CPU use, summed over restarts, judged against the cores."""

from __future__ import annotations

import os

from chaoslab.live.cpu import DRIVER, CpuMeter, CpuUse, cpu_seconds


def test_sums_deltas_and_counts_a_restarted_process_from_its_first_reading() -> None:
    t = [0.0]
    pids = {"portal-a": 100, "proxy": 200}
    cpu = {100: 1.0, 200: 5.0, os.getpid(): 10.0}
    meter = CpuMeter(pids=lambda: pids, clock=lambda: t[0], read=cpu.get, cores=2,
                     machine=lambda: t[0] * 0.5)  # the machine half a core busy
    meter.poll()
    t[0], cpu[100], cpu[200], cpu[os.getpid()] = 2.0, 2.0, 5.5, 10.5
    meter.poll()
    pids["portal-a"] = 101  # killed and restarted: the new process starts at 0.3 s
    cpu[101] = 0.3
    t[0] = 4.0
    meter.poll()
    cpu[101] = 0.8
    t[0] = 6.0
    meter.poll()
    use = meter.result()
    assert use.cpu_s_by_process == {"portal-a": 1.5, "proxy": 0.5, DRIVER: 0.5}
    assert abs(use.busy_cores - 2.5 / 6.0) < 1e-9
    assert abs(use.machine_busy_cores - 0.5) < 1e-9
    assert use.comparable


def _five_seconds(lab_cores: float, machine_cores: float) -> CpuUse:
    """What the meter says of five seconds in which the lab keeps `lab_cores` busy and the
    whole machine `machine_cores`."""
    t = [0.0]
    cpu = {1: 0.0, os.getpid(): 0.0}
    meter = CpuMeter(pids=lambda: {"portal-a": 1}, clock=lambda: t[0], read=cpu.get, cores=2,
                     machine=lambda: t[0] * machine_cores)
    for step in range(1, 6):
        meter.poll()
        t[0] = float(step)
        cpu[1] += lab_cores
    meter.poll()
    return meter.result()


def test_a_busy_lab_is_not_comparable() -> None:
    use = _five_seconds(lab_cores=1.5, machine_cores=1.6)  # 1.5 cores of 2 for the whole run
    assert use.busy_cores > 1.0 and not use.comparable


def test_reads_this_process() -> None:
    assert (cpu_seconds(os.getpid()) or 0.0) > 0.0
    assert cpu_seconds(2**22 + 12345) is None  # no such process


def test_a_machine_busy_with_other_work_is_not_comparable() -> None:
    # the lab is idle, but something else keeps both cores busy for the whole run
    use = _five_seconds(lab_cores=0.0, machine_cores=2.0)
    assert use.busy_cores == 0.0 and use.machine_peak_busy_cores == 2.0
    assert not use.comparable
