"""Factory of unfitted scikit-learn tree ensembles: the baselines every deep model must beat.

`tree_pipeline` puts the kind's feature step (`Kind.tree_features`) in front of the tree, so the fitted
object takes the same stored records as the deep models: pixels as they are, per-window statistics for
sequences, imputation and ordinal codes for tabular records.
"""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from cleargate.config.hyperparameters import HGBConfig, RFConfig, TreeConfig
from cleargate.kinds import DataContract, kind_of


def _hgb(config: HGBConfig, seed: int) -> ClassifierMixin:
    return HistGradientBoostingClassifier(max_iter=config.max_iter, learning_rate=config.learning_rate,
                                          max_leaf_nodes=config.max_leaf_nodes, early_stopping=False,
                                          class_weight=config.class_weight, random_state=seed)


def _forest(config: RFConfig, seed: int) -> ClassifierMixin:
    cls = RandomForestClassifier if config.family == "random_forest" else ExtraTreesClassifier
    return cls(n_estimators=config.n_estimators, max_features=config.max_features,
               min_samples_leaf=config.min_samples_leaf, class_weight=config.class_weight, n_jobs=config.n_jobs,
               random_state=seed)


BUILDERS: dict[str, Callable[..., ClassifierMixin]] = {
    "hist_gradient_boosting": _hgb,
    "random_forest": _forest,
    "extra_trees": _forest,
}


def build_tree(config: TreeConfig, seed: int) -> ClassifierMixin:
    """An unfitted estimator for `config.family`; fitting is the caller's job."""
    return BUILDERS[config.family](config, seed)


def tree_pipeline(config: TreeConfig, data: DataContract, seed: int) -> ClassifierMixin:
    """The tree behind its kind's feature step (none for images)."""
    tree = build_tree(config, seed)
    features = kind_of(data).tree_features(data)
    return tree if features is None else Pipeline([("features", features), ("model", tree)])
