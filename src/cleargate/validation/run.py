"""Run a kind's suite (`Batch`es of `Rule`s, see `cleargate.kinds.expectations`) through a Great Expectations
1.x ephemeral context, and render data docs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from cleargate.config.judging import ValidationConfig
from cleargate.kinds import DataContract, kind_of
from cleargate.kinds.expectations import Batch
from cleargate.validation.findings import ValidationCheck, ValidationReport

MAX_EXAMPLES = 20


def _context(docs_dir: Path | None) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(site_name="cleargate", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return context


def _run_batch(context: Any, suite_name: str, batch: Batch, with_docs: bool) -> list[Any]:
    """GE results; COMPLETE so every offending row is known (quarantine needs all of them)."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    source = context.data_sources.add_pandas(f"{suite_name}-{batch.name}")
    definition = source.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe("all")
    # GE may reorder a suite's expectations: each carries its check name in `meta` instead
    expectations = [getattr(gx.expectations, r.expectation)(**r.kwargs, meta={"check": r.check, "rule": i})
                    for i, r in enumerate(batch.rules)]
    suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}.{batch.name}", expectations=expectations))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}.{batch.name}", data=definition, suite=suite))
    actions = [UpdateDataDocsAction(name="docs", site_names=["cleargate"])] if with_docs else []
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{suite_name}.{batch.name}", validation_definitions=[validation], actions=actions,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": batch.index_columns,
                       "return_unexpected_index_query": False}))
    result = checkpoint.run(batch_parameters={"dataframe": batch.frame})
    return [r for run in result.run_results.values() for r in run.results]


def _check(batch: str, check: str, result: Any, policy: str) -> ValidationCheck:
    info = result.result or {}
    index = [row for row in info.get("unexpected_index_list") or [] if isinstance(row, dict)]
    examples = [{k: _plain(v) for k, v in row.items()} for row in index[:MAX_EXAMPLES]]
    rows = sorted({int(row["row"]) for row in index if "row" in row})
    count = info.get("unexpected_count")
    observed = info.get("observed_value")
    mismatched = (info.get("details") or {}).get("mismatched")
    if mismatched:  # column sets: say what is missing and what is extra, not the whole observed list
        observed = {k: v for k, v in mismatched.items() if v}
    elif info.get("partial_missing_list"):
        observed = {"missing": info["partial_missing_list"]}
    return ValidationCheck(
        batch=batch,
        check=check,
        expectation=result.expectation_config.type,
        kwargs={k: _plain(v) for k, v in result.expectation_config.kwargs.items() if k != "batch_id"},
        passed=bool(result.success),
        unexpected_count=None if count is None else int(count),
        examples=examples,
        observed=_plain(observed),
        policy=policy,
        rows=rows,
    )


def _quarantine(frame: pd.DataFrame, checks: list[ValidationCheck]) -> dict[int, str]:
    """Row -> reason for failed quarantine-policy checks; of duplicates, only the extra copies."""
    rows: dict[int, str] = {}
    for c in checks:
        if c.passed or c.policy != "quarantine":
            continue
        first_copies: set[int] = set()
        if c.check == "duplicates":  # the same columns the check compared; the first copy stays
            subset = [col for col in c.kwargs.get("column_list") or frame.columns if col in frame.columns]
            first_copies = set(frame.index[~frame.duplicated(subset=subset, keep="first")])
        for row in c.rows:
            if row in first_copies:
                continue
            rows.setdefault(row, c.reason())
    return rows


def _quarantine_limit(n_quarantined: int, n_rows: int, limit: float) -> ValidationCheck:
    return ValidationCheck(batch="records", check="quarantine", expectation="quarantined_rows_within_limit",
                       kwargs={"max_value": limit}, passed=n_quarantined <= limit * n_rows,
                       unexpected_count=n_quarantined, observed=n_quarantined / max(n_rows, 1))


def validate_records(frame: pd.DataFrame, data: DataContract, rules: ValidationConfig, source: str,
                     docs_dir: Path | None = None, labelled: bool = True) -> ValidationReport:
    """Check records against the kind's suite: the raw labelled file, or (labelled=False) a batch to score.
    Blocking failures are the caller's to raise."""
    frame = frame.reset_index(drop=True)
    kind = kind_of(data)
    context = _context(docs_dir)
    checks: list[ValidationCheck] = []
    suite = kind.raw_suite(frame, data, rules) if labelled else kind.scoring_suite(frame, data)
    for batch in suite:
        for result in _run_batch(context, data.name, batch, docs_dir is not None):
            check = result.expectation_config.meta["check"]
            checks.append(_check(batch.name, check, result, rules.policy_for(check)))
    quarantined = kind.quarantine_scope(frame, _quarantine(frame, checks))
    if quarantined:
        checks.append(_quarantine_limit(len(quarantined), len(frame), rules.max_quarantine_fraction))
    report = ValidationReport(source=source, n_rows=len(frame), checks=checks, quarantined=quarantined)
    return report.with_docs(docs_dir / "index.html") if docs_dir is not None else report


def _plain(value: Any) -> Any:
    """numpy scalars and containers into JSON-friendly Python values."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate_splits(splits: dict[str, pd.DataFrame], data: DataContract, source: str) -> ValidationReport:
    """The kind's leakage checks over train/val/test (always `fail`: a leaked test set cannot be repaired
    later, and an identifier must never reach a model)."""
    context = _context(None)
    checks = [_check(batch.name, r.expectation_config.meta["check"], r, "fail")
              for batch in kind_of(data).split_suite(splits, data)
              for r in _run_batch(context, data.name, batch, with_docs=False)]
    return ValidationReport(source=source, n_rows=sum(len(p) for p in splits.values()), checks=checks)
