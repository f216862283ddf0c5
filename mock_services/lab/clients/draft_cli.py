"""`python -m mock_services.lab.clients.draft_cli`: draft autosave as a program.

    ... --lab DIR --db FILE --history FILE [--employer N] type --workers N [--pause-ms MS]
    ... --lab DIR --db FILE --history FILE [--employer N] restore

`type` types a long insurance list field by field (each field committed locally, the server
updated every few fields) and prints the last version; `restore` prints the newest copy it
finds, local or on the server, as JSON {version, fields, source}. It may be killed at any
point and run again. Bad input: one sentence, exit 2; Ctrl-C: one line, exit 130.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_services.lab.clients.draft import DraftClient, DraftConfig, insurance_list_fields
from mock_services.lab.clients.journal import JournalHistory
from mock_services.lab.clients.program import run_program
from mock_services.lab.state import LabState, NoLab, load
from mock_services.seed import demo_population
from policies.presets import PolicySet
from policies.resolve import resolve_policies


def _policies(lab: LabState, given: str | None) -> PolicySet:
    """The set typed on the command line, resolved here; else the one the lab runs."""
    return lab.policy_set() if given is None else resolve_policies(given)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="draft-autosave", description=__doc__.splitlines()[0])
    p.add_argument("--lab", type=Path, required=True, help="the lab's run directory")
    p.add_argument("--db", type=Path, required=True, help="the local draft store (SQLite)")
    p.add_argument("--history", type=Path, required=True, help="history JSON-lines (appended)")
    p.add_argument("--employer", type=int, default=0, help="which demo employer (default 0)")
    p.add_argument("--policies", default=None, metavar="baseline|resilient|FILE",
                   help="policy set: a preset, a policy TOML file or a resolved policies.json "
                        "(default: the lab's own resolved set)")
    p.add_argument("--seed", type=int, default=1, help="seed of the typed values and jitter")
    sub = p.add_subparsers(dest="command", required=True)
    typing = sub.add_parser("type", help="type a long insurance list")
    typing.add_argument("--workers", type=int, default=50, help="rows of the list (3 fields each)")
    typing.add_argument("--pause-ms", type=int, default=5, help="pause between fields, in ms")
    sub.add_parser("restore", help="print the newest saved copy of the form")
    return p


async def _run(args: argparse.Namespace) -> int:
    lab = load(args.lab)
    employers = demo_population(1).employers
    if not 0 <= args.employer < len(employers):
        raise ValueError(f"--employer {args.employer}: expected 0..{len(employers) - 1}")
    person = employers[args.employer]
    config = DraftConfig(lab.portal_urls(), args.db, person.national_id, person.password,
                         _policies(lab, args.policies))
    history = JournalHistory(args.history)
    rng = random.Random(args.seed)
    try:
        async with DraftClient(config, history, rng=rng) as client:
            if args.command == "type":
                version = 0
                for field in insurance_list_fields(rng, args.workers):
                    version = await client.type_fields([field])
                    await asyncio.sleep(args.pause_ms / 1000)  # the typist's pace
                synced = await client.flush()
                print(json.dumps({"version": version, "synced": synced}), flush=True)
                return 0
            restored = await client.restore()
            print(json.dumps({"version": restored.version, "fields": restored.fields,
                              "source": restored.source}, ensure_ascii=False), flush=True)
            return 0
    finally:
        history.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; exit 2 with one sentence on bad input, 130 on Ctrl-C."""
    args = _parser().parse_args(argv)
    return run_program("draft-autosave", _run(args), bad_input=(NoLab, ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
