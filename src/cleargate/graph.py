"""The stage graph, declared once: which stages exist, what each reads and writes, which params it uses.

`dvc.yaml` is rendered from this table (`make dvc.yaml`, i.e. `python -m cleargate.graph`; a test fails when
the committed file differs), and the Prefect flow plans its tasks from it (`plan`). A stage is one function
`run` in `cleargate.stages.<name>` plus one entry in STAGES. Its code deps in dvc.yaml are computed from the
imports of its module (lazy imports included), so `dvc repro` re-runs a stage whenever code it runs changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cleargate.config.paths import Paths
from cleargate.layout import PLOT_IMAGES, PLOT_TABLES, DatasetLayout, ModelLayout, curves_dir

if TYPE_CHECKING:
    from cleargate.params import ProjectParams

Per = Literal["dataset", "model"]
CURVE_FIELDS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")   # per epoch, per deep model
Section = Literal["outs", "metrics", "plots"]
SRC = Path(__file__).resolve().parent.parent          # src/
PACKAGE = "cleargate"
ENTRY_MODULE = "cleargate.stages.__main__"            # the command every stage runs through


@dataclass(frozen=True)
class Out:
    """One output: cached by DVC (so `dvc push` shares it and a clone's `dvc pull` restores it) unless
    `cache=False`, `persist` keeps it across re-runs (raw data), `section` makes it a DVC metrics or plots file."""

    path: Path
    cache: bool = True
    persist: bool = False
    section: Section = "outs"
    plot: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    per: Per
    deps: Callable[[DatasetLayout, Any], list[Path]]
    outs: Callable[[DatasetLayout, Any], list[Out]]
    params: Callable[[str, str], list[str]]       # (dataset key, model key) -> params.yaml keys it reads
    fit: bool = False                             # the flow runs these concurrently, each in its own process

    @property
    def module(self) -> str:
        return f"{PACKAGE}.stages.{self.name}"


def _report(path: Path, section: Section = "outs") -> Out:
    """A small report, cached by DVC like every output: experiments and commits keep them for `dvc exp show` /
    `dvc plots diff`, and a clone that pulls the cache has them all, so `dvc status` is clean there (git does
    not track reports/: uncached, a clone would re-run every stage that writes one)."""
    return Out(path, section=section)


def _plots(m: ModelLayout) -> list[Out]:
    tables = [Out(m.plot("confusion.csv"), section="plots",
                  plot={"template": "confusion", "x": "predicted", "y": "actual"}),
              Out(m.plot("roc.csv"), section="plots", plot={"x": "fpr", "y": "tpr"})]
    assert [o.path.name for o in tables] == list(PLOT_TABLES)
    return tables + [Out(m.plot(name), section="plots") for name in PLOT_IMAGES]


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "dataset", deps=lambda d, m: [],
          outs=lambda d, m: [Out(d.raw, persist=True), Out(d.raw_meta, persist=True)],
          params=lambda d, m: [f"datasets.{d}.data"]),
    Stage("validate", "dataset", deps=lambda d, m: [d.raw, d.raw_meta],
          outs=lambda d, m: [_report(d.validation_dir), Out(d.quarantine)],
          params=lambda d, m: [f"datasets.{d}.data", f"datasets.{d}.validation"]),
    Stage("clean", "dataset", deps=lambda d, m: [d.raw, d.raw_meta, d.validation_dir, d.quarantine],
          outs=lambda d, m: [Out(d.interim), _report(d.cleaning, "metrics")],
          params=lambda d, m: [f"datasets.{d}.data"]),
    Stage("split", "dataset", deps=lambda d, m: [d.interim],
          outs=lambda d, m: [Out(d.processed), _report(d.split_report)],
          params=lambda d, m: ["seed", f"datasets.{d}.data", f"datasets.{d}.split"]),
    Stage("train", "model", deps=lambda d, m: [d.processed],
          outs=lambda d, m: [Out(m.dir, persist=True),   # kept until a new bundle replaces it whole
                             Out(m.curves)],
          params=lambda d, m: ["seed", "trainer", f"datasets.{d}.data", f"train.{m}"], fit=True),
    Stage("evaluate", "model", deps=lambda d, m: [m.dir, d.split("test")],
          outs=lambda d, m: [Out(m.predictions), _report(m.metrics), *_plots(m), _report(m.explanations)],
          params=lambda d, m: [f"datasets.{d}.data", f"datasets.{d}.evaluate", f"train.{m}.role"]),
    Stage("gate", "dataset", deps=lambda d, m: [d.metrics_dir],
          outs=lambda d, m: [_report(d.gate), _report(d.leaderboard_json, "metrics"), _report(d.gate_md),
                             _report(d.leaderboard_md), _report(d.leaderboard_csv)],
          params=lambda d, m: [f"datasets.{d}.gates", f"datasets.{d}.evaluate"]),
    Stage("promote", "dataset",
          deps=lambda d, m: [d.gate, d.leaderboard_csv, d.models, d.metrics_dir, d.plots_dir, d.predictions_dir,
                             d.explanations_dir, d.processed, d.raw_meta, d.validation_dir, d.cleaning,
                             d.split_report],
          outs=lambda d, m: [_report(d.release_gate), _report(d.promotion)],
          params=lambda d, m: ["seed", "tracking", "drift.bins", f"datasets.{d}.data", f"datasets.{d}.registry",
                               f"datasets.{d}.gates", f"datasets.{d}.evaluate", f"datasets.{d}.release"]),
)


@dataclass(frozen=True)
class StageCall:
    """One stage instance: a stage for one dataset, or for one model (of its dataset)."""

    stage: Stage
    dataset: str
    model: str | None = None

    @property
    def dvc_name(self) -> str:
        return f"{self.stage.name}@{self.model or self.dataset}"

    @property
    def argv(self) -> list[str]:
        """What dvc.yaml passes after the stage name: --model for per-model stages, --dataset otherwise."""
        return ["--model", self.model] if self.model else ["--dataset", self.dataset]

    @property
    def command(self) -> str:
        return " ".join(["python -m cleargate.stages", self.stage.name, *self.argv])


def stage(name: str) -> Stage:
    return next(s for s in STAGES if s.name == name)


def plan(project: ProjectParams, datasets: list[str] | None = None) -> list[StageCall]:
    """Every stage instance in dvc.yaml's order: a per-dataset stage for each dataset, a per-model stage for
    each model of those datasets."""
    names = datasets or list(project.datasets)
    calls: list[StageCall] = []
    for s in STAGES:
        if s.per == "dataset":
            calls += [StageCall(s, d) for d in names]
        else:
            calls += [StageCall(s, c.dataset, m) for m, c in project.train.items() if c.dataset in names]
    return calls


# ---- dvc.yaml ------------------------------------------------------------------------------------------

TEMPLATE_ROOTS = Paths.model_construct(**{f: Path(f"${{paths.{f}}}") for f in Paths.model_fields})


def _module_file(module: str) -> Path:
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def stage_modules(*roots: str, leaving_out: tuple[str, ...] = ()) -> set[str]:
    """The modules of this package that `roots` import, transitively, lazy imports included (grimp); less those
    that import one of the third-party packages `leaving_out` themselves (e.g. Lightning, where no model needs it)."""
    import grimp

    graph = grimp.build_graph(PACKAGE, cache_dir=None, include_external_packages=bool(leaving_out))
    found = set(roots) | {u for r in roots for u in graph.find_upstream_modules(r)}
    found -= {m for package in leaving_out for m in graph.find_modules_that_directly_import(package)}
    return {m for m in found if m.split(".")[0] == PACKAGE}


def code_deps(module: str) -> list[str]:
    """Source files a stage runs: its module, the stage entry point, everything they import (transitively,
    lazy imports included) and the packages' __init__ files that importing them executes. A package folder
    whose every file is needed is listed as the folder."""
    modules = stage_modules(module, ENTRY_MODULE)
    modules |= {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)}
    files = {_module_file(m) for m in modules}
    for folder in sorted({f.parent for f in files}, key=lambda p: -len(p.parts)):
        inside = set(folder.rglob("*.py"))
        if folder != SRC / PACKAGE and inside <= files:
            files = (files - inside) | {folder}
    return sorted(str(f.relative_to(SRC.parent)) for f in files)


def _entry(out: Out) -> str | dict[str, dict[str, Any]]:
    options: dict[str, Any] = {**out.plot}
    if not out.cache:
        options["cache"] = False
    if out.persist:
        options["persist"] = True
    return {str(out.path): options} if options else str(out.path)


def dvc_stage(s: Stage) -> dict[str, Any]:
    """One foreach stage of dvc.yaml, with DVC's template variables for paths and keys."""
    key = "${key}"
    if s.per == "dataset":
        d, m, foreach, keys = DatasetLayout(TEMPLATE_ROOTS, key), None, "${datasets}", (key, "")
    else:
        d = DatasetLayout(TEMPLATE_ROOTS, "${item.dataset}")
        m, foreach, keys = d.model(key), "${train}", ("${item.dataset}", key)
    outs = s.outs(d, m)
    body: dict[str, Any] = {"cmd": f"python -m cleargate.stages {s.name} --{s.per} {key}",
                            "deps": [str(p) for p in s.deps(d, m)] + code_deps(s.module),
                            "params": s.params(*keys)}
    for section in ("outs", "metrics", "plots"):
        entries = [_entry(o) for o in outs if o.section == section]
        if entries:
            body[section] = entries
    return {"foreach": foreach, "do": body}


HEADER = """\
# GENERATED from the stage table in src/cleargate/graph.py: do not edit; run `make dvc.yaml` after changing it.
# One stage per dataset (`foreach: ${datasets}`) or per model (`foreach: ${train}`); paths and params come
# from params.yaml (DVC templating). Code deps are the files each stage's module imports, computed.
"""


def render_dvc_yaml() -> str:
    import yaml

    stages = {s.name: dvc_stage(s) for s in STAGES}
    curves = {str(curves_dir(TEMPLATE_ROOTS)): {"x": "epoch", "y": list(CURVE_FIELDS), "template": "linear"}}
    return HEADER + yaml.safe_dump({"stages": stages, "plots": [curves]}, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    """`python -m cleargate.graph [--check] [PATH]`: write dvc.yaml, or exit 1 if it is out of date."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    target = Path(next((a for a in args if a != "--check"), "dvc.yaml"))
    text = render_dvc_yaml()
    if check:
        current = target.read_text() if target.is_file() else ""
        if current != text:
            print(f"{target}: out of date with src/cleargate/graph.py; run `make dvc.yaml`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
