"""Batch scoring (`scoring:`) and its drift check against the training profile (`drift:`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cleargate.config.common import Strict


class DriftConfig(Strict):
    bins: Annotated[int, Field(ge=2, le=100)]
    psi_threshold: Annotated[float, Field(gt=0.0)]
    max_drifted_fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    on_drift: Literal["refuse", "flag"]


class ScoringConfig(Strict):
    """Batch scoring (`cleargate score`): the input streams through in chunks, so memory is bounded by
    `chunk_rows`, not by the file; the results do not depend on it (drift counts add up exactly)."""

    chunk_rows: Annotated[int, Field(ge=100, le=1_000_000)]
