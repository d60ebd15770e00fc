"""Base classes of every API view: tenant scoping from the API key, and idempotency keys.

Subclasses implement `tenant_queryset()`; the base `get_queryset()` narrows it to the key's
tenant and may not be overridden, so another tenant's object is always 404 (STYLE.md).
"""

import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, generics, status
from rest_framework.pagination import CursorPagination

from api.errors import PayloadTooLarge, ProblemError
from api.services import (
    IdempotencyInProgress,
    IdempotencyMismatch,
    StoredResponse,
    idempotency_abandon,
    idempotency_begin,
    idempotency_finish,
    request_fingerprint,
)
from tenancy.actors import Actor
from tenancy.context import reset_current_tenant, set_current_tenant

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Replay(Exception):
    def __init__(self, stored: StoredResponse):
        self.stored = stored


class NewestFirstCursorPagination(CursorPagination):
    """Stable pages under concurrent inserts; the cursor is opaque."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")


class TenantAPIView(generics.GenericAPIView):
    pagination_class = NewestFirstCursorPagination
    # No OPTIONS: this API serves server-to-server clients (no CORS preflight), and every
    # method it accepts goes through the tenant and object checks.
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    model = None
    _tenant_token = None
    _idempotency_record = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__}: implement tenant_queryset() instead of get_queryset(), "
                "so rows stay scoped to the key's tenant"
            )

    # --- tenant ---------------------------------------------------------------------------

    @property
    def tenant(self):
        return self.request.user.tenant

    @property
    def actor(self) -> Actor:
        return Actor.for_api_key(self.request.user.key)

    def tenant_queryset(self):
        if self.model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs `model` or tenant_queryset()")
        return self.model.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request tenant
            return self.tenant_queryset().none()
        return self.tenant_queryset().for_tenant(self.tenant)

    # --- request cycle --------------------------------------------------------------------

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                _("The request body is larger than %(limit)d bytes.")
                % {"limit": settings.API_MAX_BODY_BYTES}
            )
        super().initial(request, *args, **kwargs)  # authentication, scope, throttling
        self._tenant_token = set_current_tenant(self.tenant)
        key = request.headers.get("Idempotency-Key")
        if key is not None and request.method in UNSAFE_METHODS:
            self._idempotency_claim(request, key)

    def _idempotency_claim(self, request, key: str) -> None:
        if not _IDEMPOTENCY_KEY.match(key):
            raise exceptions.ValidationError(
                {"Idempotency-Key": [_("Use 1 to 255 visible ASCII characters.")]}
            )
        fingerprint = request_fingerprint(
            method=request.method, path=request.get_full_path(), body=request.body
        )
        try:
            record, stored = idempotency_begin(
                api_key=request.user.key, key=key, fingerprint=fingerprint
            )
        except IdempotencyMismatch:
            raise ProblemError(
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="idempotency_key_reused",
                detail=_("This Idempotency-Key was used with a different request."),
            ) from None
        except IdempotencyInProgress:
            raise ProblemError(
                status_code=status.HTTP_409_CONFLICT, code="idempotency_key_in_progress",
                detail=_("A request with this Idempotency-Key is still running; retry later."),
            ) from None
        if stored is not None:
            raise _Replay(stored)
        self._idempotency_record = record

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            stored = exc.stored
            response = HttpResponse(stored.body, status=stored.status,
                                    content_type=stored.content_type)
            if stored.location:
                response["Location"] = stored.location
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def raise_uncaught_exception(self, exc):
        self._idempotency_release()
        super().raise_uncaught_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency_record is not None:
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            idempotency_finish(record=self._idempotency_record, response=StoredResponse(
                status=response.status_code, body=bytes(response.content),
                content_type=response.get("Content-Type", ""),
                location=response.get("Location", ""),
            ))
            self._idempotency_record = None
        self._tenant_reset()
        return response

    def _idempotency_release(self):
        if self._idempotency_record is not None:
            idempotency_abandon(record=self._idempotency_record)
            self._idempotency_record = None
        self._tenant_reset()

    def _tenant_reset(self):
        if self._tenant_token is not None:
            reset_current_tenant(self._tenant_token)
            self._tenant_token = None
