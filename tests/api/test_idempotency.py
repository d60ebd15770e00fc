"""Idempotency keys: a CRM retrying a write gets the first answer and creates nothing twice."""

import datetime
import json

import pytest
from django.utils import timezone
from rest_framework import status

from api.errors import ProblemError
from api.models import IdempotencyRecord
from api.services import idempotency_purge, request_fingerprint
from leads import api as leads_api
from tests.api.conftest import assert_problem, counts
from tests.api_client import ApiClient
from tests.factories import LeadFactory, api_key_for

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
BODY = json.dumps({"external_id": "CRM-1", "contact_email": "anna@berger-bau.de"})


@pytest.fixture
def key_and_client(vendor_a):
    key, secret = api_key_for(vendor_a)
    return key, ApiClient(secret)


def _create(client, idempotency_key="order-1", body=BODY):
    return client.post(LEADS, body, HTTP_IDEMPOTENCY_KEY=idempotency_key)


def test_retry_with_the_same_key_and_body_replays_the_first_response(key_and_client):
    _key, client = key_and_client

    first = _create(client)
    after_first = counts()
    retry = _create(client)

    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert retry["Location"] == first["Location"]
    assert retry["Content-Type"] == "application/json"
    assert counts() == after_first == (1, 1)


def test_an_error_answer_is_replayed_too(vendor_a, key_and_client):
    _key, client = key_and_client
    LeadFactory(tenant=vendor_a, external_id="CRM-1")

    first = _create(client)
    retry = _create(client)

    assert assert_problem(first, 409)["code"] == "external_id_taken"
    assert retry.status_code == 409 and retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert retry["Content-Type"] == "application/problem+json"


def test_same_key_with_another_body_is_422(key_and_client):
    _key, client = key_and_client
    _create(client)

    other = json.dumps({"external_id": "CRM-2", "contact_email": "max@berger-bau.de"})
    response = _create(client, body=other)

    assert assert_problem(response, 422)["code"] == "idempotency_key_reused"
    assert counts() == (1, 1)


def test_same_key_on_another_path_is_422(vendor_a, key_and_client):
    _key, client = key_and_client
    lead = LeadFactory(tenant=vendor_a)
    _create(client)

    response = client.patch(f"{LEADS}{lead.public_id}/", BODY, HTTP_IDEMPOTENCY_KEY="order-1")

    assert_problem(response, 422)
    lead.refresh_from_db()
    assert lead.external_id != "CRM-1"


def _running_claim(key, *, age: datetime.timedelta) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        tenant=key.tenant, api_key=key, key="order-1",
        fingerprint=request_fingerprint(method="POST", path=LEADS, body=BODY.encode()),
        created_at=timezone.now() - age,
    )


def test_retry_while_the_first_request_still_runs_is_409(key_and_client):
    key, client = key_and_client
    _running_claim(key, age=datetime.timedelta(minutes=4))

    response = _create(client)

    assert assert_problem(response, 409)["code"] == "idempotency_key_in_progress"
    assert counts() == (0, 0)


def test_a_stale_running_claim_is_taken_over(key_and_client):
    key, client = key_and_client
    claim = _running_claim(key, age=datetime.timedelta(minutes=6))

    response = _create(client)

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    claim.refresh_from_db()
    assert claim.response_status == 201
    assert bytes(claim.response_body) == response.content
    assert counts() == (1, 1)
    assert _create(client)["Idempotent-Replayed"] == "true"


def _server_error(**kwargs):
    raise RuntimeError("the database fell over")


def _service_unavailable(**kwargs):
    raise ProblemError(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, code="unavailable",
                       detail="Try again.")


@pytest.mark.parametrize("failure", [_server_error, _service_unavailable])
def test_a_5xx_answer_is_not_kept_so_the_retry_runs_again(key_and_client, monkeypatch,
                                                          failure):
    _key, client = key_and_client
    client.raise_request_exception = False
    # The create view's service (it creates the lead, then routes it).
    monkeypatch.setattr(leads_api, "lead_intake", failure)

    failed = _create(client)

    assert failed.status_code >= 500
    assert IdempotencyRecord.objects.count() == 0
    monkeypatch.undo()
    retry = _create(client)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert counts() == (1, 1)


def test_keys_are_scoped_per_api_key(vendor_a, vendor_b, key_and_client):
    _key, client = key_and_client
    other_key_same_vendor = ApiClient(api_key_for(vendor_a)[1])
    other_vendor = ApiClient(api_key_for(vendor_b)[1])
    body = json.dumps({"contact_email": "anna@berger-bau.de"})

    responses = [_create(c, body=body) for c in (client, other_key_same_vendor, other_vendor)]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert all("Idempotent-Replayed" not in r for r in responses)
    assert len({r.json()["id"] for r in responses}) == 3
    assert counts() == (3, 3)
    assert IdempotencyRecord.objects.filter(key="order-1").count() == 3


def test_without_a_key_every_request_runs(key_and_client):
    _key, client = key_and_client
    body = json.dumps({"contact_email": "anna@berger-bau.de"})

    client.post(LEADS, body)
    client.post(LEADS, body)

    assert counts() == (2, 2)
    assert IdempotencyRecord.objects.count() == 0


def test_reads_ignore_the_key(key_and_client):
    _key, client = key_and_client

    response = client.get(LEADS, HTTP_IDEMPOTENCY_KEY="order-1")

    assert response.status_code == 200
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize("idempotency_key", ["x" * 256, "with space", "ümlaut", "tab\tkey"])
def test_malformed_key_is_400(key_and_client, idempotency_key):
    _key, client = key_and_client

    response = _create(client, idempotency_key=idempotency_key)

    assert_problem(response, 400, "/Idempotency-Key")
    assert counts() == (0, 0)


def test_records_are_kept_24_hours_then_purged(key_and_client, time_machine):
    key, client = key_and_client
    time_machine.move_to("2026-11-24 09:00:00+00:00", tick=False)
    _create(client)
    time_machine.move_to("2026-11-24 21:00:00+00:00", tick=False)
    _create(client, idempotency_key="order-2",
            body=json.dumps({"contact_email": "max@acme.example"}))

    time_machine.move_to("2026-11-25 08:59:59+00:00", tick=False)
    assert idempotency_purge() == 0
    assert _create(client)["Idempotent-Replayed"] == "true"
    time_machine.move_to("2026-11-25 09:00:01+00:00", tick=False)
    assert idempotency_purge() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["order-2"]


def test_an_expired_key_runs_as_new_even_before_the_purge(key_and_client, time_machine):
    _key, client = key_and_client
    time_machine.move_to("2026-11-24 09:00:00+00:00", tick=False)
    _create(client)

    time_machine.move_to("2026-11-25 09:00:01+00:00", tick=False)
    response = _create(client, body=json.dumps({"contact_email": "new@acme.example"}))

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert counts() == (2, 2)
