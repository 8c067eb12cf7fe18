"""up / down / status of the whole stack, in dependency order (down: the reverse), and one online model server per
registered model that params.yaml `serving.stack` lists (started after the worker, stopped before MLflow)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from cleargate.processes import Running, spawn, stop, wait_until
from infra.stack import mlflow_webhook, postgres, services
from infra.stack.config import StackConfig, StackError
from infra.stack.secrets import WEBHOOK_SECRET_ENV, Credentials, credentials, masked, write_env_file
from infra.stack.state import load_state, save_state

if TYPE_CHECKING:
    from cleargate.params import ProjectParams

ORDER = ("postgres", "mlflow", "prefect", "relay", "worker")
console = Console(highlight=False, soft_wrap=True)


def say(service: str, what: str, detail: str = "") -> None:
    console.print(f"{service:<9} {what:<16} {detail}".rstrip())


@contextmanager
def prefect_client(config: StackConfig, creds: Credentials) -> Iterator[None]:
    """Prefect's client settings pointed at the stack (loopback), for this process only."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    updates = {PREFECT_API_URL: f"http://127.0.0.1:{config.prefect_port}/api"}
    if config.auth:
        updates[PREFECT_API_AUTH_STRING] = creds.prefect_auth_string
    with temporary_settings(updates=updates):
        yield


def _ensure(service: services.Service, state: dict[str, Running], config: StackConfig) -> bool:
    """Start the service unless its recorded process is alive; wait until it answers. True if started now."""
    current = state.get(service.name)
    if current is not None and current.alive():
        wait_until(service.ready, service.name, current, service.timeout)
        say(service.name, "already running", f"{service.address} (pid {current.pid})")
        return False
    running = spawn(service.argv, service.env, config.logs / f"{service.name}.log", config.root)
    state[service.name] = running
    save_state(config.state_file, state)
    seconds = wait_until(service.ready, service.name, running, service.timeout)
    say(service.name, "started", f"{service.address} (pid {running.pid}, ready in {seconds:.1f} s)")
    return True


def _postgres(config: StackConfig, creds: Credentials) -> None:
    start = time.monotonic()
    created = postgres.initialise(config, creds.pg_password)
    was_running = postgres.running(config) is not None
    if not was_running:
        postgres.start(config)
    databases = postgres.create_databases(config, creds.pg_password)
    detail = (f"127.0.0.1:{config.pg_port}, databases {', '.join(postgres.DATABASES)}"
              f"{' (new cluster)' if created else ''}{' (created: ' + ', '.join(databases) + ')' if databases else ''}")
    say("postgres", "already running" if was_running else "started",
        f"{detail} ({time.monotonic() - start:.1f} s)")


def up(config: StackConfig) -> None:
    from cleargate.params import load_project
    from flows import deployments

    project = load_project(config.root / "params.yaml")
    creds = credentials(config)
    config.dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config.dir, 0o755)  # PostgreSQL's unprivileged user walks through it; secrets are files of mode 600
    check_free(config)
    state = load_state(config.state_file)
    _postgres(config, creds)
    _ensure(services.mlflow(config, creds), state, config)
    if _ensure(services.prefect_server(config, creds, project.retention.flow_run_days), state, config) and \
            "worker" in state:
        stop(state.pop("worker"))  # a worker must reconnect to a restarted server
    _ensure(services.relay(config, creds), state, config)
    say("webhook", mlflow_webhook.ensure(config, creds), f"MLflow alias moves -> {config.relay_url} (signed)")
    pool = project.schedules.work_pool
    with prefect_client(config, creds):
        _deploy(config, config.prefect_url, registry_webhook=True)
        current = state.get("worker")  # a heartbeat after the worker's own start (or after now, for a new one)
        since = current.started if current is not None and current.alive() else time.time() - 1
        name = services.worker_name(config)
        poll = project.schedules.worker_poll_s
        _ensure(services.worker(config, creds, pool, poll, lambda: deployments.worker_online(pool, name, since)),
                state, config)
    for model, served in project.serving.stack.items():
        _ensure(services.model_server(config, creds, model, served.alias, served.port), state, config)
    env_file = write_env_file(config, creds)
    console.print(f"\nMLflow UI:  {config.mlflow_url}\nPrefect UI: {config.prefect_url}  (the new UI: "
                  f"{config.prefect_url}/v2/)\nclients:    source {_shown(env_file)}   (mode 600)")
    if config.auth:
        console.print(f"auth:       on (bound to {config.host}); user cleargate-admin, password "
                      f"{masked(creds.admin_password)} in {_shown(env_file)}")


def deploy(config: StackConfig) -> None:
    """Both deployments and the notifications' automations, assigned to `schedules.work_pool` and run from
    `config.root` by a worker started there: on the Prefect API that PREFECT_API_URL names (a team's server, from CI
    or a worker host) or, without it, on this host's stack (its address and credentials from the stack's folder)."""
    api = os.environ.get("PREFECT_API_URL")
    if api:
        _deploy(config, api.removesuffix("/api"), registry_webhook=bool(os.environ.get(WEBHOOK_SECRET_ENV)))
        return
    running = load_state(config.state_file).get("prefect")
    if running is None or not running.alive() or not config.secrets_file.is_file():
        raise StackError(f"no PREFECT_API_URL and no Prefect server of a stack in {_shown(config.dir)}: "
                         "`cleargate stack up` starts one, or set PREFECT_API_URL to a team's server")
    with prefect_client(config, credentials(config)):
        _deploy(config, config.prefect_url, registry_webhook=True)   # `up` created the registry webhook


