"""What the online server answered, into monitoring: its rows in micro-batches to the inbox, labels joined later.

- Every answered request's rows go to `paths.inbox/<dataset>/live-<time>.parquet` (the model's columns, as batch
  scoring takes them) once `serving.batch_rows` rows are waiting, or `serving.batch_max_s` after the first with at
  least `serving.min_batch_rows` (fewer rows would make the drift check noise). The monitoring flow then checks
  them as any batch: validation, drift against the champion's training data.
- Labels posted to `/feedback` with a request id join that request's rows (the last `serving.feedback_rows` rows
  are remembered) and go, with a `label` column, to `feedback-<time>.parquet`: the monitoring flow computes the
  champion's live metrics on them. A labelled row is in two batches: the traffic one, and the labelled one.
- `paths.served/<dataset>/live-<time>.parquet`: per row, the request id, the version that answered and its label,
  and the shadow's version and label when it answered in time: the record of what was served.

Files are written as the inbox asks (under a dot-name, then renamed) by a thread of their own, never on a
request's path. Rows still waiting when the server stops are kept in `served/<dataset>/pending/` and sent with the
next server's first batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cleargate.config.serving import ServingConfig
from cleargate.layout import DatasetLayout
from cleargate.schema import LABEL
from cleargate.serving.online_requests import RequestRefused

log = logging.getLogger("cleargate.serving")


def write_batch(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    """`frame` as `folder/name`, written under a dot-name first: a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{name}.{os.getpid()}.tmp"
    frame.to_parquet(scratch, index=False)
    os.replace(scratch, folder / name)
    return folder / name


