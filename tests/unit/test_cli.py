"""The `cleargate` command as a user meets it: every verb answers --help at once, with an example; every verb's main
mistake is one line and the exit code of the table in `cleargate.errors`, never a traceback."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cleargate import __version__
from cleargate.cli import app
from cleargate.errors import INFRASTRUCTURE, REFUSED, USAGE
from cleargate.processes import free_port
from tests.projects import CLEARGATE, tiny_params, write_params

VERBS = ["run", "serve", "monitor", "score", "serve-model", "status", "promote", "rollback", "approve", "reject",
         "reproduce", "stability", "tune", "gc", "ui", "stack", "push", "pull"]


def test_every_verb_is_there_and_answers_help_in_under_a_second_with_an_example():
    listed = subprocess.run([CLEARGATE, "--help"], capture_output=True, text=True, timeout=30).stdout
    assert all(f"  {verb} " in listed for verb in VERBS), listed
    for verb in VERBS:
        took = []
        for _ in range(3):  # the best of three: the machine may be busy with other tests for a moment
            started = time.monotonic()
            done = subprocess.run([CLEARGATE, verb, "--help"], capture_output=True, text=True, timeout=30)
            took.append(time.monotonic() - started)
            if took[-1] < 1.0:
                break
        assert done.returncode == 0 and min(took) < 1.0, f"{verb} --help: {took} s, {done.stderr[-500:]}"
        assert verb == "stack" or f"Example: cleargate {verb}" in " ".join(done.stdout.split()), done.stdout
    stack = subprocess.run([CLEARGATE, "stack", "--help"], capture_output=True, text=True, timeout=30).stdout
    assert all(f"  {sub} " in stack for sub in ("up", "down", "status", "deploy")), stack
    version = subprocess.run([CLEARGATE, "--version"], capture_output=True, text=True).stdout
    assert version == f"cleargate {__version__}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    params = tiny_params("breast_cancer", digits=False)
    params["tracking"]["connect_budget_s"] = 1
    write_params(tmp_path / "params.yaml", params)
    (tmp_path / "deeper" / "folder").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deeper" / "folder")  # params.yaml is found upwards, as git finds .git
    return tmp_path


def one_line(args: list[str], code: int, says: str, env: dict[str, str] | None = None) -> None:
    result = CliRunner().invoke(app, args, env=env)
    lines = result.output.strip().splitlines()
    assert result.exit_code == code and len(lines) == 1 and says in lines[0], (args, result.exit_code, result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "code", "says"), [
    (["promote", "breast-cancer-classifier/99"], USAGE, "breast-cancer-classifier: no such registered model"),
    (["promote", "breast-cancer-classifier"], USAGE, "give a model as NAME@ALIAS or NAME/VERSION"),
    (["rollback", "mnist-classifier"], USAGE, "'mnist-classifier' is not a registered model of this project"),
    (["status", "nope-classifier"], USAGE, "'nope-classifier' is not a registered model of this project"),
    (["reproduce", "breast-cancer-classifier@champion"], USAGE, "breast-cancer-classifier: no such registered model"),
    (["score", "missing.parquet"], REFUSED, "missing.parquet"),
    (["serve-model", "breast-cancer-classifier@champion"], USAGE, "breast-cancer-classifier: no such registered model"),
    (["serve-model", "breast-cancer-classifier@champion", "--host", "0.0.0.0"], USAGE,
     "--host 0.0.0.0: beyond loopback the server needs a bearer token; set CLEARGATE_SERVING_TOKEN"),
    (["serve-model", "mnist-classifier@champion"], USAGE, "'mnist-classifier' is not a registered model"),
    (["stability", "nope"], USAGE, "unknown model 'nope'"),
    (["tune", "nope"], USAGE, "unknown model 'nope'"),
    (["push"], USAGE, "not a DVC project (no .dvc/)"),
    (["pull"], USAGE, "not a DVC project (no .dvc/)"),
])
def test_each_verbs_main_mistake_is_one_line_and_its_exit_code(project: Path, args, code, says):
    one_line(args, code, says)


@pytest.mark.parametrize("verb", ["run", "serve", "monitor", "ui", "status", "score x.parquet", "stack status",
                                  "serve-model m@champion", "gc"])
def test_a_missing_params_file_is_one_line_and_exit_2(tmp_path: Path, verb: str):
    one_line([*verb.split(), "--params", str(tmp_path / "missing.yaml")], USAGE, "no such params file")


def test_outside_a_project_the_command_says_where_it_looked(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line(["run"], USAGE, f"{tmp_path}: no params.yaml here or in any folder above")


def test_an_unreachable_tracking_server_is_one_line_and_exit_5(project: Path):
    uri = f"http://127.0.0.1:{free_port()}"
    one_line(["status"], INFRASTRUCTURE, f"{uri}: MLflow tracking server not reachable",
             env={**os.environ, "MLFLOW_TRACKING_URI": uri})


def test_a_bug_is_one_line_and_exit_1_and_minus_v_shows_the_traceback(project: Path, monkeypatch):
    from cleargate.cli import model_verbs

    monkeypatch.setattr(model_verbs, "_client", lambda *a, **k: 1 / 0)  # a defect, as a user would meet one
    monkeypatch.setenv("CLEARGATE_VERBOSE", "0")  # -v below sets it; put back after
    one_line(["status"], 1, "error: unexpected ZeroDivisionError: division by zero (a bug in cleargate")
    result = CliRunner().invoke(app, ["-v", "status"])
    assert result.exit_code == 1 and "Traceback" in result.output


def test_stack_deploy_with_neither_a_stack_here_nor_prefect_api_url_is_one_line_and_exit_5(project: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "STACK_"))}
    done = subprocess.run([CLEARGATE, "stack", "deploy"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == INFRASTRUCTURE, done
    assert done.stderr.strip().splitlines() == [
        "stack deploy: no PREFECT_API_URL and no Prefect server of a stack in .stack: `cleargate stack up` starts "
        "one, or set PREFECT_API_URL to a team's server"], done.stderr
    assert not (project / ".stack").exists(), "nothing is created by a refused deploy"
