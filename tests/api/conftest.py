"""Clients for the REST API tests: a vendor's key in `Authorization: Bearer`, JSON bodies."""

import pytest
from django.test import Client

from leads.models import Lead, LeadEvent
from tests.factories import api_key_for

PROBLEM_JSON = "application/problem+json"


class ApiClient(Client):
    """Django's test client sending JSON by default, as a CRM does."""

    def __init__(self, secret: str | None = None, **defaults):
        if secret is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        super().__init__(**defaults)

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data, content_type=content_type, **extra)

    def patch(self, path, data=None, content_type="application/json", **extra):
        return super().patch(path, data, content_type=content_type, **extra)


@pytest.fixture
def api(vendor_a):
    """A read-write client of vendor A."""
    _key, secret = api_key_for(vendor_a)
    return ApiClient(secret)


@pytest.fixture
def api_b(vendor_b):
    _key, secret = api_key_for(vendor_b)
    return ApiClient(secret)


def assert_problem(response, status: int, *pointers: str) -> dict:
    """The response is RFC 9457 problem+json with `status`; each pointer names an error."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    reported = [error["pointer"] for error in body.get("errors", [])]
    for pointer in pointers:
        assert pointer in reported, (pointer, body)
    return body


def counts() -> tuple[int, int]:
    """Rows that a write would add: leads and their events."""
    return Lead.objects.count(), LeadEvent.objects.count()


def event_kinds(lead) -> list[str]:
    return list(LeadEvent.objects.filter(lead=lead).order_by("id").values_list("kind", flat=True))
