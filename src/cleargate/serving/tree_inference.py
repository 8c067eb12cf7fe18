"""One-thread prediction of a fitted tree pipeline without scikit-learn's per-call overhead: the same numbers.

On a few rows, a forest's `predict_proba` is mostly bookkeeping, not trees: joblib dispatches each of the
200 trees through a wrapper that copies the config and the warning filters (even with n_jobs=1), and the
ColumnTransformer in front of it re-checks every pandas column: on one row, most of the call is wrappers and
validation.

`SequentialTreePredictor` computes what scikit-learn computes, in the order it does with n_jobs=1:
- a forest: the sum of the trees' leaf probabilities, added one tree after another as the sequential backend
  does, divided by the number of trees. Up to `LOCKSTEP_ROWS` rows the leaves are found for all trees at once
  (`_ForestArrays`: every tree's nodes in one set of arrays, one numpy step per tree level); on more rows,
  tree by tree with `tree_.predict`, which is faster there;
- a median/mean imputation on numeric columns (the tabular kind's numeric-only feature step): NaN replaced
  by the fitted statistics, column by column as the ColumnTransformer orders them.
Any other step (gradient boosting, the feature steps of sequences and categories) runs through scikit-learn
as before, on `threads` OpenMP threads (serving: one, which is faster on one row under load, with the same
outputs), and any input these fast paths do not cover (NaN into
a forest, infinities, non-numeric values) goes through scikit-learn whole, so errors read as they did.
tests/unit/test_tree_inference.py checks the outputs equal scikit-learn's bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from cleargate.kinds import DatasetConfig, kind_of


def _is_nan(value: Any) -> bool:
    """NaN by value: a model loaded from its skops file holds a NaN float, not the `np.nan` object."""
    return isinstance(value, float) and value != value


def _imputer_columns(step: Any) -> tuple[list[str], np.ndarray] | None:
    """(input columns, fill values) when `step` is a fitted ColumnTransformer that only imputes numeric
    columns (every other column dropped) and no fitted statistic is NaN; else None."""
    if not isinstance(step, ColumnTransformer) or getattr(step, "sparse_output_", False):
        return None
    columns: list[str] = []
    fills: list[np.ndarray] = []
    for _, transformer, selected in step.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if not (isinstance(transformer, SimpleImputer) and transformer.strategy in ("median", "mean")
                and not transformer.add_indicator and _is_nan(transformer.missing_values)
                and isinstance(selected, list) and all(isinstance(c, str) for c in selected)):
            return None
        statistics = np.asarray(transformer.statistics_, dtype=np.float64)
        if len(statistics) != len(selected) or np.isnan(statistics).any():
            return None
        columns.extend(selected)
        fills.append(statistics)
    return (columns, np.concatenate(fills)) if columns else None


# Rows up to which all trees are walked at once: faster than tree by tree on a few rows, slower on many (the walk
# touches every tree's nodes at each level).
LOCKSTEP_ROWS = 8


class _ForestArrays:
    """Every tree of a fitted forest in flat arrays (node ids offset per tree), to walk all trees together.

    A node goes left when its feature's value <= its threshold (the float32 input compared as float64, as
    scikit-learn compares it) until a leaf (no children); a leaf's class fractions are `tree_.value`'s, the
    numbers `tree_.predict` returns."""

    def __init__(self, forest: Any) -> None:
        trees = [estimator.tree_ for estimator in forest.estimators_]
        sizes = np.array([tree.node_count for tree in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.roots = offsets.astype(np.intp)
        self.feature = np.concatenate([tree.feature for tree in trees]).astype(np.intp)
        self.threshold = np.concatenate([tree.threshold for tree in trees])
        left = np.concatenate([tree.children_left for tree in trees]).astype(np.intp)
        right = np.concatenate([tree.children_right for tree in trees]).astype(np.intp)
        self.leaf = left < 0
        self.left = np.where(self.leaf, 0, left + np.repeat(offsets, sizes))
        self.right = np.where(self.leaf, 0, right + np.repeat(offsets, sizes))
        self.feature[self.leaf] = 0
        n_classes = forest.n_classes_
        self.value = np.concatenate([tree.value[:, 0, :n_classes] for tree in trees])

    def leaf_values(self, inputs: np.ndarray) -> np.ndarray:
        """(trees, rows, classes): each tree's leaf fractions for each row."""
        rows = np.arange(inputs.shape[0])[None, :]
        node = np.repeat(self.roots[:, None], inputs.shape[0], axis=1)
        inner = ~self.leaf[node]
        while inner.any():
            at = node[inner]
            goes_left = inputs[np.broadcast_to(rows, node.shape)[inner], self.feature[at]] <= self.threshold[at]
            node[inner] = np.where(goes_left, self.left[at], self.right[at])
            inner = ~self.leaf[node]
        return self.value[node]


class SequentialTreePredictor:
    """A fitted tree estimator (alone or behind one feature step), predicted on one thread; see the module."""

    def __init__(self, estimator: Any, data: DatasetConfig, threads: int) -> None:
        self.estimator = estimator
        self.threads = threads
        self.controller = ThreadpoolController()  # finds the OpenMP runtimes once, not per call
        self.columns = kind_of(data).feature_columns(data)
        self.classes = [int(c) for c in estimator.classes_]
        steps = estimator.steps if isinstance(estimator, Pipeline) else [("model", estimator)]
        self.features = None if len(steps) == 1 else (steps[0][1] if len(steps) == 2 else estimator[:-1])
        self.imputer = _imputer_columns(self.features)
        final = steps[-1][1]
        single = isinstance(final, RandomForestClassifier | ExtraTreesClassifier) and final.n_outputs_ == 1
        self.forest = final if single else None
        self.arrays = None if self.forest is None else _ForestArrays(self.forest)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        inputs = None if self.forest is None else self._features(frame)
        if inputs is not None:
            return self._forest_proba(inputs)
        with self.controller.limit(limits=self.threads, user_api="openmp"):  # scikit-learn as it is
            return np.asarray(self.estimator.predict_proba(frame[self.columns]))

    def _features(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The forest's float32 input, or None where scikit-learn must handle the input itself."""
        try:
            if self.imputer is not None:
                columns, fills = self.imputer
                values = frame[columns].to_numpy(dtype=np.float64)
                missing = np.isnan(values)
                if not np.isfinite(values[~missing]).all():
                    return None
                values = np.where(missing, fills, values)
            elif self.features is not None:
                values = np.asarray(self.features.transform(frame[self.columns]))
            else:
                values = frame[self.columns].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if values.ndim != 2 or values.shape[1] != self.forest.n_features_in_ or not np.isfinite(values).all():
            return None
        return np.ascontiguousarray(values, dtype=np.float32)

    def _forest_proba(self, inputs: np.ndarray) -> np.ndarray:
        forest = self.forest
        proba = np.zeros((inputs.shape[0], forest.n_classes_), dtype=np.float64)
        if inputs.shape[0] <= LOCKSTEP_ROWS:
            for leaves in self.arrays.leaf_values(inputs):  # tree after tree: the same sum, bit for bit
                proba += leaves
        else:
            for tree in forest.estimators_:
                proba += tree.tree_.predict(inputs)[:, :forest.n_classes_]
        proba /= len(forest.estimators_)
        return proba
