"""Process settings every entry point applies before work: offline, quiet, reproducible."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "TQDM_DISABLE": "1",
    "GIT_PYTHON_REFRESH": "quiet",
}


def apply_offline_env() -> None:
    """Called by entry points (never at import): no telemetry, no progress bars, no network calls."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
