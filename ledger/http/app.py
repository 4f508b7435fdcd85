"""The ASGI application: ``create_app(settings)`` builds it; nothing connects until it starts.

On start-up (the lifespan) it opens the ledger application, the read models, the API-key and
idempotency tables, and starts the group-commit writer (:mod:`ledger.http.committer`). Commands
go through the writer; reads go straight to the read models (or, with ``as_of``, to the events)
from worker threads, so they never wait behind writes. Responses larger than
:data:`GZIP_MINIMUM_BYTES` are gzip-compressed for a client that accepts it (pages, JSON, problems).

The use cases have one public entry point each, on :class:`ServerState`, which the JSON routes
and the portal (:mod:`ledger.http.portal.server_door`) both call: :meth:`ServerState.run_command`,
:meth:`~ServerState.customers` / :meth:`~ServerState.visible_customers` /
:meth:`~ServerState.visible_customer`, :meth:`~ServerState.view` and :meth:`~ServerState.history`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NamedTuple
from uuid import UUID

import anyio.to_thread
import orjson
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response

from aggregates.customer.rules import next_change
from aggregates.errors import InvalidInput, LedgerError
from aggregates.timeutil import as_utc
from commands.auth import Principal
from commands.models import Command
from commands.parsing import parse_as_of, parse_command
from ledger.answers import AlreadyAnswered, Answer
from ledger.app import LedgerApplication
from ledger.auth.apikeys import ApiKeyStore
from ledger.auth.principal import (
    Authenticator,
    IdTokenVerifier,
    NoIdTokens,
    Unauthenticated,
    bearer_credential,
    looks_like_id_token,
)
from ledger.config import Settings
from ledger.http import openapi, problems
from ledger.http.access import CustomerAccess, customer_access_on, role_on, visible_customers, visible_role
from ledger.http.committer import Committer
from ledger.http.idempotency import IdempotencyStore, fingerprint
from ledger.http.problems import Refusal, customer_not_found, problem_response, refusal_body
from ledger.http.viewcache import Page, ViewCache

VIEWS = ("contracts", "rooms", "spares", "access", "tickets")
CLOCK_SKEW = timedelta(minutes=5)
MAX_BODY = 1_000_000
READ_THREADS = 16
GZIP_MINIMUM_BYTES = 1000  # smaller bodies are sent as they are (gzip would save little or grow them)
GZIP_LEVEL = 6
PAGE_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "contracts": lambda row: row["po_number"],
    "rooms": lambda row: row["room_id"],
    "spares": lambda row: row["customer_id"],
    "access": lambda row: row["customer_id"],
    "tickets": lambda row: row["ticket_id"],
    "history": lambda row: row["position"],
    "customers": lambda row: row["customer_id"],
}

Limit = Annotated[
    int | None, Query(ge=1, le=1000, description="at most this many rows; a Link header gives the next page")
]
Cursor = Annotated[str | None, Query(max_length=500, description="from a previous page's Link header")]
AsOf = Annotated[str | None, Query(max_length=64, description="ISO 8601: the view as it was at that time")]
VerifierFactory = Callable[["ServerState"], IdTokenVerifier]


@dataclass
class ServerState:
    """What the routes use; built on start-up, closed on shutdown. Its public methods are the
    application's entry points over HTTP (one per use case), shared by ``/v1`` and the portal."""

    settings: Settings
    app: LedgerApplication
    committer: Committer
    api_keys: ApiKeyStore
    idempotency: IdempotencyStore
    authenticator: Authenticator
    views: ViewCache | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The moment a live view is computed for (the time now; tests move it across a view's changes)."""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.committer.models.engine

    # -- the use cases: the one public entry point of each, shared by the JSON API and the portal --

    async def run_command(
        self,
        raw: Any,
        principal: Principal,
        path_fields: dict[str, Any] | None = None,
        key_id: str | None = None,
        answer: Answer | None = None,
    ) -> Outcome:
        """Run one command (the JSON of SPEC section 4 without ``actor``) as ``principal``.

        The command is parsed (``actor`` refused, ``at`` bounded for non-ops), authorized and
        recorded through the group-commit writer, exactly as ``POST /v1/commands`` does it.
        Returns the HTTP status and the result object (200) or the RFC 9457 problem body; a
        refusal is never raised. ``path_fields`` come from a resource-style route and must agree
        with the body; ``key_id`` is an API key to check for revocation just before the command runs;
        ``answer``: the request's ``Idempotency-Key``, recorded with the command's events.
        """
        customer_id = raw.get("customer_id") if isinstance(raw, dict) else None
        try:
            command = _build_command(raw, principal, path_fields)
        except LedgerError as refusal:
            if key_id is not None and not await run_in_threadpool(self.api_keys.active, {key_id}):
                return Outcome(*refusal_body(Unauthenticated(
                    "authorization: the API key is not valid or has been revoked (R23)", rule="R23",
                    field="authorization",
                )))
            return Outcome(*refusal_body(refusal))
        customer_id = getattr(command, "customer_id", None) or customer_id
        outcome = await asyncio.wrap_future(self.committer.submit(command, principal, key_id, answer))
        if isinstance(outcome, LedgerError):
            return Outcome(*refusal_body(outcome, customer_id))
        return Outcome(200, outcome)

    def visible_customers(self, principal: Principal) -> list[tuple[CustomerAccess, str]]:
        """The customers ``principal`` may see, each with its role there (R16–R18)."""
        return visible_customers(self.app, self.engine, principal)

    def visible_customer(self, principal: Principal, customer_id: UUID) -> tuple[CustomerAccess, str] | None:
        """One customer and the principal's role there; None if it may not see it (or it does not exist)."""
        return visible_role(self.app, self.engine, principal, customer_id)

    def customers(self, principal: Principal) -> list[dict[str, Any]]:
        """The rows of ``GET /v1/customers``: id, name and role of each customer ``principal`` may see."""
        return [
            {"customer_id": str(facts.id), "name": facts.name, "role": role}
            for facts, role in self.visible_customers(principal)
        ]

    def view(
        self, principal: Principal, customer_id: UUID, name: str, as_of: datetime | None = None,
        *, after: str | None = None, limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """One customer's view ``name`` (one of :data:`VIEWS`) now, or as of a time (R20).

        The rows of ``ledger view NAME --json``. Raises the not-found refusal (404) for a customer
        the principal may not see, exactly as for one that does not exist. ``after``/``limit``: one
        page of a live view of :data:`ledger.readside.PAGED_IN_QUERY`, read as a page.
        """
        from ledger.readside import TIMED_VIEWS, customer_view_as_of, live_view

        if as_of is None and after is None and limit is None and name in TIMED_VIEWS:
            rows: list[dict[str, Any]] = orjson.loads(self.view_page(principal, customer_id, name).body)
            return rows
        if after is not None or limit is not None:
            if self.visible_customer(principal, customer_id) is None:
                raise _not_visible(customer_id)
            return live_view(self.app, self.committer.models, name, self.clock(), customer_id,
                             after=after, limit=limit)

        if name not in VIEWS:
            raise InvalidInput(f"view: {name!r} is not one of {', '.join(VIEWS)}", field="view")
        if self.visible_customer(principal, customer_id) is None:
            raise _not_visible(customer_id)
        if as_of is not None:
            return customer_view_as_of(self.app, name, customer_id, as_of)
        return live_view(self.app, self.committer.models, name, self.clock(), customer_id)

    def view_page(
        self, principal: Principal, customer_id: UUID, name: str, *, after: str | None = None,
        limit: int | None = None,
    ) -> Page:
        """One customer's live view ``name`` (of :data:`ledger.readside.TIMED_VIEWS`) as its JSON body, or
        the page of at most ``limit`` rows after ``after`` (views paged in their query) with the key of its
        last row when more follow. Visibility first (404 as :meth:`view`), then the view cache
        (:mod:`ledger.http.viewcache`: an answer served from it is the answer a fresh read gives)."""
        from ledger.readside import live_view

        key, stamp, now, found = self._cached_page(principal, customer_id, name, after, limit)
        if found is not None:
            return found
        changes: list[datetime] = []
        rows = live_view(self.app, self.committer.models, name, now, customer_id, after=after,
                         limit=None if limit is None else limit + 1, changes=changes)
        next_key = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            next_key = PAGE_KEYS[name](rows[-1])
        page = Page(orjson.dumps(rows), next_key)
        if self.views is not None:
            self.views.put(key, stamp, now, next_change(changes, now), page)
        return page

    def _cached_page(
        self, principal: Principal, customer_id: UUID, name: str, after: str | None, limit: int | None
    ) -> tuple[tuple[Any, ...], Any, datetime, Page | None]:
        from ledger.readside import PAGED_IN_QUERY, TIMED_VIEWS

        if name not in TIMED_VIEWS or ((after is not None or limit is not None) and name not in PAGED_IN_QUERY):
            raise ValueError(f"view_page: no cached answers of the {name} view with after/limit")
        cache = self.views
        with self.engine.connect() as conn:  # one connection for the access facts and the stamp
            facts = customer_access_on(conn, customer_id)
            if role_on(self.app, principal, facts) is None:
                raise _not_visible(customer_id)
            stamp = cache.stamp(name, customer_id, conn) if cache is not None else None
        key = (customer_id, name, after, limit)
        now = self.clock()
        return key, stamp, now, cache.get(key, stamp, now) if cache is not None else None

    def history(self, principal: Principal, customer_id: UUID, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every event of one customer in order (up to ``as_of``), as ``ledger history --json``; 404 as :meth:`view`."""
        if self.visible_customer(principal, customer_id) is None:
            raise _not_visible(customer_id)
        return self.app.history(customer_id, as_of)


class Outcome(NamedTuple):
    """What :meth:`ServerState.run_command` answers: the HTTP status and the result or problem body."""

    status: int
    body: dict[str, Any]


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ledger
    return state


Authorization = Annotated[str | None, Header(include_in_schema=False)]  # documented as the bearer scheme


async def authenticate(request: Request, authorization: Authorization = None) -> Principal:
    """The request's principal (R21, R23); 401 for a missing, bad, expired or revoked credential.

    An API key is one primary-key read (readers never wait on SQLite in WAL mode, nor on
    PostgreSQL), done on the event loop; an ID token goes to a worker thread, since verifying it
    may fetch the issuer's keys.
    """
    authenticator = _state(request).authenticator
    credential = bearer_credential(authorization)
    if looks_like_id_token(credential):
        return await run_in_threadpool(authenticator.id_token_principal, credential)
    return authenticator.api_keys.principal_for(credential)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def bearer(authorization: Authorization = None) -> str:
    """The request's bearer credential, its shape checked (401 when missing or not Bearer, as
    :func:`authenticate`); the route verifies it on its worker thread (:func:`_principal`)."""
    return bearer_credential(authorization)


CredentialDep = Annotated[str, Depends(bearer)]


def _principal(state: ServerState, credential: str) -> Principal:
    """The principal of a bearer credential (R21, R23), blocking: an ID token verified, or an API key read."""
    if looks_like_id_token(credential):
        return state.authenticator.id_token_principal(credential)
    return state.authenticator.api_keys.principal_for(credential)


async def _command_principal(
    request: Request, authorization: str | None, idempotency_key: str | None
) -> tuple[Principal, str | None]:
    """The principal of a command request. An API key seen before is checked in memory here and
    for revocation by the writer, once per group, just before the command runs (``key_id``); with an
    ``Idempotency-Key`` (whose stored answer would be replayed at once) it is read here."""
    authenticator = _state(request).authenticator
    credential = bearer_credential(authorization)
    if looks_like_id_token(credential):
        return await run_in_threadpool(authenticator.id_token_principal, credential), None
    keys = authenticator.api_keys
    if idempotency_key is not None or not isinstance(keys, ApiKeyStore):
        return keys.principal_for(credential), None
    principal, key_id = keys.resolve_deferred(credential)
    return principal, key_id


def _parse_as_of(value: str | None) -> datetime | None:
    return None if value is None else parse_as_of(value, "as_of")


def _decode_cursor(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned", field="cursor") from None


def _encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _page(
    request: Request, kind: str, rows: list[dict[str, Any]], limit: int | None, cursor: str | None
) -> JSONResponse:
    """The rows after ``cursor`` (by the list's key), at most ``limit``; a ``Link: rel="next"`` if more."""
    key = PAGE_KEYS[kind]
    after = _decode_cursor(cursor)
    if after is not None:
        try:
            rows = [r for r in rows if key(r) > after]
        except TypeError:
            raise InvalidInput("cursor: not a cursor of this list", field="cursor") from None
    headers = {}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        next_url = request.url.include_query_params(cursor=_encode_cursor(key(rows[-1])), limit=limit)
        headers["Link"] = f'<{next_url}>; rel="next"'
    return JSONResponse(rows, headers=headers)


def _not_visible(customer_id: UUID) -> Refusal:
    return Refusal(customer_not_found(customer_id))


def _build_command(raw: Any, principal: Principal, path_fields: dict[str, Any] | None = None) -> Command:
    if not isinstance(raw, dict):
        raise InvalidInput(
            "command: the body must be a JSON object with a 'command' field (R18)",
            rule="R18", field="command", code="malformed",
        )
    if "actor" in raw:
        raise InvalidInput(
            "actor: is not accepted over HTTP; the actor is the authenticated principal (R18)",
            rule="R18", field="actor", code="actor_not_allowed",
        )
    if path_fields:
        for name, value in path_fields.items():
            if name in raw and raw[name] != value:
                raise InvalidInput(f"{name}: differs from the path", field=name)
        raw = {**raw, **path_fields}
    # The models require an actor: validate with a stand-in, then record the principal.
    command = parse_command({**raw, "actor": "ops"})
    command = command.model_copy(update={"actor": principal.actor})
    if command.at is not None and not principal.ops and as_utc(command.at) > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidInput(
            f"at: a portal principal cannot date a command more than {int(CLOCK_SKEW.total_seconds() // 60)} "
            "minutes in the future (R20)",
            rule="R20", field="at", code="at_in_future",
        )
    return command


async def _run_command(
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
    path_fields: dict[str, Any] | None = None,
    key_id: str | None = None,
) -> JSONResponse:
    state = _state(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput("command: the body is larger than 1 MB", field="command", code="malformed")
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "command: the body is not valid JSON; nothing recorded (R18)", rule="R18", field="command",
            code="malformed_json",
        ) from None
    answer: Answer | None = None
    if idempotency_key is not None:
        state.idempotency.check_key(idempotency_key)
        print_ = fingerprint(request.method, request.url.path, raw)
        replay = await run_in_threadpool(state.idempotency.lookup, principal.actor, idempotency_key, print_)
        if replay is not None:
            return _replayed(*replay)
        answer = state.idempotency.answer(principal.actor, idempotency_key, print_)
    status, result = await state.run_command(raw, principal, path_fields, key_id, answer)
    if answer is not None:
        if result.get("code") == AlreadyAnswered.code:  # another request recorded this key first
            replay = await run_in_threadpool(state.idempotency.lookup, principal.actor, answer.key, answer.fingerprint)
            if replay is not None:
                return _replayed(*replay)
        elif result.get("code") != "concurrency_conflict" and not (status == 200 and result.get("events")):
            # no events, so no transaction recorded the answer: store it now (a lost race is not stored)
            first = await run_in_threadpool(
                state.idempotency.store, principal.actor, answer.key, answer.fingerprint, status, result
            )
            if first is not None:
                return _replayed(*first)
    if status == 200:
        return JSONResponse(result)
    return problem_response(status, result)


def _replayed(status: int, stored: dict[str, Any]) -> JSONResponse:
    if status == 200:
        return JSONResponse(stored, headers={"Idempotent-Replayed": "true"})
    return problem_response(status, stored, {"Idempotent-Replayed": "true"})


def _ready(state: ServerState) -> tuple[bool, dict[str, Any]]:
    """Store reachable, schema current, each stop-policy projection within its lag bound (``ledger.ops.health``)."""
    from ledger.ops.health import readiness

    return readiness(state.app, state.committer.models)


def _open_state(
    settings: Settings,
    verifier: IdTokenVerifier | VerifierFactory | None,
    build: Callable[[Settings], LedgerApplication],
) -> ServerState:
    from ledger.readside import open_read_models

    app = build(settings)
    try:
        models = open_read_models(app)
        api_keys = ApiKeyStore(models.engine, settings.secret_key)
        committer = Committer(app, models, active_keys=api_keys.active)
        committer.catch_up()
        idempotency = IdempotencyStore(models.engine, settings.secret_key)
        state = ServerState(
            settings=settings, app=app, committer=committer, api_keys=api_keys, idempotency=idempotency,
            authenticator=Authenticator(NoIdTokens(), api_keys), views=ViewCache(models.engine, app.recorder),
        )
        if verifier is not None:
            state.authenticator.verifier = verifier if hasattr(verifier, "verify") else verifier(state)  # type: ignore[operator]
    except BaseException:
        app.close()
        raise
    return state


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {}


def create_app(
    settings: Settings | None = None,
    *,
    verifier: IdTokenVerifier | VerifierFactory | None = None,
    configure: Callable[[FastAPI], None] | None = None,
    build: Callable[[Settings], LedgerApplication] | None = None,
) -> FastAPI:
    """The ASGI application of ``ledger serve``.

    ``settings`` None builds an app that only serves its OpenAPI document (``ledger openapi``).
    ``build`` makes the ledger application for ``settings`` on start-up (``ledger.bootstrap.wire``,
    given by the bootstrap, which this module does not import); it is needed with ``settings``.
    ``verifier`` checks OpenID Connect ID tokens (an object, or a factory called with the
    :class:`ServerState` on start-up); without one every ID token is refused. ``configure`` runs
    on the app before the routes are added (middleware: metrics, correlation ids).
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if settings is None or build is None:
            raise RuntimeError("create_app() without settings and build serves no requests")
        anyio.to_thread.current_default_thread_limiter().total_tokens = READ_THREADS
        state = await run_in_threadpool(_open_state, settings, verifier, build)
        state.committer.start()
        api.state.ledger = state
        try:
            yield
        finally:
            await run_in_threadpool(state.committer.stop)
            state.committer.models.close()
            state.app.close()

    api = FastAPI(
        title="Select entitlement ledger",
        version="1",
        description="Commands and views of the Select entitlement ledger (SPEC section 6).",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    problems.install(api)
    from ledger.http import middleware

    middleware.install(api)
    if configure is not None:
        configure(api)
    # Outermost, so it compresses what every other middleware produced (pages, JSON, problems).
    api.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)

    def document() -> dict[str, Any]:
        if api.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            api.openapi_schema = openapi.finish(
                get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            )
        return api.openapi_schema

    api.openapi = document  # type: ignore[method-assign]

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(document())

    @api.get("/livez", tags=["operations"], summary="The process is alive")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["operations"], summary="The store and read models answer")
    def readyz(request: Request) -> JSONResponse:
        try:
            ready, body = _ready(_state(request))
            return JSONResponse(body, status_code=200 if ready else 503)
        except Exception:
            body = problems.problem_body(503, "not_ready", "the store or the read models cannot be reached", None, None)
            return problem_response(503, body)

    command_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}},
        }
    }
    result_response: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "Accepted: the result `ledger apply` prints",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommandResult"}}},
        }
    }

    @api.post(
        "/v1/commands", tags=["commands"], summary="Run one command of SPEC section 4 (without actor)",
        openapi_extra=command_body, responses=result_response, response_model=None,
    )
    async def post_command(
        request: Request,
        authorization: Authorization = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
    ) -> JSONResponse:
        principal, key_id = await _command_principal(request, authorization, idempotency_key)
        return await _run_command(request, principal, idempotency_key, key_id=key_id)

    rows_response: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The rows of the view, as `ledger view NAME --json` prints them",
            "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
        }
    }

    @api.get("/v1/customers", tags=["views"], summary="The customers the principal may see", responses=rows_response)
    def list_customers(
        request: Request, principal: PrincipalDep, limit: Limit = None, cursor: Cursor = None
    ) -> JSONResponse:
        return _page(request, "customers", _state(request).customers(principal), limit, cursor)

    def view_route(name: str) -> None:
        def read_view(
            request: Request, customer_id: UUID, credential: CredentialDep,
            as_of: AsOf = None, limit: Limit = None, cursor: Cursor = None,
        ) -> Response:
            from ledger.readside import PAGED_IN_QUERY, TIMED_VIEWS

            # On a worker thread, all of it (one hop): the credential's check (an API key's read, or an
            # ID token's verification), visibility, the view cache's stamp and the view.
            principal = _principal(_state(request), credential)
            moment = _parse_as_of(as_of)
            if moment is None and name in TIMED_VIEWS and (
                (limit is None and cursor is None) or (limit is not None and name in PAGED_IN_QUERY)
            ):
                after = _decode_cursor(cursor)
                if after is not None and not isinstance(after, str):
                    raise InvalidInput("cursor: not a cursor of this list", field="cursor")
                page = _state(request).view_page(principal, customer_id, name, after=after, limit=limit)
                headers = {}
                if page.next_key is not None:
                    next_url = request.url.include_query_params(cursor=_encode_cursor(page.next_key), limit=limit)
                    headers["Link"] = f'<{next_url}>; rel="next"'
                return Response(page.body, media_type="application/json", headers=headers)
            rows = _state(request).view(principal, customer_id, name, moment)
            return _page(request, name, rows, limit, cursor)

        api.add_api_route(
            f"/v1/customers/{{customer_id}}/{name}", read_view, methods=["GET"], tags=["views"],
            summary=f"The {name} view of one customer (now, or as of a time)", responses=rows_response,
            name=f"view_{name}",
        )

    for view_name in VIEWS:
        view_route(view_name)

    @api.get("/v1/customers/{customer_id}/history", tags=["views"], summary="Every event of one customer, in order",
             responses=rows_response)
    def read_history(
        request: Request, customer_id: UUID, principal: PrincipalDep,
        as_of: AsOf = None, limit: Limit = None, cursor: Cursor = None,
    ) -> JSONResponse:
        moment = _parse_as_of(as_of)
        rows = _state(request).history(principal, customer_id, moment)
        return _page(request, "history", rows, limit, cursor)

    return api
