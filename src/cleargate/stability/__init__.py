"""Seed stability: one model fitted with N seeds, the spread of its test metrics, and the runs that record it."""
