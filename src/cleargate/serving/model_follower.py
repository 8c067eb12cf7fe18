"""The versions an online server answers with, kept in step with the registry's aliases.

A `Follower` holds one loaded version per alias it follows (the served alias and the shadow's). A background
thread re-resolves the aliases every `serving.poll_s` seconds, and at once when woken (the registry's webhook).
When an alias moved, the new version is loaded beside the old one, checked (its dataset and columns are the
server's, its own serving example passes the request checks and gets one known label per row) and only then
swapped in: one assignment, so a request that started on the old version finishes on it and the next one gets
the new. The last `KEEP` versions that stopped serving stay loaded, so a rollback swaps back at once. A version
that fails to load or to answer its example is not swapped in: one log line, a counter, an entry in /version and
the `on_refused` hook (where a notifier plugs in); the old version keeps serving, and that version is not tried
again until the alias moves to another one (or the registry's webhook says an alias moved).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cleargate.kinds import DataContract, kind_of
from cleargate.serving.loading import Served, load_served
from cleargate.serving.online_checks import RequestChecks
from cleargate.serving.online_requests import RequestRefused, parse_request

log = logging.getLogger("cleargate.serving")
KEEP = 2            # versions kept loaded after they stopped serving (a rollback needs no load)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Loaded:
    """One version, loaded and checked: what a request is answered with from start to end."""

    name: str
    version: str
    served: Served
    checks: RequestChecks
    folder: Path
    run_id: str | None
    commit: str            # lineage.git_commit of the version (`unknown` when not tagged)
    loaded_at: str
    load_s: float

    def answer(self, body: bytes, max_rows: int) -> tuple[Any, np.ndarray]:
        """The request's rows, checked, and this version's label for each."""
        frame = self.checks.check(parse_request(body, self.checks.order, max_rows, self.checks.integers))
        return frame, predict(self, frame)


def predict(loaded: Loaded, frame: Any) -> np.ndarray:
    """Labels for rows that passed the checks; a model that still refuses them is a 422, never a 500."""
    try:
        return np.asarray(loaded.served.predict(frame))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RequestRefused(422, "model", f"{loaded.name} v{loaded.version} cannot take these rows: "
                             f"{str(exc).splitlines()[0][:200]}") from None


@dataclass(frozen=True)
class RefusedSwap:
    alias: str
    version: str
    reason: str
    at: str
    kept: str | None       # the version that keeps serving (None: nothing loaded yet)


class VersionRefused(Exception):
    """A version that may not serve: why, in one line."""


def load_version(name: str, version: str, data: DataContract, folder: Path, commit: str = "unknown",
                 run_id: str | None = None) -> Loaded:
    """`name/version` downloaded into `folder`, loaded as production loads it, and checked on its own example."""
    started = time.monotonic()
    try:
        served, local = load_served(f"models:/{name}/{version}", dst=folder)
    except Exception as exc:  # whatever a broken or foreign model raises while it loads
        raise VersionRefused(f"does not load ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    meta = (served.metadata.metadata or {}) if served.metadata is not None else {}
    features = kind_of(data).feature_columns(data)
    if meta.get("dataset") != data.name or sorted(meta.get("input_columns") or []) != sorted(features):
        raise VersionRefused(f"is not a model of dataset '{data.name}' with its {len(features)} columns "
                             f"(logged for dataset {meta.get('dataset')!r})")
    order = list(getattr(served.model, "order", features))
    loaded = Loaded(name, str(version), served, RequestChecks(data, order, meta.get("input_kinds", {})), local,
                    run_id, commit, _now(), 0.0)
    example = served.metadata.get_serving_input(str(local))
    if example is None:
        raise VersionRefused("has no serving input example to answer before it serves")
    try:
        frame, labels = loaded.answer(example.encode(), max_rows=10_000)
    except RequestRefused as exc:
        raise VersionRefused(f"refuses its own serving example ({exc.check}: {exc})") from None
    except Exception as exc:
        raise VersionRefused(f"fails on its own serving example ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]})") from None
    known = {str(c) for c in data.classes} | {str(i) for i in range(len(data.classes))}
    if labels.shape != (len(frame),) or not {str(v) for v in labels.tolist()} <= known:
        raise VersionRefused(f"answered its serving example with {labels.tolist()[:5]}, not one class of "
                             f"{data.classes} per row")
    return Loaded(name, str(version), served, loaded.checks, local, run_id, commit, loaded.loaded_at,
                  time.monotonic() - started)


@dataclass
class Follower:
    """The loaded version of each followed alias; `pinned` (NAME/VERSION) never moves."""

    client: Any                                  # an MlflowClient on the project's registry
    name: str
    data: DataContract
    aliases: list[str]                           # the served alias first, then the shadow's (if any)
    poll_s: float
    folder: Path                                 # where versions are downloaded (one subfolder each)
    on_swap: Callable[[str, Loaded | None, Loaded], None] = lambda alias, old, new: None
    on_refused: Callable[[RefusedSwap], None] = lambda refused: None
    on_registry_error: Callable[[str], None] = lambda error: None
    current: dict[str, Loaded | None] = field(default_factory=dict)
    refused: list[RefusedSwap] = field(default_factory=list)   # the last 20
    refused_total: int = 0
    resolutions: dict[str, int] = field(default_factory=lambda: {"poll": 0, "webhook": 0})
    _kept: OrderedDict[str, Loaded] = field(default_factory=OrderedDict)
    _tried: dict[str, str] = field(default_factory=dict)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _failing: str | None = None

    def get(self, alias: str) -> Loaded | None:
        return self.current.get(alias)  # one dict read: the version a request starts on stays its version

    def pin(self, key: str, version: str) -> None:
        """Serve `version` under `key` and never re-resolve it (a reference NAME/VERSION)."""
        self.aliases = [a for a in self.aliases if a != key]
        self._load(key, version)

    def refresh(self, why: str = "poll") -> None:
        """Re-resolve every followed alias now; load and swap in what moved."""
        self.resolutions[why] = self.resolutions.get(why, 0) + 1
        try:
            aliases = {str(a): str(v) for a, v in (self.client.get_registered_model(self.name).aliases or {}).items()}
        except Exception as exc:  # the registry unreachable or the model not registered yet: keep serving
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            if self._failing is None:
                log.warning("%s: registry not reachable or model not registered (%s); serving what is loaded, "
                            "retrying every %gs", self.name, reason, self.poll_s)
                self.on_registry_error(reason)
            self._failing = reason
            return
        if self._failing is not None:
            log.info("%s: registry answers again", self.name)
            self._failing = None
        for alias in self.aliases:
            version = aliases.get(alias)
            loaded = self.current.get(alias)
            if version is None or (loaded is not None and loaded.version == version) or \
                    self._tried.get(alias) == version:
                continue
            self._load(alias, version)

    def _load(self, alias: str, version: str) -> None:
        old = self.current.get(alias)
        same = next((v for v in self.current.values() if v is not None and v.version == version),
                    self._kept.get(version))
        try:
            new = same or self._fetch(version)
        except VersionRefused as exc:
            self._tried[alias] = version  # not tried again until the alias moves, or the webhook says so
            entry = RefusedSwap(alias, version, str(exc), _now(), None if old is None else old.version)
            self.refused, self.refused_total = [*self.refused[-19:], entry], self.refused_total + 1
            keeps = f"v{old.version} keeps serving" if old is not None else "nothing is served yet"
            log.error("%s@%s -> v%s NOT swapped in: v%s %s; %s", self.name, alias, version, version, exc, keeps)
            self.on_refused(entry)
            return
        self.current = {**self.current, alias: new}  # the swap: one assignment of a new mapping
        self.on_swap(alias, old, new)
        self._kept.pop(version, None)
        if old is not None and all(v is not old for v in self.current.values()):
            self._kept[old.version] = old
        while len(self._kept) > KEEP:  # in memory already: requests in flight keep their model
            shutil.rmtree(self._kept.popitem(last=False)[1].folder, ignore_errors=True)

    def _fetch(self, version: str) -> Loaded:
        details = self.client.get_model_version(self.name, version)
        target = self.folder / f"v{version}-{time.monotonic_ns()}"
        target.mkdir(parents=True, exist_ok=True)
        try:
            return load_version(self.name, version, self.data, target, details.tags.get("lineage.git_commit",
                                                                                        "unknown"), details.run_id)
        except VersionRefused:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def wake(self) -> None:
        """Re-resolve at once (the registry's webhook said an alias moved), a refused version included."""
        self._tried = {}
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cleargate-alias-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh("webhook" if woken else "poll")
            except Exception:  # never let the follower die: the next poll tries again
                log.exception("%s: re-resolving the aliases failed", self.name)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
