"""The promotion lock: a mutex held in the tracking store itself, so pipelines on any host take turns.

Registered-model names are unique, so only one `create_registered_model` of the lock's name succeeds.
A lock held by a dead process on this host, or for longer than any promotion takes, is taken over.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate.errors import CleargateError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(tags: dict[str, str], stale_after: float) -> bool:
    """Held by a dead process on this host, or for longer than any promotion takes."""
    host, _, pid = tags.get("owner", "::").partition(":")
    pid = pid.split(":")[0]
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    return time.time() - float(tags.get("acquired_at", "0")) > stale_after


@contextmanager
def promotion_lock(client: MlflowClient, name: str, wait_seconds: float = 300, stale_after: float = 900,
                   poll: float = 0.2) -> Iterator[None]:
    lock = f"{name}.promotion-lock"
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.create_registered_model(lock, tags={"owner": owner, "acquired_at": f"{time.time():.3f}"},
                                           description="held by cleargate while it moves aliases")
            break
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        with suppress(MlflowException):
            held = client.get_registered_model(lock).tags
            if _stale(held, stale_after):
                client.delete_registered_model(lock)
                continue
        if time.monotonic() > deadline:
            raise CleargateError(f"{name}: another promotion holds '{lock}' for over {wait_seconds:.0f}s; "
                                 f"if no pipeline is running, delete that registered model")
        time.sleep(poll)
    try:
        yield
    finally:
        with suppress(MlflowException):
            if client.get_registered_model(lock).tags.get("owner") == owner:
                client.delete_registered_model(lock)
