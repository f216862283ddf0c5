"""`python -m mock_services SERVICE --port N --data-dir DIR ...`: one service as a uvicorn process.

The flags are those of SERVICES_CONTRACT.md; --seed and the population sizes are extras with
defaults every process shares. Bad arguments print one sentence and exit 2.

One process serves two listeners: the client app on --port (what the proxies front) and, with
--admin-port, the admin app (admin routes, /metrics; the admin token on every request) on
its own port, which no proxy fronts. uvicorn's proxy headers are off: X-Forwarded-For is read
only from the proxies a deployment names with --trusted-proxy (none by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from mock_services import seed
from mock_services.common.access import admin_app
from policies.presets import DEFAULT_PRESET

SERVICES = ("portal", "shahkar", "registry", "payment", "sms")
UPSTREAMS = ("shahkar", "registry", "payment", "sms")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mock_services: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m mock_services", description="Run one chaoslab service.")
    p.add_argument("service", choices=SERVICES, help="which service to run")
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on (1-65535)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--data-dir", type=Path, required=True, help="directory of the SQLite files")
    p.add_argument("--upstream", action="append", default=[], metavar="NAME=URL",
                   help="portal only: where to reach an upstream (shahkar, registry, payment, sms)")
    p.add_argument("--policies", default=DEFAULT_PRESET,
                   help="portal only: baseline, resilient, a policy TOML file or a resolved "
                        f"policies.json (default {DEFAULT_PRESET}, as the lab's)")
    p.add_argument("--replica-id", default="r0", help="this replica's name (default r0)")
    p.add_argument("--seed", type=int, default=seed.DEFAULT_SEED, help="demo population seed")
    p.add_argument("--citizens", type=int, default=seed.DEFAULT_CITIZENS,
                   help="demo citizens to seed")
    p.add_argument("--demand", type=Path, default=None, metavar="FILE",
                   help="the scenario's service demand to emulate (JSON, the lab's "
                        "demand.json); read at start when it exists and on POST /admin/demand "
                        "(default: none, no emulation)")
    p.add_argument("--admin-port", type=int, default=None, metavar="N",
                   help="TCP port of the admin listener (admin routes, /metrics, their docs; "
                        "1-65535); default: none, no admin listener")
    p.add_argument("--admin-host", default="127.0.0.1",
                   help="address the admin listener binds (default 127.0.0.1)")
    p.add_argument("--secrets-file", type=Path, default=None, metavar="PATH",
                   help="the lab's secrets.json (admin_token, client_key); default: none, a "
                        "random admin token and no signed client addresses believed")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                   help="an address whose X-Forwarded-For is believed (repeatable); default: "
                        "none, X-Forwarded-For is ignored")
    p.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"))
    return p


def _upstreams(pairs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or name not in UPSTREAMS or not url.startswith(("http://", "https://")):
            parser.error(f"--upstream {pair!r} must be NAME=http://HOST:PORT with NAME one of "
                         f"{', '.join(UPSTREAMS)}")
        out[name] = url.rstrip("/")
    return out


def build_app(args: argparse.Namespace, parser: argparse.ArgumentParser) -> FastAPI:
    """The app the arguments describe (one sentence and exit 2 when they are bad)."""
    common = {"data_dir": args.data_dir, "replica_id": args.replica_id, "seed": args.seed,
              "citizens": args.citizens, "demand": args.demand,
              "secrets_file": args.secrets_file}
    try:
        if args.service == "portal":
            from mock_services.portal.app import create_app
            from mock_services.portal.settings import PortalSettings

            settings = PortalSettings(upstreams=_upstreams(args.upstream, parser),
                                      policies=args.policies, **common)
            portal: FastAPI = create_app(settings)
            return portal
        from mock_services.common.settings import ServiceSettings
        from mock_services.upstreams import payment, registry, shahkar, sms

        factory = {"shahkar": shahkar, "registry": registry, "payment": payment, "sms": sms}
        app: FastAPI = factory[args.service].create_app(ServiceSettings(**common))
        return app
    except ValidationError as exc:
        err = exc.errors()[0]
        parser.error(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    except ValueError as exc:  # PolicyConfigError and friends: already one sentence
        parser.error(str(exc))


def _check_ports(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    for flag, port in (("--port", args.port), ("--admin-port", args.admin_port)):
        if port is not None and not 1 <= port <= 65535:
            parser.error(f"{flag} {port} must be between 1 and 65535")
    if args.admin_port == args.port:
        parser.error(f"--admin-port {args.admin_port} must differ from --port")
    for proxy in args.trusted_proxy:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            parser.error(f"--trusted-proxy {proxy!r} must be an IP address")


def _admin_socket(args: argparse.Namespace, parser: argparse.ArgumentParser) -> socket.socket:
    """The admin listener's socket, bound now so a taken port is one sentence, not a crash."""
    family = socket.AF_INET6 if ":" in args.admin_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.admin_host, args.admin_port))
    except OSError as exc:
        sock.close()
        parser.error(f"--admin-port {args.admin_port} on {args.admin_host}: cannot bind "
                     f"({exc.strerror or exc}); expected a free port")
    sock.set_inheritable(True)
    return sock


class _AdminServer(uvicorn.Server):
    """The admin listener's server: the client server owns the signals and ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No handlers of its own (uvicorn would re-raise the signal after its exit)."""
        yield


async def _serve(main: uvicorn.Server, admin: uvicorn.Server | None,
                 admin_sock: socket.socket | None) -> None:
    """Serve the client listener until it exits, the admin listener alongside it."""
    if admin is None or admin_sock is None:
        await main.serve()
        return
    admin_task = asyncio.create_task(admin.serve(sockets=[admin_sock]))
    try:
        await main.serve()
    finally:
        admin.should_exit = True
        await admin_task


class _Server(uvicorn.Server):
    """uvicorn's server, except that a graceful SIGTERM ends with exit status 0.

    uvicorn re-raises the signal after draining, so the process would die of SIGTERM;
    SERVICES_CONTRACT.md promises exit 0 after a graceful shutdown.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT/SIGTERM to uvicorn's graceful exit, and do not re-raise them."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, build, serve until SIGTERM (graceful) or SIGKILL (nothing acknowledged is lost)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_ports(args, parser)
    app = build_app(args, parser)
    trusted = list(args.trusted_proxy)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            timeout_graceful_shutdown=10, access_log=False,
                            proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None)
    admin, admin_sock = None, None
    if args.admin_port is not None:
        admin_sock = _admin_socket(args, parser)
        admin = _AdminServer(uvicorn.Config(
            admin_app(app), log_level=args.log_level, access_log=False, lifespan="off",
            proxy_headers=False, timeout_graceful_shutdown=2))
    # one loop for both servers (asyncio's own: uvloop is not a dependency here)
    asyncio.run(_serve(_Server(config), admin, admin_sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
