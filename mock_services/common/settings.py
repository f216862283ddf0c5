"""Settings every service shares (pydantic-settings: flags or CHAOSLAB_* environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mock_services import seed as demo
from mock_services.common.access import Secrets, read_secrets


class ServiceSettings(BaseSettings):
    """Where the data lives, who this replica is, and which demo population to seed."""

    model_config = SettingsConfigDict(env_prefix="CHAOSLAB_", frozen=True, extra="ignore")

    data_dir: Path
    replica_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w.-]+$")] = "r0"
    seed: int = demo.DEFAULT_SEED
    citizens: Annotated[int, Field(ge=1, le=200_000)] = demo.DEFAULT_CITIZENS
    employers: Annotated[int, Field(ge=1, le=50_000)] = demo.DEFAULT_EMPLOYERS
    doctors: Annotated[int, Field(ge=1, le=10_000)] = demo.DEFAULT_DOCTORS
    pharmacies: Annotated[int, Field(ge=1, le=10_000)] = demo.DEFAULT_PHARMACIES
    max_body_bytes: Annotated[int, Field(ge=1024, le=100_000_000)] = 4_000_000
    # The lab's secrets (mock_services.common.access): the admin token every admin request
    # carries and the key that signs client addresses. None: a random admin token nobody else
    # knows, and no stated client address believed.
    secrets_file: Path | None = None
    # The scenario's service demand to emulate (mock_services.common.demand): read at start
    # when the file exists, and again on POST /admin/demand. None: no emulation.
    demand: Path | None = None

    def population(self) -> demo.Population:
        """The demo population these settings name (deterministic)."""
        return demo.demo_population(self.seed, self.citizens, self.employers, self.doctors,
                                    self.pharmacies)

    @field_validator("secrets_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_secrets(value)  # SecretsError is a ValueError: one sentence, at start
        return value

    def lab_secrets(self) -> Secrets | None:
        """The secrets the file holds (None without one)."""
        return read_secrets(self.secrets_file) if self.secrets_file else None
