"""Thin entry points: read params, call the library, write the files dvc.yaml names.

Each module has `run(params, ...)` (what the Prefect flow calls) and `main()` (what dvc.yaml calls).
"""
