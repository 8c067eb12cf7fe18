"""promote: log the run to MLflow, register the selected candidate, move `champion` only on a pass.

Every candidate selected by `gate` becomes a new version aliased `challenger`, tagged with each gate
verdict and its lineage. `champion` moves only if every gate passed; otherwise the stage exits non-zero
and `champion` stays where it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow

from cleargate import registry
from cleargate.config import Params
from cleargate.errors import GateError
from cleargate.io import read_json, read_table, write_json
from cleargate.lineage import lineage_tags
from cleargate.stages.entry import model_paths, stage_main, stage_paths
from cleargate.tracking import connect, log_model_run


def _gate_tags(gate: dict[str, Any], model: str) -> dict[str, str]:
    report = gate["candidates"][model]
    tags = {"gate.passed": str(report["passed"]).lower()}
    for check in report["checks"]:
        tags[f"gate.{check['name']}"] = "pass" if check["passed"] else "fail"
        tags[f"gate.{check['name']}.value"] = "missing" if check["value"] is None else f"{check['value']:.6f}"
        tags[f"gate.{check['name']}.threshold"] = "none" if check["threshold"] is None else f"{check['threshold']:.6f}"
    return tags


def _log_pipeline_artifacts(paths: dict[str, Path]) -> None:
    mlflow.log_artifacts(str(paths["validation_dir"]), artifact_path="validation")
    for key in ("cleaning", "split_report", "gate"):
        mlflow.log_artifact(str(paths[key]), artifact_path="reports")
    mlflow.log_artifact(str(paths["gate"].with_suffix(".md")), artifact_path="reports")


def run(params: Params, flow_run_id: str | None = None) -> dict[str, Any]:
    paths = stage_paths(params)
    gate = read_json(paths["gate"])
    raw_meta, split = read_json(paths["raw_meta"]), read_json(paths["split_report"])
    test_path = paths["processed"] / "test.parquet"
    test = read_table(test_path)
    example = test.head(2)  # raw integer pixels: the signature states the stored type
    client = connect(params)
    lineage = lineage_tags(params, params.root, raw_meta["sha256"], split["digest"])
    flow_run_id = flow_run_id or os.environ.get("PREFECT__FLOW_RUN_ID") or "none"

    with mlflow.start_run(run_name=f"pipeline-{params.dataset.name}") as parent:
        mlflow.set_tags({**lineage, "dataset": params.dataset.name, "prefect.flow_run_id": flow_run_id})
        mlflow.log_params({"seed": params.seed, "dataset": params.dataset.name,
                           "primary_metric": params.evaluate.primary_metric})
        mlflow.log_input(mlflow.data.from_pandas(test, source=str(test_path), targets="label",
                                                 name=f"{params.dataset.name}-test"), context="test")
        _log_pipeline_artifacts(paths)
        runs = {}
        for name in params.train:
            mp = model_paths(params, name)
            runs[name] = log_model_run(params, name, mp["dir"], read_json(mp["metrics"]), mp["plots"], example)

    selected = gate["selected"]
    run_id, model_uri = runs[selected]
    tags = {**_gate_tags(gate, selected), **lineage, "mlflow.run_id": run_id, "model": selected,
            "prefect.flow_run_id": flow_run_id, "pipeline_run_id": parent.info.run_id}
    name = params.registry.model_name
    version = registry.register_version(client, name, model_uri, run_id, tags)
    previous = None
    if gate["passed"]:
        previous = registry.set_champion(client, name, str(version.version), "gate", "passed every gate")
    result = {"model_name": name, "version": str(version.version), "selected": selected,
              "passed": gate["passed"], "champion": registry.alias_version(client, name, registry.CHAMPION),
              "previous_champion": previous, "run_id": run_id, "pipeline_run_id": parent.info.run_id}
    write_json(result, paths["promotion"])
    if not gate["passed"]:
        failed = [c["name"] for c in gate["candidates"][selected]["checks"] if not c["passed"]]
        raise GateError(f"{paths['gate']}: {selected} failed gate(s) {', '.join(failed)}; registered as "
                        f"{name} v{version.version} (challenger); champion stays at "
                        f"v{result['champion'] or 'none'}")
    return result


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
