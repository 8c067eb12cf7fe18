"""The inbox of one dataset on disk: new batches, claimed ones, and the two folders where they end.

    inbox/<d>/x.parquet                                   arrived (write it under a dot-name, then rename)
    inbox/<d>/processing/<UTC time>-x.parquet              claimed by one monitoring run (atomic rename)
    inbox/<d>/processing/<UTC time>-x.parquet.report.json  decided (written atomically)
    inbox/<d>/{done,refused}/<UTC time>-x.parquet (+ .report.json)   finished: batch moved first, then report

Each transition is one rename, so after a kill every batch is in exactly one place, and what is in
`processing/` says how far it got: no report yet (score it), a report (only log, trigger and move it), or a
report whose batch already moved (move the report after it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cleargate.layout import DatasetLayout
from cleargate.monitoring.batch_report import BatchReport

SUFFIXES = (".parquet", ".csv")
REPORT = ".report.json"


def _is_batch(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


@dataclass(frozen=True)
class Inbox:
    layout: DatasetLayout

    def new_batches(self) -> list[Path]:
        if not self.layout.inbox.is_dir():
            return []
        return sorted(p for p in self.layout.inbox.iterdir() if _is_batch(p))

    def claim(self, path: Path) -> Path | None:
        """Move a new batch into processing/ under a unique name; None if another run took it first."""
        self.layout.inbox_processing.mkdir(parents=True, exist_ok=True)
        claimed = self.layout.inbox_processing / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{path.name}"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            return None
        return claimed

    def claimed(self) -> list[Path]:
        """Batches a run claimed and did not finish (this run's, or a killed run's)."""
        folder = self.layout.inbox_processing
        return sorted(p for p in folder.iterdir() if _is_batch(p)) if folder.is_dir() else []

    def report_path(self, claimed: Path) -> Path:
        return claimed.with_name(claimed.name + REPORT)

    def load_report(self, claimed: Path) -> BatchReport | None:
        path = self.report_path(claimed)
        return BatchReport.load(path) if path.is_file() else None

    def save_report(self, claimed: Path, report: BatchReport) -> BatchReport:
        report.save(self.report_path(claimed))
        return report

    def folder(self, report: BatchReport) -> Path:
        return self.layout.inbox_refused if report.destination == "refused" else self.layout.inbox_done

    def finish(self, claimed: Path, report: BatchReport) -> Path:
        """The batch to done/ or refused/, then its report beside it."""
        target = self.folder(report)
        target.mkdir(parents=True, exist_ok=True)
        os.rename(claimed, target / claimed.name)
        os.rename(self.report_path(claimed), target / (claimed.name + REPORT))
        return target / claimed.name

    def recover(self) -> list[Path]:
        """Reports left in processing/ after their batch moved (a kill between the two renames)."""
        folder, moved = self.layout.inbox_processing, []
        if not folder.is_dir():
            return moved
        for path in sorted(folder.glob(f"*{REPORT}")):
            batch = folder / path.name.removesuffix(REPORT)
            if batch.exists():
                continue
            target = self.folder(BatchReport.load(path))
            if (target / batch.name).exists():
                os.rename(path, target / path.name)
                moved.append(target / batch.name)
        return moved
