"""Shared by the benchmarks: a dataset's real splits without running the pipeline, and a timer."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def splits(params: Any) -> dict[str, Any]:
    """Load, clean and split a dataset in memory the way the stages do (no validation, no files)."""
    from cleargate.datasets import load
    from cleargate.preparation.cleaning import clean
    from cleargate.preparation.splitting import split_records

    raw = load(params.dataset)
    records, _ = clean(raw, raw.iloc[0:0].assign(row=[], reason=[]), params.dataset)
    return split_records(records, params.split.test_size, params.split.val_size, params.seed)


def seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result
