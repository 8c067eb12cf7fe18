"""Tabular records: from the raw table to `[group] + features + [label]`, and the preprocessing the trees see.

Pure functions of a frame and its `TabularData` contract; the stages do the file reading and writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from cleargate.config import TabularData
from cleargate.datasets.schema import GROUP, LABEL
from cleargate.errors import DataError

MISSING_CATEGORY = "missing"  # what an absent categorical value is imputed as: its own category, not a guess


def feature_columns(config: TabularData) -> list[str]:
    """The model inputs, in the order params.yaml declares them."""
    return list(config.features)


def identifier_like(columns: Iterable[str], pattern: str, allowed: Iterable[str] = ()) -> list[str]:
    """Columns whose name looks like a personal identifier (name, e-mail, SSN, birth date...), minus `allowed`.

    A name-based pattern cannot tell `fake_last_name` from `clinic_name`, so the caller passes the declared
    features as `allowed`: declaring a column a feature is a deliberate, reviewed choice. What remains is a
    column nobody declared as a feature that looks like it identifies a person.
    """
    regex, spared = re.compile(pattern), set(allowed)
    return [c for c in columns if c not in spared and regex.search(str(c))]


def coerce_features(frame: pd.DataFrame, config: TabularData) -> pd.DataFrame:
    """The feature columns as the model takes them: numeric as float64, categorical as object str with NaN.

    Missing must be NaN, not None: SimpleImputer leaves None in an object column alone, so a None would reach
    the encoder as an unseen category instead of being imputed. Scoring and serving call this too.
    """
    out = {}
    for column, spec in config.features.items():
        values = frame[column]
        if spec.type == "numeric":
            try:
                out[column] = pd.to_numeric(values, errors="raise").astype("float64")
            except (TypeError, ValueError) as exc:
                raise DataError(f"column '{column}' is declared numeric but holds non-numbers ({exc}); "
                                "fix the data or declare it categorical in params.yaml") from None
        else:
            out[column] = values.astype(str).astype(object).where(values.notna(), np.nan)
    return pd.DataFrame(out, index=frame.index)


def clean_records(raw: pd.DataFrame, config: TabularData) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop identifiers, leaking columns and excluded outcomes; map the target to `label`; say what went and why.

    Every raw column must be declared (target, group, feature, identifier or drop): an unknown column could be a
    new identifier or a leak, so it stops the run rather than being silently dropped or silently used.
    """
    features, group = feature_columns(config), config.group_column
    clash = sorted({LABEL, GROUP} & set(features))
    if clash:
        raise DataError(f"features {clash} use a reserved name; rename the column(s) in the data and params.yaml")
    declared = {config.target, *features, *config.identifier_columns, *config.drop_columns}
    declared |= {group} if group else set()
    undeclared = [str(c) for c in raw.columns if c not in declared]
    if undeclared:
        raise DataError(f"columns {undeclared} are not declared in params.yaml; add each to data.features, "
                        "data.identifier_columns or data.drop_columns (with the reason)")
    absent = [c for c in [config.target, *([group] if group else []), *features] if c not in raw.columns]
    if absent:
        raise DataError(f"columns {absent} are declared in params.yaml but missing from the data")

    target = raw[config.target].astype(str)  # keeps NaN; int-coded targets compare as their digits
    excluded = target.isin(config.exclude_labels)
    kept = raw.loc[~excluded]
    codes = target[~excluded].map({name: i for i, name in enumerate(config.classes)})
    if codes.isna().any():
        bad = target[~excluded][codes.isna()]
        raise DataError(f"{len(bad)} rows have target values {sorted(map(str, bad.unique()))[:10]} outside "
                        f"classes {config.classes}; add them to data.classes or data.exclude_labels "
                        "(validation's labels check normally quarantines them first)")

    records = coerce_features(kept, config)
    if group:
        records.insert(0, GROUP, kept[group])
    records[LABEL] = codes.astype("int64")
    records = records.reset_index(drop=True)
    counts = target[excluded].value_counts()
    missing = records[features].isna().sum()
    report = {
        "rows_in": len(raw),
        "rows_out": len(records),
        "excluded_labels": {label: int(counts.get(label, 0)) for label in config.exclude_labels},
        "dropped_columns": {c: why for c, why in config.drop_columns.items() if c in raw.columns},
        "identifier_columns_dropped": [c for c in config.identifier_columns if c in raw.columns],
        "missing_values": {c: int(n) for c, n in missing.items() if n},
    }
    return records, report


def build_preprocessor(config: TabularData) -> ColumnTransformer:
    """Impute, then encode categories as integers, for the tree models; anything undeclared (`group`) is dropped.

    Ordinal codes are fine for trees: a split on a code separates categories into two sets, and enough splits
    isolate any category, with no one-hot width; the arbitrary order costs a few extra splits, never correctness.
    An unseen category becomes -1 and a missing one the category 'missing', so scoring never fails on either.
    Output: numeric columns, then categorical ones.
    """
    numeric = [c for c, spec in config.features.items() if spec.type == "numeric"]
    categorical = [c for c, spec in config.features.items() if spec.type == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", SimpleImputer(strategy="median"), numeric))
    if categorical:
        encode = Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
        ])
        transformers.append(("categorical", encode, categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
