"""`chaoslab proxy`: run the embedded Toxiproxy-compatible server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from scenario.errors import BadInput


def run_proxy(args: argparse.Namespace) -> int:
    """Serve the Toxiproxy API on args.host:args.port; exit 0 after a signal."""
    from faults.toxiserver import logs
    from faults.toxiserver.server import ConfigError, run

    if not args.host.strip():
        raise BadInput("--host is empty; expected an address of this machine, such as "
                       "127.0.0.1 (the default)")
    config = None
    if args.config is not None:
        try:
            config = args.config.read_bytes()
        except OSError as exc:
            raise BadInput(
                f"--config {args.config}: cannot read it ({exc.strerror}); "
                "expected a JSON array of proxies"
            ) from None
    logs.configure()
    try:
        asyncio.run(run(args.host, args.port, seed=args.seed, metrics=args.metrics,
                        config=config, config_name=f"--config {args.config}"))
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:  # in use, not ours, not resolvable (socket.gaierror) ...
        raise BadInput(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "expected a free port on an address of this machine"
        ) from None
    return 0
