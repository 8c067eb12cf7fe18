"""What Prefect writes to the terminal: its own console lines only with `-v`; the run prints its stages,
leaderboards and verdicts itself. Logs still reach the Prefect API (the UI shows them)."""

from __future__ import annotations

import logging
import os
import sys

CONSOLE_LEVEL_ENV = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"  # Prefect's override of its `console` handler


def quiet_prefect_console(verbose: bool) -> None:
    """Silence Prefect's console handler (banners, task-state lines, tracebacks of errors the run reports itself
    in one line) here and in the processes the run starts; the handlers that ship logs to the API stay. Called
    before Prefect is imported, the environment alone does it; after, the handlers are told too."""
    if verbose:
        return
    os.environ[CONSOLE_LEVEL_ENV] = "CRITICAL"
    if "prefect.logging.handlers" not in sys.modules:
        return
    from prefect.logging.handlers import PrefectConsoleHandler

    for logger in (logging.getLogger(), *(logging.getLogger(n) for n in ("uvicorn", "fastapi", "prefect"))):
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL)
