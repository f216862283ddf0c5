"""The lab supervisor: starts the topology on loopback behind Toxiproxy, and stops it cleanly.

`Lab.up()` checks everything it can before starting anything (the topology, fixed ports, an
external Toxiproxy), writes the map, then starts the proxy server and every service at once,
creates one proxy per link and waits for readiness with a deadline. Any failure tears down
what was started and raises `LabError` naming the culprit (with the tail of its log).
`teardown(run_dir)` (in `cleanup`) works from the pid files alone, so it also cleans up after
a crashed supervisor. Faults (power loss, deploys) live in `mock_services.lab.operations`,
a replica's breakdown (`replica_failure`) in `mock_services.lab.breakdowns`; `pause` and
`resume` (SIGSTOP, SIGCONT) are what a breakdown that pauses the work sends.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from faults.client import ToxiproxyClient
from faults.errors import FaultError
from mock_services.lab import access, ports, procs, proxies, state
from mock_services.lab.cleanup import teardown
from mock_services.lab.config import (
    PROXY,
    TOXIPROXY_URL_ENV,
    LabConfig,
    LabError,
    proxy_defs,
    resolve,
)
from mock_services.lab.demand import demand_path
from mock_services.lab.readiness import NotReady, wait_ready
from mock_services.lab.state import LabState
from mock_services.lab.topology import CLIENT, ServiceSpec
from policies.resolve import POLICIES_FILE, write_policies


def service_argv(lab: LabState, s: ServiceSpec) -> tuple[str, ...]:
    """The command line of `s`, as the services contract defines it."""
    argv = [sys.executable, "-m", "mock_services", s.kind, "--host", ports.HOST,
            "--port", str(s.port), "--data-dir", str(lab.data_dir(s)),
            "--policies", lab.policies_file or lab.policies,  # the resolved file, if any
            "--demand", str(demand_path(lab.run_dir)),  # read if it exists (lab.demand)
            "--admin-port", str(access.admin_port(lab, s.name)),  # no proxy fronts it
            "--secrets-file", str(access.secrets_path(lab.run_dir))]
    if s.kind == "portal":
        argv += ["--replica-id", s.replica_id or s.name]
        for link in lab.topology.links_from(s.name):
            kind = lab.topology.service(link.target).kind
            argv += ["--upstream", f"{kind}={lab.proxied_url(s.name, link.target)}"]
    return tuple(argv)


class Lab:
    """A running lab: its map and the processes this supervisor started (or attached to)."""

    def __init__(self, lab_state: LabState, config: LabConfig) -> None:
        self.state = lab_state
        self.config = config
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def attach(cls, run_dir: Path) -> Lab:
        """The lab already running in `run_dir` (started by another `lab up --detach`);
        `run_dir` may also name the map file itself."""
        try:
            lab_state = state.load(run_dir)
        except state.NoLab as exc:
            raise LabError(str(exc), bad_input=True) from None
        return cls(lab_state, LabConfig(lab_state.run_dir, lab_state.topology,
                                        lab_state.policies))

    # -- processes -------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        """The pid of process `name`, if it has one."""
        proc = self.procs.get(name)
        return proc.pid if proc else procs.read_pids(self.state.run_dir).get(name)

    def start(self, names: list[str]) -> None:
        """Start the named services (not waiting for readiness)."""
        for name in names:
            s = self.state.topology.service(name)
            spec = procs.ProcessSpec(name, service_argv(self.state, s))
            self.state.data_dir(s).mkdir(parents=True, exist_ok=True)
            self.procs[name] = procs.spawn(self.state.run_dir, spec)

    def wait_ready(self, names: list[str]) -> None:
        """Wait until every named service is ready; `LabError` with its log tail otherwise."""
        deadline = time.monotonic() + self.config.ready_timeout_s
        urls = {n: self.state.url(n) for n in names}
        try:
            wait_ready(urls, deadline, self.procs)
        except NotReady as exc:
            raise LabError(f"service {exc.name!r} is not ready: {exc} (log "
                           f"{procs.log_path(self.state.run_dir, exc.name)}, last lines:\n"
                           f"{procs.log_tail(self.state.run_dir, exc.name)})") from None

    def kill(self, names: list[str]) -> None:
        """SIGKILL the named processes (a power cut) and wait until they are gone."""
        for name in names:
            pid = self.pid(name)
            if pid is not None:
                procs.signal_group(pid, signal.SIGKILL)
        self._reap(names, time.monotonic() + 5.0)

    def pause(self, names: list[str]) -> None:
        """SIGSTOP the named processes (a replica breaks down with its work paused) and wait
        until the kernel has stopped them: from then on their connections only queue."""
        deadline = time.monotonic() + 5.0
        for name in names:
            pid = self.pid(name)
            if pid is None:
                continue  # not running: nothing to stop
            procs.signal_group(pid, signal.SIGSTOP)
            if not procs.wait_stopped(pid, deadline) and procs.alive(pid):
                raise LabError(f"{name} (pid {pid}) did not stop within 5 s of SIGSTOP")

    def resume(self, names: list[str]) -> None:
        """SIGCONT the named processes (a paused replica is repaired); harmless on a running
        one, and a gone one is skipped."""
        for name in names:
            pid = self.pid(name)
            if pid is not None:
                procs.signal_group(pid, signal.SIGCONT)

    def stop(self, names: list[str]) -> None:
        """SIGTERM the named processes (graceful: in-flight requests drain), at once."""
        for name in names:
            pid = self.pid(name)
            if pid is not None:
                procs.signal_group(pid, signal.SIGTERM)
        self._reap(names, time.monotonic() + self.config.stop_grace_s)

    def _reap(self, names: list[str], deadline_s: float) -> None:
        pids = {n: p for n in names if (p := self.pid(n)) is not None}
        survivors = procs.wait_gone(list(pids.values()), deadline_s, list(self.procs.values()))
        for pid in survivors:  # outlived its grace period: cut it
            procs.kill_group(pid, list(self.procs.values()))
        for name in names:
            proc = self.procs.pop(name, None)
            if proc is not None:
                proc.wait(timeout=5.0)
            procs.remove_pid_file(self.state.run_dir, name)

    def set_ready(self, name: str, ready: bool) -> None:
        """Take replica `name` out of (or back into) rotation through its admin endpoint."""
        r = self.admin().post(name, "/admin/ready", json={"ready": ready}, timeout_s=2.0)
        if r.status_code >= 400:
            raise LabError(f"{name} refused POST /admin/ready: HTTP {r.status_code}")

    def admin(self) -> access.AdminAccess:
        """The lab's admin listeners and their token (read from the run directory)."""
        return access.admin_access(self.state)

    def running(self) -> dict[str, bool]:
        """Every process of the lab -> whether it is alive."""
        names = [PROXY] if self.state.embedded_proxy else []
        names += [s.name for s in self.state.topology.services]
        result = {}
        for name in names:
            pid = self.pid(name)
            result[name] = pid is not None and procs.belongs_to(pid, self.state.run_dir)
        return result

    def reset(self) -> None:
        """Back to a healthy lab between tests: every process up and ready, proxies clean,
        the portals' policy state fresh."""
        running = self.running()
        # a replica a crashed run left stopped (SIGSTOP) answers nothing until continued
        self.resume([name for name, up in running.items() if up])
        dead = [s.name for s in self.state.topology.services if not running.get(s.name)]
        if dead:
            self.kill(dead)  # forget their stale pid files before starting them afresh
            self.start(dead)
        self.wait_ready([s.name for s in self.state.topology.services
                         if s.kind != "portal"] + dead)
        admin = self.admin()
        for portal in self.state.topology.portals():
            self.set_ready(portal.name, True)
            # its emulated service clock runs again (404: a build without breakdowns has
            # nothing to clear)
            r = admin.request("DELETE", portal.name, "/admin/breakdown", timeout_s=2.0)
            if r.status_code >= 400 and r.status_code != 404:
                raise LabError(f"{portal.name} refused DELETE /admin/breakdown: "
                               f"HTTP {r.status_code}")
            r = admin.post(portal.name, "/admin/policies/reset", timeout_s=2.0)
            if r.status_code >= 400:
                raise LabError(f"{portal.name} refused POST /admin/policies/reset: "
                               f"HTTP {r.status_code}")
        for upstream in self.state.topology.upstreams():  # HTTP-level faults back to normal
            r = admin.post(upstream.name, "/admin/fault", json={"mode": "ok"}, timeout_s=2.0)
            if r.status_code >= 400:
                raise LabError(f"{upstream.name} refused POST /admin/fault: HTTP {r.status_code}")
        try:
            with ToxiproxyClient(self.state.toxiproxy_url, timeout_s=proxies.TIMEOUT_S) as client:
                proxies.heal(client, self.state.proxy_names())  # ours alone
        except FaultError as exc:
            raise LabError(str(exc)) from None

    def down(self) -> None:
        """Stop everything this lab started and delete its proxies."""
        teardown(self.state.run_dir, self.config.stop_grace_s, list(self.procs.values()))
        self.procs.clear()


