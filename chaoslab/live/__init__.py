"""The live runner: a scenario played on the real lab (`chaoslab lab run`) and its pytest plugin.

`run(args)` is the CLI handler (chaoslab/cli.py dispatches `lab run` here); `plan` compresses a
scenario to the lab's clock and draws its arrivals, `runner` plays one run with the nemesis
and the load driver (mock_services.lab.clients.driver).
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """`chaoslab lab run`: see chaoslab.live.cli."""
    from chaoslab.live.cli import run as run_live  # heavy imports only when running

    return run_live(args)


__all__ = ["run"]
