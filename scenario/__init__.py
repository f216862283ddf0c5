"""The scenario layer: the language sim and live share.

The scenario schema, the history (a Jepsen-style log of operations), the checkers (pure
functions history -> verdict) and the report. Both runners produce a `History`; the same
checkers judge both.
"""
