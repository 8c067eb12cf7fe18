"""Seed stability: how much a model's test metrics move when only its seed changes.

The maths (`spread`, `summarise`) and the evidence the gates read (`seed_evidence`): a summary written by
`cleargate stability` (reports/<d>/stability/<m>.json) counts only while its fingerprint matches the model's
current params, trainer settings and split; otherwise it is stale and treated as missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cleargate.params import DatasetParams
from cleargate.records import SeedSpread, SplitReport, StabilitySummary


def stability_seeds(base: int, n: int) -> list[int]:
    """The seeds of an N-seed measurement: the project seed first (the registered model's own), then the next."""
    return [base + i for i in range(n)]


def spread(values: list[float]) -> SeedSpread:
    """Mean, sample std (ddof=1; 0 for one seed), min, max and range of one metric over the seeds."""
    array = np.asarray(values, dtype=np.float64)
    if array.min() == array.max():  # equal values: exactly no spread (not a rounding error above a 0 limit)
        return SeedSpread(mean=float(array[0]), std=0.0, min=float(array[0]), max=float(array[0]), range=0.0,
                          values=[float(v) for v in array])
    low, high = float(array.min()), float(array.max())
    return SeedSpread(mean=float(array.mean()), std=float(array.std(ddof=1)), min=low, max=high, range=high - low,
                      values=[float(v) for v in array])


def summarise(per_seed: Mapping[int, Mapping[str, float]]) -> dict[str, SeedSpread]:
    """Seed -> test metrics (scalars) into metric -> spread; a metric missing for any seed is left out."""
    seeds = sorted(per_seed)
    names = set.intersection(*(set(per_seed[s]) for s in seeds)) if seeds else set()
    return {name: spread([per_seed[s][name] for s in seeds]) for name in sorted(names)}


def fingerprint(params: DatasetParams, model: str) -> str:
    """What a stability measurement depends on: the model's params, the trainer, the data contract, the split."""
    split = SplitReport.load(params.layout.split_report).digest if params.layout.split_report.is_file() else "none"
    state = {"model": params.model(model).model_dump(mode="json"), "trainer": params.trainer.model_dump(mode="json"),
             "data": params.dataset.model_dump(mode="json"), "split": split}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SeedEvidence:
    """A model's stability summary for the gates: None when there is none, `stale` when it no longer matches."""

    model: str
    summary: StabilitySummary | None
    stale: bool = False


def seed_evidence(params: DatasetParams, model: str) -> SeedEvidence:
    path = params.layout.model(model).stability
    if not path.is_file():
        return SeedEvidence(model, None)
    summary = StabilitySummary.load(path)
    return SeedEvidence(model, summary, stale=summary.fingerprint != fingerprint(params, model))
