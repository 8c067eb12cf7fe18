"""The promotion lock: a lease held in the tracking store itself, so pipelines on any host take turns.

The lock is a sequence of generations, each an MLflow experiment `<name>.promotion-lock.<n>` (never a registered
model: the registry lists models only). Experiment names are unique, deleted experiments' included, so of all
the processes that see generation n free (released, its lease run out, or its owner dead on this host) exactly
one creates generation n + 1: that is the compare-and-swap MLflow offers. Releasing deletes the generation's
experiment (MLflow keeps it, hidden, with its name reserved), so the experiment list shows a lock only while a
promotion holds it. Nothing is deleted to take a lock over, so a waiter acting on an old reading cannot remove a
fresh lock. The holder renews its lease from a background thread while it works (a judge may take longer than
any lease), and `check()` before the alias switch says whether a later generation exists, i.e. whether the
lease was lost; the new holder deletes the expired generations below its own.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psutil
from mlflow.entities import Experiment, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate.errors import CleargateError

LEASE_SECONDS = 60.0


def _free(generation: Experiment, now: float) -> bool:
    """Released (deleted), its lease run out, or held by a dead process on this host."""
    if generation.lifecycle_stage != "active":
        return True
    tags = generation.tags
    host, _, rest = tags.get("owner", "::").partition(":")
    pid = rest.split(":")[0]
    if host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid)):
        return True
    return now > float(tags.get("lease_until", "0"))


class PromotionLock:
    """One holder at a time per registered model; see the module docstring."""

    def __init__(self, client: MlflowClient, name: str, lease_seconds: float = LEASE_SECONDS) -> None:
        self.client, self.name, self.lease = client, name, lease_seconds
        self.prefix = f"{name}.promotion-lock."
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.generation: int | None = None
        self.experiment_id = ""
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _name(self, generation: int) -> str:
        return f"{self.prefix}{generation:08d}"

    def generations(self) -> dict[int, Experiment]:
        """Every generation, released (deleted) ones included."""
        found, token = [], None
        while True:
            page = self.client.search_experiments(view_type=ViewType.ALL, filter_string=f"name LIKE '{self.prefix}%'",
                                                  max_results=1000, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                break
        suffixes = {e.name.removeprefix(self.prefix): e for e in found if e.name.startswith(self.prefix)}
        return {int(s): e for s, e in suffixes.items() if s.isdigit()}

    def try_acquire(self) -> bool:
        """One attempt: create the generation after the top one if the top one is free."""
        generations = self.generations()
        top = max(generations, default=0)
        if top and not _free(generations[top], time.time()):
            return False
        tags = {"owner": self.owner, "lease_until": f"{time.time() + self.lease:.3f}",
                "mlflow.note.content": "held by cleargate while it moves aliases; deleted when released"}
        try:
            self.experiment_id = self.client.create_experiment(self._name(top + 1), tags=tags)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return False  # another waiter took generation top + 1 first
        self.generation = top + 1
        for old in generations.values():  # expired generations below this one: out of the experiment list
            if old.lifecycle_stage == "active":
                with suppress(MlflowException):
                    self.client.delete_experiment(old.experiment_id)
        return True

    def acquire(self, wait_seconds: float, poll: float = 0.1) -> None:
        """Waiters back off (up to a second, with jitter) so that they do not crowd the tracking server."""
        deadline, delay = time.monotonic() + wait_seconds, poll
        while not self.try_acquire():
            if time.monotonic() > deadline:
                raise CleargateError(f"{self.name}: another promotion holds '{self.prefix}*' for over "
                                     f"{wait_seconds:.0f}s; its lease renews while its pipeline runs, so wait "
                                     "for it or stop that pipeline")
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)
        self._renewer = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        expires = time.time() + self.lease
        while not self._stop.wait(self.lease / 4):
            try:
                if max(self.generations(), default=0) > self.generation:  # type: ignore[operator]
                    self.lost.set()
                    return
                until = time.time() + self.lease
                self.client.set_experiment_tag(self.experiment_id, "lease_until", f"{until:.3f}")
                expires = until
            except MlflowException:
                if time.time() > expires:
                    self.lost.set()
                    return

    def check(self) -> None:
        """Raise if the lease was lost (a later generation exists): the caller must not move any alias."""
        if self.lost.is_set() or max(self.generations(), default=0) != self.generation:
            self.lost.set()
            raise CleargateError(f"{self.name}: the promotion lock's lease ran out before the alias switch "
                                 "(the tracking server was unreachable or this process stalled); nothing "
                                 "was moved, run the promotion again")

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self.generation is not None and not self.lost.is_set():
            with suppress(MlflowException):
                self.client.delete_experiment(self.experiment_id)


@contextmanager
def promotion_lock(client: MlflowClient, name: str, wait_seconds: float = 300,
                   lease_seconds: float = LEASE_SECONDS) -> Iterator[PromotionLock]:
    lock = PromotionLock(client, name, lease_seconds)
    lock.acquire(wait_seconds)
    try:
        yield lock
    finally:
        lock.release()
