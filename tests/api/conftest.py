"""Helpers for the REST API tests (the `api` and `api_b` clients live in tests/conftest.py)."""

from leads.models import Lead, LeadEvent

PROBLEM_JSON = "application/problem+json"


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
    """Rows a create adds: leads and their `created` events (routing, which follows in
    the same request, writes its own events; tests/routing covers them)."""
    return Lead.objects.count(), LeadEvent.objects.filter(kind="created").count()


def event_kinds(lead) -> list[str]:
    return list(LeadEvent.objects.filter(lead=lead).order_by("id").values_list("kind", flat=True))
