"""The portal's settings: upstream addresses, the policy set, and its security knobs."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from mock_services.common.settings import ServiceSettings
from policies.presets import DEFAULT_PRESET

UPSTREAM_NAMES = ("shahkar", "registry", "payment", "sms")


class PortalSettings(ServiceSettings):
    """Everything a portal replica is started with (flags, or CHAOSLAB_* environment)."""

    upstreams: dict[str, str] = Field(default_factory=dict)
    # the lab hands every replica its resolved set (<run_dir>/policies.json); a person may
    # still type a preset name or a policy TOML file (the compose lab's CHAOSLAB_POLICIES).
    # Untold, the project's one default: a replica started by hand runs what the lab runs.
    policies: str = DEFAULT_PRESET
    # scrypt cost: n=2**14, r=8 is 16 MiB and ~40 ms a hash here (memory-hard, RFC 7914).
    scrypt_n: Annotated[int, Field(ge=2, le=2**20)] = 2**14
    # the demo population is hashed cheaper at seeding (startup in a second, not minutes);
    # a login upgrades such a hash to scrypt_n, as password stores do after a cost change.
    seed_scrypt_n: Annotated[int, Field(ge=2, le=2**20)] = 2**10
    # scrypt threads at once: more than the cores only queue in the OS scheduler, where they
    # starve the event loop and the database threads (a bulkhead; the rest wait in FIFO order)
    max_concurrent_hashes: Annotated[int, Field(ge=1, le=64)] = 2
    session_ttl_s: Annotated[float, Field(gt=0, le=86_400)] = 1800.0
    otp_ttl_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    max_otp_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    prescription_valid_days: Annotated[int, Field(ge=1, le=365)] = 60
    max_draft_bytes: Annotated[int, Field(ge=256, le=1_000_000)] = 65_536
    # resilient: how long a list submission waits for payment before answering 202 + queue
    list_sync_payment_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    payment_worker_idle_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_list_workers: Annotated[int, Field(ge=1, le=5000)] = 5000

    @field_validator("upstreams")
    @classmethod
    def _known_upstreams(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if name not in UPSTREAM_NAMES:
                raise ValueError(f"upstream {name!r} is not one of {', '.join(UPSTREAM_NAMES)}")
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream {name} URL {url!r} must start with http://")
        return value
