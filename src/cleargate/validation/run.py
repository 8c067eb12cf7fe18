"""Run the suites through a Great Expectations 1.x ephemeral context and render data docs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from cleargate.config import DatasetConfig, ValidationConfig
from cleargate.validation.report import CheckResult, ValidationReport
from cleargate.validation.suites import Batch, image_batches

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
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    source = context.data_sources.add_pandas(f"{suite_name}-{batch.name}")
    definition = source.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}.{batch.name}",
                                                   expectations=list(batch.expectations)))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}.{batch.name}", data=definition, suite=suite))
    actions = [UpdateDataDocsAction(name="docs", site_names=["cleargate"])] if with_docs else []
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{suite_name}.{batch.name}", validation_definitions=[validation], actions=actions,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES,
                       "unexpected_index_column_names": batch.index_columns}))
    result = checkpoint.run(batch_parameters={"dataframe": batch.frame})
    return [r for run in result.run_results.values() for r in run.results]


def _check(batch: str, result: Any, policy: str) -> CheckResult:
    info = result.result or {}
    examples = [{k: _plain(v) for k, v in row.items()} for row in info.get("partial_unexpected_index_list") or []
                if isinstance(row, dict)]
    count = info.get("unexpected_count")
    return CheckResult(
        batch=batch,
        expectation=result.expectation_config.type,
        kwargs={k: _plain(v) for k, v in result.expectation_config.kwargs.items() if k != "batch_id"},
        success=bool(result.success),
        unexpected_count=None if count is None else int(count),
        examples=examples,
        observed=_plain(info.get("observed_value")),
        policy=policy,
    )


def _policy(expectation_type: str, rules: ValidationConfig) -> str:
    if expectation_type == "expect_compound_columns_to_be_unique":
        return rules.duplicate_rows
    return "fail"


def validate_records(frame: pd.DataFrame, config: DatasetConfig, rules: ValidationConfig, source: str,
                     docs_dir: Path | None = None) -> ValidationReport:
    """Check image records against the dataset's suites; the caller decides what a failure stops."""
    context = _context(docs_dir)
    checks: list[CheckResult] = []
    for batch in image_batches(frame, config):
        for result in _run_batch(context, config.name, batch, docs_dir is not None):
            checks.append(_check(batch.name, result, _policy(result.expectation_config.type, rules)))
    report = ValidationReport(source=source, n_rows=len(frame), checks=checks)
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
