"""The user-facing exception tree of the CLI.

Every error a user can cause is a `ChaoslabError` whose message is one sentence: what was
wrong, where, and what was expected. The CLI prints that sentence and exits with the error's
`exit_code` (2 for bad input); it never shows a traceback for them.

    ChaoslabError
    ├── BadInput          bad flag, file or scenario: exit 2
    └── NotLanded         a subcommand whose issue has not landed yet: exit 2
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
