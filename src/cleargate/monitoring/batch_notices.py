"""What a monitored batch tells people: it drifted (refused or flagged), or it was refused for another reason
(validation, an unreadable file, the model's contract). A batch scored cleanly tells nobody anything; a
degradation starts a retraining, whose verdict is told by the release."""

from __future__ import annotations

from cleargate.monitoring.batch_report import BatchReport
from cleargate.notifications import Notice, mlflow_version_link


def batch_notices(report: BatchReport, tracking_uri: str) -> list[Notice]:
    if report.drifted:
        kind = "drift"
    elif report.destination == "refused":
        kind = "batch_refused"
    else:
        return []
    details = {"batch": report.batch, "outcome": report.outcome}
    if report.psi_max is not None:
        details["psi_max"] = f"{report.psi_max:.4g}"
    if report.retrain_run:
        details["retrain_run"] = report.retrain_run
    link = mlflow_version_link(tracking_uri, report.model, report.version)
    return [Notice(kind=kind, dataset=report.dataset, model=report.model, version=report.version,
                   message=f"{report.batch}: {report.message}", details=details,
                   links={"model": link} if link else {})]
