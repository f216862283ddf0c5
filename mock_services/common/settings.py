"""Settings every service shares (pydantic-settings: flags or CHAOSLAB_* environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, IPvAnyNetwork
from pydantic_settings import BaseSettings, SettingsConfigDict

from mock_services import seed as demo


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
    # Client networks the admin routes answer besides loopback; empty (the default) is
    # loopback only. Only the compose file sets it (CHAOSLAB_ADMIN_NETWORKS='["CIDR", ...]'),
    # to its own network, so the chaos suite's container can reach the admin routes.
    admin_networks: tuple[IPvAnyNetwork, ...] = ()
    # The scenario's service demand to emulate (mock_services.common.demand): read at start
    # when the file exists, and again on POST /admin/demand. None: no emulation.
    demand: Path | None = None

    def population(self) -> demo.Population:
        """The demo population these settings name (deterministic)."""
        return demo.demo_population(self.seed, self.citizens, self.employers, self.doctors,
                                    self.pharmacies)