def _deploy(config: StackConfig, ui: str, registry_webhook: bool) -> None:
    from cleargate.params import load_project
    from flows import deployments

    project = load_project(config.root / "params.yaml")
    deployments.ensure_work_pool(project.schedules.work_pool)
    names = deployments.register(project, config.root)
    crons = deployments.schedules_of(names)
    say("deploy", "registered", "; ".join(f"{n} ({', '.join(crons.get(n, []))})" for n in names)
        + f" -> pool '{project.schedules.work_pool}' (run from {config.root}) on {ui}")
    _notifications(project, ui, registry_webhook)


def _notifications(project: ProjectParams, ui: str, registry_webhook: bool) -> None:
    """params.yaml `notifications` as Prefect automations (flows/automations.py), replacing earlier ones."""
    from flows import automations

    names = automations.register(project, ui, registry_webhook)
    say("notify", "registered" if names else "off", automations.described(project, names))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _interrupted_runs(config: StackConfig, state: dict[str, Running]) -> list[str]:
    """The flow runs the worker is running now (asked while the Prefect server still answers)."""
    from cleargate.params import load_project
    from flows import deployments

    if not (state.get("worker") and state["worker"].alive() and state.get("prefect") and state["prefect"].alive()):
        return []
    creds = credentials(config)
    with prefect_client(config, creds):
        return deployments.active_runs(load_project(config.root / "params.yaml").schedules.work_pool)


def _model_servers(state: dict[str, Running]) -> list[str]:
    return sorted(name for name in state if name.startswith(services.server_key("")))


def down(config: StackConfig) -> None:
    state = load_state(config.state_file)
    interrupted, stopped = _interrupted_runs(config, state), 0
    for name in [*reversed(ORDER[2:]), *_model_servers(state), "mlflow"]:  # the model servers before MLflow
        if name == "prefect" and interrupted:  # the worker and its runs are stopped; the server still answers
            from flows import deployments

            with prefect_client(config, credentials(config)):
                deployments.mark_crashed(interrupted, "stopped by `make stack-down` while it ran")
            say("worker", "interrupted", f"{len(interrupted)} flow run(s) marked CRASHED: {', '.join(interrupted)}")
        running = state.pop(name, None)
        if running is not None and running.alive():
            stop(running)
            say(name, "stopped", f"pid {running.pid}")
            stopped += 1
        if config.state_file.is_file():
            save_state(config.state_file, state)
    pg = postgres.running(config)
    if pg is not None:
        postgres.stop(config)
        say("postgres", "stopped", f"pid {pg.pid}")
        stopped += 1
    if stopped:
        console.print(f"data kept in {_shown(config.dir)} (`make stack-up` starts the stack on it again)")
    else:
        console.print(f"nothing of the stack ({_shown(config.dir)}) was running")


def status(config: StackConfig) -> int:
    """What runs, where, and whether it answers; the deployments and their schedules. 0 if every service runs."""
    state = load_state(config.state_file)
    creds = credentials(config) if config.secrets_file.is_file() else None
    table = Table("service", "state", "pid", "address", title=f"cleargate stack ({_shown(config.dir)})")
    served = _served(config)
    found = {"postgres": postgres.running(config), **{n: state.get(n) for n in ORDER[1:]},
             **{services.server_key(m): state.get(services.server_key(m)) for m in served}}
    checks = {"mlflow": services.mlflow, "prefect": services.prefect_server, "relay": services.relay,
              **{services.server_key(m): lambda c, k, m=m, s=s: services.model_server(c, k, m, s.alias, s.port)
                 for m, s in served.items()}}
    addresses = {"postgres": f"127.0.0.1:{config.pg_port}", "mlflow": config.mlflow_url,
                 "prefect": config.prefect_url, "relay": config.relay_url, "worker": "process pool",
                 **{services.server_key(m): f"http://{config.public_host}:{s.port} ({m}@{s.alias})"
                    for m, s in served.items()}}
    for name, running in found.items():
        alive = running is not None and running.alive()
        answers = "" if not alive or name not in checks or creds is None else \
            (" (answers)" if checks[name](config, creds).ready() else " (NOT answering)")
        table.add_row(name, ("running" if alive else "stopped") + answers, str(running.pid) if alive else "-",
                      addresses[name])
    console.print(table)
    everything = all(r is not None and r.alive() for r in found.values())
    if everything and creds is not None:
        from cleargate.params import load_project
        from flows import deployments

        names = [d.full_name for d in deployments.declared(load_project(config.root / "params.yaml"))]
        with prefect_client(config, creds):
            for name, crons in deployments.schedules_of(names).items():
                console.print(f"deployment {name}: cron {', '.join(crons) or 'none (paused?)'}")
    return 0 if everything else 1


def check_free(config: StackConfig) -> None:
    """Nothing else may hold the stack's ports (a second stack, a forgotten server)."""
    import socket

    state = load_state(config.state_file)
    mine = {"mlflow": config.mlflow_port, "prefect": config.prefect_port, "relay": config.relay_port,
            **{services.server_key(m): s.port for m, s in _served(config).items()}}
    for name, port in mine.items():
        if state.get(name) is not None and state[name].alive():
            continue
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                fix = f"set STACK_{name.upper()}_PORT" if name in ("mlflow", "prefect") else \
                    "change its port in params.yaml serving.stack"
                raise StackError(f"{name}: port {port} is already in use by another program; stop it or {fix}")


def _served(config: StackConfig) -> dict:
    """params.yaml `serving.stack`: the registered models the stack serves, each with its alias and port."""
    from cleargate.params import load_project

    return dict(load_project(config.root / "params.yaml").serving.stack)
