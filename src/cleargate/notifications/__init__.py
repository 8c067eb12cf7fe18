"""Telling people what happened: a `Notice` (what, which model and version, one line, links) and the one entry point
any process uses to send it, `notify`, which emits it as a Prefect event (`cleargate.<event>`) when a Prefect API
is configured and does nothing otherwise.

The library decides what happened (`release.notices`, `monitoring.batch_notices`); Prefect's automations, which
`make serve` and `make stack-up` register from params.yaml `notifications` (`flows/automations.py`), turn the
events into webhook calls. The flows emit the same notices with Prefect's own client (`flows/notices.py`), so
they carry their flow run; `notify` serves the processes outside a flow (the `cleargate` verbs, a model server).
`registry_webhook` checks the signed calls of MLflow's registry webhooks (the stack's relay).
"""

from cleargate.notifications.notice import EVENT_PREFIX, Notice, mlflow_version_link
from cleargate.notifications.prefect_events import notify, prefect_api

__all__ = ["EVENT_PREFIX", "Notice", "mlflow_version_link", "notify", "prefect_api"]
