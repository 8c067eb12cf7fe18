"""The online server's HTTP API (FastAPI, served by uvicorn: `online_server`).

    POST /invocations       MLflow's request shapes in, `{"predictions": [...], "request_id": ...}` out
    POST /feedback          labels for an answered request: {"request_id": ..., "labels": [...]} (or a list of those)
    POST /webhooks/mlflow   MLflow's registry webhook: re-resolve the aliases now
    GET  /health, /ping     200 while a version serves, 503 while waiting for one (no token needed)
    GET  /version           name, alias, version, lineage commit, run, the shadow, refused swaps
    GET  /metrics           Prometheus text

Every refusal is a JSON body in MLflow's error shape (`error_code`, `message`) plus the check, the field and the
rows it concerns, with a 4xx status; an unexpected failure is a 500 with one line and no traceback. With a token
(CLEARGATE_SERVING_TOKEN), every route but /health, /ping and the webhook (which has its own signature) needs
`Authorization: Bearer <token>`. A request's body is read up to `serving.max_body_bytes` within
`serving.request_timeout_s`, and answered (parse, checks, prediction, on a worker thread) within the same time.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cleargate import __version__
from cleargate.config.serving import ServingConfig
from cleargate.serving.model_follower import Follower, Loaded
from cleargate.serving.online_metrics import ServerMetrics
from cleargate.serving.online_requests import RequestRefused, decode_json
from cleargate.serving.registry_webhook import alias_event, verify
from cleargate.serving.shadow_scoring import Shadow
from cleargate.serving.traffic_log import TrafficLog

log = logging.getLogger("cleargate.serving")
JSON = "application/json"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DRAIN = 4           # a body up to this many times the limit is read (and dropped) before the 413


@dataclass
class ServerState:
    """Everything one server answers with; `key` is the followed alias (or `v<N>` for a pinned version)."""

    name: str
    key: str
    follower: Follower
    serving: ServingConfig
    metrics: ServerMetrics
    traffic: TrafficLog
    shadow: Shadow | None
    token: str | None
    webhook_secret: str | None
    pool: ThreadPoolExecutor
    pinned: bool = False                 # NAME/VERSION: `key` names a version, not an alias
    on_stop: list[Callable[[], None]] = field(default_factory=list)


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, headers, media_type=JSON)


def _refused(exc: RequestRefused) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 and exc.check == "auth" else None
    return _json(exc.body(), exc.status, headers)


def build_app(state: ServerState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for stop in state.on_stop:  # after the last request in flight: flush to the inbox, stop the threads
            stop()

    app = FastAPI(title=f"cleargate: {state.name}", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)

    def authorised(request: Request) -> None:
        if state.token is None:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), state.token.encode())):
            raise RequestRefused(401, "auth", "missing or wrong bearer token: send Authorization: Bearer <token> "
                                 "(CLEARGATE_SERVING_TOKEN; the team stack's is in .stack/env)")

    async def body(request: Request) -> bytes:
        """The body, up to serving.max_body_bytes. A body a little over is read to its end before the 413, so a
        keep-alive connection stays usable; a far larger one is not read (uvicorn then closes the connection)."""
        declared = request.headers.get("content-length")
        limit = state.serving.max_body_bytes
        if declared is not None and (not declared.isdigit() or int(declared) > DRAIN * limit):
            raise RequestRefused(413, "body", f"request body of {declared} bytes; serving.max_body_bytes allows "
                                 f"{limit}: send fewer rows per request")

        async def read() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > DRAIN * limit:
                    break
                if size <= limit:
                    chunks.append(chunk)
            if size > limit:
                raise RequestRefused(413, "body", f"request body over serving.max_body_bytes ({limit} bytes): "
                                     "send fewer rows per request")
            return b"".join(chunks)

        try:
            return await asyncio.wait_for(read(), state.serving.request_timeout_s)
        except TimeoutError:
            raise RequestRefused(408, "timeout", f"request body not received within serving.request_timeout_s "
                                 f"({state.serving.request_timeout_s:g} s)") from None

    def json_body(request: Request) -> None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != JSON:
            raise RequestRefused(415, "content_type", f"Content-Type {kind or '(none)'}: send {JSON} (MLflow's "
                                 "JSON request shapes)")

    @app.exception_handler(RequestRefused)
    async def refused(request: Request, exc: RequestRefused) -> Response:
        endpoint = request.url.path.strip("/").split("/")[0] or "root"
        state.metrics.failed(endpoint, exc.status, exc.check, time.perf_counter() - request.state.started
                             if hasattr(request.state, "started") else None)
        return _refused(exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s: unexpected %s: %s", request.method, request.url.path, type(exc).__name__,
                  str(exc).splitlines()[0][:300] if str(exc) else "")
        state.metrics.failed(request.url.path.strip("/") or "root", 500, "unexpected")
        return JSONResponse({"error_code": "INTERNAL_ERROR", "message": f"unexpected {type(exc).__name__} in the "
                             "server; its log has the details", "check": "unexpected"}, 500)

    def health() -> Response:
        loaded = state.follower.get(state.key)
        if loaded is None:
            return _json({"status": "waiting", "model": f"{state.name}@{state.key}"}, 503)
        return _json({"status": "ok", "model": state.name, "version": loaded.version})

    app.get("/health")(health)
    app.get("/ping")(health)

    @app.get("/version")
    def version(request: Request) -> Response:
        authorised(request)
        loaded = state.follower.get(state.key)
        return _json({"name": state.name, "alias": None if state.pinned else state.key, **_describe(loaded),
                      "refused_swaps_total": state.follower.refused_total,
                      "refused_swaps": [vars(r) for r in state.follower.refused],
                      "resolutions": state.follower.resolutions,
                      "shadow": state.shadow.state() if state.shadow is not None else None,
                      "server": f"cleargate {__version__}"})

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        authorised(request)
        return Response(state.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        request.state.started = started = time.perf_counter()
        authorised(request)
        json_body(request)
        given = request.headers.get("x-request-id")
        if given is not None and not REQUEST_ID.match(given):
            raise RequestRefused(400, "request_id", "X-Request-Id: 1 to 64 letters, digits or ._:- only",
                                 field="X-Request-Id")
        request_id = given or uuid.uuid4().hex
        raw = await body(request)
        loaded = state.follower.get(state.key)  # the version this request is answered by, whatever moves now
        if loaded is None:
            raise RequestRefused(503, "model", f"{state.name}@{state.key} names no version yet; waiting for one")
        future = asyncio.get_running_loop().run_in_executor(state.pool, _answer, state, loaded, raw, request_id)
        try:
            labels = await asyncio.wait_for(future, state.serving.request_timeout_s)
        except TimeoutError:
            raise RequestRefused(504, "timeout", f"no answer within serving.request_timeout_s "
                                 f"({state.serving.request_timeout_s:g} s)") from None
        state.metrics.answered(len(labels), time.perf_counter() - started)
        return _json({"predictions": labels, "request_id": request_id}, 200,
                     {"X-Request-Id": request_id, "X-Model-Version": loaded.version})

    @app.post("/feedback")
    async def feedback(request: Request) -> Response:
        request.state.started = time.perf_counter()
        authorised(request)
        json_body(request)
        payload = decode_json(await body(request))
        items = payload if isinstance(payload, list) else [payload]
        accepted = 0
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str) or \
                    ("labels" in item) == ("label" in item):
                raise RequestRefused(400, "shape", f"feedback[{i}]: send {{\"request_id\": ..., \"labels\": [one "
                                     "per row]}} or {\"request_id\": ..., \"label\": ...} for a one-row request",
                                     field=f"feedback[{i}]")
            labels = item["labels"] if "labels" in item else [item["label"]]
            if not isinstance(labels, list):
                raise RequestRefused(400, "shape", f"feedback[{i}].labels: a list, one label per row",
                                     field="labels")
            accepted += state.traffic.feedback(item["request_id"], labels)
        state.metrics.feedback.inc(accepted)
        state.metrics.requests.labels("feedback", "200").inc()
        return _json({"accepted_rows": accepted})

    @app.post("/webhooks/mlflow")
    async def webhook(request: Request) -> Response:
        raw = await body(request)
        if state.webhook_secret:
            verify(state.webhook_secret, request.headers, raw)
        event = alias_event(raw, state.name, state.follower.aliases)
        if event is None:
            return _json({"status": "ignored"})
        log.info("%s: registry webhook (%s): re-resolving now", state.name, event)
        state.follower.wake()
        return _json({"status": "re-resolving", "event": event})

    return app


def _answer(state: ServerState, loaded: Loaded, raw: bytes, request_id: str) -> list[Any]:
    """On a worker thread: parse, check, predict; then the traffic record and the shadow (after the answer
    is known, before it is sent: both only append to queues)."""
    frame, labels = loaded.answer(raw, state.serving.max_rows)
    state.traffic.add(request_id, frame, loaded.version, labels)
    if state.shadow is not None:
        state.shadow.submit(request_id, frame, loaded.version, labels)
    return labels.tolist()


def _describe(loaded: Loaded | None) -> dict[str, Any]:
    if loaded is None:
        return {"version": None, "status": "waiting"}
    return {"version": loaded.version, "status": "serving", "run_id": loaded.run_id, "lineage_commit": loaded.commit,
            "loaded_at": loaded.loaded_at, "load_s": round(loaded.load_s, 2)}
