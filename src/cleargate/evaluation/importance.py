"""Permutation importance on the test split, for every model: the shuffles of scikit-learn's
`permutation_importance`, predicted many at a time.

The drop in the primary metric when one feature's values are shuffled across the rows, `repeats` times, on at
most `max_rows` test rows (a seeded sample, stratified by class). The kind says what one shuffle moves
(`importance_units`): a feature of a record, a whole channel of a recording, a region of an image; the columns
of a unit move together. Trees and networks are scored the same way, through their predictor on stored records.

The shuffles are the ones scikit-learn's `permutation_importance(..., n_repeats=repeats, random_state=seed)`
makes (`shuffles`), and so are the numbers: `tests/unit/test_explanations.py` checks both against it. What
differs is the cost: scikit-learn predicts each shuffled copy on its own (1 + units x repeats calls: 151 for the
breast-cancer records), here the shuffled copies are stacked and predicted in a few calls of at most
`BATCH_CELLS` cells each (2.1 s -> 0.3 s for a forest on the breast-cancer records, measured).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cleargate.config.judging import ExplainConfig
from cleargate.models.bundle import Predictor
from cleargate.records import FeatureImportance

BATCH_CELLS = 4_000_000   # cells (rows x columns) of shuffled copies predicted in one call: ~30 MB as float64


def sample_rows(frame: pd.DataFrame, y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """At most `max_rows` row positions, stratified by class when a class has two rows or more."""
    if len(frame) <= max_rows:
        return np.arange(len(frame))
    from sklearn.utils import resample

    counts = pd.Series(y).value_counts()
    stratify = y if counts.min() >= 2 else None
    return np.sort(resample(np.arange(len(frame)), replace=False, n_samples=max_rows, stratify=stratify,
                            random_state=seed))


def shuffles(rows: int, repeats: int, seed: int) -> list[np.ndarray]:
    """The row order of each repeat, as scikit-learn's `permutation_importance` shuffles every column: one seed
    drawn from `seed`, the same for each column, and each repeat shuffling the previous repeat's order again."""
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    generator = np.random.RandomState(column_seed)
    shuffle, order, orders = np.arange(rows), np.arange(rows), []
    for _ in range(repeats):
        generator.shuffle(shuffle)
        order = order[shuffle]
        orders.append(order)
    return orders


def _stacked(records: pd.DataFrame, blocks: list[tuple[str, np.ndarray]], groups: dict[tuple[str, ...], list[str]]
             ) -> pd.DataFrame:
    """`records` once per block, one after the other, with the block's unit in the block's row order (dtypes kept:
    each group of columns that move together is taken by position)."""
    rows = len(records)
    parts = []
    for units, columns in groups.items():
        take = np.tile(np.arange(rows), len(blocks))
        for b, (unit, order) in enumerate(blocks):
            if unit in units:
                take[b * rows:(b + 1) * rows] = order
        parts.append(records[columns].iloc[take].reset_index(drop=True))
    return pd.concat(parts, axis=1)[list(records.columns)]


def permutation_importances(predictor: Predictor, frame: pd.DataFrame, y: np.ndarray,
                            units: Mapping[str, list[str]], score: Callable[[np.ndarray, np.ndarray], float],
                            config: ExplainConfig, seed: int) -> tuple[float, list[FeatureImportance], int]:
    """(the score with nothing shuffled, every unit's drop over the repeats largest first, rows scored)."""
    rows = sample_rows(frame, y, config.max_rows, seed)
    records, truth = frame.iloc[rows].reset_index(drop=True), y[rows]
    n = len(records)
    member: dict[str, list[str]] = defaultdict(list)   # column -> the units it moves with
    for unit, columns in units.items():
        for column in columns:
            member[column].append(unit)
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)   # columns that always move together
    for column in records.columns:
        groups[tuple(member.get(column, ()))].append(column)
    blocks = [(unit, order) for unit in units for order in shuffles(n, config.repeats, seed)]
    per_call = max(1, BATCH_CELLS // max(1, n * len(records.columns)))
    drops: dict[str, list[float]] = {unit: [] for unit in units}
    # One OpenMP thread: the fits of other models may be running beside this one (the process's share of the
    # cores), and a thread pool waking for small calls cost gradient boosting 68 ms a call instead of 2.5 ms
    with threadpool_limits(limits=1, user_api="openmp"):
        baseline = score(truth, predictor.predict_proba(records))
        if np.isnan(baseline):  # the metric is undefined on these labels: no shuffle of the features changes that
            return baseline, [], n
        for start in range(0, len(blocks), per_call):
            batch = blocks[start:start + per_call]
            proba = predictor.predict_proba(_stacked(records, batch, groups))
            for b, (unit, _) in enumerate(batch):
                drops[unit].append(baseline - score(truth, proba[b * n:(b + 1) * n]))
    table = [FeatureImportance(name=unit, mean=float(np.mean(d)), std=float(np.std(d)), low=float(np.min(d)),
                               high=float(np.max(d)))
             for unit, d in drops.items()]
    return baseline, sorted(table, key=lambda f: -f.mean), n
