"""Differential fuzz of `faults.toxiserver.gojson.decode` against Go's decoder (bin/jsonerr).

    tests/faults/toxiserver/oracle/build.sh
    .venv/bin/python tests/faults/toxiserver/oracle/fuzz_json.py [SEED] [CASES]

Mutates JSON bodies of the API (deletions, insertions from an alphabet of JSON's own bytes
and of bytes Go quotes specially, truncations) and prints every body where our error, or our
acceptance, differs from Go's. Exit 1 when any does.
"""

from __future__ import annotations

import base64
import random
import subprocess
import sys
from pathlib import Path

from faults.toxiserver.gojson import BodyError, decode

SEEDS = [b'{"name":"a","upstream":"b","listen":"127.0.0.1:0","enabled":true}',
         b'[{"a":[1,2.5e-3,-0,{"b":null}]},false,"x\\u00e9\\n"]',
         b'{"attributes":{"latency":100,"jitter":-1.5E+2},"toxicity":0.5}',
         b'"\\ud800"', b"12", b"true", b"[]", b"{}", b" null "]
ALPHABET = b'{}[]:,"\\-+.eE0123456789tfnulraseu \t\r\n\x01\x7f\x80\xc3\xa9xq/\'NI'


def ours(body: bytes) -> str:
    try:
        decode(body)
    except BodyError as exc:
        return f"E {exc}"
    return "OK"


def main(seed: int, count: int) -> int:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        body = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(body))
            roll = rng.random()
            if roll < 0.4 and body:
                del body[min(at, len(body) - 1)]
            elif roll < 0.8:
                body[at:at] = bytes([rng.choice(ALPHABET)])
            else:
                del body[at:]
        bodies.append(bytes(body))
    oracle = Path(__file__).parent / "bin" / "jsonerr"
    lines = "\n".join(base64.b64encode(b).decode() for b in bodies) + "\n"
    go = subprocess.run([str(oracle)], input=lines, capture_output=True, text=True,
                        check=True).stdout.splitlines()
    differ = [(b, g, ours(b)) for b, g in zip(bodies, go, strict=True) if ours(b) != g]
    for body, theirs, mine in differ[:20]:
        print(f"{body!r}\n  go:   {theirs}\n  ours: {mine}")
    print(f"{count} bodies, seed {seed}: {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1,
                  int(sys.argv[2]) if len(sys.argv) > 2 else 20000))
