"""A rebuild against its registered version: `identical`, `metrics equal, weights differ`, or `differs: ...`.

Metrics are compared exactly (bit for bit, NaN equal to NaN): a deterministic rebuild gives the same numbers,
and MLflow keeps them as 64-bit floats. Fit time and file size are not metrics of the model's predictions and
are left out (the weights digest covers the file)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cleargate.reproduce.rebuild import Rebuilt
from cleargate.reproduce.registered import Registered

NOT_COMPARED = frozenset({"fit_seconds", "size_bytes", "explain_seconds"})
SHOWN = 4   # differing metrics named on the verdict line; the rest are counted


@dataclass(frozen=True)
class Verdict:
    line: str
    metrics_match: bool
    weights_match: bool
    compared: int


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _change(name: str, registered: float | None, rebuilt: float) -> str:
    if registered is None:
        return f"{name} not on the registered run"
    return f"{name} {registered:.6g} -> {rebuilt:.6g} ({rebuilt - registered:+.3g})"


def compare(registered: Registered, rebuilt: Rebuilt) -> Verdict:
    names = sorted(set(rebuilt.metrics) - NOT_COMPARED)
    changes = [_change(n, registered.metrics.get(n), rebuilt.metrics[n]) for n in names
               if n not in registered.metrics or not _same(registered.metrics[n], rebuilt.metrics[n])]
    weights = registered.tags.get("lineage.model_sha256") == rebuilt.model_sha256
    if changes:
        more = f"; and {len(changes) - SHOWN} more" if len(changes) > SHOWN else ""
        return Verdict(f"differs: {'; '.join(changes[:SHOWN])}{more}", False, weights, len(names))
    return Verdict("identical" if weights else "metrics equal, weights differ", True, weights, len(names))
