"""The flows' notifications: the library's notices (`release.notices`, `monitoring.batch_notices`) emitted as
Prefect events with Prefect's own client, inside the flow run, so each carries its flow run, flow and deployment
as related resources and a link to the run; and the Prefect UI's view of versions awaiting approval.

Which notices go to whom is Prefect's: the automations `flows/automations.py` registers. An event that cannot
be emitted is one log line, never a failed run.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.runtime import flow_run
from prefect.settings import PREFECT_UI_URL

from cleargate.notifications import Notice
from cleargate.params import DatasetParams
from cleargate.records import ReleaseDecision
from cleargate.release import approval
from cleargate.release.notices import release_notices
from cleargate.tracking import connect


def run_link() -> str:
    """This flow run's page in the Prefect UI."""
    ui, run_id = PREFECT_UI_URL.value(), flow_run.get_id()
    return f"{ui.rstrip('/')}/runs/flow-run/{run_id}" if ui and run_id else ""


def emit(notices: list[Notice]) -> None:
    for notice in notices:
        notice = notice.with_links(run=run_link())
        try:
            emit_event(event=notice.event, resource=notice.resource(), payload=notice.payload())
        except Exception as exc:  # a notification never fails the run it reports on
            get_run_logger().warning("%s not emitted: %s: %s", notice.event, type(exc).__name__, exc)


def announce_release(params: DatasetParams, decision: ReleaseDecision) -> None:
    """A promote's verdict, told; a version awaiting approval is also shown in the Prefect UI (Artifacts)."""
    emit(release_notices(params, decision))
    if params.release.approval == "required":
        try:
            publish_approvals(params)
        except Exception as exc:  # the registry holds the decision; the artifact is only its view
            get_run_logger().warning("approval-%s not published: %s: %s", params.dataset.name, type(exc).__name__, exc)


def publish_approvals(params: DatasetParams) -> None:
    """`approval-<dataset>`: the versions awaiting a decision and the commands that take it. An artifact rather
    than a paused run: a scheduled run never waits on a person, and the registry stays the one place the
    decision is held (`cleargate.release.approval`)."""
    markdown = approval.pending_markdown(connect(params), params.registry.model_name)
    create_markdown_artifact(key=f"approval-{params.dataset.name.replace('_', '-')}", markdown=markdown,
                             description=f"{params.dataset.name}: versions awaiting a person's approval")
