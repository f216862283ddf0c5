"""`chaoslab report DIR [DIR ...]`: the reports of several runs side by side (e.g. sim vs
live, baseline vs resilient), one column per run labelled mode/policies/scenario.

The table is the scenario layer's (`scenario.compare`); this module only reads the
directories the user named and prints it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scenario.compare import render, report_path, table
from scenario.report import ReportError, load_report


def run(args: argparse.Namespace) -> int:
    """Print the side-by-side table of args.dirs' reports; 2 when one is missing or bad."""
    reports = []
    for directory in args.dirs:
        try:
            reports.append(load_report(report_path(Path(directory))))
        except ReportError as exc:
            print(f"chaoslab: {exc}", file=sys.stderr)
            return 2
    print(render(table(reports)))
    return 0
