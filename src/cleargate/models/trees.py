"""Factory of unfitted scikit-learn tree ensembles: the baselines every deep model must beat."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier

from cleargate.config import HGBConfig, RFConfig

# skops refuses to load anything not on this list: what `load` trusts, and what MLflow is told to trust.
TRUSTED_TYPES = [
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.common.PREDICTOR_RECORD_DTYPE",
    "sklearn.tree._tree.Tree",
    "collections.OrderedDict",
    "numpy.dtype",
]


def _hgb(config: HGBConfig, seed: int) -> ClassifierMixin:
    return HistGradientBoostingClassifier(max_iter=config.max_iter, learning_rate=config.learning_rate,
                                          max_leaf_nodes=config.max_leaf_nodes, early_stopping=False,
                                          random_state=seed)


def _forest(config: RFConfig, seed: int) -> ClassifierMixin:
    cls = RandomForestClassifier if config.family == "random_forest" else ExtraTreesClassifier
    return cls(n_estimators=config.n_estimators, max_features=config.max_features, n_jobs=config.n_jobs,
               random_state=seed)


BUILDERS: dict[str, Callable[..., ClassifierMixin]] = {
    "hist_gradient_boosting": _hgb,
    "random_forest": _forest,
    "extra_trees": _forest,
}


def build_tree(config: HGBConfig | RFConfig, seed: int) -> ClassifierMixin:
    """An unfitted estimator for `config.family`; fitting is the caller's job."""
    return BUILDERS[config.family](config, seed)
