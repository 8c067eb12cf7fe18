"""Great Expectations 1.x suites built in code, and a report a person can act on."""

from cleargate.validation.report import CheckResult, ValidationReport
from cleargate.validation.run import validate_records, validate_splits

__all__ = ["CheckResult", "ValidationReport", "validate_records", "validate_splits"]
