"""What production loads: the MLflow pyfunc around a model bundle, how it is logged and loaded, fast tree inference."""
