"""The `cleargate` command itself: the app every verb registers on, the options every verb shares, how the project
is found, how errors end a command (one line, the documented exit code), and how a verb that runs flows or the
team stack hands over to them.

Nothing heavy is imported here or by the verbs' modules at import time: `cleargate --help` and every verb's
`--help` answer before MLflow, Prefect, torch or pandas load.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import click
import typer
from typer.core import TyperGroup

from cleargate import __version__
from cleargate.errors import BUG, INTERRUPTED, CleargateError

HELP = """cleargate decides, with evidence, which model is allowed into production.

Run it inside a project (any folder under the one holding params.yaml): `cleargate run` trains, judges and
promotes; the other verbs score, serve, monitor, reproduce and move models by hand.

Exit codes: 0 done; 1 a bug (-v shows the traceback); 2 usage (command line, params.yaml, a model reference that
names nothing); 3 judged (blocked at a gate with --strict, or a rebuild that differs); 4 refused input (a file or
batch that fails its checks); 5 infrastructure (a server, store or scheduler not reachable); 130 / 143 stopped by
Ctrl-C / SIGTERM."""

# The order `cleargate --help` lists the verbs in: the pipeline's own, then the models', then the project's.
ORDER = ["run", "serve", "monitor", "score", "serve-model", "status", "promote", "rollback", "approve", "reject",
         "reproduce", "stability", "tune", "gc", "ui", "stack", "push", "pull"]


class _Ordered(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


app = typer.Typer(help=HELP, cls=_Ordered, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})

ParamsOption = Annotated[Path | None, typer.Option(
    "--params", help="the project's params.yaml (default: found in this folder or the nearest one above it)",
    show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object instead of lines (for scripts)")]
VERBOSE_ENV = "CLEARGATE_VERBOSE"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cleargate {__version__}")
        raise typer.Exit()


@app.callback()
def _every_command(
        verbose: Annotated[bool, typer.Option("-v", "--verbose", help="every library's log lines, and the "
                                              "traceback of any error")] = False,
        version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                              help="print cleargate's version and exit")] = False) -> None:
    if verbose:
        os.environ[VERBOSE_ENV] = "1"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false")


def params_path(given: Path | None) -> Path:
    """The params.yaml to use: the one given, or the nearest one from here upwards (as git and DVC find their
    repository), as an absolute path; the project's own state (Prefect's home) goes under its folder."""
    from cleargate.runtime import start_process

    if given is not None:
        path = given.resolve()
        if not path.is_file():
            from cleargate.errors import ConfigError

            raise ConfigError(f"{given}: no such params file; give the project's params.yaml, or run inside the "
                              "project without --params")
    else:
        path = find_params(Path.cwd())
    start_process(path.parent, verbose() or None)
    return path


def find_params(start: Path) -> Path:
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "params.yaml").is_file():
            return folder / "params.yaml"
    from cleargate.errors import ConfigError

    raise ConfigError(f"{start}: no params.yaml here or in any folder above; run inside a cleargate project, or "
                      "pass --params PATH")


@contextmanager
def handled() -> Iterator[None]:
    """A handled error is one line and its exit code (cleargate.errors); anything else is a bug: one line too,
    its traceback with -v. Ctrl-C: one line, exit 130."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except CleargateError as exc:
        if verbose():
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("stopped (Ctrl-C)", err=True)
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:  # a bug: say so in one line, never leave the user with a traceback to read
        if verbose():
            traceback.print_exc()
        first = (str(exc).splitlines() or [""])[0][:300]
        typer.echo(f"error: unexpected {type(exc).__name__}: {first} (a bug in cleargate; `cleargate -v ...` "
                   "shows the traceback)", err=True)
        raise typer.Exit(BUG) from None


def hand_over(module: str, args: list[str], cwd: Path | None = None) -> NoReturn:
    """Become `python -m MODULE ARGS` (the flows' or the stack's entry): the same process, so a terminal's
    Ctrl-C, a SIGTERM and the exit code are the command's own."""
    if cwd is not None:
        os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", module, *args])

