"""Typed sections of params.yaml, one module per section; `cleargate.params` assembles the whole file.

`common` (the strict base every section builds on), then one module per top-level key of params.yaml: `paths`,
`tracking`, `trainer`, `orchestration`, `storage`, `scoring` (with `drift`), `serving`, `monitoring`, `schedules`,
`tuning`, `retention`, `notifications`; a dataset's own sections (validation, split, evaluation, gates, registry,
release) are in `judging`, and the model hyper-parameters of `train` in `hyperparameters`.

Kept free of imports here: the data kinds (`cleargate.kinds`) build on `config.common`, and
`cleargate.params` builds on the kinds, so this package must not pull `params` in when it loads.
"""
