"""The promotion decision, made under a lock so concurrent pipelines leave one consistent history.

Inside the lock: read the current champion, judge the candidate against it (the caller's `judge`),
register the candidate as a new version aliased `challenger` with every verdict as a tag, and move
`champion` only if every gate passed and the model differs from the champion's.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate import registry
from cleargate.errors import CleargateError
from cleargate.evaluation.gates import GateReport


@dataclass(frozen=True)
class Promotion:
    version: str
    champion: str | None
    previous_champion: str | None
    moved: bool
    report: GateReport
    reason: str


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
    """A mutex in the tracking store itself: registered-model names are unique, so only one
    `create_registered_model` of the lock name succeeds, whichever host the pipelines run on."""
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


def verdict_tags(report: GateReport) -> dict[str, str]:
    tags = {"gate.passed": str(report.passed).lower()}
    for check in report.checks:
        tags[f"gate.{check.name}"] = "pass" if check.passed else "fail"
        tags[f"gate.{check.name}.value"] = "missing" if check.value is None else f"{check.value:.6g}"
        tags[f"gate.{check.name}.threshold"] = "none" if check.threshold is None else f"{check.threshold:.6g}"
        if check.detail:
            tags[f"gate.{check.name}.detail"] = check.detail[:500]
    return tags


def promote_candidate(client: MlflowClient, name: str, model_uri: str, run_id: str, tags: dict[str, str],
                      judge: Callable[[str | None], GateReport], model_digest: str,
                      lock_wait_seconds: float = 300) -> Promotion:
    """Register the candidate and move `champion` only on a full pass; all under the promotion lock."""
    registry.ensure_registered_model(client, name)
    with promotion_lock(client, name, wait_seconds=lock_wait_seconds):
        champion = registry.alias_version(client, name, registry.CHAMPION)
        report = judge(champion)
        version = registry.register_version(
            client, name, model_uri, run_id, {**tags, **verdict_tags(report), "lineage.model_sha256": model_digest})
        number = str(version.version)
        if not report.passed:
            failed = ", ".join(c.name for c in report.failed)
            return Promotion(number, champion, champion, False, report, f"failed gate(s): {failed}")
        if champion is not None and \
                client.get_model_version(name, champion).tags.get("lineage.model_sha256") == model_digest:
            return Promotion(number, champion, champion, False, report, f"identical to champion v{champion}")
        previous = registry.set_champion(client, name, number, "gate", "passed every gate")
        return Promotion(number, number, previous, True, report, "passed every gate")
