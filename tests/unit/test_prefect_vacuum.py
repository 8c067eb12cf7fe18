"""The Prefect servers that live long (the team stack's, `cleargate serve`'s) delete old flow runs: the settings they
are started with exist in the installed Prefect and mean what params.yaml `retention.flow_run_days` says. Prefect
ignores an environment variable it does not know, so a release that renames them fails here, not silently on the
stack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flows.prefect_server import VACUUM_ENABLED, VACUUM_RETENTION, vacuum_environment
from infra.stack import services
from infra.stack.config import StackConfig
from infra.stack.secrets import Credentials


def test_the_vacuum_settings_exist_in_the_installed_prefect_and_keep_the_configured_days(
        monkeypatch: pytest.MonkeyPatch):
    import prefect.settings
    from prefect.settings import Settings

    assert hasattr(prefect.settings, VACUUM_ENABLED) and hasattr(prefect.settings, VACUUM_RETENTION)
    for key, value in vacuum_environment(30).items():
        monkeypatch.setenv(key, value)
    vacuum = Settings().server.services.db_vacuum
    assert {"flow_runs", "events"} <= vacuum.enabled_vacuum_types
    assert vacuum.retention_period == timedelta(days=30)


def test_the_stacks_prefect_server_is_started_with_the_vacuum_of_params_yaml(tmp_path: Path):
    config = StackConfig.from_env(tmp_path, {})
    creds = Credentials("pg", "admin", "key", "token", "secret", "fernet")
    env = services.prefect_server(config, creds, flow_run_days=14).env
    assert env[VACUUM_ENABLED] == "events,flow_runs"
    assert env[VACUUM_RETENTION] == str(14 * 86_400)
