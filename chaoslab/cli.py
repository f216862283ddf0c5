"""The `chaoslab` command line: the stable surface of DESIGN.md, one parser for every subcommand.

The parsers live here so the surface is defined once; each subcommand's handler is a module
of chaoslab/, found by import path (`HANDLERS`) so that `chaoslab --help` loads none of
them. A subcommand whose package has not landed yet says so in one sentence and exits 2: no
fake output. The errors it maps to exit codes are `scenario.errors` (ARCHITECTURE.md says
why they live there).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from chaoslab import __version__
from policies.presets import DEFAULT_PRESET
from scenario.errors import BadInput, ChaoslabError, NotLanded

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
LAB_DIR = Path("runs/lab")  # where `lab up` starts the lab, and where `lab run` looks for it

# subcommand -> (module, function, the issue that lands it)
HANDLERS: dict[str, tuple[str, str, str]] = {
    "sim": ("chaoslab.simulate", "run", "#7 sim/"),
    "proxy": ("chaoslab.proxy", "run_proxy", "#4 faults/"),
    "lab up": ("chaoslab.lab", "up", "#6 the lab"),
    "lab down": ("chaoslab.lab", "down", "#6 the lab"),
    "lab status": ("chaoslab.lab", "status", "#6 the lab"),
    "lab run": ("chaoslab.live", "run", "#8 the live chaos suite"),
    "report": ("chaoslab.compare", "run", "#8 the live chaos suite"),
    "twin": ("chaoslab.twin", "run", "#19 the digital twin"),
    "explore": ("chaoslab.explore", "run", "#24 explore and tune"),
    "tune": ("chaoslab.tune", "run", "#24 explore and tune"),
    "validate": ("chaoslab.authoring", "validate", "#23 scenario authoring"),
    "new": ("chaoslab.authoring", "new", "#23 scenario authoring"),
}

Handler = Callable[[argparse.Namespace], int]


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def scale_arg(text: str) -> int | str:
    """An argparse type: `live` (the scenario's own `live_scale`) or an integer >= 1."""
    if text == "live":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'live' or a whole number >= 1, got {text!r}") from None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0 picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def executor_spec(text: str) -> str:
    """An argparse type: `local` or `dask://HOST:PORT`."""
    if text == "local":
        return text
    if text.startswith("dask://"):
        host, _, port = text.removeprefix("dask://").rpartition(":")
        if host and port.isdigit() and 0 < int(port) <= 65535:
            return text
    raise argparse.ArgumentTypeError(f"expected 'local' or 'dask://HOST:PORT', got {text!r}")


def _add_scale_out(p: argparse.ArgumentParser, workers: str, what: str) -> None:
    """--workers and --executor, as sim, explore and tune share them."""
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"{workers} (default: the number of cores)")
    p.add_argument("--executor", type=executor_spec, default="local",
                   metavar="local|dask://H:P", help=f"where {what} run (default: local)")


def _add_search_interpreter(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interpreter", default="auto", metavar="auto|python|pypy|CMD",
                   help="what simulates on local processes: one resident PyPy worker per "
                   "process (2.5-3x as fast once warm, the same summaries), this Python, or "
                   "an interpreter's command; auto: PyPy when installed and a run makes "
                   "10,000 requests or more at the search's scale; a Dask cluster simulates "
                   "in its own workers (default: auto)")


def _add_policies(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policies",
        default=DEFAULT_PRESET,
        metavar="baseline|resilient|FILE",
        help="the policy set: a preset name, a TOML file of overrides, or a resolved "
        f"policies.json a run wrote (default: {DEFAULT_PRESET})",
    )


