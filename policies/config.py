"""The base of every policy config: a frozen pydantic model whose bad input is one sentence.

Configs are boundaries (scenario files, presets), so they are pydantic; the stateful
policies built from them are plain `__slots__` classes, because the simulator calls them
about a million times a run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from policies.errors import from_validation_error


class PolicyConfig(BaseModel):
    """A frozen, strict config; constructing it with a bad value raises `PolicyConfigError`.

    Every float field, nested ones included, must be finite: NaN and infinities are refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise from_validation_error(error, f"{type(self).__name__}.") from None

    # Tell pydantic this is its own __init__, so nested configs validated from a mapping do
    # not run it (their errors then surface once, with the full path, from the outer model).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]
