"""Process settings every entry point applies before work: offline, quiet, reproducible. Never at import."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import warnings
from pathlib import Path

OFFLINE_ENV = {
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}

# Third-party loggers whose INFO lines a user would have to learn to ignore (banners, tips, "updating lock").
CHATTY = ("mlflow", "lightning", "lightning.pytorch", "lightning.fabric", "dvc", "great_expectations", "alembic",
          "py.warnings", "httpx", "urllib3")
VERBOSE_ENV = "CLEARGATE_VERBOSE"


PREFECT_HOME_ENV = "PREFECT_HOME"


def start_process(root: Path | None = None, verbose_output: bool | None = None) -> None:
    """What every entry point does first (the `cleargate` command, the flows' entry, a stage command): offline,
    quiet unless asked, a quick exit, and the project's own state (Prefect's home under the project, not in
    ~/.prefect) when its root is known and nothing else was set."""
    apply_offline_env()
    exit_without_heap_walks()
    quiet_third_party(verbose_output)
    if root is not None:
        os.environ.setdefault(PREFECT_HOME_ENV, str(Path(root).resolve() / ".prefect"))


def apply_offline_env() -> None:
    """Called by entry points (never at import): no telemetry, no network calls."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false")


def quiet_third_party(verbose_output: bool | None = None) -> None:
    """A normal run shows cleargate's own lines only; `-v` (CLEARGATE_VERBOSE=1) shows everything.

    Sets the environment too, so worker processes started afterwards (process pools, stage commands)
    are quiet in the same way."""
    loud = verbose() if verbose_output is None else verbose_output
    os.environ[VERBOSE_ENV] = "1" if loud else "0"
    _own_lines()
    if loud:
        return
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning,ignore::FutureWarning,ignore::DeprecationWarning")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow resets its logger from this on import
    for category in (UserWarning, FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    settle_library_logs()


def settle_library_logs() -> None:
    """Libraries such as Lightning set their loggers to INFO when imported: call after importing them."""
    if verbose():
        return
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


def _own_lines() -> None:
    """cleargate's own log lines (e.g. one line per training epoch when no progress bar is shown) go to stderr
    as plain text, whatever another library did to the root logger."""
    logger = logging.getLogger("cleargate")
    if not any(getattr(h, "cleargate", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.cleargate = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
CPUS_ENV = "CLEARGATE_CPUS"  # the cores this process and the processes it starts may use (default: all it may run on)


def available_cpus() -> int:
    """The cores this process may use: CLEARGATE_CPUS where something beside it takes a share of the machine (the
    test suite gives each of its workers one), else every core the process may run on."""
    value = os.environ.get(CPUS_ENV, "").strip()
    if value:
        return max(1, int(value))
    return len(os.sched_getaffinity(0)) or os.cpu_count() or 1


def threads_for(processes: int) -> int:
    """CPU threads for each of `processes` processes running side by side on `available_cpus()`: the fit workers
    of a run, the ranks of a multi-process fit, the trials of a search. One helper, so no two callers can
    oversubscribe the cores differently."""
    return max(1, available_cpus() // max(1, processes))


def limit_threads(threads: int) -> None:
    """CPU threads of this process's numeric libraries: fits running side by side share the cores instead of
    each taking all of them (oversubscribed, a GRU fit took 131 s instead of 6 s). Before torch is imported the
    environment decides; after, torch is told directly."""
    import sys

    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


_EXIT_HOOKED = False


def exit_without_heap_walks() -> None:
    """Let this process exit in a second, not several. At exit (after the handlers registered later, such as
    Prefect's and MLflow's flushes) collect garbage once, then freeze the heap: CPython's finalization still
    frees every object as it tears the modules down, and finalizers still run, but its cyclic collector no
    longer walks the millions of objects torch, Lightning, MLflow, scikit-learn, Great Expectations and Prefect
    leave several times over. A run waits for each pool worker to exit, so this is on its critical path (and
    on every `cleargate score`). Called by entry points and pool workers, never at import; a second call does
    nothing."""
    global _EXIT_HOOKED
    if not _EXIT_HOOKED:
        atexit.register(_freeze_heap)
        _EXIT_HOOKED = True


def _freeze_heap() -> None:
    gc.collect()
    gc.freeze()
