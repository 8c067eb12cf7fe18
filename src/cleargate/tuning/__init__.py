"""Hyper-parameter search (`cleargate tune <model>`): an Optuna study per model in an RDB storage, each trial a
fit on the train split judged on the validation split only, and an MLflow child run under the search's parent.

- `space`: the model's search space (params.yaml `tuning.space.<m>`), trial values, the `dvc exp run` command
- `pruning`: the Lightning callback that reports each epoch to the trial and stops a pruned one
- `objective`: one trial: suggest, fit, score on validation
- `study`: the storage, the study (created or resumed), running trials, the summary
- `runs`: the MLflow parent run of a search and a child run per trial
"""
