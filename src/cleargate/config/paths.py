"""Roots of the file catalog (`paths:` in params.yaml); `cleargate.layout` names every file under them."""

from __future__ import annotations

from pathlib import Path

from cleargate.config.common import Strict


class Paths(Strict):
    """Roots of the file catalog; `cleargate.layout` names every file under them."""

    raw: Path
    quarantine: Path
    interim: Path
    processed: Path
    models: Path
    reports: Path
    scores: Path
    inbox: Path          # new batches per dataset, watched by the monitoring flow
    served: Path         # what the online model server answered, per dataset (request ids, predictions)
