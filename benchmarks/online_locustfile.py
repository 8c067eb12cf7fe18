"""Locust users posting one prepared request body to an online model server as fast as they can (`make bench`'s
online serving rows, and the alias-following test under load). Settings from the environment:

    CLEARGATE_LOAD_BODY   a file holding the JSON body to POST to /invocations
    CLEARGATE_LOAD_TOKEN  a bearer token to send (optional)
    CLEARGATE_LOAD_OUT    where to write, at the end, every response time in ms (unrounded: locust's own statistics
                          round times to whole milliseconds, too coarse for a 1 ms answer), the failures, the status
                          codes and the versions that answered (`X-Model-Version`)

Run:  locust -f benchmarks/online_locustfile.py --headless -u 8 -r 8 -t 20s --host http://127.0.0.1:5050
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, constant, events, task

BODY = Path(os.environ["CLEARGATE_LOAD_BODY"]).read_bytes() if os.environ.get("CLEARGATE_LOAD_BODY") else b"{}"
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("CLEARGATE_LOAD_TOKEN"):
    HEADERS["Authorization"] = f"Bearer {os.environ['CLEARGATE_LOAD_TOKEN']}"
TIMES: list[float] = []
STATUS: Counter[str] = Counter()
VERSIONS: Counter[str] = Counter()
FAILURES: list[str] = []


class Client(FastHttpUser):
    wait_time = constant(0)

    @task
    def invoke(self) -> None:
        with self.client.post("/invocations", data=BODY, headers=HEADERS, catch_response=True) as response:
            STATUS[str(response.status_code)] += 1
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            VERSIONS[response.headers.get("X-Model-Version") or "-"] += 1


@events.request.add_listener
def _timed(response_time: float, exception: BaseException | None, **kwargs) -> None:
    TIMES.append(float(response_time))
    if exception is not None and len(FAILURES) < 20:
        FAILURES.append(f"{type(exception).__name__}: {str(exception)[:200]}")


@events.test_stop.add_listener
def _write(environment, **kwargs) -> None:
    out = os.environ.get("CLEARGATE_LOAD_OUT")
    if not out:
        return
    stats = environment.stats.total
    Path(out).write_text(json.dumps({
        "times_ms": TIMES, "requests": stats.num_requests, "failures": stats.num_failures,
        "seconds": (stats.last_request_timestamp or 0) - (stats.start_time or 0), "status": dict(STATUS),
        "versions": dict(VERSIONS), "errors": FAILURES}))
