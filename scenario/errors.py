"""The exception tree the CLI maps to exit codes.

Every error a user can cause is a `ChaoslabError` whose message is one sentence: what was
wrong, where, and what was expected. `chaoslab.cli.main` prints that sentence and exits with
the error's `exit_code` (2 for bad input); it never shows a traceback for them.

    ChaoslabError
    ├── BadInput          bad flag, file or scenario: exit 2
    │   └── ScenarioError     a scenario file that does not load (scenario.schema)
    └── NotLanded         a subcommand whose issue has not landed yet: exit 2

It lives here, at the bottom of the scenario layer and importing nothing, because the layers
that raise it (scenario/, sim/, chaoslab/) all sit on or above this one, and none may import
chaoslab/ (ARCHITECTURE.md). policies/ and faults/, below, keep trees of their own
(`PolicyConfigError`, `FaultError`) that know nothing of exit codes: the code that knows
which flag or file the user gave turns them into a `BadInput` naming it.
"""

from __future__ import annotations


class ChaoslabError(Exception):
    """Base of every error the CLI reports as one sentence."""

    exit_code = 1


class BadInput(ChaoslabError):
    """A flag, file or scenario that is malformed; the message says what, where, expected."""

    exit_code = 2


class NotLanded(ChaoslabError):
    """A subcommand of the stable CLI surface whose implementation has not landed yet."""

    exit_code = 2
