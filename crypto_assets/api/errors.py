"""Errors as JSON bodies that name what was wrong: ``{"detail", "parameter", "allowed"}``.

Bad input is a 422 (or 404 for an unknown symbol) naming the parameter and what it accepts; an
unreachable or unready database a 503 with the reason; an unknown path a 404; a method other
than GET or HEAD a 405. Nothing a client sends produces a traceback: an unexpected failure is
logged and answered with a one-line 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

_log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 2xx, with the message a client developer needs."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        parameter: str | None = None,
        allowed: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.detail, self.parameter, self.allowed, self.headers = (
            status,
            detail,
            parameter,
            allowed,
            headers,
        )

    def response(self) -> JSONResponse:
        return JSONResponse(
            error_body(self.detail, self.parameter, self.allowed), self.status, headers=self.headers
        )


def error_body(
    detail: str, parameter: str | None = None, allowed: Sequence[str] | str | None = None
) -> dict:
    body: dict = {"detail": detail}
    if parameter is not None:
        body["parameter"] = parameter
    if allowed is not None:
        body["allowed"] = list(allowed) if not isinstance(allowed, str) else allowed
    return body


def bad_parameter(parameter: str, detail: str, allowed: Sequence[str] | None = None) -> ApiError:
    return ApiError(422, f"{parameter}: {detail}", parameter=parameter, allowed=allowed)


def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own checks (types, enumerations, bounds): the first failure, in our shape."""
    assert isinstance(exc, RequestValidationError)  # registered for it alone (see install)
    error = exc.errors()[0]
    location = [str(part) for part in error.get("loc", ())]
    parameter = location[-1] if location else "request"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, (str, int, float)) else ""
    expected = (error.get("ctx") or {}).get("expected")  # e.g. "'1m', '15m', '1h' or '1d'"
    allowed = re.findall(r"'([^']*)'", expected) if isinstance(expected, str) else None
    return JSONResponse(
        error_body(f"{parameter}: {error.get('msg', 'invalid')}{shown}", parameter, allowed), 422
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # registered for it alone (see install)
    detail, headers = exc.detail, getattr(exc, "headers", None)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such path: {request.url.path}; see /docs for the API's paths"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed: this API is read-only (GET and HEAD)"
        headers = {"Allow": "GET, HEAD"}
    return JSONResponse(error_body(str(detail)), exc.status_code, headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal error; the server log has the details"), 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, lambda request, exc: exc.response())
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
