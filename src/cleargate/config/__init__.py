"""Typed sections of params.yaml, one module per concern; `cleargate.params` assembles the whole file.

Kept free of imports here: the data kinds (`cleargate.kinds`) build on `config.base`, and
`cleargate.params` builds on the kinds, so this package must not pull `params` in when it loads.
"""
