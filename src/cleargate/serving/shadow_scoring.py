"""Shadow scoring: each answered request scored again by the shadow alias (`serving.shadow`, e.g. challenger),
off the response path: the answer has gone when the shadow starts.

One thread takes requests from a bounded queue (a full queue drops the request from the comparison and counts
it: the shadow never slows the served traffic down by more than its share of the CPU). Per row, the two labels
agree or not (`cleargate_shadow_rows_total{outcome}`); both labels go into the served record
(`traffic_log`), and every `SUMMARY_S` seconds one log line says the agreement rate since the last one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import numpy as np

from cleargate.serving.model_follower import Follower, predict
from cleargate.serving.online_metrics import ServerMetrics
from cleargate.serving.online_requests import RequestRefused
from cleargate.serving.traffic_log import TrafficLog

log = logging.getLogger("cleargate.serving")
QUEUE = 1000        # requests waiting for the shadow at most
SUMMARY_S = 60.0    # one agreement line this often (when the shadow scored anything)


class Shadow:
    def __init__(self, follower: Follower, alias: str, served_alias: str, traffic: TrafficLog,
                 metrics: ServerMetrics) -> None:
        self.follower, self.alias, self.served_alias = follower, alias, served_alias
        self.traffic, self.metrics = traffic, metrics
        self.agreed = self.compared = 0            # since the server started
        self._window = [0, 0]                      # agreed, compared since the last summary line
        self._last = time.monotonic()
        self._queue: queue.Queue[tuple[str, Any, str, np.ndarray] | None] = queue.Queue(QUEUE)
        self._agree, self._disagree = metrics.shadow.labels("agree"), metrics.shadow.labels("disagree")
        self._thread = threading.Thread(target=self._run, name="cleargate-shadow", daemon=True)
        self._thread.start()

    def submit(self, request_id: str, frame: Any, version: str, labels: np.ndarray) -> None:
        try:
            self._queue.put_nowait((request_id, frame, version, labels))
        except queue.Full:
            self.metrics.shadow_dropped.inc()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._score(*item)
            except Exception as exc:  # the shadow must never take the server down
                log.warning("shadow %s: %s: %s", self.alias, type(exc).__name__, str(exc)[:200])
            self._summary()

    def _score(self, request_id: str, frame: Any, version: str, labels: np.ndarray) -> None:
        shadow = self.follower.get(self.alias)
        if shadow is None:
            return
        try:
            theirs = predict(shadow, shadow.checks.check(frame))
        except RequestRefused as exc:
            log.info("shadow %s v%s refused request %s (%s: %s)", self.alias, shadow.version, request_id, exc.check,
                     exc)
            return
        same = int(np.sum(theirs == labels))
        self._agree.inc(same)
        self._disagree.inc(len(labels) - same)
        self.agreed, self.compared = self.agreed + same, self.compared + len(labels)
        self._window = [self._window[0] + same, self._window[1] + len(labels)]
        self.traffic.shadow(request_id, self.alias, shadow.version, theirs.tolist())

    def _summary(self, force: bool = False) -> None:
        if not self._window[1] or (not force and time.monotonic() - self._last < SUMMARY_S):
            return
        served, shadow = self.follower.get(self.served_alias), self.follower.get(self.alias)
        agreed, compared = self._window
        log.info("shadow %s v%s vs %s v%s: %.1f%% agreement over %d rows (%d disagree)", self.alias,
                 shadow.version if shadow else "-", self.served_alias, served.version if served else "-",
                 100 * agreed / compared, compared, compared - agreed)
        self._window, self._last = [0, 0], time.monotonic()

    def state(self) -> dict[str, Any]:
        shadow = self.follower.get(self.alias)
        return {"alias": self.alias, "version": shadow.version if shadow else None, "rows_compared": self.compared,
                "agreement": round(self.agreed / self.compared, 6) if self.compared else None,
                "queued": self._queue.qsize()}

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._summary(force=True)
