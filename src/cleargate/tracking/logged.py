"""A model logged the way production loads it: the pyfunc for torch bundles, skops for scikit-learn."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from cleargate.models.bundle import TRUSTED_TYPES, ModelBundle


def requirements() -> list[str]:
    """Pinned from the running environment: MLflow's own inference costs seconds per model."""
    from importlib.metadata import version

    names = ["mlflow", "torch", "numpy", "pandas", "pyarrow", "scikit-learn", "skops", "pydantic", "pyyaml"]
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def signature_example(test: pd.DataFrame) -> pd.DataFrame:
    """A few test rows for the signature, including one with missing values if any: optional columns must
    be declared optional, or production rows with a missing category would be refused."""
    gaps = test[test.isna().any(axis=1)].head(1)
    return pd.concat([test.head(4), gaps]).reset_index(drop=True)


def log_model_artifact(folder: Path, example: pd.DataFrame, labels: Any) -> str:
    """Log the bundle in `folder` into the active run; returns its model URI."""
    import mlflow
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # the "integer columns cannot hold NaN" hint: raw pixels are integers
        warnings.filterwarnings("ignore", message=".*has missing values.*")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, labels)
    bundle = ModelBundle.load(folder)
    if bundle.manifest.flavour == "torch":  # a torch backbone, served through the pyfunc wrapper
        from cleargate.serving import RecordClassifier

        info = mlflow.pyfunc.log_model(
            name="model", python_model=RecordClassifier(), artifacts={"model_dir": str(folder)},
            code_paths=[str(Path(__file__).resolve().parent.parent)], signature=signature, input_example=example,
            pip_requirements=requirements())
    else:
        info = mlflow.sklearn.log_model(
            sk_model=bundle.model, name="model", serialization_format="skops", skops_trusted_types=TRUSTED_TYPES,
            signature=signature, input_example=example, pip_requirements=requirements())
    return info.model_uri
