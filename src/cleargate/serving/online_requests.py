"""A request to the online server as MLflow's scoring server takes it, parsed into rows, or refused in one line.

The JSON body holds exactly one of MLflow's input fields (and optionally an empty `params`):

    {"dataframe_split": {"columns": [...], "data": [[...], ...], "index": [...]}}   pandas' split orient
    {"dataframe_records": [{"column": value, ...}, ...]}                            pandas' records orient
    {"instances": [[...], ...]}  or  {"inputs": ...}                                TF-serving style: rows of
        values in the model's column order, records, a {column: [values]} mapping, or one row as a flat list

so MLflow's clients (`mlflow.deployments`, `requests` scripts written for `mlflow models serve`) work as they are.
Values may be JSON numbers, strings, booleans or null (and NaN / Infinity as Python's json writes them, which MLflow's
clients do). Everything else is a `RequestRefused` naming the field and the check, never an exception from pandas.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

import numpy as np
import pandas as pd

INPUT_FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")
SCALARS = (str, int, float, bool, type(None))


@dataclass
class RequestRefused(Exception):
    """A request the server answers with a 4xx: the HTTP status, the check that failed, the field it names."""

    status: int
    check: str              # body, json, shape, columns, dtypes, values, rows, model, auth, ...
    message: str
    field: str | None = None
    rows: list[int] = default(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        """MLflow's error shape (`error_code`, `message`) plus what cleargate adds: the check, field and rows."""
        code = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST", 408: "REQUEST_TIMEOUT",
                409: "RESOURCE_ALREADY_EXISTS", 413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST"}
        out: dict[str, Any] = {"error_code": code.get(self.status, "INVALID_PARAMETER_VALUE"),
                               "message": self.message, "check": self.check}
        if self.field is not None:
            out["field"] = self.field
        if self.rows:
            out["rows"] = self.rows
        return out


def decode_json(body: bytes) -> Any:
    """The body as JSON (orjson; Python's json for NaN / Infinity, which strict JSON has no words for)."""
    import orjson

    if not body.strip():
        raise RequestRefused(400, "json", "empty body; send a JSON object such as "
                             '{"dataframe_split": {"columns": [...], "data": [[...]]}}')
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestRefused(400, "json", f"not valid JSON ({str(exc).splitlines()[0][:120]}); send UTF-8 JSON "
                             "with Content-Type: application/json") from None


def _fail(field_name: str, message: str, check: str = "shape", status: int = 400) -> RequestRefused:
    return RequestRefused(status, check, f"{field_name}: {message}", field=field_name)


def _rows_limit(n: int, max_rows: int, where: str) -> None:
    if n == 0:
        raise _fail(where, "holds no rows; send at least one")
    if n > max_rows:
        raise RequestRefused(413, "rows", f"{where}: {n} rows, more than serving.max_rows ({max_rows}) in one "
                             "request; split it", field=where)


def _frame(rows: list[Any], columns: list[str], where: str, numbers: str) -> pd.DataFrame:
    """Rows (lists of the same length as `columns`) as a frame; a row of another shape or type is refused.

    A table of JSON numbers is read as one array (one numpy call instead of pandas' inference column by column)
    when that gives the column types pandas would: `numbers` holds the array kinds for which it does (integers
    always, floats only for a model that learnt no integer column, whose integers among floats would be told
    apart; none when the body holds a JSON boolean, which numpy would take for a number)."""
    width = len(columns)
    if numbers:
        try:
            array = np.array(rows)
        except (ValueError, TypeError):  # ragged rows: described below
            array = None
        if array is not None and array.ndim == 2 and array.shape[1] == width and array.dtype.kind in numbers:
            return pd.DataFrame(array, columns=columns, copy=False)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise _fail(f"{where}[{i}]", f"is a {type(row).__name__}, expected a list of {width} values")
        if len(row) != width:
            raise _fail(f"{where}[{i}]", f"has {len(row)} values for {width} columns")
    return pd.DataFrame(rows, columns=columns)


