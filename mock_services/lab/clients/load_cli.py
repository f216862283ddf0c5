"""`python -m mock_services.lab.clients.load_cli`: the load driver as a program.

    ... --lab DIR --rate citizen=5 --rate employer=1 --duration-s 60 [--rush-s 30]
        [--policies FILE] [--seed 1] [--max-in-flight 200] [--out history.jsonl]

Plays an open-loop rate profile against a running lab (a steady phase, then optionally the
month-end rush: list submissions ×9), writes the history as JSON lines, and prints a summary
per operation. Bad input: one sentence, exit 2. Ctrl-C: exit 130, and `--out` gets the
history recorded until then (users in flight left as invocations, no final state).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from mock_services.lab.access import admin_access
from mock_services.lab.clients.driver import (
    DriverConfig,
    LoadDriver,
    record_final_state,
    wait_for_lists,
)
from mock_services.lab.clients.profile import ProfileError, month_end_rush, steady
from mock_services.lab.clients.program import run_program
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.state import LabState, NoLab, load
from policies.presets import PolicySet
from policies.resolve import resolve_policies

LIST_WAIT_S = 60.0  # at most, for the list queue to process the lists it accepted

def _rate(text: str) -> tuple[str, float]:
    kind, sep, value = text.partition("=")
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not sep or rate < 0:
        raise argparse.ArgumentTypeError(f"expected KIND=RATE_PER_S (e.g. citizen=5), got "
                                         f"{text!r}")
    return kind, rate


def _policies(lab: LabState, given: str | None) -> PolicySet:
    """The set typed on the command line, resolved here; else the one the lab runs."""
    return lab.policy_set() if given is None else resolve_policies(given)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="load-driver", description=__doc__.splitlines()[0])
    p.add_argument("--lab", type=Path, required=True, help="the lab's run directory")
    p.add_argument("--rate", type=_rate, action="append", default=[], metavar="KIND=PER_S",
                   help="arrivals per second of a user kind (citizen, employer, doctor, "
                        "pharmacy); repeat for each kind")
    p.add_argument("--duration-s", type=float, default=30.0, help="steady phase, seconds")
    p.add_argument("--rush-s", type=float, default=0.0,
                   help="then a month-end rush of this many seconds (lists x9; 0: none)")
    p.add_argument("--policies", default=None, metavar="baseline|resilient|FILE",
                   help="policy set: a preset, a policy TOML file or a resolved policies.json "
                        "(default: the lab's own resolved set)")
    p.add_argument("--seed", type=int, default=1, help="seed of arrivals and choices")
    p.add_argument("--max-in-flight", type=int, default=200,
                   help="users in flight at most; arrivals beyond are recorded as shed")
    p.add_argument("--active-users", type=int, default=None,
                   help="people of each kind who use the portal (default: all)")
    p.add_argument("--out", type=Path, default=None, help="history JSON-lines file")
    return p


async def _run(args: argparse.Namespace) -> int:
    lab = load(args.lab)
    rates = dict(args.rate)
    if not rates:
        raise ValueError("no --rate given; expected at least one KIND=PER_S")
    profile = (month_end_rush(args.duration_s, args.rush_s, rates) if args.rush_s > 0
               else steady(args.duration_s, rates))
    admin = admin_access(lab)
    portals = [p.name for p in lab.topology.portals()]
    config = DriverConfig(lab.portal_urls(), _policies(lab, args.policies),
                          sms_url=admin.url("sms"), behaviour=Behaviour(),
                          max_in_flight=args.max_in_flight, active_users=args.active_users,
                          admin_urls=admin.urls(portals), admin_token=admin.token,
                          client_key=admin.secrets.client_key)
    driver = LoadDriver(config, rng=random.Random(args.seed))
    # Ctrl-C: start no more arrivals and cancel the run. The driver's stop ends the run even
    # if a library swallows the cancellation (as chaoslab.live.runner.run_interruptible
    # guards the live runner); either way the program keeps what the run recorded, skips the
    # final read, and ends in `run_program`'s one line.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        driver.stop()
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        history = await driver.run(profile)
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    if interrupted:  # keep what the run recorded so far
        if args.out is not None:
            driver.history.write_jsonl(args.out)
        raise KeyboardInterrupt
    portal = lab.topology.portals()[0].name
    await wait_for_lists(admin.url(portal), admin.token, LIST_WAIT_S)
    await record_final_state(history, admin.url(portal), driver.now(), admin.token)
    if args.out is not None:
        history.write_jsonl(args.out)
    summary = Counter(f"{op.f} {op.type}{' ' + op.error if op.error else ''}"
                      for op in history.client_ops() if op.type != "invoke"
                      and op.process not in ("policy", "final"))
    print(json.dumps(dict(sorted(summary.items())), ensure_ascii=False, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the driver; exit 2 with one sentence on bad input, 130 on Ctrl-C."""
    args = _parser().parse_args(argv)
    return run_program("load-driver", _run(args),
                       bad_input=(NoLab, ValueError, ProfileError, OSError))


if __name__ == "__main__":
    sys.exit(main())