def _add_out_check(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where report.json and report.html go (default: runs/<scenario>/<utc-stamp>/)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when any invariant is false (2 on bad input, 0 otherwise)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole CLI surface of DESIGN.md."""
    parser = argparse.ArgumentParser(
        prog="chaoslab",
        description="Chaos-engineering testbed for a social-security portal: "
        "simulate and inject its faults, judge its fallback policies.",
    )
    parser.add_argument("--version", action="version", version=f"chaoslab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("scenarios", help="list the scenarios with one line each")

    p = sub.add_parser("validate", help="every problem of each scenario file at once "
                       "(exit 2 when any)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="scenario files (.toml) or names of shipped scenarios")

    p = sub.add_parser("new", help="write a commented scenario to start from")
    p.add_argument("name", metavar="NAME", help="the new scenario's name (letters, digits, "
                   "'_', '-', '.')")
    p.add_argument("--from", dest="source", default="switch_failure", metavar="SCENARIO",
                   help="the scenario to copy, comments kept: a name or a .toml file "
                   "(default: switch_failure)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="where to write it; never overwritten (default: ./NAME.toml)")

    p = sub.add_parser("sim", help="run a scenario in simulated time over many seeds")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario name or a .toml file")
    p.add_argument("--seeds", type=positive_int, default=8, help="replications (default: 8)")
    p.add_argument("--seed", type=int, default=1, help="the first seed (default: 1)")
    _add_scale_out(p, "worker processes for local replications", "replications")
    p.add_argument("--speed", type=positive_float, default=1.0,
                   help="compress the scenario clock K times, as `lab run --speed K` plays it")
    p.add_argument("--scale", type=scale_arg, default=1, metavar="K",
                   help="simulate the file at 1:K (rates, accounts, sites, workers and queues "
                   "divided by K: about K times faster, but fewer workers queue more), or "
                   "'live': at the scale the lab plays it (the file's live_scale), so that "
                   "`--speed K --scale live` is exactly `lab run --speed K`'s experiment "
                   "(default: 1, the file as written)")
    p.add_argument("--interpreter", default="auto", metavar="auto|python|pypy|CMD",
                   help="what simulates: PyPy worker processes (2.5-3x as fast, the same "
                   "histories; `make` installs it), this Python, or an interpreter's command; "
                   "auto: PyPy when installed and a seed makes 100,000 requests or more "
                   "(default: auto)")
    _add_policies(p)
    _add_out_check(p)

    p = sub.add_parser("proxy", help="run the embedded Toxiproxy-compatible server")
    p.add_argument("--host", default="127.0.0.1", help="API address (default: 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8474, help="API port (default: 8474)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="a JSON array of proxies to create at start, like /populate")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the toxicity draws, so a run replays (default: 0)")
    p.add_argument("--metrics", action="store_true", help="serve /metrics in Prometheus text")

    lab = sub.add_parser("lab", help="the live lab: up, down, status, run")
    labsub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    p = labsub.add_parser("up", help="start the lab on loopback and print its map")
    p.add_argument("--detach", action="store_true", help="return once the lab is ready")
    p.add_argument("--dir", type=Path, default=LAB_DIR, metavar="DIR",
                   help="run directory for pid files, logs and databases (default: runs/lab)")
    _add_policies(p)
    p = labsub.add_parser("down", help="stop every process and proxy of the lab")
    p.add_argument("--dir", type=Path, default=LAB_DIR, metavar="DIR",
                   help="run directory of the lab (default: runs/lab)")
    p = labsub.add_parser("status", help="tell what of the lab is up")
    p.add_argument("--dir", type=Path, default=LAB_DIR, metavar="DIR",
                   help="run directory of the lab (default: runs/lab)")
    p = labsub.add_parser("run", help="run a scenario live against the lab")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario name or a .toml file")
    p.add_argument("--speed", type=positive_float, default=None,
                   help="compress the scenario clock K times; service times stay real "
                   "(default: the scenario's safe speed: a run of about a minute whose "
                   "shortest fault lasts at least 5 s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the workload (default: 1)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--lab", type=Path, default=None, metavar="DIR",
                       help="the running lab to use (a `lab up --dir DIR`, or a lab.json map); "
                       "default: the lab `lab up` started in runs/lab when it runs, else "
                       "one of its own in OUT/lab")
    which.add_argument("--new-lab", action="store_true",
                       help="start a lab of its own in OUT/lab even when one is running")
    _add_policies(p)
    _add_out_check(p)

    p = sub.add_parser("twin", help="run a scenario simulated and live; where they agree")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario name or a .toml file")
    p.add_argument("--seeds", type=positive_int, default=4,
                   help="simulated replications, for the seed-to-seed interval (default: 4)")
    p.add_argument("--seed", type=int, default=1, help="the first seed; live uses it (default: 1)")
    p.add_argument("--speed", type=positive_float, default=None,
                   help="compress the scenario clock K times in both runners (default: the "
                   "live runner's safe speed for the scenario)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes for the simulated seeds (default: the cores)")
    _add_policies(p)
    _add_out_check(p)

    p = sub.add_parser("explore", help="search the fault schedules that break a policy set "
                       "(simulated), shrink each to a minimal scenario file")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario name or a .toml file")
    p.add_argument("--budget", type=positive_int, default=60,
                   help="simulated runs per invariant's search; a failure found gets as many "
                   "again to shrink (default: 60)")
    p.add_argument("--max-faults", type=positive_int, default=2,
                   help="faults in effect at once, at most (default: 2)")
    p.add_argument("--seeds", type=positive_int, default=3,
                   help="a failure must hold on a majority of this many seeds (default: 3)")
    p.add_argument("--seed", type=int, default=1,
                   help="the first seed, and the search's (default: 1)")
    p.add_argument("--invariant", action="append", default=[], metavar="NAME",
                   help="search only this invariant (repeatable; default: every one)")
    p.add_argument("--confirm", choices=["live"], default=None,
                   help="replay each minimal schedule in the lab (`lab run`) and say whether "
                   "the lab fails the same way")
    p.add_argument("--scale", type=positive_int, default=1, metavar="K",
                   help="search at 1:K (rates, accounts, attack sources, sites, workers and "
                   "queues divided by K: about K times faster), then replay each finding at "
                   "1:1 (default: 1)")
    _add_scale_out(p, "parallel searches, one per invariant", "the searches")
    _add_search_interpreter(p)
    _add_policies(p)
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default: runs/<scenario>/explore-<utc-stamp>)")

    p = sub.add_parser("tune", help="search policy values and capacity that pass every "
                       "invariant at the least cost (Optuna)")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario names or .toml files; a set must pass all of them")
    p.add_argument("--budget", type=positive_int, default=24, help="trials (default: 24)")
    p.add_argument("--space", type=Path, default=None, metavar="FILE",
                   help="the search space (default: chaoslab/tune_space.toml)")
    p.add_argument("--seeds", type=positive_int, default=2,
                   help="seeds per scenario a set must pass (default: 2)")
    p.add_argument("--seed", type=int, default=1,
                   help="the first seed, and the sampler's (default: 1)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna storage to resume from, e.g. sqlite:///runs/tune.db")
    p.add_argument("--scale", type=positive_int, default=1, metavar="K",
                   help="trials at 1:K (rates, accounts, attack sources, sites, workers and "
                   "queues divided by K), the cheapest passing sets then replayed at 1:1 "
                   "(default: 1)")
    _add_scale_out(p, "trials simulated at once", "the trials")
    _add_search_interpreter(p)
    _add_policies(p)
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default: runs/tune/<utc-stamp>)")

    p = sub.add_parser("report", help="side-by-side table of reports")
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run directories")
    return parser


def list_scenarios(directory: Path = SCENARIO_DIR) -> list[tuple[str, str]]:
    """Every scenario file's name and its one-line `description`."""
    rows: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path}: not valid TOML ({exc}); expected a scenario file") from None
        description = data.get("description", "")
        rows.append((path.stem, str(description).strip().splitlines()[0] if description else ""))
    return rows


def _resolve(command: str) -> Handler:
    module_name, func, issue = HANDLERS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise NotLanded(
                f"'chaoslab {command}' is not available yet: issue {issue} has not landed"
            ) from None
        raise
    handler: Handler = getattr(module, func)
    return handler


def dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the subcommand named in `args`; return its exit code."""
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "scenarios":
        rows = list_scenarios()
        width = max((len(name) for name, _ in rows), default=0)
        for name, description in rows:
            print(f"{name:<{width}}  {description}")
        if not rows:
            print(f"no scenarios in {SCENARIO_DIR}")
        return 0
    command = args.command
    if command == "lab":
        if args.lab_command is None:
            parser.parse_args(["lab", "--help"])
        command = f"lab {args.lab_command}"
    return _resolve(command)(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = dispatch(args, parser)
        sys.stdout.flush()  # a reader gone early shows here, not at the interpreter's exit
        return code
    except ChaoslabError as exc:
        print(f"chaoslab: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("chaoslab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `chaoslab report ... | head`: the reader has gone, no error
        # Point stdout at /dev/null so that the interpreter's own flush at exit fails no more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


if __name__ == "__main__":
    sys.exit(main())
