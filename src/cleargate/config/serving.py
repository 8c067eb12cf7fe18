"""The online model server (`serving:`): `cleargate serve-model NAME@ALIAS`, and the servers the team stack starts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from cleargate.config.common import Strict

Port = Annotated[int, Field(ge=1, le=65535)]
Alias = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]


class StackServer(Strict):
    """One registered model the team stack serves: the alias it follows and its port."""

    alias: Alias
    port: Port


class ServingConfig(Strict):
    """How the online server answers, follows its alias, shadows, protects itself and feeds monitoring."""

    host: str                                                   # 127.0.0.1; anything else needs a bearer token
    port: Port                                                  # `cleargate serve-model` without --port
    poll_s: Annotated[float, Field(gt=0.0, le=3600.0)]          # re-resolve the alias this often
    shadow: Alias | None                                        # an alias scored beside each request, or none
    max_body_bytes: Annotated[int, Field(ge=1024, le=256 << 20)]
    max_rows: Annotated[int, Field(ge=1, le=1_000_000)]         # rows in one request
    request_timeout_s: Annotated[float, Field(gt=0.0, le=600.0)]  # reading the body, then answering
    keep_alive_s: Annotated[float, Field(gt=0.0, le=600.0)]     # an idle connection closes after this
    max_concurrency: Annotated[int, Field(ge=1, le=100_000)]    # connections and requests at once; more get 503
    batch_rows: Annotated[int, Field(ge=1)]                     # requests to the inbox in batches of this many rows
    batch_max_s: Annotated[float, Field(gt=0.0)]                # ... or after this long, with min_batch_rows
    min_batch_rows: Annotated[int, Field(ge=1)]
    feedback_rows: Annotated[int, Field(ge=0)]                  # rows remembered for labels posted later
    stack: dict[str, StackServer]                               # registered model -> its server in the team stack

    @model_validator(mode="after")
    def _check(self) -> ServingConfig:
        if self.min_batch_rows > self.batch_rows:
            raise ValueError(f"min_batch_rows ({self.min_batch_rows}) is above batch_rows ({self.batch_rows})")
        ports = [s.port for s in self.stack.values()]
        if len(set(ports)) != len(ports):
            raise ValueError("stack: two models share a port")
        return self
