"""RFC 9457 problem details: every refusal of the API, and the catch-all for anything unexpected."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregates.errors import Conflict, Forbidden, InvalidInput, LedgerError, NotFound, RuleViolation
from commands.auth import NO_ACCESS
from ledger.auth.principal import UNAUTHENTICATED_CODES, Unauthenticated

logger = logging.getLogger("ledger.http")

PROBLEM_JSON = "application/problem+json"
PARAMETER_RULES = {"as_of": "R20"}
"""The rule a query parameter's own validation (its length, its type) stands for."""
TYPE_BASE = "urn:select-ledger:problem:"
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Unavailable",
}


def status_of(error: LedgerError) -> int:
    if isinstance(error, Unauthenticated) or error.code in UNAUTHENTICATED_CODES:
        return 401
    if isinstance(error, Forbidden):
        return 404 if error.code == NO_ACCESS else 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidInput):
        return 400 if error.code in ("malformed", "malformed_json") else 422
    if isinstance(error, (Conflict, RuleViolation)):
        return 409
    return 409


def customer_not_found(customer_id: UUID | str) -> NotFound:
    """The one answer for a customer that does not exist and for one the principal may not see."""
    return NotFound(f"customer_id: no customer {customer_id} (R1)", rule="R1", field="customer_id")


def problem_body(status: int, code: str, detail: str, rule: str | None, field: str | None) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "rule": rule,
        "field": field,
    }


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="select-ledger"'}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def refusal_body(error: LedgerError, customer_id: UUID | str | None = None) -> tuple[int, dict[str, Any]]:
    """Status and body of a refusal; "no access" to a customer reads exactly as "no such customer"."""
    if isinstance(error, Forbidden) and error.code == NO_ACCESS and customer_id is not None:
        error = customer_not_found(customer_id)
    status = status_of(error)
    if status == 404 and isinstance(error, Forbidden):
        error = NotFound("customer_id: no such customer (R1)", rule="R1", field="customer_id")
    return status, problem_body(status, error.code, error.message, error.rule, error.field)


class Refusal(Exception):
    """Raised inside a route to answer with a problem (a LedgerError, with the customer it was about)."""

    def __init__(self, error: LedgerError, customer_id: UUID | str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.customer_id = customer_id


def install(app: FastAPI) -> None:
    """Problem+json handlers for refusals, framework errors and, last, anything unexpected."""

    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
        return problem_response(*refusal_body(exc.error, exc.customer_id))

    @app.exception_handler(LedgerError)
    async def _ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        return problem_response(*refusal_body(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "body")]
        field = ".".join(loc) or "request"
        message = str(first.get("msg", "invalid"))
        rule = PARAMETER_RULES.get(field)
        detail = f"{field}: {message}" + (f" ({rule})" if rule else "")
        return problem_response(422, problem_body(422, "invalid_input", detail, rule, field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        detail = "no such resource" if status == 404 else str(exc.detail)
        return problem_response(status, problem_body(status, code, detail, None, None), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, problem_body(500, "internal_error", "the server failed; nothing about it is disclosed", None, None)
        )
