"""Which stage call the pipeline flow starts next: each one as soon as every stage it reads has finished.

The graph is DVC's own (`dvc_adapter.Staleness.upstream`: the edges dvc.yaml's deps and outs make), restricted
to the calls planned for this run, so the flow can never start a stage before one whose outputs it reads.
Calls go to one of two lanes that run side by side:

- `fit`: the per-model stages (train, then evaluate), on the flow's task runner, `orchestration.fit_workers`
  at a time, in processes that stay warm (torch and the model code imported once);
- `dataset`: the per-dataset stages (ingest, validate, clean, split; gate, promote), one at a time on one
  more local process: the next dataset is prepared, and a finished one judged and promoted, while a model fits.

Other placements cost more than they hide on a few cores: evaluations on a third process beside the fits slow the
fits (at normal priority), or, at the lowest priority, starve until the last fit and then queue with every gate
and promote at the end.

Within a lane, a call that a fit waits for goes first, then the dataset with the fewest features (params.yaml's
order among equals), then dvc.yaml's stage order, except that a model's evaluation comes right after its own fit
(the worker still holds the model it saved: `cleargate.models.bundle` skips reading it back): the first dataset
reaches its fits soonest, the next one is ready before the fits run out, and each dataset is promoted as soon as
its own models are done. Fewest features first because preparing a dataset costs about its number of values
checked (MNIST's 784 pixel columns several times breast cancer's 30), and while the first dataset is prepared
the fit lane idles; with every dataset cheaper to prepare than to fit, this is Johnson's rule for two machines in
series (the dataset lane, then the fit lane). Only the order changes: each stage is the same function on the
same inputs, seeded inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cleargate.graph import StageCall
from flows.dvc_adapter import Staleness


def lane(call: StageCall) -> str:
    return "fit" if call.stage.per == "model" else "dataset"


def asked_for(call: StageCall, rerun: set[str]) -> bool:
    """`--rerun` names this call (`train@mnist_cnn`) or its stage (`promote`)."""
    return bool({call.dvc_name, call.stage.name} & rerun)


def may_run(calls: list[StageCall], state: Staleness, rerun: set[str]) -> list[StageCall]:
    """The planned calls that may run in this flow run, by the run's own rule (`RunLedger.stale`) applied before
    anything ran: stale or asked for, or reading from a call that may run."""
    running = {c.dvc_name for c in calls if asked_for(c, rerun) or state.needs_run(c.dvc_name, ())}
    while more := {c.dvc_name for c in calls if c.dvc_name not in running and state.needs_run(c.dvc_name, running)}:
        running |= more
    return [c for c in calls if c.dvc_name in running]


@dataclass
class Schedule:
    calls: list[StageCall]                  # in the order they are preferred
    upstream: dict[str, set[str]]           # call -> the planned calls whose outputs it reads
    started: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, calls: list[StageCall], state: Staleness, widths: dict[str, int] | None = None) -> Schedule:
        """`widths`: each dataset's number of features (none: params.yaml's order)."""
        planned = {c.dvc_name for c in calls}
        upstream = {c.dvc_name: state.upstream.get(c.dvc_name, set()) & planned for c in calls}
        awaited = _ancestors({c.dvc_name for c in calls if c.stage.fit}, upstream)
        names = list(dict.fromkeys(c.dataset for c in calls))
        datasets = {d: i for i, d in enumerate(sorted(names, key=lambda d: (widths or {}).get(d, 0)))}  # stable
        position = {c.dvc_name: float(i) for i, c in enumerate(calls)}
        for c in calls:  # a model's evaluation right after its own fit, in the worker that still holds the model
            trained = f"train@{c.model}"
            if c.stage.name == "evaluate" and trained in position:
                position[c.dvc_name] = position[trained] + 0.5
        ranked = sorted(calls, key=lambda c: (c.dvc_name not in awaited, datasets[c.dataset], position[c.dvc_name]))
        return cls(ranked, upstream)

    def next_ready(self, free: set[str]) -> StageCall | None:
        """The preferred call not yet started whose upstream calls have all finished, in a lane with room."""
        return next((c for c in self.calls if c.dvc_name not in self.started and lane(c) in free
                     and self.upstream[c.dvc_name] <= self.finished), None)

    def start(self, call: StageCall) -> None:
        self.started.add(call.dvc_name)

    def finish(self, call: StageCall) -> None:
        self.finished.add(call.dvc_name)

    @property
    def complete(self) -> bool:
        return len(self.finished) == len(self.calls)


def _ancestors(names: set[str], upstream: dict[str, set[str]]) -> set[str]:
    """Every call that `names` wait for, directly or through others."""
    found: set[str] = set()
    todo = [u for n in names for u in upstream.get(n, set())]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(upstream.get(name, set()))
    return found
