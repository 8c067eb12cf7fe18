"""The base every section of params.yaml is built on: strict (unknown keys fail) and frozen."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
DatasetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
ModelName = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]


class Strict(BaseModel):
    """Reject unknown keys so a typo in params.yaml fails loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def dotted(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as `a.b.c` keys (the paths DVC and MLflow name parameters by)."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(dotted(inner, f"{prefix}.{key}" if prefix else str(key)))
    return out
