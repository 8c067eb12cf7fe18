"""A model logged the way production loads it: the served pyfunc around its bundle (torch or scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    scoring checks a file's columns against, once per chunk, instead of MLflow's per-column schema check."""
    return {column: getattr(dtype, "kind", "O") for column, dtype in example.dtypes.items()}


def log_model_artifact(folder: Path, example: pd.DataFrame, name: str) -> str:
    """Log the bundle in `folder` into the active run as the served pyfunc (models-from-code), named `name`;
    returns its URI. Its signature (inferred from the input example: every column with its type; labels out)
    is what MLflow's UI shows and MLflow's clients check; cleargate's own callers skip that check
    (`serving.loading`), the model checks its columns itself."""
    import mlflow
    from mlflow.models import infer_signature

    data = ModelBundle.read_manifest(folder).dataset
    here = Path(__file__).resolve().parent
    signature = infer_signature(example, np.asarray(data.classes))
    info = mlflow.pyfunc.log_model(
        name=name, python_model=str(here / "model_code.py"), artifacts={"model_dir": str(folder)},
        code_paths=[str(here.parent)], input_example=example, signature=signature, pip_requirements=requirements(),
        model_config={"input_order": list(example.columns)},  # an array's values, in the signature's order
        metadata={"input_columns": kind_of(data).feature_columns(data), "dataset": data.name,
                  "input_kinds": input_kinds(example)})
    return info.model_uri
