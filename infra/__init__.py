"""Tooling to run cleargate for a team (not part of the ML library): `python -m infra.stack up|down|status`."""
