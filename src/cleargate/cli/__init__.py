"""`cleargate <verb>`: the one front door to everything a person starts (docs/commands.md).

`app` is the Typer application; each module here registers its verbs on it: `pipeline_verbs` (run, serve,
monitor, stability, tune), `model_verbs` (status, promote, rollback, score, reproduce), `approval_verbs` (approve,
reject), `serving_verbs` (serve-model), `project_verbs` (gc, ui, stack, push, pull). Verbs that run Prefect flows
or the team stack hand over to `python -m flows` and `python -m infra.stack` (the library itself never imports
them).
"""

from cleargate.cli import (  # noqa: F401 - each registers its verbs
    approval_verbs,
    model_verbs,
    pipeline_verbs,
    project_verbs,
    serving_verbs,
)
from cleargate.cli.app import app


def main() -> None:
    """The `cleargate` console script."""
    app(prog_name="cleargate")


__all__ = ["app", "main"]
