"""The checks batch scoring runs, on one request: the dataset's scoring suite and the model's contract.

The rules are the kind's scoring suite (`kind.scoring_suite`, what `cleargate score` validates a file with): the
columns exactly, each column's type, every value's range, category set or presence. They are judged with the
vectorised screen (`cleargate.validation.screen`), which follows Great Expectations' semantics for these
expectations (nulls skipped by range checks, bounds inclusive unless strict), so a request passes here exactly
when its rows would pass batch scoring; no Great Expectations context is started per request (it costs seconds).
A rule the screen cannot judge sends the request through Great Expectations (`ChunkedValidation`), as batch
scoring does. Then the model's contract: the column types the version was trained on (`type_mismatch`) and finite
numbers. Online there is no quarantine: a request with one row that fails a check is refused whole, naming the
check, the column and the rows, so the caller knows which record to fix.

The per-column checks of a wide table of numbers run as a few numpy operations over every column at once, and
the verdict on a request's column types is cached by its types (they repeat from request to request).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from cleargate.config.judging import ValidationConfig
from cleargate.kinds import DataContract, kind_of
from cleargate.kinds.expectations import Batch, Rule
from cleargate.schema import LABEL, ROW
from cleargate.serving.online_requests import RequestRefused
from cleargate.serving.pyfunc import type_mismatch
from cleargate.validation.screen import TABLE_RULES, flagged, flagged_long

KNOWN = frozenset({"ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeBetween", "ExpectColumnValuesToBeInSet",
                   "ExpectColumnValuesToNotBeInSet", "ExpectColumnPairValuesToBeEqual"})  # the screen's exact ones
NUMBER_KINDS = "iuf"
ONLINE = ValidationConfig(policy={}, max_quarantine_fraction=0.0)   # every check fails a request: no quarantine


def _refuse(check: str, message: str, column: str | None = None, rows: list[int] | None = None) -> RequestRefused:
    return RequestRefused(422, check, message, field=column, rows=[int(r) for r in (rows or [])][:10])


def _bounds(kwargs: dict[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return (f"{'(' if kwargs.get('strict_min') else '['}{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}{')' if kwargs.get('strict_max') else ']'}")


def _what(rule: Rule, value: Any) -> str:
    """Why `value` fails `rule`, in a few words."""
    kind, kw = rule.expectation, rule.kwargs
    if kind == "ExpectColumnValuesToNotBeNull":
        return "is missing"
    if kind == "ExpectColumnValuesToBeBetween":
        return f"{value!r} is outside {_bounds(kw)}"
    if kind == "ExpectColumnValuesToBeInSet":
        allowed = list(kw["value_set"])
        return f"{value!r} is not one of {allowed[:8]}{' ...' if len(allowed) > 8 else ''}"
    if kind == "ExpectColumnValuesToNotBeInSet":
        return f"{value!r} is not allowed"
    return f"{value!r} fails {kind}"


class RequestChecks:
    """The scoring suite of `data` and the contract of one model version (`trained`: column -> numpy kind letter),
    compiled once; `check(frame)` returns the frame in the model's column order or raises `RequestRefused`."""

    def __init__(self, data: DataContract, order: list[str], trained: dict[str, str]) -> None:
        self.data, self.kind, self.order, self.trained = data, kind_of(data), list(order), dict(trained)
        self.features = self.kind.feature_columns(data)
        self.integers = any(kind in "iub" for kind in self.trained.values())  # learnt integers (or booleans)
        self.expected = pd.Index(self.order)
        self._types: dict[tuple[Any, ...], tuple[RequestRefused | None, RequestRefused | None, list[str]]] = {}
        template = pd.DataFrame({c: pd.Series(dtype="float64") for c in self.features})
        suite = self.kind.scoring_suite(template, data)
        self.long = [b for b in suite if b.per_row and b.long_columns]
        self.derived = [b.name for b in suite if b.per_row and not b.long_columns
                        and any(c not in self.features and c != ROW for r in b.rules for c in _columns(r))]
        plain = [r for b in suite if b.per_row and not b.long_columns and b.name not in self.derived
                 for r in b.rules if r.expectation not in TABLE_RULES]
        self.ge_needed = any(r.expectation not in KNOWN for b in suite if b.per_row for r in b.rules
                             if r.expectation not in TABLE_RULES)
        self.rules = plain
        self._compile(plain)

    def _compile(self, rules: list[Rule]) -> None:
        """Presence checks as one `isna` over their columns, range checks as one comparison of every ranged
        column against arrays of bounds; any other rule one at a time through the screen."""
        self.not_null = [r.kwargs["column"] for r in rules if r.expectation == "ExpectColumnValuesToNotBeNull"
                         and r.kwargs.get("column") in self.features]
        ranges = [r for r in rules if r.expectation == "ExpectColumnValuesToBeBetween"
                  and r.kwargs.get("column") in self.features]
        once = [r for r in ranges if sum(x.kwargs["column"] == r.kwargs["column"] for x in ranges) == 1]
        self.ranged = [r.kwargs["column"] for r in once]
        self.low = np.array([-np.inf if r.kwargs.get("min_value") is None else r.kwargs["min_value"] for r in once],
                            dtype=np.float64)
        self.high = np.array([np.inf if r.kwargs.get("max_value") is None else r.kwargs["max_value"] for r in once],
                             dtype=np.float64)
        self.strict_low = np.array([bool(r.kwargs.get("strict_min")) for r in once], dtype=bool)
        self.strict_high = np.array([bool(r.kwargs.get("strict_max")) for r in once], dtype=bool)
        compiled = {id(r) for r in once} | {id(r) for r in rules if r.expectation == "ExpectColumnValuesToNotBeNull"
                                            and r.kwargs.get("column") in self.features}
        self.other = [r for r in rules if id(r) not in compiled]

    # -- the request ------------------------------------------------------------------------------------------
    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not frame.columns.equals(self.expected):
            self._columns(frame)
            frame = frame[self.order]
        verdict = self._verdict(frame)
        if verdict[0] is not None:
            missing = self._nulls_as_numbers(frame)
            if missing is None:
                raise verdict[0]
            frame, verdict = missing, self._verdict(missing)
            if verdict[0] is not None:
                raise verdict[0]
        if self.ge_needed:
            self._great_expectations(frame)
        self._values(frame)
        if verdict[1] is not None:  # the model's contract, after the suite's checks (batch scoring's order)
            raise verdict[1]
        self._finite(frame, verdict[2])
        return frame

    def _verdict(self, frame: pd.DataFrame) -> tuple[RequestRefused | None, RequestRefused | None, list[str]]:
        """The request's column types judged by the suite and by the model's contract (once per combination of
        types), and its float columns."""
        key = tuple(frame.dtypes)
        verdict = self._types.get(key)
        if verdict is None:
            if len(self._types) > 256:  # bounded, whatever combinations callers send
                self._types.clear()
            floats = [c for c, t in zip(self.order, key, strict=True) if t.kind == "f"]
            verdict = self._types[key] = (*self._judge_types(frame), floats)
        return verdict

    def _nulls_as_numbers(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """A numeric column the request sent only nulls in (JSON null has no type) as missing numbers, so the
        presence check names it; None when there is none."""
        empty = [c for c, t in zip(self.order, frame.dtypes, strict=True) if t.kind == "O"
                 and self.trained.get(c, "O") in NUMBER_KINDS + "b" and frame[c].isna().all()]
        return frame.astype(dict.fromkeys(empty, "float64")) if empty else None

    def _columns(self, frame: pd.DataFrame) -> None:
        given = [str(c) for c in frame.columns]
        missing = [c for c in self.features if c not in set(given)]
        extra = [c for c in given if c not in set(self.features)]
        identifiers = set(getattr(self.data, "identifier_columns", []))
        pattern = getattr(self.data, "identifier_pattern", None)
        for column in extra:
            if column in identifiers or (pattern and re.search(pattern, column)):
                raise _refuse("identifiers", f"{column}: an identifier column; identifiers never reach the model "
                              "(params.yaml data.identifier_columns): leave it out of the request", column)
        if extra:
            hint = "; labels go to POST /feedback with the request id" if LABEL in extra else ""
            raise _refuse("columns", f"{extra[0]}: not a column of the model ({len(extra)} unknown: "
                          f"{', '.join(extra[:5])}{', ...' if len(extra) > 5 else ''}){hint}", extra[0])
        if missing:
            more = ", ..." if len(missing) > 5 else ""
            raise _refuse("columns", f"{missing[0]}: missing; the request lacks {len(missing)} of the model's "
                          f"{len(self.features)} columns ({', '.join(missing[:5])}{more})", missing[0])

    def _judge_types(self, frame: pd.DataFrame) -> tuple[RequestRefused | None, RequestRefused | None]:
        """The suite's whole-table checks (column types) on the request's types; the model's own."""
        for batch in self.kind.scoring_suite(frame.iloc[:0], self.data):
            if batch.per_row:
                continue
            for rule in batch.rules:
                mask = flagged(batch.frame, [rule])
                if mask.any():
                    row = batch.frame[mask].iloc[0]
                    column = str(row.get("column", ""))
                    return _refuse(rule.check, f"{column}: {frame[column].dtype} values where the dataset declares "
                                   f"{_expected(rule, row)} (check {rule.check})", column), None
        why = type_mismatch(frame, self.trained)
        if why is not None:
            column = why.split("column ", 1)[1].split(":", 1)[0]
            return None, _refuse("model", f"{column}: {frame[column].dtype} values; the model was trained on kind "
                                 f"{self.trained[column]!r} (integers where it learnt integers, numbers where it "
                                 "learnt numbers)", column)
        return None, None

    def _values(self, frame: pd.DataFrame) -> None:
        if self.not_null:
            nulls = (frame if self.not_null == self.order else frame[self.not_null]).isna().to_numpy()
            if nulls.any():
                self._first(frame, nulls, self.not_null, "ExpectColumnValuesToNotBeNull")
        if self.ranged:
            values = (frame if self.ranged == self.order else frame[self.ranged]).to_numpy(dtype=np.float64,
                                                                                           na_value=np.nan)
            with np.errstate(invalid="ignore"):  # NaN compares False: a missing value is not out of range
                bad = np.where(self.strict_low, values <= self.low, values < self.low) | np.where(
                    self.strict_high, values >= self.high, values > self.high)
            if bad.any():
                self._first(frame, bad, self.ranged, "ExpectColumnValuesToBeBetween")
        for rule in self.other:
            self._rule(frame, rule, flagged(frame, [rule]))
        for batch in self.long:
            rules = [r for r in batch.rules if r.expectation not in TABLE_RULES]
            if flagged_long(frame, batch.long_columns, rules).any():
                self._long(frame, batch)
        if self.derived:
            self._derived(frame)

    def _finite(self, frame: pd.DataFrame, floats: list[str]) -> None:
        """The model's contract: numbers, never infinities (a range without a maximum lets +inf by)."""
        if floats:
            infinite = np.isinf((frame if len(floats) == len(self.order) else frame[floats]).to_numpy())
            if infinite.any():
                rows, columns = np.nonzero(infinite)
                column = floats[columns[0]]
                raise _refuse("model", f"{column}: row {rows[0]} is {frame[column].iloc[rows[0]]}; the model takes "
                              "finite numbers", column, rows[columns == columns[0]].tolist())

    def _first(self, frame: pd.DataFrame, bad: np.ndarray, columns: list[str], expectation: str) -> None:
        """The rule behind the first column with a refused value, and every row it refuses there."""
        first = int(np.flatnonzero(bad.any(axis=0))[0])
        column = columns[first]
        rule = next(r for r in self.rules if r.expectation == expectation and r.kwargs.get("column") == column)
        self._rule(frame, rule, bad[:, first])

    def _rule(self, frame: pd.DataFrame, rule: Rule, mask: np.ndarray) -> None:
        if not mask.any():
            return
        column = str(rule.kwargs.get("column", rule.kwargs.get("column_A", "")))
        rows = np.flatnonzero(mask)
        value = frame[column].iloc[rows[0]] if column in frame.columns else None
        raise _refuse(rule.check, f"{column}: row {rows[0]} {_what(rule, _plain(value))} (check {rule.check}; "
                      f"{len(rows)} of {len(frame)} rows)", column, rows.tolist())

    def _long(self, frame: pd.DataFrame, batch: Batch) -> None:
        """The first value a long-form rule (every value of the wide columns) refuses, by row and column."""
        values = frame[batch.long_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        for rule in batch.rules:
            kw = rule.kwargs
            if rule.expectation == "ExpectColumnValuesToNotBeNull":
                bad = np.isnan(values)
            elif rule.expectation == "ExpectColumnValuesToBeBetween":
                low = -np.inf if kw.get("min_value") is None else kw["min_value"]
                high = np.inf if kw.get("max_value") is None else kw["max_value"]
                with np.errstate(invalid="ignore"):
                    bad = ((values <= low) if kw.get("strict_min") else (values < low)) | (
                        (values >= high) if kw.get("strict_max") else (values > high))
            else:
                continue
            if bad.any():
                rows, columns = np.nonzero(bad)
                column = batch.long_columns[columns[0]]
                raw = frame[column].iloc[rows[0]]
                raise _refuse(rule.check, f"{column}: row {rows[0]} {_what(rule, _plain(raw))} (check "
                              f"{rule.check}; {int(bad.any(axis=1).sum())} of {len(frame)} rows)", column,
                              np.unique(rows).tolist())

    def _derived(self, frame: pd.DataFrame) -> None:
        """Per-row batches computed from the rows (a colour image's per-channel summary): built for this request."""
        for batch in self.kind.scoring_suite(frame, self.data):
            if batch.name not in self.derived:
                continue
            for rule in (r for r in batch.rules if r.expectation not in TABLE_RULES):
                mask = flagged(batch.frame, [rule])
                if mask.any():
                    first = batch.frame[mask].iloc[0]
                    where = ", ".join(f"{c} {first[c]}" for c in batch.index_columns)
                    value = first.get(rule.kwargs.get("column"))
                    rows = sorted({int(r) for r in batch.frame.loc[mask, ROW]})
                    raise _refuse(rule.check, f"{where}: {rule.kwargs.get('column')} {_what(rule, _plain(value))} "
                                  f"(check {rule.check})", str(first.get("column", "")) or None, rows)

    def _great_expectations(self, frame: pd.DataFrame) -> None:
        """A suite with a rule the screen cannot judge: Great Expectations on this request, as batch scoring."""
        from cleargate.validation import ChunkedValidation

        validation = ChunkedValidation(self.data, ONLINE, "request")
        if validation.start(frame.iloc[:0]):
            validation.add(frame.reset_index(drop=True))
        report = validation.report(len(frame))
        failed = [c for c in report.checks if not c.passed]
        if failed:
            raise _refuse(failed[0].check, failed[0].describe(), None, failed[0].rows)


def _columns(rule: Rule) -> list[str]:
    return [rule.kwargs[k] for k in ("column", "column_A", "column_B") if k in rule.kwargs]


def _expected(rule: Rule, row: pd.Series) -> str:
    if rule.expectation == "ExpectColumnPairValuesToBeEqual":
        return f"{row[rule.kwargs['column_B']]} values"
    if rule.expectation == "ExpectColumnValuesToBeInSet":
        return "numbers"
    return rule.expectation


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
