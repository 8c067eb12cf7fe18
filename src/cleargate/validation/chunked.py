"""A batch to score, validated chunk by chunk with its kind's scoring suite: the report `validate_records`
gives for the whole frame, in memory that follows the chunk, not the file.

Whole-table checks (columns, column types) run once, on the table's schema. Per-row checks run per chunk:
the screen (`cleargate.validation.screen`) flags the rows that may fail, and Great Expectations judges
those rows, gathered in buffers of up to `judge_rows`; a clean batch never starts GE. Counts, offending
rows and examples add up over the chunks to what one GE run over the whole file reports (a test checks).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cleargate.config.judging import ValidationConfig
from cleargate.errors import DataError
from cleargate.kinds import DataContract, kind_of
from cleargate.kinds.expectations import Batch, Rule
from cleargate.schema import ROW
from cleargate.validation.findings import ValidationCheck, ValidationReport
from cleargate.validation.run import (
    MAX_EXAMPLES,
    _check,
    _context,
    _plain,
    _quarantine,
    _quarantine_limit,
    _run_batch,
)
from cleargate.validation.screen import ROW_LOCAL, TABLE_RULES, flagged, flagged_long, table_rule_holds


class ChunkedValidation:
    """`start` once with the table's schema (an empty frame with its columns and types), `add` each chunk
    (indexed by its rows' positions in the file), then `report`."""

    def __init__(self, data: DataContract, rules: ValidationConfig, source: str, docs_dir: Path | None = None,
                 judge_rows: int = 10_000) -> None:
        self.data, self.rules, self.source, self.docs_dir, self.judge_rows = data, rules, source, docs_dir, judge_rows
        self.kind = kind_of(data)
        self.n_rows = 0
        self.suite: list[Batch] = []
        self.table_checks: list[ValidationCheck] = []
        self._schema = pd.DataFrame()
        self._context: Any = None
        self._pending: list[pd.DataFrame] = []
        self._judged: dict[tuple[str, int], list[ValidationCheck]] = {}

    def start(self, schema: pd.DataFrame) -> bool:
        """The whole-table checks; False when one blocks (then no chunk needs reading)."""
        if ROW in schema.columns:
            raise DataError(f"{self.source}: has a column named '{ROW}', which cleargate reserves for row "
                            "numbers in its reports; rename or drop that column")
        self._schema = schema.iloc[:0]
        self.suite = self.kind.scoring_suite(self._schema, self.data)
        for batch in self.suite:
            for rule in batch.rules:
                if batch.per_row and rule.expectation not in TABLE_RULES | ROW_LOCAL:
                    raise ValueError(f"{rule.expectation} in batch {batch.name} is not a per-row check: "
                                     "it cannot be validated chunk by chunk")
        proven = all(self._table_batch_holds(batch) for batch in self.suite)
        self.table_checks = (self._passed_table_checks() if proven else self._judge_table())
        return not any(c.blocks for c in self.table_checks)

    def add(self, chunk: pd.DataFrame) -> None:
        """One chunk of rows, its index their positions in the file."""
        self.n_rows += len(chunk)
        mask = np.zeros(len(chunk), dtype=bool)
        for batch in self.suite:
            if batch.per_row:
                rules = [r for r in batch.rules if r.expectation not in TABLE_RULES]
                mask |= (flagged_long(chunk, batch.long_columns, rules) if batch.long_columns
                         else flagged(chunk, rules))
        if mask.any():
            self._pending.append(chunk[mask])
            if sum(len(p) for p in self._pending) >= self.judge_rows:
                self._judge_rows()

    @property
    def blocked(self) -> bool:
        """A blocking failure is already known (the caller may stop accumulating anything else)."""
        return any(c.blocks for c in self.table_checks) or any(
            c.blocks for parts in self._judged.values() for c in parts)

    def report(self, n_rows: int | None = None) -> ValidationReport:
        """`n_rows`: the table's length when known and its rows were not read (a whole-table failure)."""
        self._judge_rows()
        n_rows = self.n_rows or n_rows or 0
        checks = list(self.table_checks)
        if not any(c.blocks for c in checks):  # per-row checks ran only on a table that passed
            checks += [self._merged(batch, i, rule) for batch in self.suite if batch.per_row
                       for i, rule in enumerate(batch.rules) if rule.expectation not in TABLE_RULES]
        quarantined = self.kind.quarantine_scope(self._schema, _quarantine(self._schema, checks))
        if quarantined:
            checks.append(_quarantine_limit(len(quarantined), n_rows, self.rules.max_quarantine_fraction))
        report = ValidationReport(source=self.source, n_rows=n_rows, checks=checks, quarantined=quarantined)
        return report.with_docs(self.docs_dir / "index.html") if self._context and self.docs_dir else report

    # -- whole-table checks ------------------------------------------------------------------------------
    def _table_batch_holds(self, batch: Batch) -> bool:
        if batch.per_row:
            columns = list(batch.frame.columns)
            return all(table_rule_holds(r, columns) for r in batch.rules if r.expectation in TABLE_RULES)
        return not flagged(batch.frame, batch.rules).any()

    def _table_rules(self) -> list[tuple[Batch, int, Rule]]:
        return [(b, i, r) for b in self.suite for i, r in enumerate(b.rules)
                if not b.per_row or r.expectation in TABLE_RULES]

    def _passed_table_checks(self) -> list[ValidationCheck]:
        return [replace(self._passed(b, r), observed=sorted(map(str, b.frame.columns)))
                if r.expectation == "ExpectTableColumnsToMatchSet" else self._passed(b, r)
                for b, _, r in self._table_rules()]

    def _judge_table(self) -> list[ValidationCheck]:
        """GE on the schema: the exact verdicts and messages of the whole-table checks."""
        wanted = {(b.name, i) for b, i, _ in self._table_rules()}
        found = {}
        for batch in self.suite:
            if any(name == batch.name for name, _ in wanted):
                for result in _run_batch(self._ge(), f"{self.data.name}-table", batch, self.docs_dir is not None):
                    meta = result.expectation_config.meta
                    if (batch.name, meta["rule"]) in wanted:
                        found[(batch.name, meta["rule"])] = _check(batch.name, meta["check"], result,
                                                                   self.rules.policy_for(meta["check"]))
        return [found[(b.name, i)] for b, i, _ in self._table_rules()]

    # -- per-row checks ----------------------------------------------------------------------------------
    def _judge_rows(self) -> None:
        """GE on the flagged rows gathered so far (their index: their rows in the file)."""
        if not self._pending:
            return
        rows, self._pending = pd.concat(self._pending), []
        for batch in self.kind.scoring_suite(rows, self.data):
            if not batch.per_row:
                continue
            for result in _run_batch(self._ge(), f"{self.data.name}-rows{rows.index[0]}", batch,
                                     self.docs_dir is not None):
                meta = result.expectation_config.meta
                if batch.rules[meta["rule"]].expectation not in TABLE_RULES:
                    self._judged.setdefault((batch.name, meta["rule"]), []).append(
                        _check(batch.name, meta["check"], result, self.rules.policy_for(meta["check"])))

    def _merged(self, batch: Batch, index: int, rule: Rule) -> ValidationCheck:
        parts = self._judged.get((batch.name, index))
        if not parts:
            return self._passed(batch, rule)
        position = {c: i for i, c in enumerate(batch.long_columns)}  # GE lists a long batch column by column
        examples = sorted((e for p in parts for e in p.examples),
                          key=lambda e: (position.get(e.get("column"), 0), e.get(ROW, 0)))
        return replace(parts[0], passed=all(p.passed for p in parts),
                       unexpected_count=sum(p.unexpected_count or 0 for p in parts),
                       examples=examples[:MAX_EXAMPLES], rows=sorted({r for p in parts for r in p.rows}))

    def _passed(self, batch: Batch, rule: Rule) -> ValidationCheck:
        """A check the screen proved: what GE reports for it on a clean table."""
        return ValidationCheck(batch=batch.name, check=rule.check, expectation=_snake(rule.expectation),
                               kwargs=_plain(rule.kwargs), passed=True, policy=self.rules.policy_for(rule.check),
                               unexpected_count=None if rule.expectation in TABLE_RULES else 0)

    def _ge(self) -> Any:
        if self._context is None:
            self._context = _context(self.docs_dir)
        return self._context


def _snake(name: str) -> str:
    """`ExpectColumnValuesToBeBetween` -> `expect_column_values_to_be_between` (GE's expectation type)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
