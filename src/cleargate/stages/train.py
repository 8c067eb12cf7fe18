"""train: fit one model (`--model NAME`, a key of params.yaml `train`) -> models/<name>/."""

from __future__ import annotations

from cleargate.config import CNNConfig, Params, RecurrentConfig
from cleargate.io import read_table
from cleargate.stages.entry import model_paths, stage_main, stage_paths
from cleargate.training import TrainResult, fit_tree


def run(params: Params, model: str) -> TrainResult:
    config = params.model(model)
    processed = stage_paths(params)["processed"]
    train = read_table(processed / "train.parquet")
    out_dir = model_paths(params, model)["dir"]
    if isinstance(config, (CNNConfig, RecurrentConfig)):
        from cleargate.models.lightning_training import fit_deep  # torch and Lightning only for deep models

        val = read_table(processed / "val.parquet")
        return fit_deep(model, config, params.trainer, params.dataset, train, val, params.seed, out_dir)  # type: ignore[arg-type]
    return fit_tree(model, config, params.dataset, train, params.seed, out_dir)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, with_model=True, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
