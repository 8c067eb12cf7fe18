"""The base of every stage's output file: strict on read, written atomically with sorted keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from cleargate.errors import DataError
from cleargate.io import read_json, write_json


class Record(BaseModel):
    """A stage's output file: strict on read (unknown keys fail), written atomically, sorted keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    omit_empty: ClassVar[bool] = False    # leave out None fields (metrics a dataset does not have)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=self.omit_empty)

    def save(self, path: Path) -> Path:
        return write_json(self.dump(), path)

    @classmethod
    def load(cls, path: Path) -> Self:
        try:
            return cls.model_validate(read_json(path))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "<root>"
            raise DataError(f"{path}: not a valid {cls.__name__} ({where}: {problem['msg']}); "
                            "re-run the stage that writes it (see dvc.yaml)") from None
