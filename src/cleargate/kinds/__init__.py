"""The kind registry: kind name -> the module that implements `kinds.protocol.Kind` for it.

A new kind of data (text, ECG, ...) is one module implementing the protocol plus one entry in KINDS;
its data contract joins `DatasetConfig` (the `datasets.<name>.data` section of params.yaml) from here.
Nothing outside this package branches on the type of a data contract: it asks `kind_of(data)`.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from cleargate.kinds import image, sequence, tabular
from cleargate.kinds.protocol import DataContract, Kind

KINDS: dict[str, Kind] = {
    "image": image,  # type: ignore[dict-item]  # a module implementing the protocol
    "sequence": sequence,  # type: ignore[dict-item]
    "tabular": tabular,  # type: ignore[dict-item]
}

# `kind` picks the contract: one class per registered kind.
DatasetConfig = Annotated[Union[tuple(k.Data for k in KINDS.values())], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007


def kind_of(data: DataContract | Any) -> Kind:
    """The module that knows how to handle this dataset's kind of data."""
    return KINDS[data.kind]


__all__ = ["KINDS", "DataContract", "DatasetConfig", "Kind", "kind_of"]