class _Buffer:
    """Frames waiting for their micro-batch, and when the first of them arrived."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []
        self.rows = 0
        self.since = 0.0

    def add(self, frame: pd.DataFrame) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.frames.append(frame)
        self.rows += len(frame)

    def take(self) -> pd.DataFrame:
        frame = pd.concat(self.frames, ignore_index=True)
        self.frames, self.rows = [], 0
        return frame


class TrafficLog:
    def __init__(self, layout: DatasetLayout, serving: ServingConfig, name: str, classes: list[Any],
                 on_batch: Any = None, writer: bool = True) -> None:
        """`writer`: write batches on a thread of the log's own as they fall due (off: only `flush` writes)."""
        self.layout, self.serving, self.name, self.classes = layout, serving, name, list(classes)
        self.on_batch = on_batch or (lambda kind, rows: None)
        self._lock = threading.Lock()
        self._traffic, self._labelled = _Buffer(), _Buffer()
        self._records: list[dict[str, Any]] = []
        self._shadow: dict[str, tuple[str, str, list[Any]]] = {}
        self._recent: OrderedDict[str, pd.DataFrame | None] = OrderedDict()   # None: already labelled
        self._recent_rows = 0
        self._seq = 0
        self._wake, self._stop = threading.Event(), threading.Event()
        self._restore()
        self._thread = threading.Thread(target=self._run, name="cleargate-traffic-log", daemon=True)
        if writer:
            self._thread.start()

    # -- requests ---------------------------------------------------------------------------------------------
    def add(self, request_id: str, frame: pd.DataFrame, version: str, labels: np.ndarray) -> None:
        """An answered request (called on the worker that answered it, after the answer)."""
        record = {"request_id": request_id, "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "version": version, "predictions": labels.tolist()}
        with self._lock:
            self._traffic.add(frame)
            self._records.append(record)
            if self.serving.feedback_rows:
                self._recent[request_id] = frame
                self._recent_rows += len(frame)
                while self._recent_rows > self.serving.feedback_rows and self._recent:
                    _, old = self._recent.popitem(last=False)
                    self._recent_rows -= 0 if old is None else len(old)
            due = self._traffic.rows >= self.serving.batch_rows
        if due:
            self._wake.set()

    def shadow(self, request_id: str, alias: str, version: str, labels: list[Any]) -> None:
        with self._lock:
            self._shadow[request_id] = (alias, version, labels)

    def feedback(self, request_id: str, labels: list[Any]) -> int:
        """Labels for the rows of an answered request, one per row; returns the rows accepted."""
        codes = [self._code(label, request_id) for label in labels]
        with self._lock:
            if request_id not in self._recent:
                raise RequestRefused(404, "request_id", f"request {request_id}: unknown, or older than the last "
                                     f"{self.serving.feedback_rows} rows this server answered (serving.feedback_rows)"
                                     "; labels are accepted for those only", field="request_id")
            frame = self._recent[request_id]
            if frame is None:
                raise RequestRefused(409, "request_id", f"request {request_id}: its labels were received already",
                                     field="request_id")
            if len(codes) != len(frame):
                raise RequestRefused(422, "labels", f"request {request_id} had {len(frame)} rows; send one label "
                                     f"per row ({len(codes)} given)", field="labels")
            self._labelled.add(frame.assign(**{LABEL: np.asarray(codes, dtype=np.int64)}))
            self._recent[request_id] = None
            self._recent_rows -= len(frame)
            due = self._labelled.rows >= self.serving.batch_rows
        if due:
            self._wake.set()
        return len(codes)

    def _code(self, label: Any, request_id: str) -> int:
        names = {str(c): i for i, c in enumerate(self.classes)}
        if isinstance(label, str) and label in names:
            return names[label]
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(self.classes):
            return label
        raise RequestRefused(422, "labels", f"request {request_id}: label {label!r} is not one of the classes "
                             f"{self.classes} (a name, or its index)", field="labels")

    # -- batches ----------------------------------------------------------------------------------------------
    def _due(self, buffer: _Buffer, final: bool) -> bool:
        if buffer.rows >= self.serving.batch_rows:
            return True
        old = final or time.monotonic() - buffer.since >= self.serving.batch_max_s
        return buffer.rows >= self.serving.min_batch_rows and old

    def flush(self, final: bool = False) -> None:
        """Write what is due (everything that may be written, when `final`)."""
        with self._lock:
            traffic = self._traffic.take() if self._due(self._traffic, final) else None
            labelled = self._labelled.take() if self._due(self._labelled, final) else None
            records = self._records if traffic is not None or final else []
            shadows = self._shadow if records else {}
            if records:
                self._records, self._shadow = [], {}
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{os.getpid()}-{self._next()}"
        batch = "pending"
        try:
            if traffic is not None:
                batch = write_batch(traffic, self.layout.inbox, f"live-{stamp}.parquet").name
                self.on_batch("traffic", len(traffic))
                traffic = None
            if labelled is not None:
                write_batch(labelled, self.layout.inbox, f"feedback-{stamp}.parquet")
                self.on_batch("feedback", len(labelled))
                labelled = None
            if records:
                write_batch(self._rows(records, shadows, batch), self.layout.served, f"live-{stamp}.parquet")
                records = []
        finally:  # what could not be written waits for the next try
            with self._lock:
                for buffer, frame in ((self._traffic, traffic), (self._labelled, labelled)):
                    if frame is not None:
                        buffer.add(frame)
                if records:
                    self._records, self._shadow = records + self._records, {**shadows, **self._shadow}
        if final:
            self._spool()

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _rows(self, records: list[dict[str, Any]], shadows: dict[str, tuple[str, str, list[Any]]],
              batch: str) -> pd.DataFrame:
        columns: dict[str, list[Any]] = {k: [] for k in ("request_id", "row", "received_at", "version", "prediction",
                                                          "shadow_alias", "shadow_version", "shadow_prediction")}
        for record in records:  # column by column: a busy server answers thousands of rows a second
            n = len(record["predictions"])
            alias, version, labels = shadows.get(record["request_id"], (None, None, None))
            for key, values in (("request_id", [record["request_id"]] * n), ("row", range(n)),
                                ("received_at", [record["received_at"]] * n), ("version", [record["version"]] * n),
                                ("prediction", record["predictions"]), ("shadow_alias", [alias] * n),
                                ("shadow_version", [version] * n), ("shadow_prediction", labels or [None] * n)):
                columns[key].extend(values)
        return pd.DataFrame(columns).assign(model=self.name, inbox_batch=batch)

    def _spool(self) -> None:
        """Rows too few for a batch when the server stops: kept for the next server's first batch."""
        with self._lock:
            parts = {"traffic": self._traffic.take() if self._traffic.rows else None,
                     "feedback": self._labelled.take() if self._labelled.rows else None}
        for kind, frame in parts.items():
            if frame is not None:
                write_batch(frame, self.layout.served_pending, f"{kind}.parquet")
                log.info("%s: %d %s row(s) kept in %s for the next batch (fewer than serving.min_batch_rows)",
                         self.name, len(frame), kind, self.layout.served_pending)

    def _restore(self) -> None:
        for kind, buffer in (("traffic", self._traffic), ("feedback", self._labelled)):
            path = self.layout.served_pending / f"{kind}.parquet"
            if path.is_file():
                buffer.add(pd.read_parquet(path))
                path.unlink()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(min(1.0, self.serving.batch_max_s))
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # a full disk, say: say so and keep serving; the rows wait for the next try
                log.error("%s: writing a monitoring batch failed (%s: %s)", self.name, type(exc).__name__, exc)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.flush(final=True)
