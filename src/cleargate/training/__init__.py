"""Fitting one model: trees here, deep models with Lightning (devices, DDP ranks, callbacks, warm starts)."""
