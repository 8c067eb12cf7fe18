"""Thin entry points, one module per stage: `run(params[, model])` reads what the layout names, calls the
library, writes what the layout names and returns the stage's record.

dvc.yaml runs each as `python -m cleargate.stages <stage> --dataset NAME` (or `--model NAME`); the Prefect
flow calls the same `run`. Which stages exist and what they read and write is `cleargate.graph.STAGES`.
"""
