"""What a validation run found, as data and as one readable message."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cleargate.records import ValidationRecord
from cleargate.schema import ROW


@dataclass(frozen=True)
class ValidationCheck:
    batch: str
    check: str                    # the named check in params.yaml validation.policy
    expectation: str
    kwargs: dict[str, Any]
    passed: bool
    unexpected_count: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    observed: Any = None
    policy: str = "fail"          # fail: stops the run | quarantine: rows set aside, counted, run goes on
    rows: list[int] = field(default_factory=list, repr=False)  # every offending row id (row-level checks)

    @property
    def blocks(self) -> bool:
        """Failed, and its policy stops the run."""
        return not self.passed and self.policy == "fail"

    def reason(self) -> str:
        """Why a row was set aside: `duplicates: expect_compound_columns_to_be_unique(785 columns)`."""
        return f"{self.check}: {self.expectation}({_describe_kwargs(self.kwargs)})"

    def describe(self) -> str:
        """`3 values fail expect_column_values_to_be_between(value, 0..255) (pixel_12: rows 17, 204, 981)`."""
        args = _describe_kwargs(self.kwargs)
        if self.expectation == "quarantined_rows_within_limit":
            return (f"{self.unexpected_count} rows would be quarantined ({self.observed:.1%}), over "
                    f"validation.max_quarantine_fraction={self.kwargs['max_value']}; fix the source data")
        if self.unexpected_count is None:
            return f"{self.expectation}({args}) failed (observed: {_short(self.observed)})"
        where = _where(self.examples)
        noun = {"pixels": "values", "values": "values", "dtypes": "columns", "class_counts": "classes",
                "recordings": "recordings", "groups": "subjects", "identifiers": "columns",
                "channel_values": "image channels", "channel_spread": "channels"}.get(self.batch, "rows")
        return f"{self.unexpected_count} {noun} fail {self.expectation}({args})" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class ValidationReport:
    source: str
    n_rows: int
    checks: list[ValidationCheck]
    data_docs: str | None = None
    quarantined: dict[int, str] = field(default_factory=dict)  # row -> reason

    @property
    def blocking(self) -> list[ValidationCheck]:
        return [c for c in self.checks if c.blocks]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def message(self) -> str:
        lines = [f"{self.source}: {c.describe()}" for c in self.blocking]
        if self.data_docs:
            lines.append(f"see {self.data_docs}")
        return "\n".join(lines)

    def to_record(self) -> ValidationRecord:
        reasons: dict[str, int] = {}
        for reason in self.quarantined.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        checks = [{k: v for k, v in asdict(c).items() if k != "rows"} for c in self.checks]
        return ValidationRecord(source=self.source, n_rows=self.n_rows, passed=self.passed, data_docs=self.data_docs,
                                quarantined={"count": len(self.quarantined), "by_reason": reasons}, checks=checks)

    def markdown(self) -> str:
        """A short table for the Prefect artifact."""
        lines = [f"**{self.source}**: {self.n_rows} rows, {'PASSED' if self.passed else 'FAILED'}, "
                 f"{len(self.quarantined)} quarantined", "", "| check | expectation | policy | result |",
                 "|---|---|---|---|"]
        for c in self.checks:
            result = "ok" if c.passed else c.describe()
            lines.append(f"| {c.check} | {c.expectation} | {c.policy} | {result} |")
        return "\n".join(lines) + "\n"

    def with_docs(self, path: Path) -> ValidationReport:
        return replace(self, data_docs=str(path))


def _where(examples: list[dict[str, Any]]) -> str:
    """Group example index values: `pixel_12: rows 17, 204` or `rows 5, 9` or `label 11`."""
    groups: dict[str, list[str]] = {}
    for ex in examples:
        if "row" in ex:
            where = ex.get("column", ex.get("split"))
            key = f"{where}: rows" if where is not None else "rows"
            groups.setdefault(key, []).append(str(ex["row"]))
        else:
            for name, value in ex.items():
                if name not in ("value", "count", "dtype"):
                    groups.setdefault(name, []).append(str(value))
    return "; ".join(f"{key} {', '.join(vals[:5])}" + (", ..." if len(vals) > 5 else "")
                     for key, vals in groups.items())


def _describe_kwargs(kwargs: dict[str, Any]) -> str:
    parts = []
    for key in ("column", "column_list", "column_set"):
        if key in kwargs:
            value = kwargs[key]
            if key == "column_set" and isinstance(value, list):  # the row id GE needs is not the user's column
                value = [c for c in value if c != ROW]
            parts.append(f"{len(value)} columns" if isinstance(value, list) and len(value) > 4 else str(value))
    if "min_value" in kwargs or "max_value" in kwargs:
        parts.append(f"{_num(kwargs.get('min_value'))}..{_num(kwargs.get('max_value'))}")
    if "value_set" in kwargs:
        values = kwargs["value_set"]
        parts.append(f"in {values}" if len(values) <= 10 else f"in {len(values)} allowed values")
    return ", ".join(parts)


def _num(value: Any) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) < 200 else text[:200] + "..."
