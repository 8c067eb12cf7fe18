"""Errors a user can act on: each names the file or server, the check that failed and the fix; and the exit code
each ends a command with. One table for every entry point (the `cleargate` command, the flows, the stage
commands dvc.yaml runs):

    0    done
    1    a bug: an error cleargate did not expect (one line; `-v` shows the traceback)
    2    usage: a bad command line, params.yaml, or a model reference that names nothing
    3    judged: a candidate blocked at its gates (`--strict`), or a rebuilt version that differs
    4    refused input: a data file or batch that fails its checks (validation, drift, the model's contract)
    5    infrastructure: a server, store, scheduler or remote that cannot be reached or did not start
    130  stopped by Ctrl-C (SIGINT);  143  stopped by SIGTERM (a worker cancelling the run)
"""

OK, BUG, USAGE, JUDGED, REFUSED, INFRASTRUCTURE = 0, 1, 2, 3, 4, 5
INTERRUPTED, TERMINATED = 130, 143


class CleargateError(Exception):
    """Base class: printed as one clear message, never as a traceback."""

    exit_code = USAGE


class ConfigError(CleargateError):
    """params.yaml is missing, malformed or holds an invalid key or value."""


class DataError(CleargateError):
    """An input file is missing, unreadable or has the wrong shape."""

    exit_code = REFUSED


class DataValidationError(CleargateError):
    """Data failed its Great Expectations suite; the run stops before training."""

    exit_code = REFUSED


class ServiceError(CleargateError):
    """A server or worker process did not start, answer or stop: names the service, the check and its log."""

    exit_code = INFRASTRUCTURE
