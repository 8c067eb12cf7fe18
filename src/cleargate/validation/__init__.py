"""Great Expectations 1.x: each kind's suite (declared as data in `cleargate.kinds`) run, and a report a person
can act on (one line per failed check, naming the file, the check, the column and the rows)."""

from cleargate.validation.chunked import ChunkedValidation
from cleargate.validation.findings import ValidationCheck, ValidationReport
from cleargate.validation.run import validate_records, validate_splits

__all__ = ["ChunkedValidation", "ValidationCheck", "ValidationReport", "validate_records", "validate_splits"]
