"""The table of `make mutate`: mutmut's verdicts per module, and every survivor's diff.

Run from the repository root after `mutmut run` (it reads `mutants/**/*.py.meta`, mutmut's own
record). Prints the per-module table in Markdown (the one MUTATION.md keeps) and writes
`mutants/survivors.md`: each surviving mutant's diff, grouped by module, to kill with a test or
to list in MUTATION.md with the reason no behaviour can tell it apart.

    python benchmarks/mutation_report.py [--modules policies/breaker.py ...]

A timeout counts as caught (the mutant hangs a test, so `make test` would fail); "no tests"
counts as surviving: nothing would notice it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

CAUGHT = {1: "killed", 3: "killed", 37: "type check", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", -9: "segfault", -11: "segfault"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


def load(root: Path) -> dict[str, dict[str, int | None]]:
    """Exit code by mutant name, per source module (path relative to the repository)."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(root / "mutants"))[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            out[module] = codes
    return out


def verdict(code: int | None) -> str:
    if code in CAUGHT:
        return "caught"
    if code in SURVIVED:
        return "survived"
    return "not run" if code is None else f"exit {code}"


def table(results: dict[str, dict[str, int | None]]) -> tuple[str, Counter[str]]:
    rows = ["| module | mutants | caught | survived | not run | caught % |",
            "|---|---:|---:|---:|---:|---:|"]
    total: Counter[str] = Counter()
    for module, codes in results.items():
        c = Counter(verdict(code) for code in codes.values())
        total.update(c)
        judged = c["caught"] + c["survived"]
        pct = 100.0 * c["caught"] / judged if judged else 0.0
        rows.append(f"| {module} | {len(codes)} | {c['caught']} | {c['survived']} | "
                    f"{len(codes) - judged} | {pct:.1f} % |")
    judged = total["caught"] + total["survived"]
    pct = 100.0 * total["caught"] / judged if judged else 0.0
    rows.append(f"| **all** | {sum(total.values())} | {total['caught']} | {total['survived']} | "
                f"{sum(total.values()) - judged} | **{pct:.1f} %** |")
    return "\n".join(rows), total


def survivors(results: dict[str, dict[str, int | None]], path: Path) -> int:
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # needs the [tool.mutmut] config

    n = 0
    with path.open("w") as out:
        for module, codes in results.items():
            names = [k for k, code in codes.items() if verdict(code) == "survived"]
            if not names:
                continue
            out.write(f"## {module}\n\n")
            for name in names:
                n += 1
                diff = get_diff_for_mutant(name, path=module)
                lines = [ln for ln in diff.splitlines()
                         if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))]
                out.write(f"### {name} ({SURVIVED[codes[name] or 0]})\n```diff\n"
                          + "\n".join(lines) + "\n```\n\n")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="*", default=None, help="only these source files")
    args = ap.parse_args(argv)
    root = Path.cwd()
    if not (root / "mutants").is_dir():
        print("mutation_report: no mutants/ here; run `make mutate` (or `mutmut run`) "
              "from the repository root first.", file=sys.stderr)
        return 2
    results = load(root)
    if args.modules:
        results = {m: r for m, r in results.items() if m in set(args.modules)}
    text, _ = table(results)
    print(text)
    n = survivors(results, root / "mutants" / "survivors.md")
    print(f"\n{n} survivors, each with its diff: mutants/survivors.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