def _columns(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise _fail(where, "must be a list of column names (strings)")
    seen: set[str] = set()
    twice = [c for c in value if c in seen or seen.add(c)]
    if twice:
        raise _fail(where, f"names {twice[0]!r} twice", check="columns")
    return value


def _records(records: list[Any], where: str) -> pd.DataFrame:
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise _fail(f"{where}[{i}]", f"is a {type(record).__name__}, expected an object of column: value")
        names.update(dict.fromkeys(record))
    return pd.DataFrame.from_records(records, columns=list(names))


def _split(value: Any, max_rows: int, numbers: str) -> pd.DataFrame:
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise _fail(where, 'must be an object {"columns": [...], "data": [[...], ...]}')
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown or "columns" not in value or "data" not in value:
        raise _fail(where, f"takes columns, data and optionally index (got {sorted(value)})")
    columns = _columns(value["columns"], f"{where}.columns")
    data = value["data"]
    if not isinstance(data, list):
        raise _fail(f"{where}.data", "must be a list of rows")
    _rows_limit(len(data), max_rows, f"{where}.data")
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise _fail(f"{where}.index", f"must be a list of {len(data)} labels, one per row")
    return _frame(data, columns, f"{where}.data", numbers)


def _instances(value: Any, where: str, order: list[str], max_rows: int, numbers: str) -> pd.DataFrame:
    if isinstance(value, dict):  # columnar: {column: [values, ...]}
        columns = _columns(list(value), where)
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if -1 in lengths or len(lengths) != 1:
            raise _fail(where, "as an object, maps each column to a list of values, all of the same length")
        _rows_limit(lengths.pop(), max_rows, where)
        return pd.DataFrame({c: value[c] for c in columns})
    if not isinstance(value, list):
        raise _fail(where, "must be a list of rows (lists of values in the model's column order, or objects)")
    if value and not isinstance(value[0], list | dict):  # one row given as a flat list of values
        value = [value]
    _rows_limit(len(value), max_rows, where)
    if isinstance(value[0], dict):
        return _records(value, where)
    return _frame(value, order, where, numbers)


def parse_request(body: bytes, order: list[str], max_rows: int, integers: bool = True) -> pd.DataFrame:
    """The rows of an MLflow-shaped request body; `order`: the model's columns, for rows given without names;
    `integers`: whether the model learnt integer columns (then a column's integers are kept apart from floats)."""
    payload = decode_json(body)
    numbers = "" if b"true" in body or b"false" in body else ("i" if integers else "if")
    if not isinstance(payload, dict):
        raise RequestRefused(400, "shape", f"the body is a JSON {type(payload).__name__}; send an object with one "
                             f"of {', '.join(INPUT_FIELDS)}")
    given = [k for k in payload if k in INPUT_FIELDS]
    unknown = sorted(k for k in payload if k not in INPUT_FIELDS and k != "params")
    if len(given) != 1 or unknown:
        what = f"unknown field(s) {unknown}" if unknown else f"{len(given)} input fields"
        raise RequestRefused(400, "shape", f"{what}; send exactly one of {', '.join(INPUT_FIELDS)}",
                             field=(unknown or given or [None])[0])
    if payload.get("params"):
        raise RequestRefused(400, "shape", "params: this model takes no inference parameters; leave params out",
                             field="params")
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        frame = _split(value, max_rows, numbers)
    elif key == "dataframe_records":
        if not isinstance(value, list):
            raise _fail(key, "must be a list of objects {column: value}")
        _rows_limit(len(value), max_rows, key)
        frame = _records(value, key)
    else:
        frame = _instances(value, key, order, max_rows, numbers)
    return _scalars_only(frame, key)


def _scalars_only(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Every value a JSON scalar: a list or object inside a cell is refused, naming its column and row."""
    for column, kind in zip(frame.columns, frame.dtypes, strict=True):
        if kind.kind == "O":
            values = frame[column]
            bad = [i for i, v in enumerate(values.array) if not isinstance(v, SCALARS)]
            if bad:
                raise RequestRefused(422, "dtypes", f"{column}: row {bad[0]} holds a "
                                     f"{type(values.array[bad[0]]).__name__}, not a single value", field=str(column),
                                     rows=bad[:10])
    return frame


def finite(value: Any) -> Any:
    """A value for a JSON answer: NaN and infinities as null (strict JSON has no words for them)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
