"""`python -m mock_services.lab.clients.pharmacy_cli`: the pharmacy agent as a program.

    ... --lab DIR --db FILE --history FILE [--pharmacy N] serve --rx FILE
    ... --lab DIR --db FILE --history FILE [--pharmacy N] reconcile

`serve` handles every prescription of a JSON-lines file ({tracking_code, patient,
control_no}) and prints the counts; `reconcile` registers what the outage left pending and
exits 0 when nothing is left, 1 otherwise. The agent can be SIGKILLed at any point and run
again: its queue and its history file pick up where they were. Bad input: one sentence, exit 2;
Ctrl-C: one line, exit 130.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_services.lab.clients.journal import JournalHistory
from mock_services.lab.clients.pharmacy import AgentConfig, PharmacyAgent, Prescription
from mock_services.lab.clients.program import run_program
from mock_services.lab.state import LabState, NoLab, load
from mock_services.seed import demo_population
from policies.presets import PolicySet
from policies.resolve import resolve_policies


def _policies(lab: LabState, given: str | None) -> PolicySet:
    """The set typed on the command line, resolved here; else the one the lab runs."""
    return lab.policy_set() if given is None else resolve_policies(given)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pharmacy-agent", description=__doc__.splitlines()[0])
    p.add_argument("--lab", type=Path, required=True, help="the lab's run directory")
    p.add_argument("--db", type=Path, required=True, help="the agent's SQLite queue")
    p.add_argument("--history", type=Path, required=True, help="history JSON-lines (appended)")
    p.add_argument("--pharmacy", type=int, default=0, help="which demo pharmacy (default 0)")
    p.add_argument("--policies", default=None, metavar="baseline|resilient|FILE",
                   help="policy set: a preset, a policy TOML file or a resolved policies.json "
                        "(default: the lab's own resolved set)")
    p.add_argument("--seed", type=int, default=1, help="seed of the retry jitter")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="dispense the prescriptions of a file")
    serve.add_argument("--rx", type=Path, required=True, help="JSON lines of prescriptions")
    sub.add_parser("reconcile", help="register paper prescriptions, serve deferred ones")
    return p


def _prescriptions(path: Path) -> list[Prescription]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out.append(Prescription(str(rec["tracking_code"]), str(rec["patient"]),
                                    str(rec["control_no"])))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: bad prescription ({exc}); expected "
                             "{tracking_code, patient, control_no}") from None
    return out


async def _run(args: argparse.Namespace) -> int:
    lab = load(args.lab)
    pharmacies = demo_population(1).pharmacies
    if not 0 <= args.pharmacy < len(pharmacies):
        raise ValueError(f"--pharmacy {args.pharmacy}: expected 0..{len(pharmacies) - 1}")
    person = pharmacies[args.pharmacy]
    config = AgentConfig(lab.portal_urls(), args.db, person.national_id, person.password,
                         _policies(lab, args.policies))
    rxs = _prescriptions(args.rx) if args.command == "serve" else []
    history = JournalHistory(args.history)
    try:
        async with PharmacyAgent(config, history, rng=random.Random(args.seed)) as agent:
            if args.command == "serve":
                kinds = [await agent.serve(rx) for rx in rxs]
                counts = {str(k or "refused"): kinds.count(k)
                          for k in ("electronic", "paper", "deferred", None)}
                print(json.dumps(counts), flush=True)
                return 0
            left = await agent.reconcile()
            print(json.dumps({"pending": left}), flush=True)
            return 0 if left == 0 else 1
    finally:
        history.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent; exit 2 with one sentence on bad input, 130 on Ctrl-C."""
    args = _parser().parse_args(argv)
    return run_program("pharmacy-agent", _run(args), bad_input=(NoLab, ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
