"""A model logged the way production loads it: the served pyfunc around its bundle (torch or scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cleargate.kinds import kind_of
from cleargate.models.bundle import ModelBundle


def requirements() -> list[str]:
    """Pinned from the running environment: MLflow's own inference costs seconds per model."""
    from importlib.metadata import version

    names = ["mlflow", "torch", "numpy", "pandas", "pyarrow", "scikit-learn", "skops", "pydantic", "pyyaml"]
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def input_example(test: pd.DataFrame) -> pd.DataFrame:
    """A few test rows for the signature, including one with missing values if any: optional columns must
    be declared optional, or production rows with a missing category would be refused."""
    gaps = test[test.isna().any(axis=1)].head(1)
    return pd.concat([test.head(4), gaps]).reset_index(drop=True)


def input_kinds(example: pd.DataFrame) -> dict[str, str]:
    """Each column's numpy kind letter (i integer, u unsigned, f float, b bool, O anything else): what batch
    scoring checks a file's columns against, once, since the served model carries no MLflow signature."""
    return {column: getattr(dtype, "kind", "O") for column, dtype in example.dtypes.items()}


def log_model_artifact(folder: Path, example: pd.DataFrame) -> str:
    """Log the bundle in `folder` into the active run as the served pyfunc (models-from-code); returns its URI.

    The input example documents the columns; there is no MLflow signature, whose per-call check would cost
    more than the prediction (the model checks its own columns, see cleargate.serving.pyfunc)."""
    import mlflow

    data = ModelBundle.read_manifest(folder).dataset
    here = Path(__file__).resolve().parent
    info = mlflow.pyfunc.log_model(
        name="model", python_model=str(here / "model_code.py"), artifacts={"model_dir": str(folder)},
        code_paths=[str(here.parent)], input_example=example, signature=False, pip_requirements=requirements(),
        metadata={"input_columns": kind_of(data).feature_columns(data), "dataset": data.name,
                  "input_kinds": input_kinds(example)})
    return info.model_uri
