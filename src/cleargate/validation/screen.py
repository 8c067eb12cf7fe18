"""A vectorised first look at a batch under its kind's rules: it proves rows clean, it never judges them.

Great Expectations judges every failure (its counts, its examples, its data docs), but it costs seconds per
10,000 MNIST rows (784 values each, checked in long form) and seconds to start. The screen evaluates the
rules with numpy and flags every row that *could* fail: for the expectations it knows it follows GE's
semantics (map expectations skip nulls, bounds are inclusive unless strict), for any other it flags every
row. Flagged rows go to GE; a row the screen passes is one GE would pass, so a clean batch needs no GE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cleargate.kinds.expectations import Rule

TABLE_RULES = frozenset({"ExpectTableColumnsToMatchSet"})   # about the table, checked once on its columns
# Expectations whose verdict on a row depends on that row alone (so chunks can be checked one at a time);
# the screen knows the first five, the others flag every row.
ROW_LOCAL = frozenset({"ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeBetween",
                       "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToNotBeInSet",
                       "ExpectColumnPairValuesToBeEqual", "ExpectColumnValuesToMatchRegex",
                       "ExpectColumnValuesToNotMatchRegex", "ExpectColumnValuesToBeOfType"})


def table_rule_holds(rule: Rule, columns: list[str]) -> bool:
    """True when the table-level rule surely passes on a table with these columns."""
    if rule.expectation == "ExpectTableColumnsToMatchSet" and rule.kwargs.get("exact_match", True):
        return sorted(columns) == sorted(rule.kwargs["column_set"])
    return False  # not proven: GE decides


def flagged(frame: pd.DataFrame, rules: list[Rule]) -> np.ndarray:
    """Rows of `frame` that may fail any of the (row-local) rules, whose columns are frame columns."""
    mask = np.zeros(len(frame), dtype=bool)
    for rule in rules:
        mask |= _rule_mask(frame, rule)
    return mask


def flagged_long(frame: pd.DataFrame, columns: list[str], rules: list[Rule]) -> np.ndarray:
    """Rows of the wide `frame` that may fail rules written for its long form (every value of `columns`
    as one `value`, non-numeric values as nulls: `cleargate.kinds.expectations.long_values`)."""
    if not columns or not len(frame):
        return np.zeros(len(frame), dtype=bool)
    values = _numeric(frame if list(frame.columns) == columns else frame[columns])
    mask = np.zeros(len(frame), dtype=bool)
    for rule in rules:
        if rule.kwargs.get("column") != "value":
            return np.ones(len(frame), dtype=bool)
        if rule.expectation == "ExpectColumnValuesToNotBeNull":
            if values.dtype.kind == "f":  # integers cannot be null
                mask |= np.isnan(values).any(axis=1)
        elif rule.expectation == "ExpectColumnValuesToBeBetween":
            mask |= _row_outside(values, rule.kwargs)
        else:
            return np.ones(len(frame), dtype=bool)
    return mask


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    """Values as numbers, anything non-numeric as NaN (as `pd.to_numeric(errors='coerce')` makes it); a frame of
    one numeric type comes back as it is stored (a view, no copy)."""
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in frame.dtypes):
        values = frame.to_numpy()
        if values.dtype.kind in "iuf":
            return values
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                            for c in frame.columns])


def _row_outside(values: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    """Rows with a value outside the bounds, from each row's smallest and largest value (nulls skipped)."""
    low_of, high_of = (np.fmin, np.fmax) if values.dtype.kind == "f" else (np.minimum, np.maximum)
    return (_outside(low_of.reduce(values, axis=1), kwargs) | _outside(high_of.reduce(values, axis=1), kwargs))


def _outside(values: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    out = np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):  # NaN compares False: nulls are skipped, as GE skips them
        if low is not None:
            out |= (values <= low) if kwargs.get("strict_min") else (values < low)
        if high is not None:
            out |= (values >= high) if kwargs.get("strict_max") else (values > high)
    return out


def _rule_mask(frame: pd.DataFrame, rule: Rule) -> np.ndarray:
    everything = np.ones(len(frame), dtype=bool)
    kw = rule.kwargs
    if any(kw.get(k) not in frame.columns for k in ("column", "column_A", "column_B") if k in kw):
        return everything  # GE reports the missing column
    kind = rule.expectation
    if kind == "ExpectColumnValuesToNotBeNull":
        return frame[kw["column"]].isna().to_numpy()
    if kind == "ExpectColumnValuesToBeBetween":
        column = frame[kw["column"]]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            return everything
        return _outside(column.to_numpy(dtype=np.float64, na_value=np.nan), kw)
    if kind in ("ExpectColumnValuesToBeInSet", "ExpectColumnValuesToNotBeInSet"):
        column = frame[kw["column"]]
        inside = column.isin(list(kw["value_set"])).to_numpy()
        present = column.notna().to_numpy()
        return present & (~inside if kind == "ExpectColumnValuesToBeInSet" else inside)
    if kind == "ExpectColumnPairValuesToBeEqual":  # NaN != NaN: a pair of nulls is flagged (GE may pass it)
        return (frame[kw["column_A"]].astype("object") != frame[kw["column_B"]].astype("object")).to_numpy()
    return everything
