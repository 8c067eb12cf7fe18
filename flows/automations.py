"""The notifications as Prefect automations (params.yaml `notifications`), registered on a Prefect server that runs
them: `make serve`'s local server and the team stack's (both `prefect server start`; a run's temporary API runs
none, so a plain `make run` tells nobody anything).

    cleargate: failed        a cleargate flow run (the pipeline or the monitoring) ends Failed or Crashed
    cleargate: late          a run of the nightly deployment started (or went Late) and has not finished within
                             `late_after_s`: a proactive trigger, which fires on what did not happen
    cleargate: <event>       the event `cleargate.<event>` a flow, a verb or the stack's relay emitted: blocked,
                             champion_moved, awaiting_approval, batch_refused, drift

Each automation calls every webhook through Prefect's own Webhook block (one block per target, `cleargate-notify-<n>`)
with a body Prefect renders from a Jinja template: every field for `json`, `{"text": ...}` for `slack`. On the
stack, champion moves are told by MLflow's registry webhook (through the relay: whatever moved the alias, a run,
a verb or the MLflow UI), so there `champion_moved` matches only those events (`cleargate.source: registry`).
Registering again replaces every automation and block an earlier registration made.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client

from cleargate.config.notifications import NotificationsConfig
from cleargate.notifications import EVENT_PREFIX
from cleargate.params import ProjectParams

PREFIX = "cleargate: "
BLOCK = "cleargate-notify-{n}"
FLOWS = ["cleargate-pipeline", "cleargate-monitor"]
ENDED = ["prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Crashed",
         "prefect.flow-run.Cancelled"]

# Bodies, rendered by Prefect (sandboxed Jinja; `tojson` quotes every value); UI and LATE are filled in when they
# are registered. For a flow run's own events (failed, late) the event is the run's state change, and `flow` and
# `deployment` are the objects Prefect looks up for it.
RUN = ('{% set link = "UI/runs/flow-run/" ~ event.resource.id.split(".")[-1] %}'
       '{% set state = event.resource.get("prefect.state-name", "") %}'
       '{% set why = event.resource.get("prefect.state-message") or "" %}'
       '{% set what = flow.name ~ " run " ~ event.resource.get("prefect.resource.name", "") %}')
FIELDS = ('"flow": {{ flow.name | tojson }}, "flow_run": {{ event.resource.get("prefect.resource.name", "") '
          '| tojson }}, "deployment": {{ (deployment.name or "") | tojson }}, "links": {"run": {{ link | tojson }}}')
FAILED = '("cleargate failed: " ~ what ~ " ended " ~ state ~ ": " ~ why ~ " " ~ link)'
LATE = '("cleargate late: " ~ what ~ " has not finished LATE s after it started " ~ link)'
BODIES = {
    ("failed", "json"): RUN + '{"event": "failed", ' + FIELDS + ', "state": {{ state | tojson }}, "message": '
    '{{ why | tojson }}, "text": {{ ' + FAILED + ' | tojson }}}',
    ("failed", "slack"): RUN + '{"text": {{ ' + FAILED + ' | tojson }}}',
    ("late", "json"): RUN + '{"event": "late", ' + FIELDS + ', "message": "not finished LATE s after it started", '
    '"text": {{ ' + LATE + ' | tojson }}}',
    ("late", "slack"): RUN + '{"text": {{ ' + LATE + ' | tojson }}}',
    ("event", "json"): "{{ event.payload | tojson }}",
    ("event", "slack"): '{"text": {{ event.payload.text | tojson }}}',
}


def body(kind: str, fmt: str, ui: str, late_after_s: int) -> str:
    template = BODIES[(kind if kind in ("failed", "late") else "event", fmt)]
    return template.replace("UI/", ui.rstrip("/") + "/").replace("LATE s", f"{late_after_s} s")


def trigger(kind: str, project: ProjectParams, registry_webhook: bool) -> EventTrigger:
    config = project.notifications
    if kind == "failed":
        return EventTrigger(expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                            match={"prefect.resource.id": "prefect.flow-run.*"},
                            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOWS},
                            for_each={"prefect.resource.id"}, posture=Posture.Reactive, threshold=1)
    if kind == "late":
        return EventTrigger(after={"prefect.flow-run.Running", "prefect.flow-run.Late"}, expect=set(ENDED),
                            match={"prefect.resource.id": "prefect.flow-run.*"},
                            match_related=[{"prefect.resource.role": "flow", "prefect.resource.name": FLOWS[0]},
                                           {"prefect.resource.role": "deployment",
                                            "prefect.resource.name": project.schedules.pipeline.name}],
                            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                            within=timedelta(seconds=config.late_after_s))
    match = {"prefect.resource.id": "cleargate.model.*"}
    if kind == "champion_moved" and registry_webhook:
        match["cleargate.source"] = "registry"
    return EventTrigger(expect={f"{EVENT_PREFIX}{kind}"}, match=match, for_each={"prefect.resource.id"},
                        posture=Posture.Reactive, threshold=1)


def _clear() -> None:
    """The automations an earlier registration made (by name)."""
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            if automation.name.startswith(PREFIX):
                client.delete_automation(automation.id)


def _blocks(config: NotificationsConfig) -> list[tuple[str, str]]:
    """One Prefect Webhook block per target: (its document id, the body format)."""
    made = []
    for n, target in enumerate(config.webhooks):
        block = Webhook(url=target.resolved(), headers={"Content-Type": "application/json"})
        made.append((str(block.save(BLOCK.format(n=n), overwrite=True)), target.format))
    return made


def register(project: ProjectParams, ui: str, registry_webhook: bool = False) -> list[str]:
    """The automations of params.yaml `notifications` on the configured Prefect API; their names. `ui`: the
    Prefect UI's address (links in the bodies); `registry_webhook`: MLflow's registry webhook tells champion
    moves (the stack)."""
    config = project.notifications
    _clear()
    if not config.active:
        return []
    blocks = _blocks(config)
    names = []
    for kind in config.events:
        actions = [CallWebhook(block_document_id=block_id, payload=body(kind, fmt, ui, config.late_after_s))
                   for block_id, fmt in blocks]
        Automation(name=f"{PREFIX}{kind}", description=f"cleargate notifications: {kind} (params.yaml "
                   "notifications)", trigger=trigger(kind, project, registry_webhook), actions=actions).create()
        names.append(f"{PREFIX}{kind}")
    return names


def described(project: ProjectParams, names: list[str]) -> str:
    """One line for the operator: what is told, to whom."""
    config = project.notifications
    if not names:
        return "none (params.yaml notifications: no webhook or no event)"
    return f"{', '.join(n.removeprefix(PREFIX) for n in names)} -> {', '.join(t.shown for t in config.webhooks)}"
