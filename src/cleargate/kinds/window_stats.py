"""Per-window summary statistics per channel: the feature step in front of the sequence kind's trees."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

STATS = ["mean", "std", "min", "max", "p25", "p75", "energy", "mad"]


class WindowStats(TransformerMixin, BaseEstimator):
    """Per-channel summary statistics of each window: trees cannot use raw samples whose position shifts.

    Stateless, so a fitted Pipeline([stats, tree]) takes the same raw window columns as the recurrent nets.
    `std` is the population std; `energy` the mean square; `mad` the mean absolute first difference.
    """

    def __init__(self, channels: list[str], window: int) -> None:
        self.channels = channels
        self.window = window

    def _columns(self) -> list[str]:
        return [f"{ch}_{i}" for ch in self.channels for i in range(self.window)]

    def _array(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Columns are picked by name from a DataFrame, so their order there does not matter."""
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self._columns() if c not in X.columns]
            if missing:
                raise ValueError(f"WindowStats: input lacks {len(missing)} window columns, e.g. {missing[:3]}")
            X = X[self._columns()]
        array = np.asarray(X, dtype=np.float64)
        expected = len(self.channels) * self.window
        if array.ndim != 2 or array.shape[1] != expected:
            raise ValueError(f"WindowStats: expected a 2-D input with {expected} columns, got shape {array.shape}")
        return array

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> WindowStats:
        self._array(X)
        self.n_features_in_ = len(self.channels) * self.window
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(self._columns(), dtype=object)
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        cube = self._array(X).reshape(-1, len(self.channels), self.window)
        p25, p75 = np.percentile(cube, [25, 75], axis=2)
        stats = [cube.mean(axis=2), cube.std(axis=2), cube.min(axis=2), cube.max(axis=2), p25, p75,
                 np.mean(cube**2, axis=2), np.abs(np.diff(cube, axis=2)).mean(axis=2)]
        return np.stack(stats, axis=2).reshape(len(cube), -1)  # (n, channels * stats), channel-major

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{ch}_{s}" for ch in self.channels for s in STATS], dtype=object)
