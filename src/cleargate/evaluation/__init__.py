"""Metrics on held-out data, plots, and the acceptance gates."""
