"""The HTTP decision service (SPEC §8): a thin Starlette layer over `Policy.evaluate`.

`create_app(watcher, log, ...)` wires the endpoints; the policy comes from a `PolicyWatcher`
(hot reload, `smrules.reload`) and every decision is committed to a `DecisionLog` before it is
answered. Evaluation and the wait for the log's commit run in the thread pool, so the event loop
stays free for other requests and `/healthz`.

Every answer is JSON, errors included: `{"error": message}`, and for an invalid activity the
error record of the command line (SPEC §7) `{"index", "error", "problems": [{path, message}]}`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .decisionlog import DecisionLog, LoggedDecision, new_entry
from .engine import Policy
from .errors import ActivityError, Problem
from .reload import PolicyWatcher
from .values import format_instant

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_BATCH = 1000
OPEN_PATHS = frozenset({"/healthz"})  # liveness probes need no token
JSON_TYPE = "application/json"


class Problem4xx(Exception):
    """A request the service refuses, with the JSON body to answer."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def error_body(message: str) -> dict[str, object]:
    return {"error": message}


def request_record(message: str) -> dict[str, object]:
    """An error record (SPEC §7) about the request body as a whole: no item index."""
    return {"index": None, "error": message, "problems": [Problem("", message).to_dict()]}


# ------------------------------------------------------------------ request bodies


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing with 413 as soon as it is known to exceed `limit` bytes."""
    too_large = Problem4xx(413, error_body(f"request body exceeds the limit of {limit} bytes"))
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Problem4xx(400, error_body("invalid Content-Length header"))
        if int(declared) > limit:
            raise too_large  # without reading any of it
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> object:
    raise ValueError(f"`{name}` is not valid JSON")


def parse_json(body: bytes) -> object:
    """Strict JSON (no NaN or Infinity); 400 with the parser's message otherwise."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        message = "request body is not valid UTF-8"
    except RecursionError:
        message = "request body is not valid JSON: nested too deeply"
    except ValueError as err:
        message = f"request body is not valid JSON: {err}"
    raise Problem4xx(400, request_record(message))


# ------------------------------------------------------------------ deciding


def decide_one(policy: Policy, log: DecisionLog, activity: object) -> LoggedDecision:
    """Evaluate and log one activity (in a worker thread). Raises `ActivityError`."""
    entry = new_entry(policy.evaluate(activity))  # type: ignore[arg-type]
    log.append([entry])
    return entry


def decide_batch(
    policy: Policy, log: DecisionLog, activities: list[object]
) -> list[LoggedDecision | ActivityError]:
    """Evaluate a batch with one policy, log its decisions in one transaction, keep order."""
    results: list[LoggedDecision | ActivityError] = [
        r if isinstance(r, ActivityError) else new_entry(r)
        for r in policy.evaluate_many(activities, errors="yield")
    ]
    log.append([r for r in results if isinstance(r, LoggedDecision)])
    return results


# ------------------------------------------------------------------ the application


