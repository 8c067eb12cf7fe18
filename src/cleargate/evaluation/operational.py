"""Latency and size of a model as production loads it (mlflow.pyfunc.load_model), on this machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cleargate.records import Operational


def timings_ms(call: Callable[[], object], repeats: int) -> np.ndarray:
    """Wall time of `repeats` calls after one warm-up call (which pays for lazy initialisation)."""
    call()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000.0)
    return np.asarray(timings)


def _p95_ms(call: Callable[[], object], repeats: int) -> float:
    return float(np.percentile(timings_ms(call, repeats), 95))


def folder_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def measure(model_uri: str, rows: pd.DataFrame, batch_size: int, repeats: int) -> Operational:
    """Download and load the logged model, then time predict on one row and on a batch of raw rows."""
    from cleargate.serving.loading import load_served

    started = time.perf_counter()
    model, local = load_served(model_uri)
    load_seconds = time.perf_counter() - started
    single = rows.head(1)
    batch = rows.sample(n=batch_size, replace=len(rows) < batch_size, random_state=0)
    return Operational(
        latency_p95_ms_single=_p95_ms(lambda: model.predict(single), repeats),
        latency_p95_ms_batch=_p95_ms(lambda: model.predict(batch), max(3, repeats // 5)),
        batch_size=batch_size, model_size_mb=folder_size_mb(local), load_seconds=load_seconds)
