"""`cleargate serve-model NAME@ALIAS`: the online model server (not `cleargate serve`, which runs the scheduled
deployments). The server itself is `cleargate.serving.online_server`; this verb checks the project, the store and
the reference in this process first, so a mistake is one line before anything loads."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cleargate.cli.app import ParamsOption, app, handled, params_path


@app.command("serve-model")
def serve_model(model: Annotated[str, typer.Argument(metavar="NAME@ALIAS|NAME/VERSION", help="the version to "
                                                     "serve: an alias is followed as it moves (a version stays)")],
                port: Annotated[int | None, typer.Option(help="the port (default: params.yaml serving.stack's for "
                                                          "this model, else serving.port)", show_default=False)] = None,
                host: Annotated[str | None, typer.Option(help="the address to listen on (default: serving.host, "
                                                          "127.0.0.1); beyond loopback CLEARGATE_SERVING_TOKEN is "
                                                          "required", show_default=False)] = None,
                wait_for_model: Annotated[bool, typer.Option(
                    "--wait-for-model", help="start even when the alias names no version yet (503 until it "
                    "does; the team stack's servers)")] = False,
                params: ParamsOption = None) -> None:
    """Serve a registered model over HTTP (MLflow's request shapes on POST /invocations): every request checked
    like a scored batch, the alias followed as it moves, the challenger scored in the shadow, requests and
    labels (POST /feedback) sent to the monitoring inbox; /health, /version, /metrics. Ctrl-C stops it.

    Example: cleargate serve-model breast-cancer-classifier@champion --port 5050"""
    with handled():
        path = params_path(params)
        from cleargate.params import load_project
        from cleargate.serving.online_server import TOKEN_ENV, ServeRequest, check_exposure, serve
        from cleargate.serving.registry_webhook import SECRET_ENV
        from cleargate.tracking import check_store, connect
        from cleargate.tracking.model_ref import parse_ref, resolve_version

        project = load_project(path)
        dataset = project.scope_registered(model)
        name, alias, version = parse_ref(model)
        stacked = project.serving.stack.get(name)
        chosen = ServeRequest(name, alias, None if alias else version, host or project.serving.host,
                              port or (stacked.port if stacked else project.serving.port),
                              os.environ.get(TOKEN_ENV) or None, os.environ.get(SECRET_ENV) or None,
                              wait_for_model)
        check_exposure(chosen.host, chosen.token)
        check_store(dataset)
        client = connect(dataset)
        if not wait_for_model:
            resolve_version(client, model)  # a reference to nothing: one line listing what exists
        serve(chosen, project.serving, dataset, client)
