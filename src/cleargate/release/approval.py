"""A person's sign-off before `champion` moves (params.yaml `datasets.<d>.release.approval: required`).

The registry holds the whole state, as tags on the version, so any process may read or decide it and the
MLflow UI shows it:

    approval                pending | approved | rejected
    approval.requested_at   when it passed every gate and was registered (UTC, ISO 8601)
    approval.champion       the champion it was judged against ("none")
    approval.by, approval.reason, approval.decided_at

A decision is taken under the promotion lock, like every alias move. Approving moves `champion` with the verdict
the pipeline recorded, so only while the champion is still the one it was judged against (otherwise the
pipeline judges it again). Approval and refusal are entries of the champion history and a section of the
model card. A newer pending version supersedes an older one; one left undecided for `approval_timeout_h` is
rejected by the next pipeline run (`expire`). Nothing here waits for a person: a run registers and ends.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate.errors import CleargateError
from cleargate.release.modelcard import registry_text, with_approval
from cleargate.tracking import registry
from cleargate.tracking.promotion_lock import promotion_lock

TAG, REQUESTED, JUDGED_AGAINST = "approval", "approval.requested_at", "approval.champion"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
SYSTEM = "cleargate"   # `by` of a decision no person took (superseded, timed out)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def commands(name: str, version: str) -> str:
    return f"`cleargate approve {name}/{version} --reason ...` or `cleargate reject {name}/{version} --reason ...`"


def pending(client: MlflowClient, name: str) -> list[str]:
    """The versions awaiting a decision, oldest first."""
    found = client.search_model_versions(f"name='{name}'")
    return sorted((str(v.version) for v in found if v.tags.get(TAG) == PENDING), key=int)


def card_lines(name: str, version: str, tags: dict[str, str], required: bool = True) -> list[str]:
    """The model card's approval section, from the version's tags (`required`: the dataset's release asks for
    one)."""
    state = tags.get(TAG)
    if state == PENDING:
        return [f"- required: awaiting a decision since {tags.get(REQUESTED, '?')} (judged against champion "
                f"v{tags.get(JUDGED_AGAINST, 'none')}); {commands(name, version)}"]
    if state in (APPROVED, REJECTED):
        return [f"- {state} by {tags.get('approval.by', '?')} at {tags.get('approval.decided_at', '?')}: "
                f"{tags.get('approval.reason', '')}"]
    if required:
        return ["- required; not asked for: the version did not pass every gate, or is the champion's model"]
    return ["- not required (release.approval: auto): `champion` moves when every gate passed"]


def _decide(client: MlflowClient, name: str, version: str, state: str, reason: str, by: str) -> None:
    tags = {TAG: state, "approval.by": by, "approval.reason": reason[:500], "approval.decided_at": _now()}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    _refresh_card(client, name, version)


def _refresh_card(client: MlflowClient, name: str, version: str) -> None:
    """The version's model card (its description, and model_card.md on its run) with the approval as it stands."""
    found = client.get_model_version(name, version)
    card = with_approval(_whole_card(client, found.run_id) or found.description or "",
                         card_lines(name, version, found.tags))
    client.update_model_version(name, version, description=registry_text(card))
    if found.run_id:
        client.log_text(found.run_id, card, "model_card.md")


def _whole_card(client: MlflowClient, run_id: str | None) -> str | None:
    """The run's model_card.md (the registry's description may be cut short); None when the run has none."""
    if not run_id:
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            return Path(client.download_artifacts(run_id, "model_card.md", folder)).read_text()
        except (MlflowException, OSError):
            return None


def request(client: MlflowClient, name: str, version: str, champion: str | None) -> list[str]:
    """`version` passed every gate and waits for a person (the caller holds the promotion lock); earlier pending
    versions are superseded. Returns the superseded versions."""
    superseded = [v for v in pending(client, name) if v != version]
    for older in superseded:
        registry.record_refusal(client, name, older, f"superseded by v{version}", SYSTEM)
        _decide(client, name, older, REJECTED, f"superseded by v{version}", SYSTEM)
    for key, value in ((TAG, PENDING), (REQUESTED, _now()), (JUDGED_AGAINST, champion or "none")):
        client.set_model_version_tag(name, version, key, value)
    return superseded


def _pending_tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    tags = client.get_model_version(name, version).tags
    if tags.get(TAG) != PENDING:
        state = tags.get(TAG) or "not awaiting approval (its dataset's release.approval is auto, or it was blocked)"
        raise CleargateError(f"{name} v{version}: {state}; only a version with approval=pending can be approved or "
                             f"rejected (pending: {', '.join(pending(client, name)) or 'none'})")
    return tags


def approve(client: MlflowClient, name: str, version: str, reason: str, by: str) -> str | None:
    """Move `champion` to a pending version; returns the previous champion."""
    with promotion_lock(client, name) as lock:
        tags = _pending_tags(client, name, version)
        judged, current = tags.get(JUDGED_AGAINST, "none"), registry.alias_version(client, name, registry.CHAMPION)
        if judged != (current or "none"):
            raise CleargateError(f"{name} v{version}: it was judged against champion v{judged} and the champion is "
                                 f"now v{current or 'none'}; judge it again (`cleargate run --rerun promote`)")
        lock.check()
        previous = registry.set_champion(client, name, version, "approved", reason, by)
        _decide(client, name, version, APPROVED, reason, by)
        return previous


def reject(client: MlflowClient, name: str, version: str, reason: str, by: str) -> None:
    """Refuse a pending version: recorded, `champion` unchanged."""
    with promotion_lock(client, name):
        _pending_tags(client, name, version)
        registry.record_refusal(client, name, version, reason, by)
        _decide(client, name, version, REJECTED, reason, by)


def expire(client: MlflowClient, name: str, timeout_h: float, now: datetime | None = None) -> list[str]:
    """Reject the pending versions older than `timeout_h` hours; returns them."""
    now = now or datetime.now(UTC)
    overdue = []
    for version in pending(client, name):
        asked = client.get_model_version(name, version).tags.get(REQUESTED, "")
        try:
            late = now - datetime.fromisoformat(asked) > timedelta(hours=timeout_h)
        except ValueError:
            late = True   # no readable request time: older than any window
        if late:
            overdue.append(version)
    if overdue:
        with promotion_lock(client, name):
            for version in overdue:
                why = f"no decision within {timeout_h:g} h (release.approval_timeout_h)"
                registry.record_refusal(client, name, version, why, SYSTEM)
                _decide(client, name, version, REJECTED, why, SYSTEM)
    return overdue


def pending_markdown(client: MlflowClient, name: str) -> str:
    """What the Prefect UI shows: each version awaiting a decision, and how to take it."""
    waiting = pending(client, name)
    if not waiting:
        return f"## {name}: nothing awaits approval\n"
    lines = [f"## {name}: awaiting approval", "", "| version | registered | judged against | decide with |",
             "|---|---|---|---|"]
    for version in waiting:
        tags = client.get_model_version(name, version).tags
        lines.append(f"| v{version} | {tags.get(REQUESTED, '?')} | v{tags.get(JUDGED_AGAINST, 'none')} | "
                     f"{commands(name, version)} |")
    return "\n".join(lines) + "\n"
