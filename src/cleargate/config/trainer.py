"""Lightning runtime options every deep model shares (`trainer:`): device, strategy, precision."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cleargate.config.common import Strict


class TrainerConfig(Strict):
    """Lightning runtime options shared by every deep model (all stated in params.yaml: they change results)."""

    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"]
    devices: int | Literal["auto"]             # 1: one process; N > 1 with strategy ddp: one model on N processes
    strategy: str                              # "ddp" for several GPUs or nodes (Lightning)
    num_nodes: Annotated[int, Field(ge=1, le=1024)]
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"]   # auto: training.devices.precision_for
    deterministic: bool
    compile: bool = False                      # torch.compile the network before the fit (a switch, off)
