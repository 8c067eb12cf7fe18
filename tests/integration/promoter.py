"""A promotion in its own process, for the concurrency and kill tests.

`python -m tests.integration.promoter URI NAME DIGEST SLEEP SOURCE [pause-before-history]`: one promotion.
`python -m tests.integration.promoter URI NAME rounds:N:I:BARRIER_DIR SLEEP SOURCE`: N rounds; in round r every
process promotes the same model (digest `round-r`) after all of them reached the round (a file barrier), so
exactly one of them may move `champion` per round; prints `ROUND r v<version> moved=<bool> <reason>`.
"""

import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from cleargate.records import Check, GateReport
from cleargate.release.promotion import register_judged


def judge_after(pause: float):
    def judge(champion):
        time.sleep(pause)  # hold the lock long enough for a rival (or a kill) to arrive
        return GateReport(model="m", checks=(Check(name="accuracy", threshold=0.5, value=0.9, passed=True),))

    return judge


def source_uri(source: str) -> str:
    """A folder (local store) or a logged model's URI (a tracking server checks the source)."""
    return source if ":/" in source else Path(source).as_uri()


def barrier(folder: Path, round_: int, me: int, parties: int, timeout: float = 300) -> None:
    (folder / f"r{round_}-p{me}").touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.glob(f"r{round_}-p*"))) < parties:
        if time.monotonic() > deadline:
            raise SystemExit(f"round {round_}: the other processes never arrived")
        time.sleep(0.02)


def rounds(client: MlflowClient, name: str, spec: str, pause: float, source: str) -> None:
    _, count, me, folder = spec.split(":", 3)
    parties = 4
    for r in range(int(count)):
        barrier(Path(folder), r, int(me), parties)
        result = register_judged(client, name, source_uri(source), None, {}, judge_after(pause), f"round-{r}",
                                 lock_wait_seconds=120)
        print(f"ROUND {r} v{result.version} moved={result.moved} {result.reason}", flush=True)


def main() -> None:
    uri, name, digest, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    client = MlflowClient(uri, uri)
    if digest.startswith("rounds:"):
        rounds(client, name, digest, pause, sys.argv[5])
        return
    if len(sys.argv) > 6 and sys.argv[6] == "pause-before-history":
        from cleargate.tracking import registry

        record = registry.record

        def slow_record(*args, **kwargs):  # the alias has moved; the history entry is not yet written
            print("ALIAS_SET", flush=True)
            time.sleep(60)
            record(*args, **kwargs)

        registry.record = slow_record
    print("START", flush=True)
    result = register_judged(client, name, source_uri(sys.argv[5]), None, {}, judge_after(pause), digest,
                             lock_wait_seconds=60)
    print(f"DONE v{result.version} moved={result.moved}", flush=True)


if __name__ == "__main__":
    main()
