"""Which of the stack's processes run: their pids and start times, kept in `.stack/state.json` between commands
(`stack up` writes them, `stack down` and `stack status` read them). Starting, waiting and stopping are
`cleargate.processes`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from cleargate.processes import Running


def load_state(path: Path) -> dict[str, Running]:
    if not path.is_file():
        return {}
    return {name: Running(**record) for name, record in json.loads(path.read_text()).items()}


def save_state(path: Path, state: dict[str, Running]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({k: asdict(v) for k, v in state.items()}, indent=2) + "\n")
    os.replace(tmp, path)
