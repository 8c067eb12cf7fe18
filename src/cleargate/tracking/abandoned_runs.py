"""Training runs whose process died without ending them. A stop (Ctrl-C, SIGTERM, a cancel) ends the interrupted
fit's run FAILED; a fit killed outright (`kill -9` of its worker, the kernel's out-of-memory killer, a machine that
lost power) cannot, and its run would show RUNNING in the MLflow UI for ever. Each training run records the process
that opened it (host, pid, start time), and the next fit in the same experiment ends those whose process on this
host is gone as KILLED, with a tag saying why.

A run opened on another host (a Dask worker elsewhere) is left as it is: from here there is no telling whether its
process still lives; the next fit on its own host ends it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import psutil

from cleargate.processes import Running

OWNER_TAG = "cleargate.process"        # "<host>|<pid>|<start time>" of the process that opened the run
ENDED_TAG = "cleargate.ended"          # why a run was ended by another process


def owner_tag() -> dict[str, str]:
    """The tag naming this process, for a run it opens."""
    return {OWNER_TAG: f"{socket.gethostname()}|{os.getpid()}|{psutil.Process().create_time():.3f}"}


def gone(owner: str) -> bool:
    """The process an OWNER_TAG names ran on this host and is no longer running (its pid free or another's). A tag
    this module did not write, or a process this user may not inspect, counts as alive: the run is left alone."""
    try:
        host, pid, started = owner.rsplit("|", 2)
        return host == socket.gethostname() and not Running(int(pid), float(started), log="").alive()
    except (ValueError, psutil.AccessDenied):
        return False


def end_abandoned(client: Any, experiment_id: str) -> list[str]:
    """End as KILLED every RUNNING run of the experiment whose process on this host is gone; their ids."""
    host = socket.gethostname()
    found = client.search_runs([experiment_id], f"attributes.status = 'RUNNING' and tags.`{OWNER_TAG}` LIKE "
                                                f"'{host.replace(chr(39), chr(39) * 2)}|%'", max_results=1000)
    ended = []
    for run in found:
        owner = run.data.tags[OWNER_TAG]
        if gone(owner):
            client.set_tag(run.info.run_id, ENDED_TAG, f"the process that opened this run ({owner}: host|pid|start "
                                                       f"time) was gone when process {os.getpid()} started a fit")
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(run.info.run_id)
    return ended
