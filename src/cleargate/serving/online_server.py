"""`cleargate serve-model NAME@ALIAS`: the online server, assembled and run with uvicorn until SIGINT / SIGTERM.

Why its own FastAPI app rather than MLflow's scoring server (`mlflow models serve`, FastAPI and uvicorn too): that
server holds one model loaded at start and never notices that an alias moved (mlflow#4039), runs MLflow's
column-by-column schema enforcement on every call (several times the cost of a tree's prediction; 70 ms a call on
784 pixel columns), returns a traceback in its error bodies, and has no notion of the dataset's checks, a shadow,
monitoring, tokens or body limits. The request shapes and the answer are MLflow's, so its clients work here.

One process, one event loop; requests are answered on `available_cpus()` worker threads (torch and numpy release
the GIL for their work). uvicorn stops on SIGINT / SIGTERM after the requests in flight (`timeout_graceful_
shutdown`), then the lifespan's end flushes the waiting rows to the inbox and stops the follower and the shadow.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleargate.config.serving import ServingConfig
from cleargate.errors import ConfigError, ServiceError
from cleargate.params import DatasetParams
from cleargate.runtime import available_cpus
from cleargate.serving.model_follower import Follower, Loaded, RefusedSwap
from cleargate.serving.online_metrics import ServerMetrics

log = logging.getLogger("cleargate.serving")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "CLEARGATE_SERVING_TOKEN"


@dataclass(frozen=True)
class ServeRequest:
    """What `cleargate serve-model` was asked for."""

    name: str
    alias: str | None          # followed alias; None: `version` pinned
    version: str | None
    host: str
    port: int
    token: str | None
    webhook_secret: str | None
    wait: bool                 # start even when the alias names no version yet (the team stack's servers)


def check_exposure(host: str, token: str | None) -> None:
    if host not in LOOPBACK and not token:
        raise ConfigError(f"--host {host}: beyond loopback the server needs a bearer token; set {TOKEN_ENV} (the "
                          "team stack writes one to .stack/env) or serve on 127.0.0.1")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is one line (uvicorn would exit with a log)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and without it an answer written
    # in two parts (head, body) waits for the client's delayed ACK (40 ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceError(f"{host}:{port}: cannot listen there ({exc.strerror}); pass another --port, or stop "
                           "what holds it") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def notify_refused(refused: RefusedSwap) -> None:
    """Where a notifier plugs in (a refused swap is already logged, counted and shown in /version)."""


def serve(request: ServeRequest, serving: ServingConfig, params: DatasetParams, client: Any) -> None:
    """Load, bind, serve until stopped. Raises ServiceError / ConfigError (one line) before it listens."""
    import uvicorn

    from cleargate.serving.online_app import ServerState, build_app
    from cleargate.serving.shadow_scoring import Shadow
    from cleargate.serving.traffic_log import TrafficLog

    check_exposure(request.host, request.token)
    metrics = ServerMetrics(request.name)
    key = request.alias or f"v{request.version}"
    shadow_alias = serving.shadow if serving.shadow and serving.shadow != request.alias else None
    folder = Path(tempfile.mkdtemp(prefix="cleargate-serve-"))

    def swapped(alias: str, old: Loaded | None, new: Loaded) -> None:
        metrics.version.labels(request.name, alias).set(float(new.version))
        metrics.swaps.labels(alias).inc()
        if old is None:
            log.info("%s@%s: v%s loaded in %.1f s", request.name, alias, new.version, new.load_s)
        else:
            log.info("%s@%s: v%s -> v%s (loaded and checked in %.1f s; requests in flight finish on v%s)",
                     request.name, alias, old.version, new.version, new.load_s, old.version)

    def refused(entry: RefusedSwap) -> None:
        metrics.refused.labels(entry.alias).inc()
        notify_refused(entry)

    follower = Follower(client, request.name, params.dataset, [a for a in (request.alias, shadow_alias) if a],
                        serving.poll_s, folder, on_swap=swapped, on_refused=refused,
                        on_registry_error=lambda reason: metrics.registry_errors.inc())
    if request.version is not None:
        follower.pin(key, request.version)
    follower.refresh()
    if follower.get(key) is None and not request.wait:
        shutil.rmtree(folder, ignore_errors=True)
        why = follower.refused[-1].reason if follower.refused else "the alias names no version"
        raise ServiceError(f"{request.name}@{key}: nothing to serve ({why}); fix the version, or move the alias")
    sock = bind(request.host, request.port)
    traffic = TrafficLog(params.layout, serving, request.name, params.dataset.classes,
                         on_batch=lambda kind, rows: metrics.batches.labels(kind).inc())
    shadow = Shadow(follower, shadow_alias, key, traffic, metrics) if shadow_alias else None
    pool = ThreadPoolExecutor(max_workers=available_cpus(), thread_name_prefix="cleargate-answer")
    state = ServerState(request.name, key, follower, serving, metrics, traffic, shadow, request.token,
                        request.webhook_secret, pool, pinned=request.version is not None)
    state.on_stop += [follower.stop, *([shadow.stop] if shadow else []), traffic.close,
                      lambda: pool.shutdown(wait=True), lambda: shutil.rmtree(folder, ignore_errors=True)]
    follower.start()
    loaded = follower.get(key)
    where = f"http://{request.host}:{request.port}"
    log.info("serving %s@%s (%s) on %s; shadow: %s; token: %s; requests to %s", request.name, key,
             f"v{loaded.version}" if loaded else "waiting for a version", where,
             f"{shadow_alias}" if shadow_alias else "off", "required" if request.token else "off (loopback)",
             params.layout.inbox)
    config = uvicorn.Config(build_app(state), log_level="warning", access_log=False, lifespan="on",
                            timeout_keep_alive=int(max(1, serving.keep_alive_s)),
                            limit_concurrency=serving.max_concurrency,
                            timeout_graceful_shutdown=int(serving.request_timeout_s) + 5, server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
