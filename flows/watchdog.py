"""Nothing outlives the run: `python -m flows.watchdog PID` follows the process PID and, once it is gone
(a normal exit, Ctrl-C or `kill -9`), stops every process it had started (Prefect's temporary API server,
process-pool workers still training, stage commands) so none keeps running or writing.

Started by the flow's entry point in its own session, so a signal to the run's process group spares it.
"""

from __future__ import annotations

import os
import sys
import time

import psutil

POLL_S = 0.5
GRACE_S = 5.0


def _descendants(root: psutil.Process) -> dict[int, float]:
    """pid -> create time (a pid reused by an unrelated process later is not ours)."""
    found = {}
    for child in root.children(recursive=True):
        if child.pid == os.getpid():
            continue
        try:
            found[child.pid] = child.create_time()
        except psutil.Error:
            continue
    return found


def _ours(known: dict[int, float]) -> list[psutil.Process]:
    alive = []
    for pid, created in known.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == created:
                alive.append(process)
        except psutil.Error:
            continue
    return alive


def watch(pid: int) -> int:
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return 0
    known: dict[int, float] = {}
    while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
        try:
            known |= _descendants(root)
        except psutil.Error:
            break
        time.sleep(POLL_S)
    leftovers = _ours(known)
    for process in leftovers:
        try:
            process.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(leftovers, timeout=GRACE_S)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    return 0


if __name__ == "__main__":
    raise SystemExit(watch(int(sys.argv[1])))
