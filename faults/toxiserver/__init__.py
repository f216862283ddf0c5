"""An asyncio server speaking Toxiproxy 2.12's HTTP API, with its toxics on real sockets.

Import name `faults.toxiserver`, so it never clashes with `toxiproxy` (the client library).
`serve()` runs it in-process; `spawn.running()` runs it (or a real toxiproxy-server) in a
subprocess; `chaoslab proxy` runs it from the command line.
"""

from faults.toxiserver.server import ToxiServer, run, serve

__all__ = ["ToxiServer", "run", "serve"]
