"""Prefect flows: wiring, retries, schedules. No ML logic lives here: every task calls a stage's `run`."""
