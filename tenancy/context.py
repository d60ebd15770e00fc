"""The tenant of the current request or task, held in a context variable.

Set by the tenant base views for portal requests (and by API-key authentication later), and
by `tenant_context` around a Celery task body. Code that needs the tenant asks for it
explicitly; the variable exists so that lower layers (logging, row-level security) can see it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenancy.models import Tenant

_current_tenant: ContextVar["Tenant | None"] = ContextVar("current_tenant", default=None)


def get_current_tenant() -> "Tenant | None":
    return _current_tenant.get()


def set_current_tenant(tenant: "Tenant | None"):
    return _current_tenant.set(tenant)


def reset_current_tenant(token) -> None:
    _current_tenant.reset(token)


@contextmanager
def tenant_context(tenant: "Tenant") -> Iterator["Tenant"]:
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)
