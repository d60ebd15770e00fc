"""Errors as `application/problem+json` (RFC 9457), each field error with a JSON pointer.

    {"type": "about:blank", "title": "Bad Request", "status": 400, "code": "invalid",
     "detail": "The request has 2 invalid fields.",
     "errors": [{"pointer": "/contact_email", "code": "invalid", "detail": "Enter a valid..."}]}
"""

import json
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from tenancy.errors import DomainError, NotAllowed

PROBLEM_CONTENT_TYPE = "application/problem+json"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class ProblemError(exceptions.APIException):
    """An API error with its own status and code (idempotency conflicts, domain errors)."""

    def __init__(self, *, status_code: int, detail: str, code: str):
        self.status_code = status_code
        super().__init__(detail=detail, code=code)


def domain_error_to_api(error: DomainError) -> ProblemError:
    if isinstance(error, NotAllowed):
        status_code = status.HTTP_403_FORBIDDEN
    elif error.code in ("conflict", "external_id_taken", "lead_not_in_pipeline", "lead_closed",
                        "not_a_duplicate"):
        status_code = status.HTTP_409_CONFLICT
    else:
        status_code = status.HTTP_400_BAD_REQUEST
    return ProblemError(status_code=status_code, detail=error.message, code=error.code)


def pointer_token(token) -> str:
    """A JSON pointer reference token (RFC 6901): `~` and `/` escaped."""
    return str(token).replace("~", "~0").replace("/", "~1")


def field_errors(detail, pointer: str = "") -> list[dict]:
    """Flatten DRF's nested error detail into [{pointer, code, detail}]."""
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            if key in ("non_field_errors",):
                errors += field_errors(value, pointer)
            else:
                errors += field_errors(value, f"{pointer}/{pointer_token(key)}")
        return errors
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"pointer": pointer, "code": getattr(item, "code", "invalid"),
                     "detail": str(item)} for item in detail]
        errors = []
        for index, item in enumerate(detail):
            if item:  # bulk and list fields: only the items that failed
                errors += field_errors(item, f"{pointer}/{index}")
        return errors
    return [{"pointer": pointer, "code": getattr(detail, "code", "invalid"),
             "detail": str(detail)}]


def problem_body(*, status_code: int, code: str, detail: str, errors=None) -> dict:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "code": code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(*, status_code: int, code: str, detail: str, errors=None,
                     headers=None) -> Response:
    response = Response(problem_body(status_code=status_code, code=code, detail=detail,
                                     errors=errors), status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_http_response(*, status_code: int, code: str, detail: str) -> HttpResponse:
    """The same body outside DRF: Django's 404/500 handlers and the outage middleware."""
    return HttpResponse(
        json.dumps(problem_body(status_code=status_code, code=code, detail=detail)),
        status=status_code, content_type=PROBLEM_CONTENT_TYPE,
    )


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = domain_error_to_api(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        # Imported here: rest_framework.views reads the parser setting, whose parser module
        # imports this one.
        from rest_framework.views import exception_handler

        return exception_handler(exc, context)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        detail = (_("The request has %(count)d invalid field(s).") % {"count": len(errors)}
                  if errors else _("Invalid request."))
        return problem_response(status_code=exc.status_code, code="invalid", detail=detail,
                                errors=errors, headers=headers)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else "error"
    errors = None
    if isinstance(exc, exceptions.ParseError | PayloadTooLarge):
        # The body itself is wrong: point at the offending value ("" is the whole body).
        errors = [{"pointer": getattr(exc, "pointer", ""), "code": code,
                   "detail": str(exc.detail)}]
    return problem_response(status_code=exc.status_code, code=code, detail=str(exc.detail),
                            errors=errors, headers=headers)
