"""Password hashing (scrypt, memory-hard) and the session and one-time-code secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

_R, _P = 8, 1
_SALT_BYTES = 16
_MAX_MEM_BYTES = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, n: int) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash so n can change later."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=_R, p=_P, maxmem=_MAX_MEM_BYTES)
    return f"scrypt${n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


Scrypt = Callable[..., bytes]


def verify_password(password: str, stored: str, cost_n: int = 0,
                    scrypt: Scrypt = hashlib.scrypt) -> bool:
    """True when `password` hashes to `stored` (constant-time comparison).

    `cost_n`: the work to spend whatever `stored` is: a hash made at a lower n (a seeded
    account never logged in) is padded with throw-away hashes at its own n up to `cost_n`
    (scrypt's work is linear in n), so a wrong password costs the same on every account and
    on the dummy hash of one that does not exist (issue #21, item 4). `scrypt` is for tests.
    """
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                     p=int(p), maxmem=_MAX_MEM_BYTES, dklen=len(expected))
        for _ in range(cost_n // int(n) - 1):
            scrypt(password.encode(), salt=got, n=int(n), r=int(r), p=int(p),
                   maxmem=_MAX_MEM_BYTES, dklen=len(expected))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(got, expected)


def needs_rehash(stored: str, n: int) -> bool:
    """True when `stored` was made with a cost below `n`."""
    parts = stored.split("$")
    return len(parts) != 6 or int(parts[1]) < n


def new_token() -> str:
    """A bearer token (256 random bits)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: a leaked table gives no usable session."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_tracking_code() -> str:
    """A 12-digit prescription tracking code from `secrets`: it grants access to a
    prescription, so nothing (no seed, no replica name) may let anyone predict it."""
    return f"{10**11 + secrets.randbelow(9 * 10**11)}"


def new_code() -> str:
    """A six-digit one-time code."""
    return f"{secrets.randbelow(10**6):06d}"
