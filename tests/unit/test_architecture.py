"""The structure holds: one graph rendered into dvc.yaml, code deps DVC can see, layered imports, kinds as modules."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cleargate import graph
from cleargate.kinds import KINDS
from cleargate.kinds.protocol import DataContract, Kind
from tests.projects import ROOT

SRC = ROOT / "src" / "cleargate"


def test_dvc_yaml_is_the_rendered_stage_table(tmp_path: Path):
    assert (ROOT / "dvc.yaml").read_text() == graph.render_dvc_yaml(), "run `make dvc.yaml`"
    stale = tmp_path / "dvc.yaml"
    stale.write_text(graph.render_dvc_yaml().replace("src/cleargate/stages/train.py\n", ""))
    assert graph.main(["--check", str(stale)]) == 1
    assert graph.main(["--check", str(ROOT / "dvc.yaml")]) == 0


def _imports(path: Path) -> set[str]:
    """Every cleargate module a file imports, at any depth of the file (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cleargate")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cleargate") \
                and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
    return found


def _file(module: str) -> Path | None:
    base = ROOT / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module, not a module


def _covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == d or relative.startswith(d + "/") for d in deps)


@pytest.mark.parametrize("stage", [s.name for s in graph.STAGES])
def test_a_stage_code_cannot_change_without_dvc_seeing_it(stage: str):
    """The code deps dvc.yaml declares are closed under imports (checked here with `ast`, independently of the
    grimp graph that computed them): the stage's module, the entry point, and everything they import."""
    deps = [d for d in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["do"]["deps"]
            if d.startswith("src/")]
    files = {p for d in deps for p in ([ROOT / d] if d.endswith(".py") else (ROOT / d).rglob("*.py"))}
    assert _covered(SRC / "stages" / f"{stage}.py", deps) and _covered(SRC / "stages" / "__main__.py", deps)
    for path in files:
        for module in _imports(path):
            target = _file(module)
            assert target is None or _covered(target, deps), \
                f"{stage}: {path.relative_to(ROOT)} imports {module}, which is not among its dvc.yaml deps"
        for parent in path.relative_to(SRC).parents:  # importing a module runs its packages' __init__
            assert _covered(SRC / parent / "__init__.py", deps), f"{stage}: {parent}/__init__.py not a dep"


def test_imports_follow_the_layers_and_have_no_cycles():
    """import-linter contracts in pyproject.toml: layers, acyclic siblings, no Prefect in the library."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


def test_every_kind_module_implements_the_protocol():
    protocol = {name: inspect.signature(f) for name, f in vars(Kind).items()
                if inspect.isfunction(f) and not name.startswith("_")}
    assert len(protocol) >= 10
    for name, module in KINDS.items():
        assert isinstance(module, Kind), name
        assert issubclass(module.Data, DataContract) and module.Data.model_fields["kind"].annotation.__args__ == (name,)
        for function, signature in protocol.items():
            expected = [p for p in signature.parameters if p != "self"]
            assert list(inspect.signature(getattr(module, function)).parameters) == expected, f"{name}.{function}"


DATA_CONTRACTS = {module.Data.__name__ for module in KINDS.values()} | {"DataContract"}


def test_no_branching_on_the_kind_of_data_outside_the_kind_registry():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "kinds"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & DATA_CONTRACTS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_modules_stay_small():
    long = [f"{p.relative_to(ROOT)} ({n})" for p in SRC.rglob("*.py") if (n := p.read_text().count("\n")) > 300]
    assert not long, long


def test_no_two_library_modules_share_a_file_name():
    """A name says what a module holds: no two `runs.py`. A stage's module (under stages/) is named after its
    stage and counts like any other."""
    seen: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(SRC)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}


def test_the_top_of_the_library_reads_as_the_pipeline():
    """Packages for the stages of a model's life, a handful of modules every package shares."""
    modules = sorted(p.stem for p in SRC.glob("*.py") if p.name != "__init__.py")
    assert modules == ["errors", "graph", "io", "layout", "params", "processes", "runtime", "schema"]
    assert (SRC / "records" / "__init__.py").is_file(), "the hand-off records: a package, one module per stage group"


def test_no_library_module_is_patched_and_no_private_api_is_used_outside_the_adapters():
    """Prefect, DVC and MLflow through their public APIs; DVC below its commands only in flows/dvc_adapter.py and
    Prefect's process pool only in flows/prefect_adapter.py (each checked against the installed library by
    tests/integration/test_dvc_adapter.py and test_prefect_adapter.py)."""
    offenders = []
    adapters = {ROOT / "flows" / "dvc_adapter.py", ROOT / "flows" / "prefect_adapter.py"}
    for folder in (SRC, ROOT / "flows", ROOT / "infra"):
        for path in folder.rglob("*.py"):
            if path in adapters:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (
                        "prefect", "dvc", "mlflow"):
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    if "._" in f".{node.module}" or private or node.module.split(".")[0] == "dvc":
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import ...")
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id in ("prefect", "dvc", "mlflow", "param") for t in node.targets):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} assigns a library attribute")
    assert not offenders, offenders