class BearerAuth:
    """ASGI middleware: every path but `OPEN_PATHS` needs `Authorization: Bearer TOKEN`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            error_body("missing or wrong bearer token"),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="smrules"'},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    return hmac.compare_digest(credentials.strip(), self.token)
        return False


def create_app(
    watcher: PolicyWatcher,
    log: DecisionLog,
    *,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> ASGIApp:
    """The ASGI application. Starts the watcher on startup; closes the log on shutdown."""

    async def decisions(request: Request) -> Response:
        activity = parse_json(await read_body(request, max_body))
        policy = watcher.policy  # one policy for the whole request, even if a reload lands
        try:
            entry = await run_in_threadpool(decide_one, policy, log, activity)
        except ActivityError as err:
            return JSONResponse(err.to_record(), status_code=422)
        return Response(entry.document, media_type=JSON_TYPE)

    async def batch(request: Request) -> Response:
        activities = parse_json(await read_body(request, max_body))
        if not isinstance(activities, list):
            raise Problem4xx(422, request_record("a batch must be a JSON list of activities"))
        if len(activities) > max_batch:
            raise Problem4xx(
                413,
                error_body(
                    f"a batch of {len(activities)} activities exceeds the limit of {max_batch}"
                ),
            )
        policy = watcher.policy
        results = await run_in_threadpool(decide_batch, policy, log, activities)
        items = [
            r.document
            if isinstance(r, LoggedDecision)
            else json.dumps(r.to_record(), ensure_ascii=False, separators=(",", ":"))
            for r in results
        ]
        return Response("[" + ",".join(items) + "]", media_type=JSON_TYPE)

    async def policy_info(request: Request) -> Response:
        policy = watcher.policy
        error = watcher.last_error
        return JSONResponse(
            {
                "name": policy.name,
                "version": policy.version,
                "title": policy.title,
                "digest": policy.digest,
                "loaded_at": format_instant(watcher.loaded_at),
                "rules": [rule.to_dict() for rule in policy.rules],
                "last_reload_error": error.to_dict() if error else None,
            }
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(max_body, max_batch))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            log.close()

    app = Starlette(
        routes=[
            Route("/v1/decisions", decisions, methods=["POST"]),
            Route("/v1/decisions/batch", batch, methods=["POST"]),
            Route("/v1/policy", policy_info, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={
            Problem4xx: _problem,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    return BearerAuth(app, token) if token is not None else app


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem4xx)
    return JSONResponse(exc.body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such endpoint", 405: "method not allowed"}
    return JSONResponse(
        error_body(messages.get(exc.status_code, str(exc.detail))),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this answer, so the server logs the traceback for the operator;
    # the caller only learns that no decision was returned.
    return JSONResponse(error_body("internal error: no decision was returned"), status_code=500)


# ------------------------------------------------------------------ OpenAPI


def openapi_document(max_body: int, max_batch: int) -> dict[str, Any]:
    """OpenAPI 3.1; the activity and decision schemas are the shipped JSON Schemas."""
    from . import __version__
    from .schemas import load_schema

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    def body(schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"description": description, "content": {JSON_TYPE: {"schema": schema}}}

    error = body(ref("Error"), "The request was refused.")
    logged = {"allOf": [ref("Decision"), {"required": ["decision_id"]}]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smrules decision service",
            "version": __version__,
            "description": (
                "Checks social media activities against a policy. Every decision is written to "
                f"the decision log before it is answered. Request bodies are limited to {max_body} "
                f"bytes and batches to {max_batch} activities."
            ),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/decisions": {
                "post": {
                    "summary": "Decide one activity",
                    "operationId": "decide",
                    "requestBody": {
                        "required": True,
                        "content": {JSON_TYPE: {"schema": ref("Activity")}},
                    },
                    "responses": {
                        "200": body(logged, "The decision, with its id in the decision log."),
                        "400": body(ref("ErrorRecord"), "The body is not JSON."),
                        "401": error,
                        "413": error,
                        "422": body(ref("ErrorRecord"), "The activity is invalid."),
                        "500": error,
                    },
                }
            },
            "/v1/decisions/batch": {
                "post": {
                    "summary": "Decide a list of activities",
                    "operationId": "decideBatch",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON_TYPE: {"schema": {"type": "array", "items": ref("Activity")}}
                        },
                    },
                    "responses": {
                        "200": body(
                            {
                                "type": "array",
                                "items": {"oneOf": [logged, ref("ErrorRecord")]},
                            },
                            "One item per activity, in input order: its decision, or an error "
                            "record when it is invalid.",
                        ),
                        "400": body(ref("ErrorRecord"), "The body is not JSON."),
                        "401": error,
                        "413": body(ref("Error"), "The body or the batch is too large."),
                        "422": body(ref("ErrorRecord"), "The body is not a list."),
                        "500": error,
                    },
                }
            },
            "/v1/policy": {
                "get": {
                    "summary": "The policy being served",
                    "operationId": "policy",
                    "responses": {"200": body(ref("PolicyInfo"), "The policy."), "401": error},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness; needs no token",
                    "operationId": "health",
                    "security": [],
                    "responses": {
                        "200": body(
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"const": "ok"}},
                            },
                            "The service is up.",
                        )
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": body({"type": "object"}, "OpenAPI 3.1."), "401": error},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required when the service runs with `--token-file`.",
                }
            },
            "schemas": {
                **_components("Activity", load_schema("activity")),
                **_components("Decision", load_schema("decision")),
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "ErrorRecord": {
                    "type": "object",
                    "required": ["index", "error", "problems"],
                    "properties": {
                        "index": {"type": ["integer", "null"]},
                        "error": {"type": "string"},
                        "problems": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path", "message"],
                                "properties": {
                                    "path": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "PolicyInfo": _policy_info_schema(),
            },
        },
    }


def _components(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A shipped JSON Schema as OpenAPI components: `Name` plus `Name_def` for each `$defs` entry.

    OpenAPI tools resolve `#/...` against the whole document, so the schema's own `$defs`
    references are rewritten to point at the components.
    """
    prefix = "#/$defs/"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k not in ("$schema", "$id", "$defs")}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                out["$ref"] = f"#/components/schemas/{name}_{ref[len(prefix) :]}"
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    defs = schema.get("$defs", {})
    return {name: rewrite(schema), **{f"{name}_{k}": rewrite(v) for k, v in defs.items()}}


def _policy_info_schema() -> dict[str, Any]:
    nullable = {"type": ["string", "null"]}
    rule = {
        "type": "object",
        "required": ["id", "effect", "mode", "waivable", "tags", "source"],
        "properties": {
            "id": {"type": "string"},
            "effect": {"enum": ["deny", "warn", "allow"]},
            "title": nullable,
            "description": nullable,
            "risk": nullable,
            "severity": nullable,
            "ref": nullable,
            "owner": nullable,
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string"},
            "waivable": {"type": "boolean"},
            "source": {
                "type": "object",
                "properties": {
                    "file": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                },
            },
        },
    }
    return {
        "type": "object",
        "required": ["name", "version", "digest", "rules", "last_reload_error"],
        "properties": {
            "name": {"type": "string"},
            "version": nullable,
            "title": nullable,
            "digest": {"type": "string", "pattern": "^sha256:"},
            "loaded_at": {"type": "string", "format": "date-time"},
            "rules": {"type": "array", "items": rule},
            "last_reload_error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["time", "message", "diagnostics"],
                        "properties": {
                            "time": {"type": "string", "format": "date-time"},
                            "message": {"type": "string"},
                            "diagnostics": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                ]
            },
        },
    }
