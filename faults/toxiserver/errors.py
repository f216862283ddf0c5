"""The API's errors: each a status and the real server's message.

    ApiError(status, message)         answered as {"error": message, "status": status} + "\\n"
    ├── the fixed ones below          same texts as Toxiproxy's api.go
    └── bad_body(detail)              400 "bad request body: <detail>"
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answer of the API: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_body(detail: str) -> ApiError:
    """400 `bad request body: <detail>`."""
    return ApiError(400, f"bad request body: {detail}")


def missing_field(what: str) -> ApiError:
    """400 `missing required field: <what>`."""
    return ApiError(400, f"missing required field: {what}")


PROXY_NOT_FOUND = ApiError(404, "proxy not found")
PROXY_EXISTS = ApiError(409, "proxy already exists")
INVALID_STREAM = ApiError(400, "stream was invalid, can be either upstream or downstream")
INVALID_TOXIC_TYPE = ApiError(400, "invalid toxic type")
TOXIC_EXISTS = ApiError(409, "toxic already exists")
TOXIC_NOT_FOUND = ApiError(404, "toxic not found")
