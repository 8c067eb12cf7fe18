"""What the registry rests on: every version of every registered model in the store, and every run a version
names, directly or through the runs it names.

A version records its source run (`run_id`, and `mlflow.run_id` among its tags), the pipeline run that registered
it (`pipeline_run_id`), and lineage that may name other runs; a run names its parent (`mlflow.parentRunId`) and
its pipeline run (`cleargate.pipeline_run`). Every MLflow run id (32 hex digits) in those tags is followed, run by
run, until no new one turns up: a run reached that way is never deleted, whatever its kind or age. Following
every id rather than a list of tag names errs on the side of keeping: an id that names no run costs one lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

RUN_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")   # an MLflow run id, not part of a longer digest
PAGE = 1000


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str | None
    model_id: str | None          # the logged model it was registered from (MLflow 3), if any
    tags: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def registered_versions(client: MlflowClient) -> list[RegisteredVersion]:
    """Every version of every registered model in the store (not only this project's: a run or a cache object
    another project's version rests on is kept too)."""
    names, token = [], None
    while True:
        page = client.search_registered_models(max_results=PAGE, page_token=token)
        names += [model.name for model in page]
        token = page.token
        if not token:
            break
    found = []
    for name in names:
        token = None
        while True:
            quoted = name.replace("'", "\\'")
            page = client.search_model_versions(f"name = '{quoted}'", max_results=PAGE, page_token=token)
            found += [RegisteredVersion(v.name, str(v.version), v.run_id or None, getattr(v, "model_id", None),
                                        dict(v.tags or {})) for v in page]
            token = page.token
            if not token:
                break
    return sorted(found, key=lambda v: (v.name, int(v.version) if v.version.isdigit() else 0))


def protected_runs(client: MlflowClient, versions: list[RegisteredVersion]) -> set[str]:
    """The ids of every run the versions rest on (see the module docstring); ids that name no run included."""
    from mlflow.exceptions import MlflowException

    frontier: set[str] = set()
    for version in versions:
        if version.run_id:
            frontier.add(version.run_id)
        if version.model_id:
            try:
                source = client.get_logged_model(version.model_id).source_run_id
            except MlflowException:
                source = None
            if source:
                frontier.add(source)
        for value in version.tags.values():
            frontier.update(RUN_ID.findall(value))
    seen: set[str] = set()
    while frontier:
        run_id = frontier.pop()
        if run_id in seen:
            continue
        seen.add(run_id)
        try:
            tags = client.get_run(run_id).data.tags
        except MlflowException:
            continue   # not a run (or one already gone): nothing more to follow
        for value in tags.values():
            frontier.update(set(RUN_ID.findall(value)) - seen)
    return seen