def up(config: LabConfig) -> Lab:
    """Start the lab of `config` and return it once every service is ready."""
    run_dir = config.run_dir
    policy_set = config.resolved_policies()  # bad policies: refused before anything is made
    try:  # before anything starts: a run directory that cannot be made is bad input
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"--dir {run_dir}: cannot create it ({exc.strerror or exc}); expected a "
                       "directory that exists or can be made", bad_input=True) from None
    if (run_dir / state.STATE_FILE).exists():
        if any(Lab.attach(run_dir).running().values()):
            raise LabError(f"a lab is already running in {run_dir}; run 'chaoslab lab down "
                           f"--dir {run_dir}' first", bad_input=True)
        teardown(run_dir)  # the leftovers of a crashed supervisor
    lab_state = resolve(config)
    if not lab_state.embedded_proxy:
        try:
            with ToxiproxyClient(lab_state.toxiproxy_url, timeout_s=proxies.VERSION_TIMEOUT_S) as c:
                c.version()
        except FaultError as exc:
            raise LabError(f"{str(exc).rstrip('.')}; expected a Toxiproxy server at "
                           f"${TOXIPROXY_URL_ENV}", bad_input=True) from None
    policies_file = lab_state.run_dir / POLICIES_FILE  # every process is handed this file
    lab_state = replace(lab_state, policies_file=str(policies_file),
                        policies_digest=write_policies(policy_set, policies_file))
    lab_state.save()
    access.prepare(lab_state)  # secrets.json and admin.json, before any process reads them
    lab = Lab(lab_state, config)
    try:
        if lab_state.embedded_proxy:
            port = int(lab_state.toxiproxy_url.rsplit(":", 1)[1])
            spec = procs.ProcessSpec(PROXY, proxies.server_argv(port))
            lab.procs[PROXY] = procs.spawn(lab_state.run_dir, spec)
        lab.start([s.name for s in lab_state.topology.services])
        deadline = time.monotonic() + config.ready_timeout_s
        try:
            wait_ready({PROXY: lab_state.toxiproxy_url}, deadline, lab.procs,
                       path=lambda _n: "/version")
        except NotReady as exc:
            raise LabError(f"the Toxiproxy server is not ready: {exc} (last lines of its log:\n"
                           f"{procs.log_tail(lab_state.run_dir, PROXY)})") from None
        try:
            with ToxiproxyClient(lab_state.toxiproxy_url, timeout_s=proxies.CREATE_TIMEOUT_S) as c:
                proxies.create(c, proxy_defs(lab_state))
        except FaultError as exc:
            raise LabError(str(exc)) from None
        lab.wait_ready([s.name for s in lab_state.topology.services])
    except BaseException:
        lab.down()
        raise
    return lab


__all__ = ["CLIENT", "PROXY", "Lab", "LabConfig", "LabError", "teardown", "up"]
