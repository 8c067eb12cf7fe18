"""Where the DVC cache is shared (`storage:`): `make push` / `make pull`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cleargate.config.common import Strict


class DvcRemote(Strict):
    """The DVC remote that shares the cache (`make push` / `make pull`): a name and a URL DVC understands
    (a folder, relative to the project root or absolute; ssh://, s3://, ... with DVC's plugin for it)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    url: Annotated[str, Field(min_length=1)]


class StorageConfig(Strict):
    """Where the DVC cache is shared (`make push` / `make pull`; scripts/dvc_remote.py configures DVC from it)."""

    dvc_remote: DvcRemote
