"""Errors a user can act on: each names the file, the check that failed and the fix."""


class CleargateError(Exception):
    """Base class: the CLI prints these as one clear message, never as a traceback."""


class ConfigError(CleargateError):
    """params.yaml is missing, malformed or holds an invalid key or value."""


class DataError(CleargateError):
    """An input file is missing, unreadable or has the wrong shape."""


class DataValidationError(CleargateError):
    """Data failed its Great Expectations suite; the run stops before training."""

