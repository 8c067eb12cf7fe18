"""What production loads: the MLflow pyfunc around a model bundle, how it is logged and loaded, fast tree inference;
and the online server that answers with it (`cleargate serve-model`: `online_server`, `online_app`)."""
