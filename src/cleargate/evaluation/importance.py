"""Permutation importance on the test split (scikit-learn's `permutation_importance`), for every model.

The drop in the primary metric when one feature's values are shuffled across the rows, `repeats` times, on at
most `max_rows` test rows (a seeded sample, stratified by class). The kind says what one shuffle moves
(`importance_units`): a feature of a record, a whole channel of a recording, a region of an image; so that
scikit-learn's column-by-column shuffling moves a group of columns together, it shuffles a stand-in table with
one column of row positions per unit, and the scorer rebuilds the records from them. Trees and networks are
scored the same way, through their predictor on stored records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cleargate.config.judging import ExplainConfig
from cleargate.models.bundle import Predictor
from cleargate.records import FeatureImportance


class _Positions:
    """What scikit-learn shuffles: one column of row positions per unit (nothing to fit; scored by the scorer)."""

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> _Positions:
        return self


def sample_rows(frame: pd.DataFrame, y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """At most `max_rows` row positions, stratified by class when a class has two rows or more."""
    if len(frame) <= max_rows:
        return np.arange(len(frame))
    from sklearn.utils import resample

    counts = pd.Series(y).value_counts()
    stratify = y if counts.min() >= 2 else None
    return np.sort(resample(np.arange(len(frame)), replace=False, n_samples=max_rows, stratify=stratify,
                            random_state=seed))


def permutation_importances(predictor: Predictor, frame: pd.DataFrame, y: np.ndarray,
                            units: Mapping[str, list[str]], score: Callable[[np.ndarray, np.ndarray], float],
                            config: ExplainConfig, seed: int) -> tuple[float, list[FeatureImportance], int]:
    """(the score with nothing shuffled, every unit's drop over the repeats largest first, rows scored)."""
    from sklearn.inspection import permutation_importance

    rows = sample_rows(frame, y, config.max_rows, seed)
    records, truth = frame.iloc[rows].reset_index(drop=True), y[rows]
    identity = np.arange(len(records))
    stand_in = pd.DataFrame({name: identity for name in units})

    def rebuild(positions: pd.DataFrame) -> pd.DataFrame:
        shuffled = [name for name in units if not np.array_equal(positions[name].to_numpy(), identity)]
        if not shuffled:
            return records
        out = records.copy()
        for name in shuffled:
            columns = units[name]
            out[columns] = records[columns].iloc[positions[name].to_numpy()].to_numpy()
        return out

    unshuffled: list[float] = []   # scikit-learn scores the unshuffled rows too: one prediction pass serves both

    def scorer(_: _Positions, positions: pd.DataFrame, target: np.ndarray) -> float:
        rows = rebuild(positions)
        if rows is records and unshuffled:
            return unshuffled[0]
        value = score(target, predictor.predict_proba(rows))
        if rows is records:
            unshuffled.append(value)
        return value

    # One OpenMP thread: each call scores at most max_rows rows, and a thread pool waking for every call cost
    # gradient boosting 68 ms a call on 143 rows instead of 2.5 ms on a loaded 2-core machine (measured).
    with threadpool_limits(limits=1, user_api="openmp"):
        baseline = scorer(_Positions(), stand_in, truth)
        if np.isnan(baseline):  # the metric is undefined on these labels: no shuffle of the features changes that
            return baseline, [], len(rows)
        result = permutation_importance(_Positions(), stand_in, truth, scoring=scorer, n_repeats=config.repeats,
                                        random_state=seed)
    table = [FeatureImportance(name=name, mean=float(d.mean()), std=float(d.std()), low=float(d.min()),
                               high=float(d.max()))
             for name, d in zip(units, np.asarray(result.importances), strict=True)]
    return baseline, sorted(table, key=lambda f: -f.mean), len(rows)
