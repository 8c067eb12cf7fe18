"""A promotion in its own process, for the concurrency and kill tests: `python -m ... URI NAME DIGEST SLEEP`."""

import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from cleargate.records import Check, GateReport
from cleargate.release import register_judged


def main() -> None:
    uri, name, digest, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    client = MlflowClient(uri, uri)
    source = Path(sys.argv[5]).as_uri()

    def judge(champion):
        time.sleep(pause)  # hold the lock long enough for a rival (or a kill) to arrive
        return GateReport(model="m", checks=(Check(name="accuracy", threshold=0.5, value=0.9, passed=True),))

    if len(sys.argv) > 6 and sys.argv[6] == "pause-before-history":
        from cleargate import registry

        record = registry._record

        def slow_record(*args, **kwargs):  # the alias has moved; the history entry is not yet written
            print("ALIAS_SET", flush=True)
            time.sleep(60)
            record(*args, **kwargs)

        registry._record = slow_record
    print("START", flush=True)
    result = register_judged(client, name, source, None, {}, judge, digest, lock_wait_seconds=60)
    print(f"DONE v{result.version} moved={result.moved}", flush=True)


if __name__ == "__main__":
    main()
