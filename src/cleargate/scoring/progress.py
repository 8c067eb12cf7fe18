"""Progress of long scoring work: a bar on a terminal (rich), plain parseable lines otherwise (CI, Prefect
workers, a pipe), nothing for the library's callers that do not ask. Short work prints nothing at all."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> Any:
        """A context manager that yields `advance(rows)`."""
        ...


class Silent:
    @contextmanager
    def phase(self, name: str, total: int | None) -> Iterator[Advance]:
        yield lambda rows: None


class Lines:
    """`cleargate score: predict 120000/1000000 rows (12%), 3.1 s` every `every` seconds, first after
    `every` seconds (so a batch done in less prints nothing), and a last line for a phase that printed."""

    def __init__(self, stream: IO[str], every: float = 5.0, label: str = "cleargate score") -> None:
        self.stream, self.every, self.label = stream, every, label

    @contextmanager
    def phase(self, name: str, total: int | None) -> Iterator[Advance]:
        start = last = time.monotonic()
        done, printed = 0, False

        def line() -> None:
            share = f" ({done / total:.0%})" if total else ""
            of = f"/{total}" if total else ""
            print(f"{self.label}: {name} {done}{of} rows{share}, {time.monotonic() - start:.1f} s",
                  file=self.stream, flush=True)

        def advance(rows: int) -> None:
            nonlocal done, last, printed
            done += rows
            now = time.monotonic()
            if now - last >= self.every:
                line()
                last, printed = now, True

        yield advance
        if printed:
            line()


class Bar:
    """A rich progress bar on the terminal, removed when the phase ends."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    @contextmanager
    def phase(self, name: str, total: int | None) -> Iterator[Advance]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                   TimeRemainingColumn())
        with Progress(*columns, console=Console(file=self.stream), transient=True) as bar:
            task = bar.add_task(name, total=total)
            yield lambda rows: bar.advance(task, rows)


def progress_for(stream: IO[str] | None = None) -> Progress:
    """A bar when `stream` (stderr by default) is a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    return Bar(stream) if stream.isatty() else Lines(stream)
