"""`chaoslab proxy`: run the embedded Toxiproxy-compatible server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import errno

from chaoslab.errors import BadInput, ChaoslabError


def run_proxy(args: argparse.Namespace) -> int:
    """Serve the Toxiproxy API on args.host:args.port; exit 0 after a signal."""
    from faults.toxiserver import logs
    from faults.toxiserver.server import ConfigError, run

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
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise ChaoslabError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                "expected a free port on a local address"
            ) from None
        raise
    return 0
