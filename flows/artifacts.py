"""What a pipeline stage shows in the Prefect UI: its gate tables and the leaderboard, as flow-run artifacts."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from cleargate.graph import StageCall
from cleargate.params import ProjectParams

REPORTS = {"validate": ("validation_summary", "validation-report", "Great Expectations checks"),
           "gate": ("gate_md", "gate-report", "Offline acceptance gates"),
           "promote": ("release_gate", "release-gate-report", "All gates, incl. latency, size, champion")}


def publish_report(call: StageCall, project: ProjectParams) -> None:
    """The gate tables as Prefect artifacts, also when the stage failed (that is when they matter)."""
    layout, slug = project.scope(call.dataset).layout, call.dataset.replace("_", "-")
    if call.stage.name in REPORTS:
        attribute, key, description = REPORTS[call.stage.name]
        path = getattr(layout, attribute)
        if path.is_file():
            create_markdown_artifact(key=f"{key}-{slug}", markdown=path.read_text(),
                                     description=f"{call.dataset}: {description}")
    if call.stage.name == "gate" and layout.leaderboard_csv.is_file():
        import pandas as pd

        create_table_artifact(key=f"leaderboard-{slug}",
                              table=pd.read_csv(layout.leaderboard_csv).fillna("-").to_dict("records"),
                              description=f"{call.dataset}: every model ranked on the primary metric")
